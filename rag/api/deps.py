"""Dependencies as typed aliases: ``ServiceDep``, ``SettingsDep``, ``MetricsDep``, ``CallerDep``.

``CallerDep`` authenticates the request (401 without a valid key) and counts
it against the key's per-minute budget (429 with ``Retry-After``); routes call
:func:`require_scope` for the collection they touch (403 outside the key's scope).
Blocking work goes through :func:`run_query` / :func:`run_ingest`, which run
it in worker threads under their own capacity limits, so the event loop never
waits on a model and an ingest never takes the threads the queries need.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from rag.api.auth import ANONYMOUS, KeyRing, Principal, presented_key
from rag.api.errors import APIError
from rag.api.limits import RateLimiter
from rag.api.metrics import Metrics
from rag.config import Settings
from rag.service import RAGService

T = TypeVar("T")


def get_service(request: Request) -> RAGService:
    svc = getattr(request.app.state, "service", None)
    if svc is None or not getattr(request.app.state, "ready", False):
        raise APIError(503, "not_ready", "the service is still loading its models; retry shortly",
                       headers={"Retry-After": "5"})
    return svc


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


_bearer = HTTPBearer(auto_error=False, description="an API key from RAG_API_KEYS")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key from RAG_API_KEYS")


def _count(request: Request, bucket: str, what: str) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.hit(bucket)
    if wait is not None:
        raise APIError(429, "rate_limited",
                       f"more than {limiter.per_minute} requests in a minute for {what}; retry in {wait} s",
                       headers={"Retry-After": str(wait)})


def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal:
    """The caller: 401 without a valid key (when keys are configured), 429 over the per-minute budget."""
    keys: KeyRing = request.app.state.keys
    client = f"ip:{request.client.host if request.client else '-'}"
    if not keys.enabled:
        _count(request, client, "this client")
        return ANONYMOUS
    key = presented_key(f"Bearer {bearer.credentials}" if bearer else None, x_api_key)
    principal = keys.lookup(key) if key is not None else None
    if principal is None:
        _count(request, client, "this client")  # guessing keys costs the guesser's budget
        if key is None:
            raise APIError(401, "missing_api_key", "an API key is required: send 'Authorization: Bearer <key>'",
                           headers={"WWW-Authenticate": "Bearer"})
        raise APIError(401, "invalid_api_key", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
    _count(request, principal.name, "this key")
    return principal


def require_scope(principal: Principal, collection: str) -> None:
    if not principal.allows(collection):
        raise APIError(403, "forbidden", f"this API key may not use collection {collection!r}")


async def run_query(request: Request, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run a blocking pipeline call in a worker thread, at most ``query_concurrency`` at a time."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kw), limiter=request.app.state.query_limiter)


async def run_ingest(request: Request, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run an ingest or delete in a worker thread, one at a time per process."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kw), limiter=request.app.state.ingest_limiter)


ServiceDep = Annotated[RAGService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
CallerDep = Annotated[Principal, Depends(authenticate)]
