"""``POST /v1/chat``: the ``rag ask --json`` object plus an ``id``, or Server-Sent Events.

The stream sends the answer text as ``delta`` events, sentence by sentence
(each ends with its citation marker), then one ``final`` event carrying the
whole answer object: citations, abstention and diagnostics. Concatenating the
deltas gives exactly the final ``answer``. Everything that can fail (auth,
limits, an unknown collection, a bad question) fails before the stream
starts, as an ordinary JSON 4xx.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from rag.api import conversation
from rag.api.deps import CallerDep, MetricsDep, ServiceDep, SettingsDep, require_scope, run_query
from rag.api.errors import APIError
from rag.api.metrics import Metrics
from rag.api.schemas import ERROR_RESPONSES, ChatRequest, ChatResponse
from rag.config import Settings
from rag.service import RAGService
from rag.types import Answer

log = logging.getLogger("rag.api")
router = APIRouter(tags=["chat"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# a boundary after a citation marker, or after sentence punctuation not followed by a marker
_BOUNDARY = re.compile(r"(?:(?<=\])|(?<=[.!?])(?!\s*\[\d))\s+")


def sentence_chunks(text: str) -> list[str]:
    """Split an answer into stream pieces, one sentence (with its citation) each; ``"".join`` gives ``text`` back.

    Example:
        >>> sentence_chunks("Frames have a lifetime warranty. [1] Paint is covered for 2 years. [2]")
        ['Frames have a lifetime warranty. [1] ', 'Paint is covered for 2 years. [2]']
    """
    out, start = [], 0
    for m in _BOUNDARY.finditer(text):
        if m.end() > start and m.start() > start:
            out.append(text[start:m.end()])
            start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out


def sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@dataclass
class Asked:
    """One answered question: what was asked, what was retrieved for, and the answer."""

    collection: str
    raw_question: str
    question: str
    answer: Answer


def standalone_question(service: RAGService, messages: Sequence[Mapping[str, str]]) -> str:
    """The last user turn made standalone with the earlier ones (the generator's rewriter when it has one)."""
    turns = [t for t in conversation.user_turns(messages) if t.strip()]
    if len(turns) <= 1:
        return turns[-1] if turns else ""
    rewriter = getattr(service.generator(), "rewrite_query", None)
    if callable(rewriter):
        try:
            out = rewriter([dict(m) for m in messages[:-1]], turns[-1])
            if isinstance(out, str) and out.strip():
                return out
        except Exception as e:  # an LLM hiccup must not fail the question
            log.warning("query rewrite by the generator failed, using the heuristic: %s", e)
    return conversation.rewrite(messages)


async def ask(request: Request, service: RAGService, settings: Settings, metrics: Metrics, collection: str,
              messages: Sequence[Mapping[str, str]], top_k: int | None) -> Asked:
    """Shared by /v1/chat and /v1/chat/completions: limits, follow-up rewrite, answer, metrics."""
    turns = [t for t in conversation.user_turns(messages) if t.strip()]
    raw = turns[-1] if turns else ""
    n = len(" ".join(raw.split()))
    if n > settings.max_question_chars:
        raise APIError(422, "question_too_long",
                       f"the question is {n} characters; the limit is {settings.max_question_chars}")
    question = standalone_question(service, messages)
    if len(" ".join(question.split())) > settings.max_question_chars:
        question = raw
    if question != raw:
        log.info("follow-up rewritten: %r -> %r", raw, question)
    answer = await run_query(request, service.ask, collection, question, top_k)
    metrics.observe_answer(collection, answer)
    return Asked(collection, raw, question, answer)


def _messages(body: ChatRequest) -> list[dict[str, str]]:
    if body.messages is not None:
        return [{"role": m.role, "content": m.content} for m in body.messages]
    return [{"role": "user", "content": body.query or ""}]


@router.post("/v1/chat", response_model=ChatResponse, summary="Answer a question from a collection",
             responses={**ERROR_RESPONSES, 200: {"description": "the answer (JSON), or with stream=true an SSE stream "
                                                 "of `delta` events then one `final` event",
                                                 "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def chat(body: ChatRequest, request: Request, caller: CallerDep, service: ServiceDep, settings: SettingsDep,
               metrics: MetricsDep):
    collection = body.collection or settings.default_collection
    require_scope(caller, collection)
    asked = await ask(request, service, settings, metrics, collection, _messages(body), body.top_k)
    payload = {"id": f"chat-{uuid.uuid4().hex}", **asked.answer.to_dict()}
    if not body.stream:
        return payload

    async def events() -> AsyncIterator[str]:
        for piece in sentence_chunks(payload["answer"]):
            yield sse("delta", {"id": payload["id"], "text": piece})
        yield sse("final", payload)

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
