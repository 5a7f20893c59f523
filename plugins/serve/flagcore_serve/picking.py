"""Picking a request's model: the one its ``model`` field names, or else the first served model that fits."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import Request

from .errors import APIError
from .models import ServedModel
from .state import by_name_of, models_of
from .validation import model_name

Fits = Callable[[ServedModel], bool]


def pick(request: Request, body: dict[str, Any], endpoint: str, fits: Fits, needs: str) -> ServedModel:
    """The model for ``body`` at ``endpoint``; a 400 (one that does not fit, or none fits) or 404 (no such name)
    says why not. ``needs`` says what ``fits`` asks for."""
    name = model_name(body)
    models = models_of(request)
    if name is None:
        return _first_fitting(models, fits, endpoint, needs)
    item = by_name_of(request).get(name)
    if item is None:
        served = ", ".join(repr(m.name) for m in models)
        raise APIError(404, f"the model {name!r} does not exist; served: {served}", param="model",
                       code="model_not_found")
    if not fits(item):
        raise APIError(400, f"the model {name!r} is {'a reranker' if item.kind == 'reranker' else 'an embedder'}"
                            f" ({item.outputs and ', '.join(sorted(item.outputs))} outputs); {endpoint} needs "
                            f"{needs}", param="model")
    return item


def _first_fitting(models: list[ServedModel], fits: Fits, endpoint: str, needs: str) -> ServedModel:
    for item in models:  # the default (first) model first
        if fits(item):
            return item
    raise APIError(400, f"no served model does {needs} ({endpoint})", param="model")


def embedder_with(output: str) -> Fits:
    """Fits an embedder that computes ``output`` (dense, sparse or colbert)."""
    return lambda item: item.kind == "embedder" and output in item.outputs


def is_reranker(item: ServedModel) -> bool:
    return item.kind == "reranker"
