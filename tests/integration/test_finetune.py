"""``rag finetune`` end to end on small collections: the real MiniLM, a handful of steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rag.errors import TrainingDataError
from rag.finetune import DEFAULT_LOSS, FinetuneOptions, finetune_collection
from rag.finetune.cli import finetune_command
from rag.types import Document

from tests.conftest import SAMPLE


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("finetune")(finetune_command)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps "finetune" a sub-command
        pass

    return app


@pytest.fixture()
def tiny(make_service, tmp_path):
    svc = make_service(tmp_path / "data")
    docs = [Document(id=f"d{i}", title=f"Note {i}", text=f"Short note number {i} about bicycles and frames.")
            for i in range(3)]
    svc.ingest("tiny", docs)
    return svc


def test_too_small_corpus_is_refused_and_keeps_the_collection(tiny, tmp_path):
    store = tiny.store
    before = (store.dir("tiny") / "CURRENT").read_text()
    manifest = store.manifest("tiny")
    store.update_settings("tiny", reranker="/some/earlier/reranker")
    with pytest.raises(TrainingDataError, match=r"3 document\(s\).*too few to fine-tune.*unchanged"):
        finetune_collection(store, "tiny", tiny.embedder, FinetuneOptions(apply=True))
    assert (store.dir("tiny") / "CURRENT").read_text() == before
    assert store.manifest("tiny") == manifest
    assert store.read_settings("tiny") == {"reranker": "/some/earlier/reranker"}
    assert not (store.dir("tiny") / "models").exists()


def test_cli_reports_a_too_small_corpus(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_DATA_DIR", str(tiny.store.root))
    res = CliRunner().invoke(_cli(), ["finetune", "--collection", "tiny", "--apply"])
    assert res.exit_code == 1
    assert "too few to fine-tune" in res.output and "unchanged" in res.output


@pytest.mark.slow
def test_finetune_small_collection_end_to_end(make_service, tmp_path):
    """~30 documents, a few steps of each model; --apply re-embeds and switches the reranker."""
    from rag.embedding import SentenceTransformerEmbedder
    from rag.rerank import CrossEncoderReranker

    svc = make_service(tmp_path / "data")
    svc.ingest_paths("s", [SAMPLE])
    store = svc.store
    n_docs = store.manifest("s")["n_docs"]
    assert n_docs >= 25
    opts = FinetuneOptions(max_pairs=48, heldout=12, batch_size=8, max_seq_length=64, train_layers=1,
                           reranker_queries=12, n_neg=2, min_docs=10, apply=True, force=True, seed=3)
    stages: set[str] = set()
    rep = finetune_collection(store, "s", svc.embedder, opts, lambda st, d, t: stages.add(st))
    assert {"pairs", "encode queries", f"embedder ({DEFAULT_LOSS})", "reranker", "embed"} <= stages
    assert rep["version"] == 1 and rep["applied"] == ["embedder", "reranker"]
    d = rep["data"]
    assert d["train_pairs"] <= 48 and d["heldout_pairs"] >= 5 and d["negatives"]["hard"] > 0

    emb_dir = store.dir("s") / "models" / "embedder-v1"
    rr_dir = store.dir("s") / "models" / "reranker-v1"
    card = json.loads((emb_dir / "rag_model.json").read_text())
    assert card["model_id"] == "rag-ft/s/embedder-v1" and card["loss"] == DEFAULT_LOSS
    assert card["data"]["train_pairs"] == d["train_pairs"] and card["heldout_start"]["mrr@10"] >= 0
    assert card["seconds"] > 0 and card["steps"] >= 1
    rcard = json.loads((rr_dir / "rag_model.json").read_text())
    assert rcard["kind"] == "reranker" and rcard["heldout_best"]["reranked"]["mrr@10"] >= 0

    # the collection was re-embedded by the new model, atomically, and the manifest says so
    assert store.manifest("s")["embedding_model"] == "rag-ft/s/embedder-v1"
    settings = store.read_settings("s")
    assert Path(settings["embedding_model"]) == emb_dir and Path(settings["reranker"]) == rr_dir
    emb = SentenceTransformerEmbedder(settings["embedding_model"])
    snap = store.load("s", model_id=emb.model_id)
    assert snap.embeddings.shape[0] == snap.size

    # the trained reranker loads and reranks through the service's class
    from rag.retrieval import HybridRetriever

    q = "How long is the warranty on a frame?"
    res = HybridRetriever(20).retrieve(snap, q, emb.encode([q])[0])
    hits = CrossEncoderReranker(settings["reranker"], max_candidates=5).rerank(q, res.fused, 3)
    assert len(hits) == 3 and all("rerank" in h.scores for h in hits)

    # a second run gets the next version and leaves v1 alone
    rep2 = finetune_collection(store, "s", emb, FinetuneOptions(max_pairs=48, heldout=6, batch_size=8,
                                                                 max_seq_length=48, train_layers=1, reranker=False,
                                                                 min_docs=10, seed=4))
    assert rep2["version"] == 2 and (store.dir("s") / "models" / "embedder-v2" / "rag_model.json").is_file()
    assert rep2["applied"] == [] and store.manifest("s")["embedding_model"] == "rag-ft/s/embedder-v1"


@pytest.fixture()
def sample_collection(make_service, tmp_path):
    svc = make_service(tmp_path / "data")
    svc.ingest_paths("s", [SAMPLE])
    return svc


def _report_with(path: str) -> dict:
    return {"embedder": {"path": path, "improved": True}, "reranker": None}


def test_apply_rolls_back_models_that_lower_the_labelled_check(sample_collection):
    """Held-out pairs can improve while real questions get worse: --check undoes such an --apply."""
    from rag.embedding import packaged_minilm_path
    from rag.finetune.runner import apply_models

    store = sample_collection.store
    store.update_settings("s", reranker="/an/earlier/reranker")
    before_snap = store.current_path("s").name
    before_settings = store.read_settings("s")
    scores = iter([0.80, 0.50])  # the live collection's score before and after the swap
    report = _report_with(str(packaged_minilm_path()))
    applied = apply_models(store, "s", report, check=lambda: next(scores))
    assert applied == [] and report["check"] == {"before": 0.8, "after": 0.5, "rolled_back": True}
    assert store.current_path("s").name == before_snap
    assert store.read_settings("s") == {**before_settings, "embedding_model": ""}
    ans = sample_collection.ask("s", "In what year was Northwind Bikes founded?")
    assert ans.citations and ans.citations[0].doc_id == "company_history.md"


def test_apply_keeps_models_that_hold_the_labelled_check(sample_collection, make_service):
    from rag.embedding import packaged_minilm_path
    from rag.finetune.runner import apply_models
    from rag.labels import load_labelled

    from tests.conftest import SAMPLE_QUESTIONS

    store = sample_collection.store
    qs = [q for q in load_labelled(SAMPLE_QUESTIONS) if q.gold_doc_ids]
    check = lambda: make_service(store.root).retrieval_mrr("s", qs)  # noqa: E731
    before_snap = store.current_path("s").name
    report = _report_with(str(packaged_minilm_path()))  # same weights: the score must hold
    assert apply_models(store, "s", report, check=check) == ["embedder"]
    c = report["check"]
    assert c["before"] > 0.7 and abs(c["after"] - c["before"]) < 0.005 and not c["rolled_back"]
    assert store.current_path("s").name != before_snap
    assert store.read_settings("s")["embedding_model"] == str(packaged_minilm_path())
