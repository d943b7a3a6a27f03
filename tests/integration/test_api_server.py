"""A real uvicorn process on 127.0.0.1: httpx calls, the openai client, and ingest while answering.

Slow: the subprocess imports torch and loads the model again (about 15-20 s on 2 busy cores).
"""

import threading

import httpx
import pytest

from api_fixtures import UvicornServer

WARRANTY_Q = "How long is the warranty on a Northwind frame?"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(sample_service, tmp_path_factory):
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    srv = UvicornServer(sample_service.config.data_dir, log_path=log,
                        env={"RAG_API_KEYS": "test-key", "RAG_RATE_LIMIT_PER_MINUTE": "0"}).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer test-key"}, timeout=60) as c:
        yield c


def test_uvicorn_serves_chat(http, server):
    assert httpx.get(server.base_url + "/healthz").json() == {"status": "ok"}
    assert httpx.post(server.base_url + "/v1/chat", json={"collection": "sample", "query": "x"}).status_code == 401
    r = http.post("/v1/chat", json={"collection": "sample", "query": WARRANTY_Q})
    assert r.status_code == 200 and r.json()["citations"] and r.json()["id"]
    with http.stream("POST", "/v1/chat", json={"collection": "sample", "query": WARRANTY_Q, "stream": True}) as s:
        lines = [ln for ln in s.iter_lines() if ln.startswith("event:")]
    assert lines[-1] == "event: final" and "event: delta" in lines


def test_openai_client_gets_an_answer_with_citations(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="test-key", max_retries=0, timeout=60)
    resp = client.chat.completions.create(model="sample", messages=[{"role": "user", "content": WARRANTY_Q}])
    assert resp.choices[0].message.content
    citations = resp.model_extra["citations"]
    assert citations and any("warranty" in c["doc_id"] for c in citations)
    assert resp.model_extra["rag"]["abstained"] is False
    stream = client.chat.completions.create(model="sample", messages=[{"role": "user", "content": WARRANTY_Q}],
                                            stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == resp.choices[0].message.content
    assert chunks[-1].model_extra["citations"]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-collection", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.base_url + "/v1", api_key="wrong", max_retries=0).chat.completions.create(
            model="sample", messages=[{"role": "user", "content": "x"}])
    assert "sample" in [m.id for m in client.models.list()]


def test_readers_keep_answering_during_an_ingest(http):
    name = "api-concurrent"
    seed = {"documents": [{"id": f"seed-{i}", "text": f"Depot {i} stocks spare inner tubes in size {20 + i} inch."}
                          for i in range(5)]}
    assert http.post(f"/v1/collections/{name}/documents", json=seed).status_code == 200
    more = {"documents": [{"id": f"more-{i}", "text": f"Warehouse {i} ships orders every weekday morning. " * 20}
                          for i in range(40)]}
    result = {}

    def ingest():
        result["r"] = http.post(f"/v1/collections/{name}/documents", json=more)

    t = threading.Thread(target=ingest)
    t.start()
    codes, counts = [], set()
    while t.is_alive() or len(codes) < 5:
        r = http.post("/v1/chat", json={"collection": name, "query": "Which depot stocks 22 inch tubes?"})
        codes.append(r.status_code)
        counts.add(http.get(f"/v1/collections/{name}").json()["documents"])
    t.join()
    assert result["r"].status_code == 200 and result["r"].json()["documents"] == 45
    assert set(codes) == {200}
    assert counts <= {5, 45}  # the old collection or the new one, never half
    assert http.delete(f"/v1/collections/{name}").status_code == 204
