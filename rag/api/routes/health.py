"""``/healthz`` (the process is alive), ``/readyz`` (models and indexes loaded), ``/metrics`` (Prometheus).

These are unauthenticated, as probes and scrapers expect; the server listens
on loopback unless API keys are configured.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from rag.api.errors import APIError
from rag.api.metrics import CONTENT_TYPE_LATEST

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: models and collection indexes loaded",
            responses={503: {"description": "still loading"}})
async def readyz(request: Request) -> dict:
    state = request.app.state
    if not getattr(state, "ready", False):
        raise APIError(503, "not_ready", "models and indexes are still loading", headers={"Retry-After": "5"})
    return {"status": "ready", "collections": sorted(getattr(state, "loaded", []))}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}})
async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
