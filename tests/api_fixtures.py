"""Fixtures and helpers for the API tests (imported by tests/*/test_api*.py; conftest.py stays untouched).

* ``FakeService``: the RAGService surface the API uses, without models, for fast unit tests.
* ``api_app_factory``: apps over the session's real ``sample_service`` (MiniLM loads once per session).
* ``parse_sse``: Server-Sent Events text → [(event, data)].
* ``free_port`` / ``UvicornServer``: a real uvicorn process on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import CollectionNotFound
from rag.types import Answer, Citation, FailureTag

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------- fake service
class _FakeStore:
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def exists(self, name: str) -> bool:
        return name in self.names


class FakeService:
    """Answers every question with one cited sentence; ``fail_with`` makes ``ask`` raise instead."""

    def __init__(self, collections=("sample",)) -> None:
        self.names = set(collections)
        self.store = _FakeStore(self.names)
        self.config = type("Cfg", (), {"max_file_mb": 1.0})()
        self.asked: list[tuple[str, str, int | None]] = []
        self.fail_with: BaseException | None = None
        self.ready = False

    def warm_up(self) -> None:
        self.ready = True

    def generator(self):
        return object()

    def collections(self):
        return [{"name": n, "documents": 1, "chunks": 1, "embedding_model": "fake", "updated_at": 0.0}
                for n in sorted(self.names)]

    def pipeline(self, name):
        if name not in self.names:
            raise CollectionNotFound(f"collection {name!r} not found")
        return None

    def ask(self, name: str, question: str, top_k: int | None = None) -> Answer:
        self.asked.append((name, question, top_k))
        if self.fail_with is not None:
            raise self.fail_with
        if name not in self.names:
            raise CollectionNotFound(f"collection {name!r} not found")
        return Answer(question=question, answer="Frames carry a lifetime warranty. [1] Paint is covered. [1]",
                      abstained=False,
                      citations=[Citation(1, "warranty.md", "warranty.md#0", "warranty.md", 0.9, "Frames ...")],
                      diagnostics=[FailureTag("incomplete", 0.4, "e", "s")],
                      timings_ms={"retrieve": 3.0, "generate": 2.0, "total": 6.0},
                      scores={"evidence": 0.8, "threshold": 0.5})


def fake_settings(tmp_path, **kw) -> Settings:
    base = dict(data_dir=tmp_path, api_keys="", rate_limit_per_minute=0, default_collection="sample")
    base.update(kw)
    return Settings(**base)


# ---------------------------------------------------------- real service apps
@pytest.fixture(scope="session")
def api_app_factory(sample_service):
    """create_app over the session's calibrated sample collection; keyword args become Settings fields."""
    from rag.api.app import create_app

    def make(**kw):
        s = dict(data_dir=sample_service.config.data_dir, api_keys="", rate_limit_per_minute=0,
                 default_collection="sample")
        s.update(kw)
        return create_app(Settings(**s), service=sample_service)

    return make


# ----------------------------------------------------------------------- SSE
def parse_sse(text: str) -> list[tuple[str, str]]:
    """[(event, data)] from an SSE body; ``event`` is "message" when the event names none."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        out.append((event, "\n".join(data)))
    return out


def sse_json(text: str) -> list[tuple[str, dict | str]]:
    return [(e, d if d == "[DONE]" else json.loads(d)) for e, d in parse_sse(text)]


# ------------------------------------------------------------- openai client
def httpx_client_over(testclient):
    """An ``httpx.Client`` whose requests go to a Starlette TestClient (which is built on ``httpx2``, a type the
    ``openai`` package does not accept), so the OpenAI client can talk to the in-process app."""
    import httpx

    class Bridge(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            r = testclient.request(request.method, str(request.url), headers=dict(request.headers),
                                   content=request.read())
            return httpx.Response(r.status_code, headers=list(r.headers.multi_items()), content=r.content)

    return httpx.Client(transport=Bridge(), base_url="http://testserver")


# ------------------------------------------------------------------ uvicorn
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UvicornServer:
    """``rag serve``'s app in a uvicorn subprocess on 127.0.0.1; waits for /readyz."""

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                    "TOKENIZERS_PARALLELISM": "false", **(env or {})}
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> UvicornServer:
        import httpx

        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "rag.api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(self.base_url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"uvicorn not ready after {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
