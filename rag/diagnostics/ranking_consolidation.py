"""``ranking_consolidation``: ordering and integrating retrieved chunks (FP3).

Runtime signals: relevant chunks were cut when the context was assembled
(``trace.dropped``, older versions left out for their current version aside)
while weaker ones were kept, or a top-ranked chunk was cut
and the answer is weak; the answer cites an older version of a document while
the current version is in the context (``DocRecord.version_of``); context
chunks from different documents disagree on the number the question asks for.
"""

from __future__ import annotations

import re
from collections import defaultdict

from rag.diagnostics._common import (
    BaseDetector,
    abstained,
    check_int,
    check_range,
    cited,
    fmt,
    max_support,
    rank_of,
    stage_score,
)
from rag.quality import jaccard, shingles
from rag.query_analysis import content_terms
from rag.types import FailureTag, Trace

_QUANTITY = re.compile(r"(?P<pre>[£$€¥])?\s?(?P<num>\d+(?:[.,]\d+)*)\s?(?P<unit>%|[a-zA-Z]{1,12}\b)?")
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")
_DIGIT = re.compile(r"\d")
_UNIT_STOP = {
    "and",
    "or",
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "with",
    "by",
    "from",
    "is",
    "are",
    "was",
    "were",
}


def _quantities(sentence: str) -> set[tuple[str, float]]:
    out = set()
    for m in _QUANTITY.finditer(sentence):
        num = m.group("num").replace(",", "")
        try:
            value = float(num)
        except ValueError:
            continue
        pre, word = m.group("pre"), (m.group("unit") or "").lower()
        if not pre and (not word or word in _UNIT_STOP):
            continue  # bare numbers (years, counts without unit) are too ambiguous
        unit = pre if pre else word  # "£110 for 2024" is in £, not in "£for"
        out.add((unit, value))
    return out


class RankingConsolidationDetector(BaseDetector):
    """Tags budget cuts of strong chunks, stale versions cited, conflicting chunks.

    Args:
        top_rank: A dropped chunk ranked at or above this by the reranker counts
            as strong when the answer is weak. Default 3.
        dedup_threshold: A dropped chunk this similar (word 5-gram Jaccard) to a
            context chunk was a deduplication, not a loss. Default 0.85.
        conflict_overlap: Sentences sharing at least this fraction of the
            question's content words are about the question (conflict check). Default 0.6.
        strong_support: Budget cuts are not reported when an answer sentence
            has at least this support (the context sufficed). Default 0.6.
    """

    mode = "ranking_consolidation"
    suggestion = "order and deduplicate the context, prefer newer versions, keep the best chunks within budget and reconcile conflicts"

    def __init__(
        self,
        top_rank: int = 3,
        dedup_threshold: float = 0.85,
        conflict_overlap: float = 0.6,
        strong_support: float = 0.6,
    ) -> None:
        super().__init__()
        self.strong_support = check_range("strong_support", strong_support, -1.0, 1.0)
        self.top_rank = check_int("top_rank", top_rank)
        self.dedup_threshold = check_range("dedup_threshold", dedup_threshold, 0.01, 1.0)
        self.conflict_overlap = check_range("conflict_overlap", conflict_overlap, 0.01, 1.0)

    def detect(self, trace: Trace) -> list[FailureTag]:
        findings = self._dropped(trace) + self._versions(trace) + self._conflicts(trace)
        if not findings:
            return []
        findings.sort(key=lambda f: -f[0])
        return [self.tag(findings[0][0], [f for _, f in findings])]

    def _dropped(self, trace: Trace) -> list[tuple[float, str]]:
        if not trace.dropped or not trace.context:
            return []
        ctx_sh: list[set[str]] | None = None  # computed only when a cut chunk would be reported
        ctx_ids = {h.chunk.id for h in trace.context}
        ctx_docs = {h.chunk.doc_id for h in trace.context}
        weakest = min(trace.context, key=stage_score)
        best = max_support(trace)
        if not abstained(trace) and best is not None and best >= self.strong_support:
            return []  # the answer is well supported: what was cut did not matter
        weak_answer = abstained(trace) or (best is not None and best < 0.5)
        out = []
        for hit in trace.dropped:
            if hit.chunk.id in ctx_ids:
                continue
            rec = trace.doc_records.get(hit.chunk.doc_id)
            if rec is not None and rec.version_of in ctx_docs:
                continue  # an older version left out for its current version: consolidation done right
            score = stage_score(hit)
            rank = hit.ranks.get("rerank") or rank_of(trace.reranked, hit.chunk.id)
            stronger = score > stage_score(weakest)
            if not stronger and not (rank is not None and rank <= self.top_rank and weak_answer):
                continue
            if ctx_sh is None:
                ctx_sh = [shingles(h.chunk.text) for h in trace.context]
            sh = shingles(hit.chunk.text)
            if any(jaccard(sh, c) >= self.dedup_threshold for c in ctx_sh):
                continue  # removed as a duplicate of a chunk that is in the context
            if stronger:
                out.append(
                    (
                        0.7,
                        f"chunk {hit.chunk.id} (score {fmt(score)}) was cut from the context while weaker "
                        f"{weakest.chunk.id} (score {fmt(stage_score(weakest))}) was kept",
                    )
                )
            else:
                out.append(
                    (
                        0.55,
                        f"chunk {hit.chunk.id} at reranked rank {rank} was cut by the context budget and the answer is weak (max support {fmt(best)})",
                    )
                )
        return out[:2]

    def _versions(self, trace: Trace) -> list[tuple[float, str]]:
        if not trace.context or not trace.doc_records:
            return []
        pos_by_doc: dict[str, list[int]] = defaultdict(list)
        for i, h in enumerate(trace.context, 1):
            pos_by_doc[h.chunk.doc_id].append(i)
        cites = cited(trace)
        out = []
        for doc, positions in pos_by_doc.items():
            rec = trace.doc_records.get(doc)
            newer = rec.version_of if rec is not None else None
            if not newer or newer not in pos_by_doc:
                continue
            cites_old = bool(cites & set(positions))
            cites_new = bool(cites & set(pos_by_doc[newer]))
            if cites_old and not cites_new:
                out.append(
                    (
                        0.75,
                        f"answer cites {doc} (context {positions}), an older version of {newer} "
                        f"(context {pos_by_doc[newer]}), and not the current version",
                    )
                )
            elif not cites and min(positions) < min(pos_by_doc[newer]):
                out.append((0.5, f"older version {doc} ranks above its current version {newer} in the context"))
        return out

    def _conflicts(self, trace: Trace) -> list[tuple[float, str]]:
        q_terms = content_terms(trace.question)
        if len(q_terms) < 2 or len(trace.context) < 2:
            return []
        by_unit: dict[str, dict[float, tuple[int, str]]] = defaultdict(dict)
        need = self.conflict_overlap * len(q_terms)

        def may_overlap(text: str) -> bool:
            # every stem is a prefix of its word, so a term missing as a substring is missing as a term
            low = text.lower()
            return sum(t in low for t in q_terms) >= need

        for i, hit in enumerate(trace.context, 1):
            if not _DIGIT.search(hit.chunk.text) or not may_overlap(hit.chunk.text):
                continue  # no number, or too few of the question's words: no disagreement on the asked value
            for sent in _SENT.split(hit.chunk.text):
                if not _DIGIT.search(sent) or not may_overlap(sent):
                    continue
                quantities = _quantities(sent)
                if not quantities:
                    continue
                terms = content_terms(sent)
                if len(q_terms & terms) / len(q_terms) < self.conflict_overlap:
                    continue
                for unit, value in quantities:
                    by_unit[unit].setdefault(value, (i, hit.chunk.doc_id))
        for unit, values in by_unit.items():
            docs = {doc for _, doc in values.values()}
            if len(values) >= 2 and len(docs) >= 2:
                shown = ", ".join(
                    f"[{i}] {unit if unit in '£$€¥' else ''}{v:g}{'' if unit in '£$€¥' else ' ' + unit}"
                    for v, (i, _) in sorted(values.items(), key=lambda kv: kv[1][0])[:4]
                )
                return [(0.55, f"context chunks from different documents disagree on the asked value: {shown}")]
        return []
