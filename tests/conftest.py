"""Shared fixtures: the real MiniLM model loads once per session; the sample
collection is ingested once into a session temp dir."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLE = Path(str(resources.files("rag") / "data" / "sample"))
SAMPLE_QUESTIONS = Path(str(resources.files("rag") / "data" / "sample_questions.jsonl"))


def shared_path(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not found: {p}")
    return p


@pytest.fixture(scope="session")
def embedder():
    from rag.embedding import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder()
    e.warm_up()
    return e


@pytest.fixture(scope="session")
def make_service(embedder, tmp_path_factory):
    """Build a RAGService on a fresh data dir that reuses the session's loaded embedder."""
    from rag.service import RAGService, ServiceConfig

    def _make(data_dir: Path | None = None, **overrides) -> RAGService:
        cfg = ServiceConfig(data_dir=data_dir or tmp_path_factory.mktemp("data"), **overrides)
        svc = RAGService(cfg)
        if not cfg.embedding_model:
            svc.embedder = embedder
        return svc

    return _make


@pytest.fixture(scope="session")
def sample_service(make_service):
    """A service with the bundled sample corpus ingested and calibrated as collection 'sample'."""
    from rag.labels import load_labelled

    svc = make_service()
    report = svc.ingest_paths("sample", [SAMPLE])
    assert report.n_docs > 30 and not report.skipped
    svc.calibrate("sample", load_labelled(SAMPLE_QUESTIONS), tune_fusion=False)
    return svc
