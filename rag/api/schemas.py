"""Request and response bodies of the REST API (pydantic).

``ChatResponse`` is exactly the ``rag ask --json`` object plus an ``id``;
``ChatCompletion*`` follow OpenAI's wire format, with the citations and the
rest of the answer in the extra ``citations`` and ``rag`` fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_MESSAGES = 100


# ------------------------------------------------------------------ chat
class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str = Field(..., max_length=100_000)


class ChatRequest(BaseModel):
    """Ask a collection; give either ``query`` or ``messages`` (the last user turn is the question)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"collection": "sample", "query": "How long is the warranty on a Northwind frame?"},
        {"collection": "sample", "messages": [{"role": "user", "content": "What is the Curlew?"},
                                              {"role": "assistant", "content": "An e-bike [1]"},
                                              {"role": "user", "content": "and how far does it go?"}],
         "stream": True},
    ]})

    collection: str | None = Field(None, pattern=COLLECTION_PATTERN, description="default: RAG_DEFAULT_COLLECTION")
    query: str | None = Field(None, min_length=1, max_length=100_000)
    messages: list[ChatMessage] | None = Field(None, min_length=1, max_length=MAX_MESSAGES)
    top_k: int | None = Field(None, ge=1, le=100)
    stream: bool = False

    @model_validator(mode="after")
    def _one_question(self) -> ChatRequest:
        if (self.query is None) == (self.messages is None):
            raise ValueError("give exactly one of 'query' or 'messages'")
        if self.messages is not None and not any(m.role == "user" and m.content.strip() for m in self.messages):
            raise ValueError("'messages' needs at least one non-empty user message")
        return self


class CitationOut(BaseModel):
    n: int
    doc_id: str
    chunk_id: str
    source: str
    score: float
    text: str


class FailureTagOut(BaseModel):
    mode: str
    confidence: float
    evidence: str
    suggestion: str


class ChatResponse(BaseModel):
    id: str
    answer: str
    abstained: bool
    abstain_reason: str | None = None
    citations: list[CitationOut] = []
    diagnostics: list[FailureTagOut] = []
    timings_ms: dict[str, float] = {}
    scores: dict[str, float] = {}


# ------------------------------------------------------------ OpenAI API
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class OAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content if p.type == "text" and p.text)


class ChatCompletionRequest(BaseModel):
    """OpenAI ``/v1/chat/completions``; ``model`` names the collection. Sampling options are accepted and ignored
    (the extractive generator is deterministic); ``top_k`` is an extension."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"model": "sample", "messages": [{"role": "user", "content": "How long is the warranty on a Northwind frame?"}]},
    ]})

    model: str = Field(..., pattern=COLLECTION_PATTERN)
    messages: list[OAIMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    top_k: int | None = Field(None, ge=1, le=100)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    n: int | None = Field(None, ge=1, le=1, description="only 1 is supported")
    user: str | None = None

    @field_validator("messages")
    @classmethod
    def _has_user(cls, v: list[OAIMessage]) -> list[OAIMessage]:
        if not any(m.role == "user" and m.text().strip() for m in v):
            raise ValueError("messages need at least one non-empty user message")
        return v


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: Literal["stop", "length"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class RagExtra(BaseModel):
    abstained: bool
    abstain_reason: str | None = None
    diagnostics: list[FailureTagOut] = []
    timings_ms: dict[str, float] = {}
    scores: dict[str, float] = {}
    query: str


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[CitationOut] = []
    rag: RagExtra


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


# ------------------------------------------------------------ collections
class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., pattern=COLLECTION_PATTERN)


class CollectionInfo(BaseModel):
    name: str
    documents: int | None = None
    chunks: int | None = None
    embedding_model: str | None = None
    updated_at: float | None = None
    error: str | None = None


class CollectionList(BaseModel):
    collections: list[CollectionInfo]


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(..., min_length=1, max_length=512, pattern=r"^[^\x00-\x1f]+$")
    title: str = Field("", max_length=1000)
    text: str = Field(..., min_length=1)
    metadata: dict[str, Any] = {}

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is blank")
        return v


class DocumentsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"documents": [{"id": "faq-1", "title": "Opening hours", "text": "Shops open 9-5, Monday to Saturday."}]}]})
    documents: list[DocumentIn] = Field(..., min_length=1, max_length=10_000)


class SkippedOut(BaseModel):
    source: str
    reason: str


class IngestReportOut(BaseModel):
    collection: str
    added: list[str]
    updated: list[str]
    unchanged: int
    deleted: list[str]
    skipped: list[SkippedOut]
    documents: int
    chunks: int
    new_chunks: int
    quarantined_chunks: list[str]
    quality: dict[str, Any] = {}
    seconds: float


class DocumentRecord(BaseModel):
    doc_id: str
    hash: str
    source: str = ""
    title: str = ""
    n_chunks: int = 0
    chars: int = 0
    ingested_at: float = 0.0
    version_of: str | None = None
    issues: list[str] = []


class DocumentList(BaseModel):
    collection: str
    total: int
    offset: int
    limit: int
    documents: list[DocumentRecord]


class ChunkOut(BaseModel):
    id: str
    position: int
    section: str = ""
    kind: str = "text"
    text: str
    quarantined: str | None = None


class DocumentDetail(DocumentRecord):
    collection: str
    chunks: list[ChunkOut]


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": desc}
    for code, desc in {400: "bad input", 401: "no or unknown API key", 403: "collection outside the key's scope",
                       404: "not found", 413: "body too large", 422: "invalid request",
                       429: "rate limited (see Retry-After)", 503: "not ready or index unavailable"}.items()
}
