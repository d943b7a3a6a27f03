"""The connector role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from rag.types import Document, Skipped


@runtime_checkable
class Connector(Protocol):
    """Yields documents from a source; anything unreadable comes out as ``Skipped``
    with its reason, and the rest goes on."""

    def load(self) -> Iterator[Document | Skipped]: ...
