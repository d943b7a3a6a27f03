"""One error format for every endpoint: ``{"error": {"type": ..., "message": ...}}``.

This is also the shape OpenAI clients parse, so ``/v1/chat/completions`` errors
surface as the right ``openai`` exception. Core errors (``rag.errors``) map to
4xx here; anything unexpected is logged with its traceback and answered with a
500 that names no internals. Only this layer raises HTTP errors.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import (
    CollectionNotFound,
    CorruptIndexError,
    GeneratorUnavailable,
    IndexFormatError,
    IngestError,
    InvalidName,
    QueryError,
    RAGError,
    TrainingDataError,
)

log = logging.getLogger("rag.api")

__all__ = ["APIError", "install_error_handlers", "rag_error_status"]


class APIError(StarletteHTTPException):
    """An HTTP error with a machine-readable ``type`` (and optional extra fields in the body)."""

    def __init__(self, status_code: int, type_: str, message: str, *, headers: dict[str, str] | None = None,
                 **extra) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.type = type_
        self.extra = extra


_RAG_STATUS: list[tuple[type[RAGError], int, str]] = [
    (CollectionNotFound, 404, "collection_not_found"),
    (InvalidName, 400, "invalid_name"),
    (QueryError, 422, "invalid_question"),
    (IndexFormatError, 409, "index_format"),
    (IngestError, 409, "ingest_failed"),
    (TrainingDataError, 400, "training_data"),
    (CorruptIndexError, 503, "index_unavailable"),
    (GeneratorUnavailable, 503, "generator_unavailable"),
]

_HTTP_TYPES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
               409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
               429: "rate_limited", 503: "unavailable"}


def rag_error_status(exc: RAGError) -> tuple[int, str]:
    for cls, status, type_ in _RAG_STATUS:
        if isinstance(exc, cls):
            if isinstance(exc, QueryError) and "too long" in str(exc):
                return 422, "question_too_long"
            return status, type_
    return 400, "rag_error"


def error_response(status: int, type_: str, message: str, headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message, **extra}}, status_code=status, headers=headers)


def _summarise(errors: list[dict]) -> tuple[str, list[dict]]:
    details = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        details.append({"loc": loc, "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))})
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"])
    msg = f"{where}: {first['msg']}" if where else first["msg"]
    if len(details) > 1:
        msg += f" (and {len(details) - 1} more)"
    return msg, details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status_code, exc.type, str(exc.detail), exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = _HTTP_TYPES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, type_, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        msg, details = _summarise(list(exc.errors()))
        return error_response(422, "validation_error", msg, details=details)

    @app.exception_handler(RAGError)
    async def _rag_error(request: Request, exc: RAGError) -> JSONResponse:
        status, type_ = rag_error_status(exc)
        if status >= 500:
            log.error("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return error_response(status, type_, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error; the failure was logged")
