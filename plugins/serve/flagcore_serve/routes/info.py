"""What the server serves and how it is doing: ``GET /v1/models``, ``/health`` and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..models import ServedModel
from ..reading import authorize
from ..responses import json_response
from ..state import metrics_of, models_of

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
    models = models_of(request)
    return json_response({"status": "ok", "models": [item.name for item in models],
                          "queued": {item.name: item.batcher.queued_rows if item.batcher else 0 for item in models}})


@router.get("/metrics")
async def prometheus(request: Request) -> Response:
    return Response(generate_latest(metrics_of(request).registry), media_type=CONTENT_TYPE_LATEST)
