"""The FastAPI application: OpenAI's embeddings, Cohere's rerank, BGE-M3's sparse and ColBERT outputs, health, models
and metrics, over the dynamic batcher of :mod:`flagcore_serve.batching`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Hashable

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import validation as check
from .batching import Columns, DynamicBatcher, QueueFull
from .errors import APIError
from .metrics import Metrics, MetricsMiddleware
from .settings import ServeSettings

ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
M3_OUTPUTS = {"dense": "dense_vecs", "sparse": "lexical_weights", "colbert": "colbert_vecs"}


@dataclass(eq=False)
class ServedModel:
    """One model behind the server: its names, the flagcore model, what it computes, and its batcher."""

    name: str
    model: Any
    kind: str  # "embedder" or "reranker"
    source: str
    outputs: frozenset[str] = frozenset({"dense"})  # of an embedder: dense, sparse, colbert
    aliases: tuple[str, ...] = ()
    batcher: DynamicBatcher | None = None
    tokenizer_thread: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "flagcore-tokenize"))
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def multi_output(self) -> bool:
        return "return_sparse" in getattr(self.model, "call_options", ())

    def run(self, key: Hashable, columns: Columns) -> Any:
        """One merged run of the batcher: per-row outputs (an array or a list)."""
        if self.kind == "reranker":
            scores = self.model.score_tokenized(columns, normalize=False)
            if scores and isinstance(scores[0], list):  # several cutoff layers: the last one's scores
                scores = scores[-1]
            return scores
        output, query = key if isinstance(key, tuple) else (key, None)  # queries and passages run apart: a model's
        if not self.multi_output:                                       # prompt and route may differ by side
            return self.model.encode_tokenized(columns, convert_to_numpy=True, query=query)
        wanted = {f"return_{k}" if k != "colbert" else "return_colbert_vecs": k == output
                  for k in ("dense", "sparse", "colbert")}
        return self.model.encode_tokenized(columns, convert_to_numpy=True, query=query,
                                           **wanted)[M3_OUTPUTS[str(output)]]


def _split(output: Any, start: int, stop: int) -> Any:
    return output[start:stop]


def parse_spec(spec: str) -> tuple[str | None, str]:
    """``ALIAS=PATH`` → (alias, path); a plain path or name → (None, it)."""
    alias, sep, path = spec.partition("=")
    if sep and path and ALIAS.match(alias) and not os.path.exists(spec):
        return alias, path
    return None, spec


def model_kind(path: str) -> str:
    """``reranker`` when flagcore resolves the model as a reranker, else ``embedder`` (as ``flagcore rerank``)."""
    import flagcore

    try:
        flagcore.resolve(path, "reranker")
    except flagcore.ModelResolutionError:
        return "embedder"
    return "reranker"


def load_models(specs: list[str], settings: ServeSettings, **kwargs: Any) -> list[ServedModel]:
    """Build every model of ``specs``; ``kwargs`` (devices, max_batch_tokens, ...) go to ``from_finetuned``."""
    from flagcore import FlagAutoModel, FlagAutoReranker

    served: list[ServedModel] = []
    for spec in specs:
        alias, path = parse_spec(spec)
        kind = model_kind(path)
        factory = FlagAutoReranker if kind == "reranker" else FlagAutoModel
        model = factory.from_finetuned(path, **kwargs)
        base = os.path.basename(os.path.normpath(path))
        names = (alias,) if alias else (path, *((base,) if base and base != path else ()))
        served.append(ServedModel(names[0], model, kind, path, aliases=names[1:]))
    taken: dict[str, str] = {}
    for item in served:
        for name in (item.name, *item.aliases):
            if name in taken and item.name == name:
                raise ValueError(f"two models are served as {name!r}; name them: ALIAS=PATH")
            taken.setdefault(name, item.name)
    for item in served:
        _warm_up(item)
    return served


def _warm_up(item: ServedModel) -> None:
    """Run each output once (the first call places the model), and find which outputs an embedder has."""
    if item.kind == "reranker":
        item.model.score_tokenized(item.model.tokenize_inputs([("warm up", "warm up")]))
        return
    columns = item.model.tokenize_inputs(["warm up"])
    if not item.multi_output:
        item.model.encode_tokenized(columns)
        return
    outputs = set()
    for key in ("dense", "sparse", "colbert"):
        try:
            item.run(key, columns)
        except Exception:  # e.g. an M3 checkpoint without its sparse or ColBERT head
            continue
        outputs.add(key)
    item.outputs = frozenset(outputs)


def _json(content: Any, status: int = 200) -> Response:
    return JSONResponse(content, status_code=status)


def create_app(models: list[ServedModel], settings: ServeSettings) -> FastAPI:
    if not models:
        raise ValueError("serve at least one model")
    metrics = Metrics()
    by_name: dict[str, ServedModel] = {}
    for item in models:
        for name in (item.name, *item.aliases):
            by_name.setdefault(name, item)
        budget = item.model.batch_token_budget or 2048
        batcher = DynamicBatcher(
            item.name, item.run, _split, max_queue=settings.max_queue,
            max_run_tokens=settings.max_run_tokens or 8 * budget, batch_wait_s=settings.batch_wait_ms / 1000,
            observe=metrics.observer(item.name))
        item.batcher = batcher
        metrics.queue.labels(item.name).set_function(_queue_size(batcher))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        for item in models:
            if item.batcher is not None:
                item.batcher.stop()
            item.tokenizer_thread.shutdown(wait=False)

    app = FastAPI(title="flagcore-serve", version="0.1.0", lifespan=lifespan)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.state.models = models
    app.state.settings = settings
    app.state.metrics = metrics

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: f"no such endpoint: {request.method} {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
        return JSONResponse(APIError(exc.status_code, message).body(), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return JSONResponse(APIError(500, f"internal error: {type(exc).__name__}: {exc}").body(), status_code=500)

    def authorize(request: Request) -> None:
        if not settings.api_key:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise APIError(401, "missing API key: send the header 'Authorization: Bearer <key>'",
                           code="invalid_api_key")
        if not hmac.compare_digest(token.strip().encode(), settings.api_key.encode()):
            raise APIError(401, "incorrect API key", code="invalid_api_key")

    async def read_body(request: Request) -> dict[str, Any]:
        """The request's JSON object, checked and authorized once (later calls return the stored body)."""
        cached = getattr(request.state, "flagcore_body", None)
        if cached is None:
            cached = await read_new_body(request)
            request.state.flagcore_body = cached
        return cached

    async def read_new_body(request: Request) -> dict[str, Any]:
        authorize(request)
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise APIError(400, f"invalid Content-Length {declared!r}")
            if int(declared) > settings.max_body_bytes:
                raise APIError(413, f"the request body has {int(declared)} bytes; the limit is "
                                    f"{settings.max_body_bytes}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_body_bytes:
                raise APIError(413, f"the request body is larger than the limit of {settings.max_body_bytes} bytes")
            chunks.append(chunk)
        return check.parse_body(b"".join(chunks))

    def pick(body: dict[str, Any], endpoint: str, fits: Callable[[ServedModel], bool], needs: str) -> ServedModel:
        name = check.model_name(body)
        if name is None:
            if fits(models[0]):
                return models[0]
            for item in models:
                if fits(item):
                    return item
            raise APIError(400, f"no served model does {needs} ({endpoint})", param="model")
        named = by_name.get(name)
        if named is None:
            served = ", ".join(repr(m.name) for m in models)
            raise APIError(404, f"the model {name!r} does not exist; served: {served}", param="model",
                           code="model_not_found")
        item = named
        if not fits(item):
            raise APIError(400, f"the model {name!r} is {'a reranker' if item.kind == 'reranker' else 'an embedder'}"
                                f" ({item.outputs and ', '.join(sorted(item.outputs))} outputs); {endpoint} needs "
                                f"{needs}", param="model")
        return item

    async def infer(item: ServedModel, key: Hashable, tokenize: Callable[[], Columns]) -> tuple[Any, int]:
        """Tokenize (on the model's tokenizer thread), queue, wait for the merged run; (outputs, tokens)."""
        batcher = item.batcher
        assert batcher is not None
        loop = asyncio.get_running_loop()
        with batcher.arriving() as arrival:
            try:
                columns = await loop.run_in_executor(item.tokenizer_thread, tokenize)
            except (TypeError, ValueError) as exc:
                raise APIError(400, f"{exc}") from None
            tokens = sum(len(ids) for ids in columns["input_ids"])
            try:
                future = batcher.submit(key, columns, arrival)
            except QueueFull as exc:
                raise APIError(429, str(exc), code="queue_full") from None
        try:
            return await asyncio.wait_for(future, settings.request_timeout), tokens
        except asyncio.TimeoutError:
            raise APIError(504, f"no result within the request timeout of {settings.request_timeout:g} s; the "
                                "server is overloaded or the request is too large") from None
        except APIError:
            raise
        except Exception as exc:
            raise APIError(500, f"inference failed: {type(exc).__name__}: {exc}") from None

    def embedder_with(output: str) -> Callable[[ServedModel], bool]:
        return lambda item: item.kind == "embedder" and output in item.outputs

    def usage(tokens: int) -> dict[str, int]:
        return {"prompt_tokens": tokens, "total_tokens": tokens}

    async def embed(request: Request, output: str, endpoint: str, needs: str
                    ) -> tuple[dict[str, Any], ServedModel, list[str], Any, int]:
        body = await read_body(request)
        item = pick(body, endpoint, embedder_with(output), needs)
        texts = check.texts(body.get("input"), "input", settings)
        side = check.choice(body, "input_type", ("query", "passage", "document"), "passage")
        query = side == "query"
        rows, tokens = await infer(item, (output if item.multi_output else "dense", query),
                                   lambda: item.model.tokenize_inputs(texts, query=query))
        return body, item, texts, rows, tokens

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        body = await read_body(request)
        fmt = check.choice(body, "encoding_format", ("float", "base64"), "float")
        dimensions = check.positive_int(body, "dimensions")
        _, item, _, rows, tokens = await embed(request, "dense", "/v1/embeddings", "dense embeddings")
        vectors = np.asarray(rows, dtype=np.float32)
        if dimensions is not None and dimensions != vectors.shape[1]:
            if dimensions > vectors.shape[1]:
                raise APIError(400, f"'dimensions' is {dimensions}; the model {item.name!r} gives "
                                    f"{vectors.shape[1]}-dimensional embeddings", param="dimensions")
            vectors = vectors[:, :dimensions]
            if getattr(item.model, "normalize_embeddings", True):
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                vectors = vectors / np.maximum(norms, 1e-12)
        if fmt == "base64":
            encoded: list[Any] = [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors]
        else:
            encoded = vectors.tolist()
        data = [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(encoded)]
        return _json({"object": "list", "data": data, "model": item.name, "usage": usage(tokens)})

    @app.post("/v1/embeddings/sparse")
    async def sparse(request: Request) -> Response:
        body = await read_body(request)
        fmt = check.choice(body, "sparse_format", ("token", "id"), "token")
        _, item, _, rows, tokens = await embed(request, "sparse", "/v1/embeddings/sparse",
                                               "lexical (sparse) weights, as BGE-M3")
        data = []
        for i, weights in enumerate(rows):
            if fmt == "id":
                ids = sorted(weights, key=int)
                embedding: Any = {"indices": [int(t) for t in ids], "values": [weights[t] for t in ids]}
            else:
                embedding = item.model.convert_id_to_token(weights) if weights else {}
            data.append({"object": "sparse_embedding", "index": i, "embedding": embedding})
        return _json({"object": "list", "data": data, "model": item.name, "usage": usage(tokens)})

    @app.post("/v1/embeddings/colbert")
    async def colbert(request: Request) -> Response:
        _, item, _, rows, tokens = await embed(request, "colbert", "/v1/embeddings/colbert",
                                               "ColBERT vectors, as BGE-M3")
        data = [{"object": "colbert_embedding", "index": i, "embedding": np.asarray(v).tolist()}
                for i, v in enumerate(rows)]
        return _json({"object": "list", "data": data, "model": item.name, "usage": usage(tokens)})

    async def rerank(request: Request) -> Response:
        body = await read_body(request)
        item = pick(body, request.url.path, lambda m: m.kind == "reranker", "reranking (a reranker model)")
        query = check.text(body.get("query"), "query", settings)
        docs = check.documents(body.get("documents"), settings)
        top_n = check.positive_int(body, "top_n")
        return_documents = check.boolean(body, "return_documents", False)
        raw = check.boolean(body, "raw_scores", False)
        pairs = [(query, d) for d in docs]
        scores, tokens = await infer(item, "score", lambda: item.model.tokenize_inputs(pairs))
        values = [float(s) if raw else item.model.activate(float(s)) for s in scores]
        order = sorted(range(len(values)), key=lambda i: -values[i])[: top_n or len(values)]
        results = []
        for i in order:
            result: dict[str, Any] = {"index": i, "relevance_score": values[i]}
            if return_documents:
                result["document"] = {"text": docs[i]}
            results.append(result)
        return _json({"id": str(uuid.uuid4()), "object": "rerank", "results": results, "model": item.name,
                      "usage": usage(tokens)})

    app.post("/v1/rerank")(rerank)
    app.post("/rerank")(rerank)

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        authorize(request)
        data = [{"id": item.name, "object": "model", "created": item.created, "owned_by": "flagcore",
                 "kind": item.kind, "model_class": type(item.model).__name__, "source": item.source,
                 "aliases": list(item.aliases), "default": item is models[0],
                 "outputs": sorted(item.outputs) if item.kind == "embedder" else ["score"],
                 "dimensions": _dimensions(item)} for item in models]
        return _json({"object": "list", "data": data})

    @app.get("/health")
    async def health() -> Response:
        return _json({"status": "ok", "models": [item.name for item in models],
                      "queued": {item.name: item.batcher.queued_rows if item.batcher else 0 for item in models}})

    @app.get("/metrics")
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _queue_size(batcher: DynamicBatcher) -> Callable[[], float]:
    return lambda: float(batcher.queued_rows)


def _dimensions(item: ServedModel) -> int | None:
    if item.kind != "embedder":
        return None
    try:
        return int(item.model.embedding_dim)
    except Exception:
        return None

