"""Files and folders: .txt .md .html .pdf .csv .json .jsonl.

Every file that cannot be read (missing, binary, undecodable, empty, over the
size limit, unsupported) comes out as ``Skipped`` with its reason; the rest of
the ingest goes on. PDFs are read with llama-index's ``PDFReader``; HTML and
CSV become Markdown so headings and tables survive chunking.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from connectors.jsonl import parse_jsonl
from rag.types import Document, Skipped

SUPPORTED_EXTENSIONS = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".csv", ".json", ".jsonl"}


def _decode(raw: bytes) -> str | None:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None or best.chaos > 0.1:
        return None
    return str(best)


def _looks_binary(raw: bytes) -> bool:
    head = raw[:8192]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return bool(head) and control / len(head) > 0.1


def rows_to_markdown(rows: list[list[str]]) -> str:
    """A Markdown table from rows, the first being the header."""
    width = max(len(r) for r in rows)
    norm = [[(c or "").replace("|", "\\|").replace("\n", " ").strip() for c in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(norm[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in norm[1:]]
    return "\n".join(lines)


def html_to_markdown(html: str) -> tuple[str, str]:
    """(title, markdown) from HTML: headings, paragraphs, list items and tables are kept."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    body = soup.body or soup
    out: list[str] = []
    for el in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "table", "pre", "blockquote"]):
        if el.find_parent("table") is not None and el.name != "table":
            continue
        if el.name == "table":
            rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])] for tr in el.find_all("tr")]
            rows = [r for r in rows if any(r)]
            if rows:
                out.append(rows_to_markdown(rows))
        elif el.name.startswith("h"):
            out.append("#" * int(el.name[1]) + " " + el.get_text(" ", strip=True))
            title = title or el.get_text(" ", strip=True)
        elif el.name == "li":
            out.append("- " + el.get_text(" ", strip=True))
        else:
            if el.find_parent(["li"]) is None:
                out.append(el.get_text(" ", strip=True))
    text = "\n\n".join(t for t in out if t.strip())
    if not text.strip():
        text = body.get_text("\n", strip=True)
    return title, text


def _first_heading(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


class FilesystemConnector:
    """Reads files and folders (recursively; hidden files are ignored).

    Args:
        paths: files or folders.
        max_file_mb: files larger than this are skipped.

    A document's id is its path relative to the folder it was found under (the
    file name for a file given directly); JSONL lines keep their own ``id``.
    """

    def __init__(self, paths: list[str | Path], *, max_file_mb: float = 20.0) -> None:
        if max_file_mb <= 0:
            raise ValueError(f"max_file_mb must be > 0, but got {max_file_mb}")
        self.paths = [Path(p) for p in paths]
        self.max_bytes = int(max_file_mb * 1024 * 1024)

    def _files(self) -> Iterator[tuple[Path, str] | Skipped]:
        for root in self.paths:
            if not root.exists():
                yield Skipped(str(root), "no such file or folder")
            elif root.is_file():
                yield root, root.name
            else:
                for p in sorted(root.rglob("*")):
                    rel = p.relative_to(root)
                    if any(part.startswith(".") for part in rel.parts) or not p.is_file():
                        continue
                    yield p, rel.as_posix()

    def load(self) -> Iterator[Document | Skipped]:
        for item in self._files():
            if isinstance(item, Skipped):
                yield item
                continue
            path, doc_id = item
            try:
                yield from self._read(path, doc_id)
            except Exception as e:  # one broken file never stops the ingest
                yield Skipped(str(path), f"could not be read: {type(e).__name__}: {e}")

    def _read(self, path: Path, doc_id: str) -> Iterator[Document | Skipped]:
        ext = path.suffix.lower()
        src = str(path)
        if ext not in SUPPORTED_EXTENSIONS:
            yield Skipped(src, f"unsupported file type {ext or '(none)'}")
            return
        size = path.stat().st_size
        if size > self.max_bytes:
            yield Skipped(src, f"over the size limit ({size / 2**20:.1f} MB > {self.max_bytes / 2**20:.1f} MB)")
            return
        if size == 0:
            yield Skipped(src, "empty file")
            return
        raw = path.read_bytes()
        if ext == ".pdf":
            yield from self._read_pdf(path, doc_id)
            return
        if _looks_binary(raw):
            yield Skipped(src, f"binary content in a {ext} file")
            return
        text = _decode(raw)
        if text is None:
            yield Skipped(src, "not valid text in any known encoding (undecodable)")
            return
        if not text.strip():
            yield Skipped(src, "empty file (only whitespace)")
            return
        meta = {"path": src, "ext": ext}
        if ext == ".jsonl":
            yield from parse_jsonl(iter(text.splitlines()), src)
        elif ext == ".json":
            yield from self._read_json(text, src, doc_id, meta)
        elif ext == ".csv":
            rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
            if len(rows) < 2:
                yield Skipped(src, "CSV has no data rows")
                return
            yield Document(id=doc_id, title=path.stem.replace("_", " "), text=rows_to_markdown(rows), source=src,
                           metadata={**meta, "format": "table", "columns": rows[0]})
        elif ext in (".html", ".htm"):
            title, md = html_to_markdown(text)
            if not md.strip():
                yield Skipped(src, "HTML has no text")
                return
            yield Document(id=doc_id, title=title or path.stem, text=md, source=src, metadata={**meta, "format": "markdown"})
        elif ext in (".md", ".markdown"):
            yield Document(id=doc_id, title=_first_heading(text) or path.stem.replace("_", " "), text=text, source=src,
                           metadata={**meta, "format": "markdown"})
        else:
            yield Document(id=doc_id, title=path.stem.replace("_", " "), text=text, source=src, metadata={**meta, "format": "text"})

    def _read_json(self, text: str, src: str, doc_id: str, meta: dict) -> Iterator[Document | Skipped]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            yield Skipped(src, f"invalid JSON ({e.msg} at line {e.lineno})")
            return
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip():
                iid = str(item.get("id") or (doc_id if len(items) == 1 else f"{doc_id}:{i}"))
                extra = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
                yield Document(id=iid, title=str(item.get("title") or ""), text=item["text"], source=src,
                               metadata={**meta, **extra, "format": "text"})
            else:
                body = json.dumps(item, ensure_ascii=False, indent=1)
                iid = doc_id if len(items) == 1 else f"{doc_id}:{i}"
                yield Document(id=iid, title=Path(src).stem, text=body, source=src, metadata={**meta, "format": "text"})

    def _read_pdf(self, path: Path, doc_id: str) -> Iterator[Document | Skipped]:
        from llama_index.readers.file import PDFReader

        try:
            pages = PDFReader(return_full_document=True).load_data(path)
        except Exception as e:
            yield Skipped(str(path), f"unreadable PDF ({type(e).__name__}: {e})")
            return
        text = "\n\n".join(p.text for p in pages if p.text)
        if not text.strip():
            yield Skipped(str(path), "PDF has no extractable text (scanned image?)")
            return
        yield Document(id=doc_id, title=path.stem.replace("_", " "), text=text, source=str(path),
                       metadata={"path": str(path), "ext": ".pdf", "format": "text"})
