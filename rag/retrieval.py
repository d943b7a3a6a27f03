"""Hybrid retrieval: dense (faiss) and lexical (bm25s) lists fused by weighted RRF.

Reciprocal-rank fusion: ``score(c) = w_dense / (k + rank_dense(c)) + w_lex / (k + rank_lex(c))``.
Plain RRF is not a free win on every corpus, so both weights and the pool size
are arguments (and per-collection settings fitted by ``rag calibrate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from rag.store import Snapshot
from rag.types import Hit


@dataclass
class RetrievalResult:
    dense: list[Hit]
    lexical: list[Hit]
    fused: list[Hit]


def _hits(snap: Snapshot, scores: np.ndarray, ids: np.ndarray, key: str) -> list[Hit]:
    out = []
    for rank, (s, i) in enumerate(((float(s), int(i)) for s, i in zip(scores, ids) if i >= 0), 1):
        out.append(Hit(chunk=snap.chunks[i], score=s, scores={key: s}, ranks={key: rank}))
    return out


def rrf_fuse(dense: list[Hit], lexical: list[Hit], *, dense_weight: float = 1.0, lexical_weight: float = 1.0,
             k: int = 60) -> list[Hit]:
    """Weighted reciprocal-rank fusion; every fused hit keeps both lists' scores and ranks."""
    by_id: dict[str, Hit] = {}
    for weight, hits, key in ((dense_weight, dense, "dense"), (lexical_weight, lexical, "lexical")):
        for h in hits:
            f = by_id.get(h.chunk.id)
            if f is None:
                f = by_id[h.chunk.id] = Hit(chunk=h.chunk, score=0.0, scores={}, ranks={})
            f.scores[key] = h.scores[key]
            f.ranks[key] = h.ranks[key]
            f.score += weight / (k + h.ranks[key])
    fused = sorted(by_id.values(), key=lambda h: (-h.score, h.ranks.get("dense", 10**9), h.chunk.id))
    for r, h in enumerate(fused, 1):
        h.scores["fused"] = h.score
        h.ranks["fused"] = r
    return fused


class HybridRetriever:
    """Dense + lexical retrieval over one snapshot.

    Args:
        candidate_k: depth of each list before fusion.
        dense_weight, lexical_weight: RRF weights (0 switches a list off).
        rrf_k: the RRF constant.
    """

    def __init__(self, candidate_k: int = 50, dense_weight: float = 1.0, lexical_weight: float = 1.0, rrf_k: int = 60) -> None:
        if candidate_k <= 0:
            raise ValueError(f"candidate_k must be > 0, but got {candidate_k}")
        if dense_weight < 0 or lexical_weight < 0 or dense_weight + lexical_weight == 0:
            raise ValueError(f"weights must be >= 0 and not both 0, got {dense_weight}, {lexical_weight}")
        self.candidate_k = candidate_k
        self.dense_weight = dense_weight
        self.lexical_weight = lexical_weight
        self.rrf_k = rrf_k

    def retrieve(self, snap: Snapshot, query: str, query_vec: np.ndarray) -> RetrievalResult:
        return self.retrieve_many(snap, [query], query_vec.reshape(1, -1))[0]

    def retrieve_many(self, snap: Snapshot, queries: list[str], query_vecs: np.ndarray) -> list[RetrievalResult]:
        if snap.size == 0 or snap.vindex is None:
            return [RetrievalResult([], [], []) for _ in queries]
        k = self.candidate_k
        if self.dense_weight > 0:
            ds, di = snap.vindex.search(query_vecs, k)
        else:
            ds = di = np.zeros((len(queries), 0))
        if self.lexical_weight > 0:
            ls, li = snap.bm25.search(queries, k)
        else:
            ls = li = np.zeros((len(queries), 0))
        out = []
        for q in range(len(queries)):
            dense = _hits(snap, ds[q], di[q], "dense")
            lexical = _hits(snap, ls[q], li[q], "lexical")
            fused = rrf_fuse(dense, lexical, dense_weight=self.dense_weight, lexical_weight=self.lexical_weight, k=self.rrf_k)
            out.append(RetrievalResult(dense, lexical, fused))
        return out


def gold_rank(doc_ids: Iterable[str], gold: set[str], k: int = 10) -> int | None:
    """1-based rank of the first gold document among the first ``k`` distinct documents, else None."""
    seen: list[str] = []
    for d in doc_ids:
        if d not in seen:
            seen.append(d)
            if d in gold:
                return len(seen)
            if len(seen) >= k:
                break
    return None


def mrr_at_10(rankings: list[list[Hit]], questions: list) -> float:
    """Mean reciprocal rank of the first gold document (``q.gold_doc_ids``) in each ranking of hits."""
    total = 0.0
    for q, hits in zip(questions, rankings):
        r = gold_rank((h.chunk.doc_id for h in hits), set(q.gold_doc_ids))
        total += 1.0 / r if r else 0.0
    return total / max(len(questions), 1)
