"""The FastAPI application: OpenAI's embeddings, Cohere's rerank, BGE-M3's sparse and ColBERT outputs, health, models
and metrics (the routers of :mod:`flagcore_serve.routes`), over the dynamic batcher of
:mod:`flagcore_serve.batching`."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from fastapi import FastAPI

from ._version import __version__
from .handlers import Admission, add_exception_handlers
from .inference import attach_batcher
from .metrics import Metrics, MetricsMiddleware
from .models import ServedModel
from .routes import cohere_v2, embeddings, info, rerank, tei
from .settings import ServeSettings
from .state import Lifecycle, share


def create_app(models: list[ServedModel], settings: ServeSettings) -> FastAPI:
    if not models:
        raise ValueError("serve at least one model")
    metrics = Metrics()
    for item in models:
        attach_batcher(item, settings, metrics)
    app = FastAPI(title="flagcore-serve", version=__version__, lifespan=lifespan)
    lifecycle = Lifecycle()
    # added first, so it runs inside the metrics: refusals are counted, a request cancelled by its client as 499
    app.add_middleware(Admission, lifecycle=lifecycle, max_concurrent_requests=settings.max_concurrent_requests)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    share(app, models, settings, metrics, lifecycle)
    add_exception_handlers(app)
    for module in (embeddings, rerank, cohere_v2, info, tei):
        app.include_router(module.router)
    return app


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At shutdown (the requests in flight are done: uvicorn waits for them, after ``flagcore serve``'s drain), refuse
    any late request, and stop every model's batcher (a request still queued gets 503) and tokenizer thread."""
    yield
    app.state.lifecycle.drain()
    for item in app.state.models:
        if item.batcher is not None:
            item.batcher.stop()
        item.tokenizer_thread.shutdown(wait=False)
