"""A JSONL corpus: one document a line, ``{"id", "title", "text", "metadata"}``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from rag.types import Document, Skipped


def parse_jsonl(lines: Iterator[str], source: str) -> Iterator[Document | Skipped]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            yield Skipped(where, f"invalid JSON ({e.msg})")
            continue
        if not isinstance(row, dict):
            yield Skipped(where, "a line must be a JSON object")
            continue
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            yield Skipped(where, "missing or empty \"text\"")
            continue
        meta = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
        doc_id = str(row.get("id") or row.get("_id") or where)
        yield Document(
            id=doc_id,
            title=str(row.get("title") or ""),
            text=text,
            source=where,
            metadata={**meta, "format": meta.get("format", "text")},
        )


class JsonlConnector:
    """Reads one JSONL corpus file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> Iterator[Document | Skipped]:
        if not self.path.is_file():
            yield Skipped(str(self.path), "no such file")
            return
        try:
            with self.path.open(encoding="utf-8") as f:
                yield from parse_jsonl(f, str(self.path))
        except UnicodeDecodeError:
            yield Skipped(str(self.path), "not valid UTF-8 text")
