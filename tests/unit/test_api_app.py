"""The app's contract on a fake service (no models): error format, auth, limits, streaming, metrics."""

import pytest
from fastapi.testclient import TestClient

from api_fixtures import FakeService, fake_settings, sse_json
from rag.api.app import create_app
from rag.api.routes.chat import sentence_chunks
from rag.errors import CorruptIndexError, GeneratorUnavailable, QueryError


def _client(tmp_path, service=None, **kw) -> TestClient:
    return TestClient(create_app(fake_settings(tmp_path, **kw), service=service or FakeService()),
                      raise_server_exceptions=False)


@pytest.mark.parametrize("text", ["", "One. [1] Two. [2]", "- a [1]\n- b [2]", "No citation here. Another one!",
                                  "Value 3.5 kg [1]", "e.g. this [1] [2] and more"])
def test_sentence_chunks_round_trip(text):
    assert "".join(sentence_chunks(text)) == text


def test_sentence_chunks_keep_the_marker_with_its_sentence():
    assert sentence_chunks("A b. [1] C d. [2]") == ["A b. [1] ", "C d. [2]"]


def test_not_ready_before_lifespan(tmp_path):
    c = TestClient(create_app(fake_settings(tmp_path), service=FakeService()))  # no `with`: no lifespan
    assert c.get("/healthz").json() == {"status": "ok"}
    r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["error"]["type"] == "not_ready"
    r = c.post("/v1/chat", json={"query": "x"})
    assert r.status_code == 503 and r.headers["retry-after"]


def test_chat_uses_the_default_collection_and_rewrites_followups(tmp_path):
    svc = FakeService()
    with _client(tmp_path, svc) as c:
        r = c.post("/v1/chat", json={"query": "warranty?"})
        assert r.status_code == 200 and r.json()["id"].startswith("chat-")
        assert svc.asked[-1] == ("sample", "warranty?", None)
        c.post("/v1/chat", json={"top_k": 3, "messages": [
            {"role": "user", "content": "What is the Skylark SL?"}, {"role": "assistant", "content": "A bike [1]"},
            {"role": "user", "content": "How heavy is it?"}]})
        assert svc.asked[-1] == ("sample", "Skylark SL: How heavy is it?", 3)


def test_stream_deltas_rebuild_the_answer(tmp_path):
    with _client(tmp_path) as c:
        r = c.post("/v1/chat", json={"query": "warranty?", "stream": True})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_json(r.text)
        assert [e for e, _ in events] == ["delta", "delta", "final"]
        final = events[-1][1]
        assert "".join(d["text"] for _, d in events[:-1]) == final["answer"]
        assert final["citations"] and final["diagnostics"] and final["id"] == events[0][1]["id"]


@pytest.mark.parametrize("exc,status,type_", [
    (CorruptIndexError("broken"), 503, "index_unavailable"),
    (GeneratorUnavailable("down"), 503, "generator_unavailable"),
    (QueryError("the question is empty"), 422, "invalid_question"),
    (RuntimeError("boom"), 500, "internal_error"),
])
def test_errors_map_to_json(tmp_path, exc, status, type_):
    svc = FakeService()
    svc.fail_with = exc
    with _client(tmp_path, svc) as c:
        r = c.post("/v1/chat", json={"query": "x"})
        assert r.status_code == status
        assert r.json()["error"]["type"] == type_
        assert "boom" not in r.text  # internals are logged, not returned


def test_auth_and_scopes(tmp_path):
    with _client(tmp_path, FakeService(["sample", "other"]), api_keys="k1,k2:other") as c:
        r = c.post("/v1/chat", json={"query": "x"})
        assert r.status_code == 401 and r.json()["error"]["type"] == "missing_api_key"
        assert r.headers["www-authenticate"] == "Bearer"
        r = c.post("/v1/chat", json={"query": "x"}, headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_api_key"
        assert c.post("/v1/chat", json={"query": "x"}, headers={"Authorization": "Bearer k1"}).status_code == 200
        r = c.post("/v1/chat", json={"query": "x"}, headers={"X-API-Key": "k2"})
        assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden"
        r = c.post("/v1/chat", json={"query": "x", "collection": "other"}, headers={"X-API-Key": "k2"})
        assert r.status_code == 200
        assert [m["id"] for m in c.get("/v1/models", headers={"X-API-Key": "k2"}).json()["data"]] == ["other"]
        assert c.get("/healthz").status_code == 200 and c.get("/metrics").status_code == 200


def test_rate_limit_per_key(tmp_path):
    with _client(tmp_path, FakeService(), api_keys="k1,k2", rate_limit_per_minute=2) as c:
        h1, h2 = {"Authorization": "Bearer k1"}, {"Authorization": "Bearer k2"}
        assert [c.post("/v1/chat", json={"query": "x"}, headers=h1).status_code for _ in range(2)] == [200, 200]
        r = c.post("/v1/chat", json={"query": "x"}, headers=h1)
        assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert c.post("/v1/chat", json={"query": "x"}, headers=h2).status_code == 200


def test_limits(tmp_path):
    with _client(tmp_path, max_question_chars=20, max_body_bytes=500) as c:
        r = c.post("/v1/chat", json={"query": "x" * 21})
        assert r.status_code == 422 and r.json()["error"]["type"] == "question_too_long"
        r = c.post("/v1/chat", json={"query": "x" * 600})
        assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"


@pytest.mark.parametrize("body", [
    {}, {"query": ""}, {"query": "x", "messages": [{"role": "user", "content": "x"}]},
    {"messages": []}, {"messages": [{"role": "assistant", "content": "x"}]}, {"messages": [{"role": "bot", "content": "x"}]},
    {"query": "x", "top_k": 0}, {"query": "x", "top_k": 101}, {"query": "x", "collection": "../etc"},
    {"query": "x", "extra": 1}, {"query": 5}, [], "text",
])
def test_bad_chat_bodies_are_422(tmp_path, body):
    with _client(tmp_path) as c:
        r = c.post("/v1/chat", json=body)
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["type"] == "validation_error" and err["message"]


def test_malformed_json_and_unknown_routes(tmp_path):
    with _client(tmp_path) as c:
        r = c.post("/v1/chat", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["error"]["type"] == "validation_error"
        r = c.get("/v1/chat")
        assert r.status_code == 405 and r.json()["error"]["type"] == "method_not_allowed"
        r = c.get("/nope")
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"
        r = c.post("/v1/chat", json={"query": "x", "collection": "missing"})
        assert r.status_code == 404 and r.json()["error"]["type"] == "collection_not_found"


def test_openai_format_and_stream(tmp_path):
    with _client(tmp_path) as c:
        r = c.post("/v1/chat/completions", json={"model": "sample", "temperature": 0.2,
                                                 "messages": [{"role": "user", "content": [{"type": "text", "text": "warranty?"}]}]})
        d = r.json()
        assert r.status_code == 200 and d["object"] == "chat.completion" and d["id"].startswith("chatcmpl-")
        assert d["choices"][0]["message"]["content"].startswith("Frames") and d["citations"][0]["doc_id"] == "warranty.md"
        assert d["rag"]["query"] == "warranty?" and d["usage"]["total_tokens"] > 0
        r = c.post("/v1/chat/completions", json={"model": "sample", "stream": True,
                                                 "messages": [{"role": "user", "content": "warranty?"}]})
        events = sse_json(r.text)
        assert events[-1] == ("message", "[DONE]")
        chunks = [d for _, d in events[:-1]]
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]
        assert "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks) == d["choices"][0]["message"]["content"]
        r = c.post("/v1/chat/completions", json={"model": "missing", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 404 and r.json()["error"]["message"]


def test_metrics_count_answers_stages_and_failure_modes(tmp_path):
    with _client(tmp_path) as c:
        c.post("/v1/chat", json={"query": "x"})
        c.post("/v1/chat", json={"query": "x", "collection": "missing"})
        text = c.get("/metrics").text
        assert 'rag_answers_total{collection="sample",outcome="answered"} 1.0' in text
        assert 'rag_stage_seconds_bucket{le="0.005",stage="retrieve"} 1.0' in text
        assert 'rag_failure_modes_total{mode="incomplete"} 1.0' in text
        assert 'rag_http_requests_total{method="POST",route="/v1/chat",status="200"} 1.0' in text
        assert 'rag_http_requests_total{method="POST",route="/v1/chat",status="404"} 1.0' in text
