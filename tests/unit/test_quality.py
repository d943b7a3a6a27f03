"""Unit tests for rag.quality: garble score, shingles, near duplicates, ingestion report."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from rag.quality import garble_score, is_garbled, is_truncated, jaccard, near_duplicate_pairs, quality_report, shingles
from rag.types import Chunk, Document

SHARED = Path(__file__).resolve().parents[2].parent / "shared"

CLEAN = (
    "Northwind Bikes was founded in 1987 in Bristol, England, by frame builder Margit Olsen. "
    "The company moved its production to Avonmouth in 2004 and opened its first store outside Bristol in Leeds."
)


def test_clean_text_scores_low():
    assert garble_score(CLEAN) < 0.2
    assert garble_score("") == 0.0
    assert not is_garbled("| Model | Price |\n|---|---|\n| Skylark | 2,450 |")
    assert not is_garbled("《唐文粹》又称《文粹》，100卷。宋代姚铉编。分〈古赋〉九、〈诗〉十三、〈颂〉五。")
    assert not is_garbled("Café au lait, naïve façade, São Paulo, Zürich.")


@pytest.mark.parametrize(
    "garbled",
    [
        CLEAN.encode("utf-8").decode("cp1252", errors="replace").replace("1987", "Ã©1987 â€™ Ã¨"),
        "Caf\u00c3\u00a9 au lait \u00e2\u20ac\u201c the \u00e2\u20ac\u02dcbest\u00e2\u20ac\u2122 in town",
        "The (cid:12)(cid:45) results (cid:3) show (cid:88) that (cid:9) the",
        "T h e c o m p a n y w a s f o u n d e d i n B r i s t o l",
        "Results \ufffd\ufffd were \ufffd significant \ufffd for the \ufffd group",
        "\x00\x01\x02 binary \x03\x04 junk \x05\x06\x07\x08 here \x0e\x0f",
    ],
)
def test_garbled_text_is_detected(garbled):
    assert is_garbled(garbled), garble_score(garbled)


def test_truncation():
    long_ok = CLEAN * 5
    assert is_truncated(long_ok) is None
    assert is_truncated(long_ok + " The frames are welded by hand and then") is not None
    assert is_truncated("Too short") is not None
    short_cut = "supersonic flow over an inclined wing of zero aspect ratio . an asymptotic expression is derived and the"
    assert "mid-sentence" in is_truncated(short_cut)
    assert is_truncated("Supersonic flow over an inclined wing of zero aspect ratio: an asymptotic expression.") is None
    assert is_truncated("") is None
    assert is_truncated(long_ok + "\n\n| a | b |\n|---|---|\n| 1 | 2 |") is None
    assert is_truncated(long_ok + "\n\n- pedals are not included") is None


def test_shingles_and_jaccard():
    assert shingles("one two three", n=5) == {"one two three"}
    assert len(shingles("a b c d e f g", n=5)) == 3
    assert shingles("") == set()
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        shingles("x", n=0)


def test_near_duplicate_pairs_finds_exact_and_near():
    base = " ".join(f"word{i}" for i in range(200))
    near = base.replace("word100", "changed")
    items = [("a", base), ("b", "completely different text " * 20), ("c", near), ("d", base.upper())]
    pairs = near_duplicate_pairs(items, threshold=0.85)
    found = {(a, b): sim for a, b, sim in pairs}
    assert found[("a", "d")] == 1.0
    assert 0.9 < found[("a", "c")] < 1.0
    assert ("a", "b") not in found
    assert near_duplicate_pairs([("x", "only one")]) == []
    with pytest.raises(ValueError):
        near_duplicate_pairs(items, threshold=0)


def test_near_duplicate_pairs_scales_to_10k_chunks():
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(5000)]
    texts = [" ".join(rng.choice(vocab) for _ in range(120)) for _ in range(10_000)]
    texts[5000] = texts[10] + " extra"
    t0 = time.perf_counter()
    pairs = near_duplicate_pairs([(str(i), t) for i, t in enumerate(texts)])
    elapsed = time.perf_counter() - t0
    assert ("10", "5000") in {(a, b) for a, b, _ in pairs}
    assert len(pairs) == 1
    assert elapsed < 30  # a few seconds on one free core; generous for shared CI machines


def _doc(doc_id: str, text: str, title: str = "", source: str = "") -> Document:
    return Document(id=doc_id, text=text, title=title, source=source)


def test_quality_report_findings():
    long_text = CLEAN * 4
    docs = [
        _doc("a", long_text, title="History", source="docs/history.md"),
        _doc("a-copy", long_text, title="History copy", source="docs/history_copy.md"),
        _doc("empty", "   "),
        _doc("trunc", long_text + " The frames are welded by hand and then"),
        _doc("garbled", "The (cid:12)(cid:45) results (cid:3) show (cid:88) that (cid:9) the"),
        _doc(
            "price-2023",
            "Prices 2023: the Skylark costs 2,300 GBP and the Marten 1,500 GBP.",
            title="Price list 2023",
            source="price_list_2023.md",
        ),
        _doc(
            "price-2024",
            "Prices 2024: the Skylark costs 2,450 GBP and the Marten 1,650 GBP.",
            title="Price list 2024",
            source="price_list_2024.md",
        ),
        _doc("manual-v1", "Manual. Step one: unpack. " * 10, source="manual_v1.md"),
        _doc("manual-v2", "Manual. Step one: unpack carefully. " * 10, source="manual_v2.md"),
    ]
    chunks = [
        Chunk(id="a#0", doc_id="a", text=CLEAN, position=0),
        Chunk(id="a-copy#0", doc_id="a-copy", text=CLEAN, position=0),
        Chunk(id="g#0", doc_id="garbled", text=docs[4].text, position=0),
    ]
    rep = quality_report(docs, chunks)
    json.dumps(rep)  # JSON-serialisable
    issues = rep["doc_issues"]
    assert rep["empty_docs"] == ["empty"] and "empty" in issues["empty"]
    assert "truncated" in issues["trunc"]
    assert "garbled" in issues["garbled"]
    assert rep["duplicate_docs"] == [["a", "a-copy"]] and "duplicate_of:a" in issues["a-copy"]
    assert rep["exact_duplicate_chunks"] == [["a#0", "a-copy#0"]]
    assert "garbled" in rep["chunk_issues"]["g#0"]
    versions = {v["current"]: v for v in rep["versions"]}
    assert versions["price-2024"]["older"] == ["price-2023"] and "version_of:price-2024" in issues["price-2023"]
    assert versions["manual-v2"]["older"] == ["manual-v1"]
    assert "price-2024" not in issues or not any(i.startswith("version_of") for i in issues["price-2024"])
    assert rep["counts"]["versions"] == 2


def test_quality_report_clean_corpus_is_clean():
    docs = [
        _doc(f"d{i}", f"Document {i} talks about topic {i}. " + CLEAN.replace("1987", str(1900 + i)) * 3)
        for i in range(3)
    ]
    docs = [_doc("x", "The Skylark is a carbon road bike with a 32 mm tyre clearance, built in Bristol since 2012.")]
    rep = quality_report(docs, [Chunk(id="x#0", doc_id="x", text=docs[0].text, position=0)])
    assert rep["doc_issues"] == {} and rep["chunk_issues"] == {}


def test_garble_score_on_real_corpus_has_no_false_positives():
    path = SHARED / "datasets" / "converted" / "pubmedqa" / "corpus.jsonl"
    if not path.exists():
        pytest.skip("shared PubMedQA data not found")
    texts = [json.loads(line)["text"] for _, line in zip(range(300), path.open(encoding="utf-8"))]
    assert sum(is_garbled(t) for t in texts) == 0
