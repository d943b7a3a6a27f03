"""The REST app: ``create_app(settings)`` builds it; ``rag serve`` runs it under uvicorn.

The models and every collection's index load once, in the lifespan, into one
``RAGService`` on ``app.state``; requests only read it. Blocking work (a
question, an ingest) runs in worker threads: questions under a capacity limit
sized to the CPU (more threads than cores only adds contention on a CPU
model), ingests one at a time so they cannot take the query threads, and by
default in a child process at a lower CPU priority (``RAG_INGEST_WORKER``,
:mod:`rag.ingest_worker`), so the questions get the cores first.

Middleware, outermost first: request metrics, then the body-size limit (413
before any route reads a byte too many). Auth and the per-key rate limit are a
dependency of every ``/v1`` route; errors of every kind share one JSON shape
(see :mod:`rag.api.errors`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI

from rag.api.auth import KeyRing
from rag.api.errors import install_error_handlers
from rag.api.limits import BodyLimitMiddleware, RateLimiter
from rag.api.metrics import Metrics, MetricsMiddleware
from rag.api.routes import chat, collections, health, openai
from rag.config import Settings, get_settings
from rag.errors import RAGError

log = logging.getLogger("rag.api")

__all__ = ["create_app"]


def _preload(service, loaded: set[str]) -> None:
    """Load every collection's pipeline now, so the first question does not pay for it."""
    for row in service.collections():
        name = row["name"]
        if "error" in row:
            log.warning("collection %s is not loadable: %s", name, row["error"])
            continue
        try:
            service.pipeline(name)
            loaded.add(name)
        except RAGError as e:  # a broken collection must not keep the others from being served
            log.warning("collection %s could not be loaded: %s", name, e)


def _one_op_per_core(n_compute: int) -> None:
    """Give each computing thread its share of the cores instead of every op all of them.

    torch parallelises one forward pass over all cores by default; with several
    requests in flight (or anything else on the machine) those OpenMP threads
    oversubscribe the cores and spin: on 2 busy cores one query embedding took
    about 1 s with 2 intra-op threads and 70 ms with 1. Unbatched, a server gets
    its parallelism from concurrent requests, so each op gets cores / query
    threads; batched, one worker computes and gets them all.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    threads = max(1, (os.cpu_count() or 1) // n_compute)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
        log.info("torch intra-op threads set to %d (%d computing threads)", threads, n_compute)


def create_app(settings: Settings | None = None, *, service=None, query_concurrency: int | None = None) -> FastAPI:
    """Build the app.

    Args:
        settings: defaults to ``Settings()`` (``RAG_`` environment variables).
        service: an existing ``RAGService`` to serve (tests share one); by default one is built from
            ``settings`` in the lifespan.
        query_concurrency: questions in flight at once (worker threads); default: the CPU count, or
            twice ``query_batch`` when questions are batched (the threads then mostly wait on the batch).

    Raises:
        ValueError: ``RAG_API_KEYS`` cannot be parsed.
    """
    settings = settings or get_settings()
    keys = KeyRing.from_spec(settings.api_keys)
    metrics = Metrics()
    batched = settings.query_batch > 0
    n_query = (query_concurrency or settings.query_concurrency
               or (2 * settings.query_batch if batched else os.cpu_count() or 2))
    if n_query <= 0:
        raise ValueError(f"query_concurrency must be > 0, but got {n_query}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from rag.cli import make_service

        app.state.query_limiter = anyio.CapacityLimiter(n_query)
        app.state.ingest_limiter = anyio.CapacityLimiter(1)
        if not keys.enabled:
            log.warning("no RAG_API_KEYS configured: authentication is off; serve on 127.0.0.1 only")
        if service is None:  # a server process of our own (not a test sharing its service): tune torch for it
            _one_op_per_core(1 if batched else n_query)
        svc = service if service is not None else make_service(settings, server=True)
        await anyio.to_thread.run_sync(svc.warm_up)
        app.state.service = svc
        await anyio.to_thread.run_sync(_preload, svc, app.state.loaded)
        app.state.ready = True
        log.info("ready: %d collection(s) loaded from %s", len(app.state.loaded), settings.data_dir)
        try:
            yield
        finally:
            app.state.ready = False
            if service is None:
                svc.close()

    app = FastAPI(
        title="rag",
        summary="Retrieval-augmented answers with citations, abstention and failure diagnostics.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.keys = keys
    app.state.metrics = metrics
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.service = None
    app.state.ready = False
    app.state.loaded = set()
    install_error_handlers(app)
    for r in (chat.router, openai.router, collections.router, health.router):
        app.include_router(r)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
