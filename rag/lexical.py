"""Lexical search with bm25s (English stopwords, Snowball stemming)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


class BM25Index:
    """BM25 over chunk texts; ``search`` returns (scores, row ids) like the vector index."""

    def __init__(self, retriever=None, n: int = 0) -> None:
        self.retriever = retriever
        self.n = n
        self.stemmer = _stemmer()

    def _tokenize(self, texts: Sequence[str], return_ids: bool):
        import bm25s

        return bm25s.tokenize(list(texts), stopwords="en", stemmer=self.stemmer, show_progress=False,
                              return_ids=return_ids)

    @classmethod
    def build(cls, texts: Sequence[str]) -> BM25Index:
        import bm25s

        self = cls(None, len(texts))
        if texts:
            self.retriever = bm25s.BM25()
            self.retriever.index(self._tokenize(texts, True), show_progress=False)
        return self

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows per query; rows with a zero score are dropped (id -1)."""
        nq = len(queries)
        if self.retriever is None or self.n == 0 or k <= 0:
            return np.zeros((nq, 0), np.float32), np.full((nq, 0), -1, np.int64)
        k = min(k, self.n)
        tokens = self._tokenize(queries, False)
        ids = np.full((nq, k), -1, np.int64)
        scores = np.zeros((nq, k), np.float32)
        rows = [i for i, toks in enumerate(tokens) if toks]
        if not rows:
            return scores, ids
        # one call for the batch; n_threads=0 scores in this thread (1 would start a thread pool per call)
        docs, sc = self.retriever.retrieve([tokens[i] for i in rows], k=k, show_progress=False, n_threads=0)
        for j, i in enumerate(rows):
            keep = sc[j] > 0
            m = int(keep.sum())
            ids[i, :m] = docs[j][keep]
            scores[i, :m] = sc[j][keep]
        return scores, ids

    def save(self, path: Path) -> None:
        if self.retriever is not None:
            self.retriever.save(str(path))

    @classmethod
    def load(cls, path: Path, n: int) -> BM25Index:
        import bm25s

        if n == 0 or not path.exists():
            return cls(None, 0)
        return cls(bm25s.BM25.load(str(path)), n)
