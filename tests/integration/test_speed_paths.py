"""The fast paths give the same answers as the plain ones: sentence vectors
precomputed at ingest, and concurrent questions answered in one batch."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rag.chunking import chunk_sentences
from rag.errors import CorruptIndexError, QueryError
from rag.types import Document

from tests.conftest import SAMPLE, SAMPLE_QUESTIONS


def _questions(n: int = 24) -> list[str]:
    return [json.loads(line)["question"] for line in SAMPLE_QUESTIONS.open()][:n]


@pytest.fixture(scope="module")
def pair(make_service):
    """The sample corpus ingested twice: with sentence vectors stored, and without."""
    fast = make_service(sentence_vectors=True)
    plain = make_service(sentence_vectors=False)
    fast.ingest_paths("s", [SAMPLE])
    plain.ingest_paths("s", [SAMPLE])
    return fast, plain


def test_ingest_stores_one_vector_per_sentence(pair, embedder):
    fast, plain = pair
    snap = fast.pipeline("s").snapshot
    sv = snap.sentences
    assert sv is not None and sv.model_id == embedder.model_id
    assert (snap.path / "sentences.npy").is_file() and "sentences.npy" in snap.manifest["checksums"]
    assert len(sv.offsets) == snap.size + 1
    assert sv.offsets[-1] == len(sv.vectors) == sum(len(chunk_sentences(c.text)) for c in snap.chunks)
    # the stored vector of a sentence is the embedder's vector of that sentence
    c = snap.chunks[3]
    sents, vecs = snap.chunk_sentences(c, embedder.model_id)
    assert np.allclose(vecs, embedder.encode(sents), atol=2e-3)
    assert snap.chunk_sentences(c, "some-other-model") is None
    assert plain.pipeline("s").snapshot.sentences is None


def test_answers_are_the_same_with_and_without_stored_vectors(pair):
    fast, plain = pair
    for q in _questions():
        a, b = fast.ask("s", q), plain.ask("s", q)
        assert (a.answer, a.abstained, [c.chunk_id for c in a.citations]) == \
            (b.answer, b.abstained, [c.chunk_id for c in b.citations]), q


def test_incremental_ingest_carries_vectors_of_unchanged_chunks(pair, embedder):
    fast, _ = pair
    before = fast.pipeline("s").snapshot
    doc = Document(id="new/warranty-extra", title="Extended warranty",
                   text="The extended warranty costs 49 euros. It adds two years of cover for the frame.")
    fast.ingest("s", [doc])
    after = fast.pipeline("s").snapshot
    assert after.path != before.path and after.sentences is not None
    assert len(after.sentences.offsets) == after.size + 1
    for c in before.chunks[:20]:
        old = before.chunk_sentences(c, embedder.model_id)
        new = after.chunk_sentences(c, embedder.model_id)
        assert new is not None and old[0] == new[0] and np.array_equal(old[1], new[1])
    added = [c for c in after.chunks if c.doc_id == doc.id]
    sents, vecs = after.chunk_sentences(added[0], embedder.model_id)
    assert np.allclose(vecs, embedder.encode(sents), atol=2e-3)
    ans = fast.ask("s", "How much does the extended warranty cost?")
    assert "49 euros" in ans.answer and ans.citations[0].doc_id == doc.id
    fast.delete_documents("s", [doc.id])
    assert len(fast.pipeline("s").snapshot.sentences.offsets) == before.size + 1


def test_corrupt_sentence_vectors_are_detected_and_repaired(make_service):
    svc = make_service()
    svc.ingest_paths("r", [SAMPLE / "company_history.md"])
    path = svc.store.current_path("r")
    with (path / "sentences.npy").open("r+b") as f:
        f.seek(200)
        f.write(b"\x00garbage\x00")
    with pytest.raises(CorruptIndexError, match="rag repair"):
        svc.store.load("r")
    svc.repair("r")
    snap = svc.store.load("r")
    assert snap.sentences is None  # dropped, computed on demand: answering still works
    ans = svc.ask("r", "When was Northwind Bikes founded, and by whom?")
    assert not ans.abstained and ans.citations[0].doc_id.endswith("company_history.md")


def test_concurrent_questions_share_batches_and_keep_their_own_answers(make_service, pair):
    fast, _ = pair
    batched = make_service(data_dir=fast.config.data_dir, query_batch=16, query_batch_wait_ms=20)
    try:
        qs = _questions()
        solo = {q: fast.ask("s", q).answer for q in qs}
        with ThreadPoolExecutor(16) as ex:
            got = list(ex.map(lambda q: batched.ask("s", q), qs))
        assert [a.answer for a in got] == [solo[q] for q in qs]
        assert batched._batcher.batches < len(qs)  # some questions were answered together
        with ThreadPoolExecutor(4) as ex:
            futs = [ex.submit(batched.ask, "s", q) for q in (qs[0], "   ", qs[1])]
            assert futs[0].result().answer == solo[qs[0]] and futs[2].result().answer == solo[qs[1]]
            with pytest.raises(QueryError, match="empty"):
                futs[1].result()
    finally:
        batched.close()
