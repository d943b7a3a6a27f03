"""Every endpoint and error path through TestClient, on the real pipeline over the sample corpus.

The model loads once per session (``sample_service`` in conftest.py); this module
shares one app. Tests that change documents use their own collections, never
``sample``, which other modules read.
"""

import io

import pytest
from fastapi.testclient import TestClient

from api_fixtures import api_app_factory, httpx_client_over, sse_json  # noqa: F401  (fixture)

ANSWER_KEYS = {"answer", "abstained", "abstain_reason", "citations", "diagnostics", "timings_ms", "scores"}
WARRANTY_Q = "How long is the warranty on a Northwind frame?"


@pytest.fixture(scope="module")
def client(api_app_factory):  # noqa: F811
    with TestClient(api_app_factory(), raise_server_exceptions=False) as c:
        yield c


# ----------------------------------------------------------------- health
def test_health_ready_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and "sample" in r.json()["collections"]
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/chat", "/v1/chat/completions", "/v1/collections/{name}/documents"} <= set(paths)


# ------------------------------------------------------------------- chat
def test_chat_is_the_ask_json_object_plus_an_id(client, sample_service):
    r = client.post("/v1/chat", json={"collection": "sample", "query": WARRANTY_Q})
    assert r.status_code == 200
    d = r.json()
    assert set(d) == ANSWER_KEYS | {"id"}
    assert not d["abstained"] and d["citations"]
    assert any("warranty" in c["doc_id"] for c in d["citations"])
    expected = sample_service.ask("sample", WARRANTY_Q).to_dict()
    assert d["answer"] == expected["answer"] and d["citations"] == expected["citations"]


def test_chat_abstains_on_an_unanswerable_question(client):
    d = client.post("/v1/chat", json={"collection": "sample", "query": "Who won the 1987 world chess championship?"}).json()
    assert d["abstained"] and d["abstain_reason"] and d["citations"] == []


def test_chat_follow_up_uses_the_conversation(client):
    msgs = [{"role": "user", "content": WARRANTY_Q},
            {"role": "assistant", "content": "Frames have a lifetime warranty. [1]"},
            {"role": "user", "content": "and what about the paint?"}]
    r = client.post("/v1/chat/completions", json={"model": "sample", "messages": msgs})
    assert r.status_code == 200
    assert r.json()["rag"]["query"] == "How long is the warranty on a Northwind frame paint?"
    r = client.post("/v1/chat", json={"collection": "sample", "messages": msgs})
    assert r.status_code == 200 and set(r.json()) == ANSWER_KEYS | {"id"}


def test_chat_stream(client):
    r = client.post("/v1/chat", json={"collection": "sample", "query": WARRANTY_Q, "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_json(r.text)
    kinds = [e for e, _ in events]
    assert kinds[-1] == "final" and set(kinds[:-1]) == {"delta"}
    final = events[-1][1]
    assert "".join(d["text"] for _, d in events[:-1]) == final["answer"]
    assert final["citations"] and "diagnostics" in final and final["abstained"] is False


@pytest.mark.parametrize("body,status,type_", [
    ({"collection": "nope", "query": "x"}, 404, "collection_not_found"),
    ({"collection": "sample", "query": "   "}, 422, "invalid_question"),
    ({"collection": "sample", "query": "x" * 2001}, 422, "question_too_long"),
    ({"collection": "sample", "query": "x", "top_k": 0}, 422, "validation_error"),
    ({"collection": "bad name", "query": "x"}, 422, "validation_error"),
    ({"collection": "sample"}, 422, "validation_error"),
])
def test_chat_errors(client, body, status, type_):
    r = client.post("/v1/chat", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["type"] == type_


def test_stream_errors_come_before_the_stream(client):
    r = client.post("/v1/chat", json={"collection": "nope", "query": "x", "stream": True})
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"


# --------------------------------------------------------------- openai
def test_chat_completions(client):
    r = client.post("/v1/chat/completions", json={
        "model": "sample", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": WARRANTY_Q}]})
    d = r.json()
    assert r.status_code == 200 and d["object"] == "chat.completion" and d["model"] == "sample"
    assert d["choices"][0]["message"]["content"] and d["choices"][0]["finish_reason"] == "stop"
    assert d["citations"] and d["rag"]["abstained"] is False


def test_chat_completions_stream(client):
    r = client.post("/v1/chat/completions", json={"model": "sample", "stream": True,
                                                  "messages": [{"role": "user", "content": WARRANTY_Q}]})
    events = sse_json(r.text)
    assert events[-1][1] == "[DONE]"
    chunks = [d for _, d in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks).strip()


@pytest.mark.parametrize("body,status", [
    ({"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404),
    ({"model": "sample", "messages": []}, 422),
    ({"model": "sample", "messages": [{"role": "system", "content": "x"}]}, 422),
    ({"model": "sample", "n": 2, "messages": [{"role": "user", "content": "x"}]}, 422),
    ({"messages": [{"role": "user", "content": "x"}]}, 422),
])
def test_chat_completions_errors(client, body, status):
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == status and r.json()["error"]["message"]


def test_models(client):
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert "sample" in ids


# ---------------------------------------------------------- collections
def test_collections_lifecycle_json_documents(client):
    name = "api-json"
    r = client.post("/v1/collections", json={"name": name})
    assert r.status_code == 201 and r.json()["name"] == name and r.json()["documents"] == 0
    assert client.post("/v1/collections", json={"name": name}).status_code == 409
    empty = client.post("/v1/chat", json={"collection": name, "query": "Who runs the Bristol workshop?"})
    assert empty.status_code == 200 and empty.json()["abstained"]
    assert client.get(f"/v1/collections/{name}/documents").json()["total"] == 0
    assert name in [c["name"] for c in client.get("/v1/collections").json()["collections"]]
    docs = {"documents": [
        {"id": "hours", "title": "Opening hours", "text": "The Bristol workshop opens at 8am on Saturdays and closes at 4pm.",
         "metadata": {"lang": "en"}},
        {"id": "team/owner", "title": "Owner", "text": "The Bristol workshop is run by Priya Okafor, a former racer."},
    ]}
    r = client.post(f"/v1/collections/{name}/documents", json=docs)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert sorted(rep["added"]) == ["hours", "team/owner"] and rep["documents"] == 2 and rep["skipped"] == []
    # same again: nothing changes
    assert client.post(f"/v1/collections/{name}/documents", json=docs).json()["unchanged"] == 2
    assert client.get(f"/v1/collections/{name}").json()["documents"] == 2
    lst = client.get(f"/v1/collections/{name}/documents", params={"limit": 1}).json()
    assert lst["total"] == 2 and len(lst["documents"]) == 1 and lst["documents"][0]["doc_id"] == "hours"
    doc = client.get(f"/v1/collections/{name}/documents/team/owner").json()
    assert doc["doc_id"] == "team/owner" and "Priya" in doc["chunks"][0]["text"]
    d = client.post("/v1/chat", json={"collection": name, "query": "Who runs the Bristol workshop?"}).json()
    assert "Priya" in d["answer"] and d["citations"][0]["doc_id"] == "team/owner"
    r = client.delete(f"/v1/collections/{name}/documents/team/owner")
    assert r.status_code == 200 and r.json()["deleted"] == ["team/owner"]
    assert client.delete(f"/v1/collections/{name}/documents/team/owner").status_code == 404
    assert client.get(f"/v1/collections/{name}/documents/team/owner").status_code == 404
    assert client.delete(f"/v1/collections/{name}").status_code == 204
    assert client.get(f"/v1/collections/{name}").status_code == 404
    assert client.delete(f"/v1/collections/{name}").status_code == 404


def test_upload_files_reports_skipped(client):
    name = "api-upload"
    files = [
        ("files", ("ferry.md", io.BytesIO(b"# Ferry\n\nThe Cardiff ferry shop rents tandems for 40 pounds a day.\n"),
                   "text/markdown")),
        ("files", ("../../etc/notes.txt", io.BytesIO(b"Tandem helmets are included with every rental."), "text/plain")),
        ("files", ("image.png", io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00"), "image/png")),
        ("files", ("binary.txt", io.BytesIO(b"\x00\x01\x02" * 100), "text/plain")),
        ("files", ("empty.md", io.BytesIO(b""), "text/markdown")),
        ("files", (".env", io.BytesIO(b"SECRET=1"), "text/plain")),
    ]
    r = client.post(f"/v1/collections/{name}/documents", files=files)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert sorted(rep["added"]) == ["ferry.md", "notes.txt"]
    reasons = {s["source"]: s["reason"] for s in rep["skipped"]}
    assert set(reasons) == {"image.png", "binary.txt", "empty.md", ".env"}
    assert "unsupported" in reasons["image.png"] and "binary" in reasons["binary.txt"] and "empty" in reasons["empty.md"]
    doc = client.get(f"/v1/collections/{name}/documents/ferry.md").json()
    assert doc["source"] == "upload:ferry.md"
    # nothing readable: 422 with the reasons, and the collection is unchanged
    r = client.post(f"/v1/collections/{name}/documents", files=[("files", ("x.png", io.BytesIO(b"x"), "image/png"))])
    assert r.status_code == 422 and r.json()["error"]["type"] == "nothing_ingested"
    assert r.json()["error"]["skipped"][0]["source"] == "x.png"
    assert client.get(f"/v1/collections/{name}").json()["documents"] == 2
    client.delete(f"/v1/collections/{name}")


@pytest.mark.parametrize("kwargs,status,type_", [
    ({"json": {"documents": []}}, 422, "validation_error"),
    ({"json": {"documents": [{"id": "", "text": "x"}]}}, 422, "validation_error"),
    ({"json": {"documents": [{"id": "a", "text": "   "}]}}, 422, "validation_error"),
    ({"json": {"docs": []}}, 422, "validation_error"),
    ({"content": b"{oops", "headers": {"content-type": "application/json"}}, 422, "validation_error"),
    ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "unsupported_media_type"),
    ({"data": {"x": "1"}, "files": []}, 422, "no_files"),
])
def test_document_upload_errors(client, kwargs, status, type_):
    if "files" in kwargs and not kwargs["files"]:
        kwargs = {"files": {"x": (None, b"1")}}  # multipart with a plain field and no file
    r = client.post("/v1/collections/api-bad/documents", **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"]["type"] == type_
    assert client.get("/v1/collections/api-bad").status_code == 404


@pytest.mark.parametrize("method,path", [
    ("get", "/v1/collections/bad%20name"), ("get", "/v1/collections/bad%20name/documents"),
    ("post", "/v1/collections/.hidden/documents"), ("delete", "/v1/collections/a%2Fb"),
])
def test_invalid_collection_names_are_400(client, method, path):
    kw = {"json": {"documents": [{"id": "a", "text": "b"}]}} if method == "post" else {}
    r = getattr(client, method)(path, **kw)
    assert r.status_code in (400, 404), r.text
    assert r.json()["error"]["type"] in ("invalid_name", "not_found")


def test_unknown_collection_documents(client):
    assert client.get("/v1/collections/nope/documents").status_code == 404
    assert client.get("/v1/collections/nope/documents/x").status_code == 404
    assert client.delete("/v1/collections/nope/documents/x").status_code == 404
    assert client.get("/v1/collections/sample/documents/nope.md").json()["error"]["type"] == "document_not_found"
    assert client.get("/v1/collections/sample/documents", params={"limit": 0}).status_code == 422


def test_metrics_after_traffic(client):
    client.post("/v1/chat", json={"collection": "sample", "query": WARRANTY_Q})
    text = client.get("/metrics").text
    for needle in ('rag_answers_total{collection="sample",outcome="answered"}', 'rag_stage_seconds_bucket{le="0.3",stage="retrieve"}',
                   'rag_stage_seconds_count{stage="generate"}', 'route="/v1/chat",status="200"',
                   'rag_ingest_documents_total{change="added",collection="api-json"}'):
        assert needle in text, needle


# ------------------------------------------------------- auth and limits
@pytest.fixture(scope="module")
def locked(api_app_factory):  # noqa: F811
    app = api_app_factory(api_keys="admin,reader:sample", max_body_bytes=4000, max_upload_bytes=3000,
                          max_question_chars=100, rate_limit_per_minute=1000)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


ADMIN = {"Authorization": "Bearer admin"}
READER = {"Authorization": "Bearer reader"}


def test_auth_errors(locked):
    body = {"collection": "sample", "query": WARRANTY_Q}
    assert locked.post("/v1/chat", json=body).status_code == 401
    assert locked.post("/v1/chat", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert locked.post("/v1/chat", json=body, headers=READER).status_code == 200
    assert locked.post("/v1/chat", json=body, headers={"X-API-Key": "admin"}).status_code == 200
    r = locked.post("/v1/collections", json={"name": "api-secret"}, headers=READER)
    assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden"
    assert locked.get("/v1/collections/api-secret/documents", headers=READER).status_code == 403
    assert locked.post("/v1/chat/completions", json={"model": "other", "messages": [{"role": "user", "content": "x"}]},
                       headers=READER).status_code == 403
    names = [c["name"] for c in locked.get("/v1/collections", headers=READER).json()["collections"]]
    assert names == ["sample"]
    assert locked.get("/v1/collections").status_code == 401
    # probes stay open
    assert locked.get("/healthz").status_code == 200 and locked.get("/readyz").status_code == 200


def test_size_limits(locked):
    r = locked.post("/v1/chat", json={"collection": "sample", "query": "x" * 101}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["error"]["type"] == "question_too_long"
    r = locked.post("/v1/chat", json={"collection": "sample", "query": "x" * 5000}, headers=ADMIN)
    assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"
    big = [("files", ("big.txt", io.BytesIO(b"word " * 1000), "text/plain"))]
    r = locked.post("/v1/collections/api-big/documents", files=big, headers=ADMIN)
    assert r.status_code == 413 and r.json()["error"]["type"] == "upload_too_large"
    assert locked.get("/v1/collections/api-big", headers=ADMIN).status_code == 404


def test_rate_limit(api_app_factory):  # noqa: F811
    with TestClient(api_app_factory(api_keys="a,b", rate_limit_per_minute=3)) as c:
        codes = [c.get("/v1/collections", headers={"X-API-Key": "a"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.get("/v1/models", headers={"X-API-Key": "a"})
        assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limited" and int(r.headers["retry-after"]) > 0
        assert c.get("/v1/collections", headers={"X-API-Key": "b"}).status_code == 200


def test_openai_client_through_testclient(client):
    """The openai package, its transport swapped for the in-process TestClient (the uvicorn variant is in
    test_api_server.py)."""
    openai = pytest.importorskip("openai")
    oai = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=httpx_client_over(client),
                        max_retries=0)
    resp = oai.chat.completions.create(model="sample", messages=[{"role": "user", "content": WARRANTY_Q}])
    assert resp.choices[0].message.content and resp.model_extra["citations"]
    with pytest.raises(openai.UnprocessableEntityError):
        oai.chat.completions.create(model="sample", messages=[{"role": "system", "content": "x"}])
