"""``data_quality``: poor or duplicated data in the context.

Runtime signals: context chunks whose documents the ingestion report flagged
(garbled, empty, truncated; ``DocRecord.issues``), an outdated version of a
document (``DocRecord.version_of`` set: this doc is an older version of
another), a chunk that is garbled itself, and duplicate or near-duplicate
chunks inside the context.
"""

from __future__ import annotations

from rag.diagnostics._common import BaseDetector, check_range, fmt
from rag.quality import garble_score, near_duplicate_pairs
from rag.types import FailureTag, Trace

# Document-level findings that make any chunk of the document suspect. ("garbled_chunk"
# is not here: the chunk in the context is checked itself.)
_ISSUE_CONF = {"garbled": 0.8, "empty": 0.7, "truncated": 0.6}


class DataQualityDetector(BaseDetector):
    """Tags context built from flagged, garbled, outdated or duplicated data.

    Args:
        near_dup_threshold: Jaccard (word 5-gram) above which two context
            chunks are near-duplicates. Default 0.85.
        garble_threshold: :func:`rag.quality.garble_score` at or above which a
            context chunk is garbled. Default 0.5.
    """

    mode = "data_quality"
    suggestion = (
        "fix the flagged source documents (re-extract garbled text, remove duplicates, keep only the current version)"
    )

    def __init__(self, near_dup_threshold: float = 0.85, garble_threshold: float = 0.5) -> None:
        super().__init__()
        self.near_dup_threshold = check_range("near_dup_threshold", near_dup_threshold, 0.01, 1.0)
        self.garble_threshold = check_range("garble_threshold", garble_threshold, 0.01, 1.0)

    def detect(self, trace: Trace) -> list[FailureTag]:
        if not trace.context:
            return []
        findings: list[tuple[float, str]] = []
        ctx_docs = {h.chunk.doc_id for h in trace.context}
        seen_docs: set[str] = set()
        for i, hit in enumerate(trace.context, 1):
            doc = hit.chunk.doc_id
            rec = trace.doc_records.get(doc)
            if rec is not None and doc not in seen_docs:
                seen_docs.add(doc)
                for issue in rec.issues:
                    kind, _, other = issue.partition(":")
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
            else:
                score = garble_score(hit.chunk.text)
                if score >= self.garble_threshold:
                    findings.append((0.75, f"context [{i}] {hit.chunk.id} is garbled (garble score {fmt(score, 2)})"))
        pos = {h.chunk.id: i for i, h in enumerate(trace.context, 1)}
        pairs = near_duplicate_pairs([(h.chunk.id, h.chunk.text) for h in trace.context], self.near_dup_threshold)
        for a, b, sim in pairs:
            what = "identical" if sim >= 1.0 else f"near-duplicates (Jaccard {fmt(sim, 2)})"
            findings.append((0.7, f"context [{pos[a]}] {a} and [{pos[b]}] {b} are {what}"))
        if not findings:
            return []
        findings.sort(key=lambda f: -f[0])
        return [self.tag(findings[0][0], [f for _, f in findings[:5]])]
