"""Prometheus metrics of one application (its own registry): requests, latency, merged runs, tokens, queue."""

from __future__ import annotations

import time
from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

ENDPOINTS = frozenset({"/v1/embeddings", "/v1/embeddings/sparse", "/v1/embeddings/colbert", "/v1/rerank", "/rerank",
                       "/v1/models", "/health", "/metrics", "/v2/embed", "/v2/rerank", "/", "/embed", "/embed_sparse",
                       "/embed_all", "/similarity", "/tokenize", "/decode", "/info", "/invocations"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
#: the status label of a request that got no answer (its client disconnected first)
CLIENT_GONE = "499"
TOKEN_BUCKETS = (16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("flagcore_serve_requests", "HTTP requests by endpoint and status",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("flagcore_serve_request_seconds", "request latency, body read to response",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.inputs = Counter("flagcore_serve_inputs", "texts (or rerank pairs) computed, by model", ["model"],
                              registry=r)
        self.tokens = Counter("flagcore_serve_tokens", "tokens computed (unpadded), by model", ["model"], registry=r)
        self.batch_inputs = Histogram("flagcore_serve_batch_inputs", "inputs per merged run (several requests)",
                                      ["model"], buckets=SIZE_BUCKETS, registry=r)
        self.batch_tokens = Histogram("flagcore_serve_batch_tokens", "tokens per merged run", ["model"],
                                      buckets=TOKEN_BUCKETS, registry=r)
        self.batch_seconds = Histogram("flagcore_serve_batch_seconds", "inference time of a merged run", ["model"],
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.queue = Gauge("flagcore_serve_queue_inputs", "inputs waiting for their model", ["model"], registry=r)

    def observer(self, model: str) -> Callable[[int, int, float], None]:
        inputs, tokens = self.inputs.labels(model), self.tokens.labels(model)
        b_inputs, b_tokens, b_seconds = (h.labels(model) for h in (self.batch_inputs, self.batch_tokens,
                                                                   self.batch_seconds))

        def observe(rows: int, count: int, seconds: float) -> None:
            inputs.inc(rows)
            tokens.inc(count)
            b_inputs.observe(rows)
            b_tokens.observe(count)
            b_seconds.observe(seconds)

        return observe


class MetricsMiddleware:
    """Counts every HTTP request and its latency (pure ASGI: no per-request task)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = scope["path"] if scope["path"] in ENDPOINTS else "other"
        status: int | None = None
        start = time.perf_counter()

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception:
            status = status or 500  # answered by the outermost error handler
            raise
        finally:
            # no answer at all: the client went away first (nginx's 499), or the server stopped at once
            label = str(status) if status is not None else CLIENT_GONE
            self.metrics.requests.labels(endpoint, label).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
