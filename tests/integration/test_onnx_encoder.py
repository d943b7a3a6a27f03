"""The int8 ONNX query encoder on the real MiniLM: same vector space, cached export, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

QUESTIONS = [
    "When was Northwind Bikes founded?",
    "How long is the warranty on carbon frames?",
    "what similarity laws must be obeyed when constructing aeroelastic models of heated high speed aircraft .",
    "Does the Puffin Fold fit in a car boot?",
    "How many days of annual leave do employees get?",
]


@pytest.fixture(scope="module")
def int8(embedder, tmp_path_factory):
    from rag.onnx_encoder import OnnxInt8Encoder

    enc = OnnxInt8Encoder(embedder, tmp_path_factory.mktemp("onnx"))
    enc.warm_up()
    return enc


def test_int8_vectors_match_the_fp32_space(int8, embedder):
    ref = embedder.encode(QUESTIONS)
    got = int8.encode(QUESTIONS)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cos = (ref * got).sum(1)
    assert cos.min() > 0.97, cos
    # order is kept although passes sort by length; a question is nearest to its own fp32 vector
    assert (np.argmax(got @ ref.T, axis=1) == np.arange(len(QUESTIONS))).all()
    assert int8.encode([]).shape == (0, ref.shape[1])
    one = int8.encode(["Who founded it?"])  # a batch of one, shorter than anything traced
    assert float(one[0] @ embedder.encode(["Who founded it?"])[0]) > 0.97
    assert int8.model_id == embedder.model_id  # same space: the collection's index is unchanged


def test_export_is_cached_and_reused(int8, embedder):
    from rag.onnx_encoder import OnnxInt8Encoder

    files = sorted(p.name for p in int8.cache_dir.iterdir())
    assert files == [int8.path.name] and (int8.path / "model-int8.onnx").is_file()  # no temp folder left behind
    again = OnnxInt8Encoder(embedder, int8.cache_dir)
    mtime = (int8.path / "model-int8.onnx").stat().st_mtime_ns
    again.warm_up()
    assert again.path == int8.path and (int8.path / "model-int8.onnx").stat().st_mtime_ns == mtime
    assert np.allclose(again.encode(QUESTIONS[:2]), int8.encode(QUESTIONS[:2]))


def test_service_answers_with_the_int8_encoder(make_service):
    from rag.service import RAGService
    from tests.conftest import SAMPLE

    svc: RAGService = make_service(query_encoder="onnx-int8")
    svc.ingest_paths("s", [SAMPLE])
    pipe = svc.pipeline("s")
    assert pipe.query_embedder is not None and pipe.query_embedder.model_id == pipe.embedder.model_id
    ans = svc.ask("s", "When was Northwind Bikes founded?")
    assert not ans.abstained and "1987" in ans.answer and ans.citations


def test_unknown_setting_and_broken_copy_fall_back_clearly(make_service, embedder, tmp_path, monkeypatch):
    from rag.onnx_encoder import OnnxInt8Encoder

    with pytest.raises(ValueError, match="query_encoder"):
        make_service(query_encoder="tensorrt").query_encoder_for(embedder)
    enc = OnnxInt8Encoder(embedder, tmp_path, min_cosine=1.01)  # nothing reproduces vectors that well
    with pytest.raises(ValueError, match="does not reproduce"):
        enc.warm_up()
    svc = make_service(query_encoder="onnx-int8")
    monkeypatch.setattr(OnnxInt8Encoder, "warm_up", lambda self: (_ for _ in ()).throw(ValueError("boom")))
    assert svc.query_encoder_for(embedder) is None  # the fp32 embedder answers instead
