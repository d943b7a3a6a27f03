"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

``model`` names the collection, so any OpenAI client or chat front end works
unchanged (point its base URL at ``http://host:port/v1``). The answer is the
assistant message; the citations travel in an extra top-level ``citations``
field and the rest of the answer (abstention, diagnostics, timings, the
rewritten question) in ``rag``. With ``stream: true`` the reply is OpenAI's
chunk stream: a role delta, content deltas sentence by sentence, a last chunk
with ``finish_reason`` (and ``citations``/``rag``), then ``data: [DONE]``.
Token counts in ``usage`` are whitespace word counts (an approximation).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from rag.api.deps import CallerDep, MetricsDep, ServiceDep, SettingsDep, require_scope, run_query
from rag.api.routes.chat import SSE_HEADERS, Asked, ask, sentence_chunks
from rag.api.schemas import ERROR_RESPONSES, ChatCompletion, ChatCompletionRequest, ModelList

router = APIRouter(tags=["openai"])


def _words(text: str) -> int:
    return len(text.split())


def completion(asked: Asked, cid: str, created: int, model: str, prompt_words: int) -> dict:
    d = asked.answer.to_dict()
    return {
        "id": cid, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": d["answer"]}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_words, "completion_tokens": _words(d["answer"]),
                  "total_tokens": prompt_words + _words(d["answer"])},
        "citations": d["citations"],
        "rag": _extra(asked, d),
    }


def _extra(asked: Asked, d: dict) -> dict:
    return {"abstained": d["abstained"], "abstain_reason": d["abstain_reason"], "diagnostics": d["diagnostics"],
            "timings_ms": d["timings_ms"], "scores": d["scores"], "query": asked.question}


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None = None, **extra) -> str:
    obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


@router.post("/v1/chat/completions", response_model=ChatCompletion, summary="OpenAI-compatible chat completion",
             responses={**ERROR_RESPONSES, 200: {"description": "a chat.completion, or with stream=true "
                                                 "chat.completion.chunk events ending with [DONE]",
                                                 "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def chat_completions(body: ChatCompletionRequest, request: Request, caller: CallerDep, service: ServiceDep,
                           settings: SettingsDep, metrics: MetricsDep):
    require_scope(caller, body.model)
    messages = [{"role": m.role, "content": m.text()} for m in body.messages]
    asked = await ask(request, service, settings, metrics, body.model, messages, body.top_k)
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    prompt_words = sum(_words(m["content"]) for m in messages)
    if not body.stream:
        return completion(asked, cid, created, body.model, prompt_words)
    d = asked.answer.to_dict()

    async def events() -> AsyncIterator[str]:
        yield _chunk(cid, created, body.model, {"role": "assistant", "content": ""})
        for piece in sentence_chunks(d["answer"]):
            yield _chunk(cid, created, body.model, {"content": piece})
        yield _chunk(cid, created, body.model, {}, "stop", citations=d["citations"], rag=_extra(asked, d))
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/v1/models", response_model=ModelList, summary="Collections, as OpenAI models",
            responses=ERROR_RESPONSES)
async def models(request: Request, caller: CallerDep, service: ServiceDep) -> dict:
    rows = await run_query(request, service.collections)
    return {"object": "list", "data": [
        {"id": r["name"], "object": "model", "created": int(r.get("updated_at") or 0), "owned_by": "rag"}
        for r in rows if caller.allows(r["name"]) and "error" not in r]}
