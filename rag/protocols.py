"""The roles a pipeline is wired from (connectors have theirs in ``connectors.base``), as structural protocols.

Any class with the right methods fills a role; nothing inherits from these.
Heavy components load their models lazily in ``warm_up()`` (called once by the
CLI or the API lifespan), never in ``__init__`` and never per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from rag.types import Chunk, Document, FailureTag, Generation, Hit, Trace


class Chunker(Protocol):
    def chunk(self, doc: Document) -> list[Chunk]: ...


class Embedder(Protocol):
    model_id: str
    dim: int

    def warm_up(self) -> None: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Return L2-normalised float32 vectors, one row per text."""
        ...


class VectorIndex(Protocol):
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, row ids), each of shape (n_queries, k); missing slots have id -1."""
        ...


class Retriever(Protocol):
    def retrieve(self, query: str, k: int) -> list[Hit]: ...


class Reranker(Protocol):
    def warm_up(self) -> None: ...

    def rerank(self, query: str, hits: list[Hit], top_k: int) -> list[Hit]: ...


class Generator(Protocol):
    def warm_up(self) -> None: ...

    def generate(self, question: str, context: list[Hit]) -> Generation: ...


class Detector(Protocol):
    """One failure-mode detector: reads a trace, returns zero or more tags."""

    mode: str

    def detect(self, trace: Trace) -> list[FailureTag]: ...
