"""Chunking: sentence-aware with overlap, heading-aware for Markdown, tables kept whole.

Prose is split by llama-index's ``SentenceSplitter`` measured in the embedding
model's own tokens, so a chunk fits the model's window. Markdown is first cut
at its headings (``MarkdownNodeParser``) and every chunk records its heading
path as ``section``. A table (Markdown, or CSV/HTML that connectors turned into
Markdown) becomes one chunk with its header row, or, when too long, several
chunks of consecutive rows that each repeat the header.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.types import Chunk, Document

_TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")

Tokenize = Callable[[str], list]


def _default_tokenize(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text)


def split_blocks(text: str) -> list[tuple[str, str]]:
    """Split text into ("text"|"table", block) runs; a table is a header + separator + rows."""
    lines = text.splitlines()
    blocks: list[tuple[str, str]] = []
    buf: list[str] = []
    i = 0
    while i < len(lines):
        if (
            _TABLE_LINE.match(lines[i])
            and i + 1 < len(lines)
            and _SEPARATOR.match(lines[i + 1])
        ):
            if buf:
                blocks.append(("text", "\n".join(buf)))
                buf = []
            j = i + 2
            while j < len(lines) and _TABLE_LINE.match(lines[j]):
                j += 1
            blocks.append(("table", "\n".join(lines[i:j])))
            i = j
            continue
        buf.append(lines[i])
        i += 1
    if buf:
        blocks.append(("text", "\n".join(buf)))
    return [(k, b) for k, b in blocks if b.strip()]


def _markdown_sections(text: str) -> list[tuple[str, str]]:
    """(heading path, body) pairs, via llama-index's MarkdownNodeParser."""
    from llama_index.core import Document as LIDocument
    from llama_index.core.node_parser import MarkdownNodeParser

    nodes = MarkdownNodeParser(include_metadata=True).get_nodes_from_documents([LIDocument(text=text)])
    out = []
    for node in nodes:
        path = (node.metadata.get("header_path") or "").strip("/")
        body = node.get_content()
        # the node text starts with its own heading line: keep the heading in the path only
        heading = ""
        m = re.match(r"^\s*(#{1,6})\s+(.*)", body)
        if m:
            heading = m.group(2).strip()
            body = body[m.end():]
        section = " > ".join(p for p in [*path.split("/"), heading] if p)
        out.append((section, body))
    return out


class DocumentChunker:
    """Chunker role.

    Args:
        chunk_tokens: target chunk size in model tokens.
        overlap_tokens: overlap between consecutive prose chunks.
        tokenize: the embedding model's tokenizer (``tokenizer.tokenize``); a
            word splitter by default.
        max_table_tokens: a table longer than this is split by rows, header repeated.
    """

    def __init__(
        self,
        chunk_tokens: int = 256,
        overlap_tokens: int = 30,
        tokenize: Tokenize | None = None,
        max_table_tokens: int | None = None,
    ) -> None:
        if chunk_tokens <= 0:
            raise ValueError(f"chunk_tokens must be > 0, but got {chunk_tokens}")
        if not 0 <= overlap_tokens < chunk_tokens:
            raise ValueError(f"overlap_tokens must be in [0, chunk_tokens), but got {overlap_tokens}")
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens
        self.tokenize = tokenize or _default_tokenize
        self.max_table_tokens = max_table_tokens or chunk_tokens
        from llama_index.core.node_parser import SentenceSplitter

        self._splitter = SentenceSplitter(
            chunk_size=chunk_tokens, chunk_overlap=overlap_tokens, tokenizer=self.tokenize
        )

    def _ntok(self, text: str) -> int:
        return len(self.tokenize(text))

    def split_table(self, table: str) -> list[str]:
        lines = [ln for ln in table.splitlines() if ln.strip()]
        if self._ntok(table) <= self.max_table_tokens or len(lines) <= 3:
            return [table]
        header, rows = lines[:2], lines[2:]
        budget = max(self.max_table_tokens - self._ntok("\n".join(header)), 1)
        parts, cur, cur_tok = [], [], 0
        for row in rows:
            t = self._ntok(row)
            if cur and cur_tok + t > budget:
                parts.append("\n".join(header + cur))
                cur, cur_tok = [], 0
            cur.append(row)
            cur_tok += t
        if cur:
            parts.append("\n".join(header + cur))
        return parts

    def chunk(self, doc: Document) -> list[Chunk]:
        fmt = doc.metadata.get("format", "text")
        sections = _markdown_sections(doc.text) if fmt == "markdown" else [("", doc.text)]
        pieces: list[tuple[str, str, str, dict]] = []  # (kind, section, text, meta)
        for section, body in sections:
            for kind, block in split_blocks(body) if fmt != "table" else [("table", body)]:
                if kind == "table":
                    parts = self.split_table(block)
                    for i, part in enumerate(parts):
                        meta = {"table_part": i + 1, "table_parts": len(parts)} if len(parts) > 1 else {}
                        pieces.append(("table", section, part, meta))
                else:
                    for text in self._splitter.split_text(block):
                        if text.strip():
                            pieces.append(("text", section, text.strip(), {}))
        return [
            Chunk(
                id=f"{doc.id}#{i}",
                doc_id=doc.id,
                text=text,
                position=i,
                section=section,
                title=doc.title,
                source=doc.source,
                kind=kind,  # type: ignore[arg-type]
                metadata=meta,
            )
            for i, (kind, section, text, meta) in enumerate(pieces)
        ]


def embed_text(chunk: Chunk) -> str:
    """The text a chunk is embedded and indexed by: title and section give it context."""
    head = " / ".join(p for p in (chunk.title, chunk.section) if p)
    return f"{head}\n{chunk.text}" if head else chunk.text


_SENT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n|\n(?=\s*[-*•]\s)|(?<=[^.!?:;,\s])[ \t]*\n(?=\s*[A-Z0-9#|])")


_ABBREV = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|Prof|St|Sr|Jr|vs|etc|Fig|Figs|No|al|approx|Inc|Ltd|Co|e\.g|i\.e|cf)|\b[A-Z])\.$")


def split_sentences(text: str) -> list[str]:
    """Deterministic sentence split (punctuation followed by a capital, blank lines, bullets);
    common abbreviations (Dr., e.g., single initials) do not end a sentence."""
    out: list[str] = []
    for s in _SENT.split(text):
        s = re.sub(r"\s+", " ", s).strip()
        if not s:
            continue
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {s}"
        else:
            out.append(s)
    return [s for s in out if len(s) > 1]


def chunk_sentences(text: str) -> list[str]:
    """The sentences a chunk is answered from (the whole text when it has no sentence break)."""
    return split_sentences(text) or [text]
