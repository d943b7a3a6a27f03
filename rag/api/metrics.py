"""Prometheus metrics, one ``CollectorRegistry`` per app (so several apps in one process never collide).

* ``rag_http_requests_total{method,route,status}`` and ``rag_http_request_seconds{route}``;
* ``rag_stage_seconds{stage}``: per-stage latency from ``Answer.timings_ms``
  (retrieve, rerank, generate, diagnose, total);
* ``rag_answers_total{collection,outcome}`` (answered / abstained): the abstention rate
  is ``abstained / (answered + abstained)``;
* ``rag_failure_modes_total{mode}``: diagnostics tags;
* ``rag_ingest_documents_total{collection,change}`` (added, updated, deleted, skipped).

Routes are labelled by their template (``/v1/collections/{name}``), never by the
raw path, so label sets stay bounded.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.types import Answer

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "MetricsMiddleware"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("rag_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram("rag_http_request_seconds", "HTTP request latency", ["route"],
                                         buckets=_LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("rag_http_requests_in_flight", "requests being served", registry=r)
        self.stage_seconds = Histogram("rag_stage_seconds", "pipeline stage latency", ["stage"],
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.answers = Counter("rag_answers", "answers given, by outcome", ["collection", "outcome"], registry=r)
        self.failure_modes = Counter("rag_failure_modes", "failure modes tagged by the diagnostics", ["mode"], registry=r)
        self.ingest_docs = Counter("rag_ingest_documents", "documents changed through the API", ["collection", "change"],
                                   registry=r)

    def observe_answer(self, collection: str, answer: Answer) -> None:
        for stage, ms in answer.timings_ms.items():
            self.stage_seconds.labels(stage).observe(max(float(ms), 0.0) / 1000.0)
        self.answers.labels(collection, "abstained" if answer.abstained else "answered").inc()
        for tag in answer.diagnostics:
            self.failure_modes.labels(tag.mode).inc()

    def observe_ingest(self, collection: str, report: dict) -> None:
        for change in ("added", "updated", "deleted", "skipped"):
            n = len(report.get(change) or ())
            if n:
                self.ingest_docs.labels(collection, change).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every HTTP request by method, route template and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def send_wrapper(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            await send(msg)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope.get("method", ""), label, str(status)).inc()
            self.metrics.request_seconds.labels(label).observe(time.perf_counter() - t0)
