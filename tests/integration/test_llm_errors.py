"""OpenAIGenerator against endpoints that fail: nothing listening, too slow, erroring.

Tiny HTTP servers on 127.0.0.1 play the failing endpoint; no model is needed, so
these run without llama-cpp-python. The service test shows the pipeline falling
back to the extractive answer and saying so.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.errors import GeneratorUnavailable
from rag.llm import OpenAIGenerator
from rag.types import Chunk, Document, Hit

CTX = [Hit(Chunk(id="d#0", doc_id="d", text="The Eiffel Tower is in Paris. It was completed in 1889.", position=0), 1.0)]
QUESTION = "Where is the Eiffel Tower?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeEndpoint:
    """An OpenAI-style endpoint whose behaviour per request comes from ``plan`` (then the last entry repeats)."""

    def __init__(self, plan: list[tuple[str, float]]):
        self.plan = plan
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep pytest output clean
                pass

            def do_GET(self):
                self._json(200, {"data": [{"id": "fake"}]})

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n))
                kind, delay = outer.plan[min(outer.requests, len(outer.plan) - 1)]
                outer.requests += 1
                time.sleep(delay)
                try:
                    if kind == "ok" and body.get("stream"):
                        self.send_response(200)
                        self.send_header("Content-Type", "text/event-stream")
                        self.end_headers()
                        for piece in ["The Eiffel ", "Tower is in ", "Paris [1]."]:
                            chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.write(b"data: [DONE]\n\n")
                    elif kind == "ok":
                        self._json(200, {"choices": [{"message": {"role": "assistant",
                                                                  "content": "The Eiffel Tower is in Paris [1]."}}],
                                         "usage": {"prompt_tokens": 50, "completion_tokens": 9}})
                    else:
                        self._json(int(kind), {"error": {"message": f"fake error {kind}"}})
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _json(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def gen(url: str, embedder, **kw) -> OpenAIGenerator:
    return OpenAIGenerator(embedder, base_url=url, backoff_s=0.05, **kw)


def test_server_down_raises_clear_error(embedder):
    url = f"http://127.0.0.1:{free_port()}/v1"
    g = gen(url, embedder, max_retries=2, timeout_s=2)
    t0 = time.perf_counter()
    with pytest.raises(GeneratorUnavailable) as err:
        g.generate(QUESTION, CTX)
    assert "cannot connect" in str(err.value) and url in str(err.value) and "3 attempt" in str(err.value)
    assert time.perf_counter() - t0 < 5
    with pytest.raises(GeneratorUnavailable):
        g.stream(QUESTION, CTX)  # the stream opens its connection before returning


def test_timeout_raises_after_retries(embedder):
    with FakeEndpoint([("ok", 3.0)]) as ep:
        g = gen(ep.url, embedder, timeout_s=0.5, max_retries=1)
        t0 = time.perf_counter()
        with pytest.raises(GeneratorUnavailable) as err:
            g.generate(QUESTION, CTX)
        elapsed = time.perf_counter() - t0
    assert "timeout" in str(err.value) and "2 attempt" in str(err.value)
    assert ep.requests == 2
    assert 1.0 <= elapsed < 2.9  # two attempts of 0.5 s plus backoff, never the server's 3 s


def test_retries_with_backoff_then_succeeds(embedder):
    with FakeEndpoint([("503", 0), ("429", 0), ("ok", 0)]) as ep:
        g = gen(ep.url, embedder, max_retries=2, timeout_s=5)
        out = g.generate(QUESTION, CTX)
    assert ep.requests == 3
    assert not out.abstained and out.cited == [1] and "Paris" in out.text
    assert out.meta["completion_tokens"] == 9


def test_client_error_is_not_retried(embedder):
    with FakeEndpoint([("400", 0)]) as ep:
        g = gen(ep.url, embedder, max_retries=3, timeout_s=5)
        with pytest.raises(GeneratorUnavailable) as err:
            g.generate(QUESTION, CTX)
    assert ep.requests == 1 and "rejected" in str(err.value) and "HTTP 400" in str(err.value)


def test_sse_stream_from_fake_endpoint(embedder):
    with FakeEndpoint([("ok", 0)]) as ep:
        s = gen(ep.url, embedder, timeout_s=5).stream(QUESTION, CTX)
        pieces = list(s)
    assert pieces == ["The Eiffel ", "Tower is in ", "Paris [1]."]
    assert s.generation.cited == [1] and s.generation.meta["streamed"] and s.ttft_s is not None


def test_pipeline_falls_back_to_extractive(make_service):
    url = f"http://127.0.0.1:{free_port()}/v1"
    svc = make_service(generator="openai", llm={"base_url": url, "max_retries": 0, "timeout_s": 1.0, "model": "x"})
    svc.warm_up()  # a dead endpoint only logs a warning at start
    docs = [Document(id="eiffel", text="The Eiffel Tower is a wrought-iron lattice tower in Paris, France. "
                                       "It was completed in 1889 for the World's Fair."),
            Document(id="everest", text="Mount Everest is the highest mountain on Earth, in the Himalayas.")]
    svc.ingest("llmfallback", docs)
    trace = svc.trace("llmfallback", "When was the Eiffel Tower completed?")
    gen = trace.generation
    assert "fallback" in gen.meta and "LLM unavailable" in gen.meta["fallback"] and url in gen.meta["fallback"]
    assert gen.meta.get("generator", "").startswith("extractive")
    assert trace.answer.scores["fallback"] == 1.0
    text = gen.meta.get("withheld") or trace.answer.answer
    assert "Eiffel Tower" in text and "[1]" in text  # a real extractive answer, cited
    assert trace.answer.abstained or trace.answer.citations[0].doc_id == "eiffel"
