"""What the server serves and how it is doing: ``GET /v1/models``, ``/health`` and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..models import ServedModel
from ..reading import authorize
from ..responses import json_response
from ..state import lifecycle_of, metrics_of, models_of

router = APIRouter()


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    authorize(request)
    models = models_of(request)
    data = [_describe(item, default=item is models[0]) for item in models]
    return json_response({"object": "list", "data": data})


def _describe(item: ServedModel, default: bool) -> dict[str, Any]:
    return {"id": item.name, "object": "model", "created": item.created, "owned_by": "flagcore",
            "kind": item.kind, "model_class": type(item.model).__name__, "source": item.source,
            "aliases": list(item.aliases), "default": default,
            "outputs": sorted(item.outputs) if item.kind == "embedder" else ["score"],
            "dimensions": _dimensions(item)}


def _dimensions(item: ServedModel) -> int | None:
    if item.kind != "embedder":
        return None
    try:
        return int(item.model.embedding_dim)
    except Exception:
        return None


@router.get("/health")
async def health(request: Request) -> Response:
    """The readiness probe: 200 ``ok``; 503 ``draining`` once a drain began (SIGTERM), ``stopped`` when a model's
    batcher takes no more work. The port opens only once every model is loaded and warmed up, so no answer comes
    before that."""
    models = models_of(request)
    lifecycle = lifecycle_of(request)
    stopped = [item.name for item in models if item.batcher is None or not item.batcher.alive]
    status = "draining" if lifecycle.draining else "stopped" if stopped else "ok"
    body: dict[str, Any] = {
        "status": status, "models": [item.name for item in models],
        "queued": {item.name: item.batcher.queued_rows if item.batcher else 0 for item in models},
        "in_flight": lifecycle.in_flight}
    if stopped:
        body["stopped"] = stopped
    return json_response(body, 200 if status == "ok" else 503)


@router.get("/metrics")
async def prometheus(request: Request) -> Response:
    return Response(generate_latest(metrics_of(request).registry), media_type=CONTENT_TYPE_LATEST)
