"""The FastAPI application: OpenAI's embeddings, Cohere's rerank, BGE-M3's sparse and ColBERT outputs, health, models
and metrics (the routers of :mod:`flagcore_serve.routes`), over the dynamic batcher of
:mod:`flagcore_serve.batching`."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from fastapi import FastAPI

from ._version import __version__
from .handlers import add_exception_handlers
from .inference import attach_batcher
from .metrics import Metrics, MetricsMiddleware
from .models import ServedModel
from .routes import embeddings, info, rerank
from .settings import ServeSettings
from .state import share


def create_app(models: list[ServedModel], settings: ServeSettings) -> FastAPI:
    if not models:
        raise ValueError("serve at least one model")
    metrics = Metrics()
    for item in models:
        attach_batcher(item, settings, metrics)
    app = FastAPI(title="flagcore-serve", version=__version__, lifespan=lifespan)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    share(app, models, settings, metrics)
    add_exception_handlers(app)
    for module in (embeddings, rerank, info):
        app.include_router(module.router)
    return app


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At shutdown, stop every model's batcher and tokenizer thread."""
    yield
    for item in app.state.models:
        if item.batcher is not None:
            item.batcher.stop()
        item.tokenizer_thread.shutdown(wait=False)
