"""What the routes share: :func:`share` keeps it on ``app.state``; the other functions read it back from a request."""

from __future__ import annotations

from fastapi import FastAPI, Request

from .metrics import Metrics
from .models import ServedModel
from .settings import ServeSettings


def share(app: FastAPI, models: list[ServedModel], settings: ServeSettings, metrics: Metrics) -> None:
    """Keep the models (the first is the default), their names and aliases, the settings and metrics on ``app``."""
    by_name: dict[str, ServedModel] = {}
    for item in models:
        for name in (item.name, *item.aliases):
            by_name.setdefault(name, item)
    app.state.models = models
    app.state.by_name = by_name
    app.state.settings = settings
    app.state.metrics = metrics


def models_of(request: Request) -> list[ServedModel]:
    models: list[ServedModel] = request.app.state.models
    return models


def by_name_of(request: Request) -> dict[str, ServedModel]:
    """Every model by its name and by each of its aliases."""
    by_name: dict[str, ServedModel] = request.app.state.by_name
    return by_name


def settings_of(request: Request) -> ServeSettings:
    settings: ServeSettings = request.app.state.settings
    return settings


def metrics_of(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics
