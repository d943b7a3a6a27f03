"""Rerankers: a sentence-transformers CrossEncoder from a local folder, or pass-through."""

from __future__ import annotations

import threading
from pathlib import Path

from rag.types import Hit


class PassthroughReranker:
    """Keeps the fused order (no reranker configured)."""

    name = "none"

    def warm_up(self) -> None:  # nothing to load
        return None

    def rerank(self, query: str, hits: list[Hit], top_k: int) -> list[Hit]:
        out = hits[:top_k]
        for r, h in enumerate(out, 1):
            h.scores.setdefault("rerank", h.score)
            h.ranks["rerank"] = r
        return out


class CrossEncoderReranker:
    """Scores (question, chunk) pairs with a CrossEncoder loaded from a local folder.

    Args:
        model: folder of a sentence-transformers CrossEncoder (for example one
            trained by ``rag finetune``).
        device: ``auto``, ``cpu`` or ``cuda``.
        max_candidates: how many fused candidates are scored.
    """

    def __init__(self, model: str | Path, *, device: str = "auto", max_candidates: int = 20, batch_size: int = 32) -> None:
        self.path = Path(model)
        if not self.path.is_dir():
            raise FileNotFoundError(f"reranker model folder not found: {self.path}")
        if max_candidates <= 0:
            raise ValueError(f"max_candidates must be > 0, but got {max_candidates}")
        self.name = self.path.name
        self.device = device
        self.max_candidates = max_candidates
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                from rag.embedding import offline, pick_device

                offline()
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(str(self.path), device=pick_device(self.device))

    def rerank(self, query: str, hits: list[Hit], top_k: int) -> list[Hit]:
        if not hits:
            return []
        self.warm_up()
        cands = hits[: self.max_candidates]
        scores = self._predict(query, cands)
        order = sorted(range(len(cands)), key=lambda i: -float(scores[i]))
        out = []
        for r, i in enumerate(order[:top_k], 1):
            h = cands[i]
            h.scores["rerank"] = float(scores[i])
            h.ranks["rerank"] = r
            out.append(h)
        return out

    def _predict(self, query: str, cands: list[Hit]):
        from rag.chunking import embed_text

        return self._model.predict([(query, embed_text(h.chunk)) for h in cands], batch_size=self.batch_size,
                                   show_progress_bar=False)
