"""What the routes share: :func:`share` keeps it on ``app.state``; the other functions read it back from a request.
:class:`Lifecycle` is where the server stands: the requests in flight, and whether it drains."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import FastAPI, Request

from .metrics import Metrics
from .models import ServedModel
from .settings import ServeSettings


@dataclass
class Lifecycle:
    """The requests in flight (every request but ``/health`` and ``/metrics``, counted by
    :class:`~flagcore_serve.handlers.Admission`), and the drain: once :meth:`drain` is called, new requests get 503
    while those in flight finish (``flagcore serve`` calls it on SIGTERM or SIGINT and stops once none is left)."""

    in_flight: int = 0
    #: ``time.monotonic()`` when the drain began; None while serving
    draining_since: float | None = None

    @property
    def draining(self) -> bool:
        return self.draining_since is not None

    def drain(self) -> None:
        if self.draining_since is None:
            self.draining_since = time.monotonic()


def share(app: FastAPI, models: list[ServedModel], settings: ServeSettings, metrics: Metrics,
          lifecycle: Lifecycle | None = None) -> None:
    """Keep the models (the first is the default), their names and aliases, the settings, metrics and lifecycle on
    ``app``."""
    by_name: dict[str, ServedModel] = {}
    for item in models:
        for name in (item.name, *item.aliases):
            by_name.setdefault(name, item)
    app.state.models = models
    app.state.by_name = by_name
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.lifecycle = lifecycle or Lifecycle()


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


def lifecycle_of(request: Request) -> Lifecycle:
    lifecycle: Lifecycle = request.app.state.lifecycle
    return lifecycle
