"""Rate limiter and body-size middleware, on a bare ASGI app (no models)."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from rag.api.limits import BodyLimitMiddleware, RateLimiter


def test_rate_limiter_sliding_window():
    t = [0.0]
    rl = RateLimiter(3, clock=lambda: t[0])
    assert [rl.hit("a") for _ in range(3)] == [None, None, None]
    assert rl.hit("a") == 60
    assert rl.hit("b") is None  # per key
    t[0] = 30.0
    assert rl.hit("a") == 30
    t[0] = 60.01
    assert rl.hit("a") is None


def test_rate_limiter_off_and_pruning():
    assert all(RateLimiter(0).hit("a") is None for _ in range(1000))
    t = [0.0]
    rl = RateLimiter(1, clock=lambda: t[0], max_keys=2)
    rl.hit("a"), rl.hit("b")
    t[0] = 61.0
    rl.hit("c")
    assert set(rl._hits) == {"c"}


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"n": len(await request.body())})


def _client() -> TestClient:
    app = Starlette(routes=[Route("/v1/chat", _echo, methods=["POST"]),
                            Route("/v1/collections/{c}/documents", _echo, methods=["POST"])])
    return TestClient(BodyLimitMiddleware(app, max_body_bytes=100, max_upload_bytes=1000))


def test_body_limit_with_content_length():
    c = _client()
    assert c.post("/v1/chat", content=b"x" * 100).json() == {"n": 100}
    r = c.post("/v1/chat", content=b"x" * 101)
    assert r.status_code == 413
    assert r.json()["error"]["type"] == "payload_too_large" and "100 bytes" in r.json()["error"]["message"]


def test_upload_limit_applies_to_document_uploads_only():
    c = _client()
    assert c.post("/v1/collections/a/documents", content=b"x" * 1000).status_code == 200
    r = c.post("/v1/collections/a/documents", content=b"x" * 1001)
    assert r.status_code == 413 and r.json()["error"]["type"] == "upload_too_large"


def test_chunked_body_is_cut_at_the_limit():
    c = _client()

    def gen(n):
        for _ in range(n):
            yield b"x" * 30

    assert c.post("/v1/chat", content=gen(3)).json() == {"n": 90}
    r = c.post("/v1/chat", content=gen(4))
    assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"


def test_bad_content_length_is_a_400():
    c = _client()
    r = c.post("/v1/chat", content=b"x", headers={"content-length": "abc"})
    assert r.status_code == 400
