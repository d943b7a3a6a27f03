from rag.chunking import DocumentChunker, split_blocks, split_sentences
from rag.types import Document


def test_markdown_sections_and_tables_keep_header():
    text = (
        "# Guide\n\nIntro sentence one. Intro sentence two.\n\n"
        "## Prices\n\n| Model | Price |\n|---|---|\n| A | 10 |\n| B | 20 |\n\nAfter the table.\n"
    )
    chunks = DocumentChunker(50, 10).chunk(Document(id="g.md", text=text, metadata={"format": "markdown"}))
    tables = [c for c in chunks if c.kind == "table"]
    assert len(tables) == 1
    assert tables[0].text.splitlines()[0] == "| Model | Price |"
    assert tables[0].section == "Guide > Prices"
    assert any(c.kind == "text" and "After the table" in c.text and c.section == "Guide > Prices" for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(c.id == f"g.md#{c.position}" and c.doc_id == "g.md" for c in chunks)


def test_long_table_split_by_rows_with_header_repeated():
    rows = "\n".join(f"| item {i} | {i * 10} |" for i in range(60))
    text = "| Name | Value |\n|---|---|\n" + rows
    chunks = DocumentChunker(40, 5, max_table_tokens=60).chunk(Document(id="t", text=text, metadata={"format": "table"}))
    assert len(chunks) > 1
    assert all(c.kind == "table" and c.text.startswith("| Name | Value |\n|---|---|") for c in chunks)
    body = [line for c in chunks for line in c.text.splitlines()[2:]]
    assert body == rows.splitlines()  # every row exactly once, in order
    assert chunks[0].metadata == {"table_part": 1, "table_parts": len(chunks)}


def test_prose_chunks_overlap_and_respect_size():
    sents = " ".join(f"Sentence number {i} talks about topic {i}." for i in range(80))
    ch = DocumentChunker(40, 10)
    chunks = ch.chunk(Document(id="p", text=sents))
    assert len(chunks) > 3
    assert all(len(ch.tokenize(c.text)) <= 40 for c in chunks)
    # overlap: the start of each chunk repeats words from the end of the previous one
    assert any(c2.text.split()[0] in c1.text for c1, c2 in zip(chunks, chunks[1:]))


def test_split_blocks_and_sentences():
    blocks = split_blocks("text a\n| a | b |\n|---|---|\n| 1 | 2 |\ntext b")
    assert [k for k, _ in blocks] == ["text", "table", "text"]
    assert split_sentences("Dr. Who is here. It costs 3.5 GBP! Next one? yes") == [
        "Dr. Who is here.", "It costs 3.5 GBP!", "Next one? yes"]
