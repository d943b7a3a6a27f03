"""``data_quality``: poor or duplicated data in the context.

Runtime signals: context chunks whose documents the ingestion report flagged
(garbled, empty, truncated; ``DocRecord.issues``), an outdated version of a
document (``DocRecord.version_of`` set: this doc is an older version of
another), a garbled chunk, and duplicate or near-duplicate chunks inside the
context.

What ingestion already decided is read, not recomputed: a chunk's garble score
is computed only when its document's record says some chunk of it is garbled
(``"garbled_chunk"``), or when the trace carries no record for it. Document
findings (truncated, empty, garbled document, duplicates, versions) count for
the chunks the answer rests on: the cited chunks, or the top ``lead`` chunks
when nothing is cited (an abstention); a chunk further down that the answer
ignores did not degrade it; so do duplicate pairs (one of the two must be
such a chunk). A garbled chunk counts anywhere in the context. A ``truncated`` document is
reported on its last chunk only (the one that ends where the text was cut).
Near-duplicates are found by comparing the few context chunks directly.
"""

from __future__ import annotations

from rag.diagnostics._common import BaseDetector, check_int, check_range, cited, fmt
from rag.quality import garble_score, shingles
from rag.types import FailureTag, Trace

# Document-level findings that make any chunk of the document suspect. ("garbled_chunk"
# is not here: the chunk in the context is checked itself.)
_ISSUE_CONF = {"garbled": 0.8, "empty": 0.7, "truncated": 0.6}


def _near_duplicates(texts: list[tuple[str, str]], threshold: float) -> list[tuple[str, str, float]]:
    """Pairs of context chunks that are identical or near-duplicates.

    Similarity is the larger of the word 5-gram Jaccard and the containment of
    the smaller chunk in the larger one (a chunk reprinted inside another,
    with different chunk boundaries, is a near-duplicate too).
    """
    words = [t.lower().split() for _, t in texts]
    norm = [" ".join(w) for w in words]
    bags = [set(w) for w in words]
    sh: dict[int, set[str]] = {}

    def shingle_set(k: int) -> set[str]:
        if k not in sh:
            sh[k] = shingles(texts[k][1])
        return sh[k]

    out = []
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if norm[i] and norm[i] == norm[j]:
                out.append((texts[i][0], texts[j][0], 1.0))
                continue
            small_bag = min(bags[i], bags[j], key=len)
            if not small_bag or len(bags[i] & bags[j]) < 0.8 * len(small_bag):
                continue  # cheap bound: near-duplicate 5-grams need near-identical vocabularies
            a, b = shingle_set(i), shingle_set(j)
            if not a or not b:
                continue
            small, large = (a, b) if len(a) <= len(b) else (b, a)
            if len(small) < 0.2 * len(large) or len(small) < 5:
                continue  # a short chunk inside a long one is a quotation, not a copy
            inter = len(small & large)
            sim = max(inter / (len(a) + len(b) - inter), inter / len(small))
            if sim >= threshold:
                out.append((texts[i][0], texts[j][0], min(round(sim, 4), 0.9999)))  # 1.0: identical texts only
    return out


class DataQualityDetector(BaseDetector):
    """Tags context built from flagged, garbled, outdated or duplicated data.

    Args:
        near_dup_threshold: Similarity (word 5-gram Jaccard, or containment of
            the smaller chunk) above which two context chunks are near-duplicates.
            Default 0.85.
        garble_threshold: :func:`rag.quality.garble_score` at or above which a
            context chunk is garbled. Default 0.5.
        lead: Without citations, document findings count for the top ``lead``
            context chunks. Default 2.
        copy_threshold: Near-duplicates count only when the answer rests on
            one of them (cited, or in the lead), unless they are copies at or
            above this similarity: then they waste a context slot. Default 0.95.
    """

    mode = "data_quality"
    suggestion = (
        "fix the flagged source documents (re-extract garbled text, remove duplicates, keep only the current version)"
    )

    def __init__(
        self, near_dup_threshold: float = 0.85, garble_threshold: float = 0.5, lead: int = 2, copy_threshold: float = 0.95
    ) -> None:
        super().__init__()
        self.near_dup_threshold = check_range("near_dup_threshold", near_dup_threshold, 0.01, 1.0)
        self.copy_threshold = check_range("copy_threshold", copy_threshold, 0.01, 1.0)
        self.garble_threshold = check_range("garble_threshold", garble_threshold, 0.01, 1.0)
        self.lead = check_int("lead", lead)

    def detect(self, trace: Trace) -> list[FailureTag]:
        if not trace.context:
            return []
        findings: list[tuple[float, str]] = []
        ctx_docs = {h.chunk.doc_id for h in trace.context}
        cites = {i for i in cited(trace) if 0 < i <= len(trace.context)}
        used = cites or set(range(1, min(self.lead, len(trace.context)) + 1))
        seen_docs: set[str] = set()
        for i, hit in enumerate(trace.context, 1):
            doc = hit.chunk.doc_id
            rec = trace.doc_records.get(doc)
            if i in used and rec is not None and doc not in seen_docs:
                seen_docs.add(doc)
                for issue in rec.issues:
                    kind, _, other = issue.partition(":")
                    if kind == "truncated" and rec.n_chunks and hit.chunk.position < rec.n_chunks - 1:
                        continue  # the cut is at the end of the document, not in this chunk
                    if kind in _ISSUE_CONF:
                        findings.append(
                            (
                                _ISSUE_CONF[kind],
                                f"context [{i}] {hit.chunk.id}: document {doc} flagged '{kind}' at ingestion",
                            )
                        )
                    elif kind in ("duplicate_of", "near_duplicate_of") and other in ctx_docs:
                        findings.append(
                            (
                                0.7,
                                f"context [{i}] {hit.chunk.id}: document {doc} is a {kind.replace('_', ' ')} {other}, also in the context",
                            )
                        )
                if rec.version_of:
                    findings.append(
                        (0.6, f"context [{i}] {hit.chunk.id}: document {doc} is an older version of {rec.version_of}")
                    )
            chunk_issues = hit.chunk.metadata.get("issues") or []
            if "garbled" in chunk_issues:
                findings.append((0.75, f"context [{i}] {hit.chunk.id} flagged garbled at ingestion"))
            elif rec is None or "garbled_chunk" in rec.issues:
                score = garble_score(hit.chunk.text)
                if score >= self.garble_threshold:
                    findings.append((0.75, f"context [{i}] {hit.chunk.id} is garbled (garble score {fmt(score, 2)})"))
        pos = {h.chunk.id: i for i, h in enumerate(trace.context, 1)}
        pairs = _near_duplicates([(h.chunk.id, h.chunk.text) for h in trace.context], self.near_dup_threshold)
        for a, b, sim in pairs:
            conf = 0.7
            if pos[a] not in used and pos[b] not in used:
                if sim < self.copy_threshold:
                    continue  # two similar passages the answer does not rest on
                conf = 0.6  # a verbatim copy still takes a context slot from other evidence
            what = "identical" if sim >= 1.0 else f"near-duplicates (similarity {fmt(sim, 2)})"
            findings.append((conf, f"context [{pos[a]}] {a} and [{pos[b]}] {b} are {what}"))
        if not findings:
            return []
        findings.sort(key=lambda f: -f[0])
        return [self.tag(findings[0][0], [f for _, f in findings[:5]])]
