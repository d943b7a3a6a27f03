"""``missed_top_ranked``: key documents rank too low and are not retrieved (FP2).

Runtime signals: dense and lexical rankings disagree (the lexical rank-1 chunk
is far down the dense list and did not reach the context, or the reverse for a
clearly best dense hit), the reranker promotes a candidate from deep in the
first-stage list to the top of the context, or the top dense scores are flat.
"""

from __future__ import annotations

from rag.diagnostics._common import (
    BaseDetector,
    abstained,
    check_int,
    check_range,
    fmt,
    low_evidence,
    max_support,
    stage_rank,
)
from rag.query_analysis import content_terms
from rag.types import FailureTag, Hit, Trace


def _dense(hit: Hit) -> float:
    return float(hit.scores.get("dense", hit.score))


def _coverage(question: str, text: str) -> float:
    """Share of the question's content words found in ``text`` (a strong lexical hit covers most)."""
    q = content_terms(question)
    if len(q) < 2:
        return 0.0
    return len(q & content_terms(text)) / len(q)


class MissedTopRankedDetector(BaseDetector):
    """Tags disagreement between retrievers, deep promotions and flat scores.

    Args:
        dense_depth: A lexical rank-1 chunk absent from the dense top
            ``dense_depth`` (and from the context) is a miss. Default 20.
        promote_from: The reranker putting a chunk whose first-stage (fused)
            rank is deeper than this at context rank 1 is a near miss. Default 10.
        flat_gap: Dense top-1 minus top-5 below this is a flat ranking. Default 0.01.
        flat_top_max: ... but only when dense top-1 is below this. Default 0.5.
        dense_margin: The reverse check (dense rank-1 missing from the lexical
            top and the context) needs a dense top1-top2 gap of at least this. Default 0.05.
        strong_support: Skip the disagreement checks when an answer sentence
            has at least this support (the answer was found anyway). Default 0.6.
        lexical_coverage: The lexical rank-1 chunk must contain at least this
            share of the question's content words to count as a strong hit. Default 0.75.
    """

    mode = "missed_top_ranked"
    suggestion = "use hybrid retrieval, a deeper candidate pool (raise candidate_k) and reranking; consider fine-tuned embeddings"

    def __init__(
        self,
        dense_depth: int = 20,
        promote_from: int = 10,
        flat_gap: float = 0.01,
        flat_top_max: float = 0.5,
        dense_margin: float = 0.05,
        strong_support: float = 0.6,
        lexical_coverage: float = 0.75,
    ) -> None:
        super().__init__()
        self.dense_depth = check_int("dense_depth", dense_depth)
        self.promote_from = check_int("promote_from", promote_from)
        self.flat_gap = check_range("flat_gap", flat_gap, 0.0, 1.0)
        self.flat_top_max = check_range("flat_top_max", flat_top_max, -1.0, 1.0)
        self.dense_margin = check_range("dense_margin", dense_margin, 0.0, 2.0)
        self.strong_support = check_range("strong_support", strong_support, -1.0, 1.0)
        self.lexical_coverage = check_range("lexical_coverage", lexical_coverage, 0.0, 1.0)

    def detect(self, trace: Trace) -> list[FailureTag]:
        if trace.query_flags.get("injection"):
            return []  # a refused query: its retrieval was never used
        findings: list[tuple[float, str]] = []
        ctx_ids = {h.chunk.id for h in trace.context}
        ctx_docs = {h.chunk.doc_id for h in trace.context}
        best = max_support(trace)
        found_anyway = not abstained(trace) and best is not None and best >= self.strong_support

        if trace.lexical and trace.dense and not found_anyway:
            lex = trace.lexical[0]
            d_rank = stage_rank(lex, "dense", trace.dense)
            coverage = _coverage(trace.question, lex.chunk.text)
            if (
                (d_rank is None or d_rank > self.dense_depth)
                and lex.chunk.id not in ctx_ids
                and lex.chunk.doc_id not in ctx_docs
                and coverage >= self.lexical_coverage
            ):
                where = f"has dense rank {d_rank}" if d_rank else f"is not in the dense top {len(trace.dense)}"
                findings.append(
                    (
                        0.7,
                        f"lexical rank 1 chunk {lex.chunk.id} (BM25 {fmt(lex.scores.get('lexical', lex.score), 2)}, "
                        f"{coverage:.0%} of the question's terms) {where} and is not in the context",
                    )
                )
            dense_top = trace.dense[0]
            gap = _dense(dense_top) - _dense(trace.dense[1]) if len(trace.dense) > 1 else 0.0
            l_rank = stage_rank(dense_top, "lexical", trace.lexical)
            if (
                gap >= self.dense_margin
                and (l_rank is None or l_rank > self.dense_depth)
                and dense_top.chunk.id not in ctx_ids
                and dense_top.chunk.doc_id not in ctx_docs
            ):
                where = f"lexical rank {l_rank}" if l_rank else "absent from the lexical list"
                findings.append(
                    (
                        0.55,
                        f"dense rank 1 chunk {dense_top.chunk.id} (cosine {fmt(_dense(dense_top))}, +{fmt(gap)} over rank 2) is {where} and not in the context",
                    )
                )

        if trace.context and "rerank" in trace.context[0].scores:
            top = trace.context[0]
            first = top.ranks.get("fused")
            if first is None:
                ranks = [r for r in (top.ranks.get("dense"), top.ranks.get("lexical")) if r]
                first = min(ranks) if ranks else None
            if first is not None and first > self.promote_from:
                findings.append(
                    (0.45, f"reranker promoted chunk {top.chunk.id} from first-stage rank {first} to context rank 1")
                )

        if len(trace.dense) >= 5 and not (abstained(trace) and low_evidence(trace)):
            top1, top5 = _dense(trace.dense[0]), _dense(trace.dense[4])
            if top1 - top5 < self.flat_gap and top1 < self.flat_top_max:
                findings.append(
                    (
                        0.45,
                        f"flat dense scores: top-1 {fmt(top1)} vs top-5 {fmt(top5)} (gap {fmt(top1 - top5, 4)} < {fmt(self.flat_gap)})",
                    )
                )

        if not findings:
            return []
        findings.sort(key=lambda f: -f[0])
        return [self.tag(findings[0][0], [f for _, f in findings])]
