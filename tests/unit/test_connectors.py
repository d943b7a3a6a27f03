import json

from connectors import FilesystemConnector, JsonlConnector
from connectors.base import Connector
from rag.types import Document, Skipped


def _pdf_bytes(text: str) -> bytes:
    """A minimal one-page PDF with a text stream (hand-built, valid xref)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + o + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_every_supported_format(tmp_path):
    (tmp_path / "a.md").write_text("# Title A\n\nSome text.")
    (tmp_path / "b.txt").write_text("Plain text here.")
    (tmp_path / "c.html").write_text("<html><head><title>C page</title></head><body><h1>Head</h1><p>Para one.</p>"
                                     "<table><tr><th>k</th><th>v</th></tr><tr><td>x</td><td>1</td></tr></table></body></html>")
    (tmp_path / "d.csv").write_text("city,hours\nBristol,9-5\nLeeds,10-6\n")
    (tmp_path / "e.json").write_text(json.dumps({"title": "E", "text": "Json text."}))
    (tmp_path / "f.jsonl").write_text(json.dumps({"id": "f1", "title": "F", "text": "Line one.", "metadata": {"k": 1}}) + "\n"
                                      + "{broken\n")
    (tmp_path / "g.pdf").write_bytes(_pdf_bytes("Hello from a PDF file"))
    (tmp_path / "h.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / ".hidden.md").write_text("secret")
    conn = FilesystemConnector([tmp_path])
    assert isinstance(conn, Connector)
    items = list(conn.load())
    docs = {d.id: d for d in items if isinstance(d, Document)}
    skipped = {s.source.split("/")[-1]: s.reason for s in items if isinstance(s, Skipped)}
    assert set(docs) == {"a.md", "b.txt", "c.html", "d.csv", "e.json", "f1", "g.pdf"}
    assert docs["a.md"].title == "Title A" and docs["a.md"].metadata["format"] == "markdown"
    assert "| k | v |" in docs["c.html"].text and "# Head" in docs["c.html"].text and docs["c.html"].title == "C page"
    assert docs["d.csv"].text.splitlines()[0] == "| city | hours |" and docs["d.csv"].metadata["format"] == "table"
    assert docs["e.json"].text == "Json text."
    assert docs["f1"].metadata["k"] == 1
    assert "Hello from a PDF file" in docs["g.pdf"].text
    assert "f.jsonl:2" in skipped and "invalid JSON" in skipped["f.jsonl:2"]
    assert "unsupported" in skipped["h.docx"]
    assert all(len(d.hash) == 32 for d in docs.values())


def test_content_hash_changes_with_text():
    a = Document(id="x", text="one")
    assert a.hash == Document(id="x", text="one").hash != Document(id="x", text="two").hash


def test_jsonl_connector_missing_file(tmp_path):
    items = list(JsonlConnector(tmp_path / "nope.jsonl").load())
    assert isinstance(items[0], Skipped) and "no such file" in items[0].reason


def test_latin1_file_is_decoded(tmp_path):
    (tmp_path / "l.txt").write_bytes("Café crème brûlée à la carte, déjà vu, naïve façade.".encode("latin-1"))
    docs = [d for d in FilesystemConnector([tmp_path]).load() if isinstance(d, Document)]
    assert docs and "Café" in docs[0].text
