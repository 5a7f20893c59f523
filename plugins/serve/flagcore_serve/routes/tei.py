"""Hugging Face text-embeddings-inference's API (TEI): ``POST /embed``, ``/embed_sparse``, ``/embed_all``,
``/similarity``, ``/tokenize``, ``/decode``, ``GET /info``, and ``POST /`` (and ``/invocations``) answering as TEI does
for the model's kind. TEI's ``POST /rerank`` (a body with ``texts``) comes from :mod:`.rerank`, which shares the path
with Cohere's. Bodies, answers, errors and status codes are TEI's (its router/src/http/types.rs and server.rs); a
request goes to the default (first) model unless its ``model`` field, or else its ``X-Model`` header, names another."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from .._version import __version__
from ..errors import APIError
from ..inference import infer
from ..models import SCORE_KEY, EmbedKey, RunKey, ServedModel
from ..reading import authorize, read_body
from ..responses import json_response
from ..settings import ServeSettings
from ..state import settings_of
from ..tei_requests import (
    TEIError,
    auto_truncate,
    backend,
    check_batch,
    chosen_model,
    dimensions,
    flag,
    from_api_error,
    max_client_batch_size,
    need_embedder,
    need_reranker,
    optional_text,
    required_text,
    required_texts,
    texts,
    truncates_left,
    validation,
)
from ..tei_text import decode, fit_pairs, fit_texts, max_input_length, tokens

router = APIRouter()
Handler = Callable[[Request, dict[str, Any]], Awaitable[Any]]


async def answer(request: Request, handler: Handler, body: dict[str, Any] | None = None) -> Response:
    """``handler``'s answer to the request's body as JSON; every failure in TEI's shape."""
    try:
        if body is None:
            body = await read_body(request)
        return json_response(await handler(request, body))
    except TEIError as exc:
        return exc.response()
    except APIError as exc:
        return from_api_error(exc).response()


async def run(request: Request, item: ServedModel, key: RunKey, inputs: Any) -> Any:
    """The model's per-row outputs for ``inputs`` (queued and batched with other requests)."""
    try:
        rows, _ = await infer(item, key, inputs, settings_of(request).request_timeout)
    except APIError as exc:
        if exc.status == 400:  # refused at the model's prepare stage (an unknown prompt, ...): TEI's validation
            raise validation(exc.message) from None
        raise
    return rows


async def on_tokenizer(item: ServedModel, work: Callable[..., Any], *args: Any) -> Any:
    """``work(*args)`` on the model's tokenizer thread, where its prepare stage also runs."""
    return await asyncio.get_running_loop().run_in_executor(item.tokenizer_thread, work, *args)


async def embedding_inputs(request: Request, body: dict[str, Any], parameters: dict[str, Any], inputs: list[str]
                           ) -> tuple[ServedModel, list[str], str | None]:
    """The embedder, its inputs under TEI's length rule, and the prompt name of an embedding request
    (``parameters``: where the truncation and prompt fields are; the body, or a similarity's ``parameters``)."""
    item = chosen_model(request, body)
    need_embedder(item)
    prompt_name = optional_text(parameters, "prompt_name")
    truncate = flag(parameters, "truncate", auto_truncate(settings_of(request)))
    left = truncates_left(parameters)
    fitted = await on_tokenizer(item, fit_texts, item, inputs, prompt_name, truncate, left)
    return item, fitted, prompt_name


async def _embed(request: Request, body: dict[str, Any]) -> list[list[float]]:
    normalize = flag(body, "normalize", True)
    dims = dimensions(body)
    inputs = texts(body.get("inputs"), "inputs", settings_of(request))
    item, fitted, prompt_name = await embedding_inputs(request, body, body, inputs)
    rows = np.asarray(await run(request, item, EmbedKey("dense", False, prompt_name), fitted), dtype=np.float32)
    if dims is not None:
        if dims > rows.shape[1]:
            raise validation("`dimensions` should be smaller than the maximum embedding dimension.")
        rows = rows[:, :dims]
    # a model that normalizes gives unit vectors already; normalizing them again would only add rounding
    if normalize and (dims is not None or not getattr(item.model, "normalize_embeddings", False)):
        rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    result: list[list[float]] = rows.tolist()
    return result


async def _embed_sparse(request: Request, body: dict[str, Any]) -> list[list[dict[str, Any]]]:
    inputs = texts(body.get("inputs"), "inputs", settings_of(request))
    item = chosen_model(request, body)
    need_embedder(item)
    if "sparse" not in item.outputs:
        raise backend("Model is not an embedding model with sparse output (lexical weights, as BGE-M3's)")
    item, fitted, prompt_name = await embedding_inputs(request, body, body, inputs)
    rows = await run(request, item, EmbedKey("sparse", False, prompt_name), fitted)
    return [_sparse_values(weights) for weights in rows]


def _sparse_values(weights: dict[Any, Any]) -> list[dict[str, Any]]:
    """One text's ``{token id: weight}`` as TEI's non-zero ``{"index", "value"}`` list, by token id."""
    pairs = sorted((int(token), float(weight)) for token, weight in weights.items() if weight != 0)
    return [{"index": token, "value": weight} for token, weight in pairs]


async def _embed_all(request: Request, body: dict[str, Any]) -> list[list[list[float]]]:
    inputs = texts(body.get("inputs"), "inputs", settings_of(request))
    item = chosen_model(request, body)
    need_embedder(item)
    output = next((name for name in ("token_embeddings", "colbert") if name in item.outputs), None)
    if output is None:
        raise backend("`embed_all` is not available for this model: it gives neither token embeddings nor "
                      "multi-vector (ColBERT) vectors")
    item, fitted, prompt_name = await embedding_inputs(request, body, body, inputs)
    rows = await run(request, item, EmbedKey(output, False, prompt_name), fitted)
    return [np.asarray(vectors, dtype=np.float32).tolist() for vectors in rows]


async def _similarity(request: Request, body: dict[str, Any]) -> list[float]:
    settings = settings_of(request)
    inputs = body.get("inputs")
    if not isinstance(inputs, dict):
        raise TEIError("Validation", "`inputs` must be an object: {\"source_sentence\": ..., \"sentences\": [...]}")
    source = required_text(inputs, "source_sentence", settings)
    sentences = required_texts(inputs.get("sentences"), "inputs.sentences", settings)
    check_batch(len(sentences) + 1, settings)
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise TEIError("Validation", "`parameters` must be an object")
    batch = [source, *sentences]
    item, fitted, prompt_name = await embedding_inputs(request, body, parameters, batch)
    rows = np.asarray(await run(request, item, EmbedKey("dense", False, prompt_name), fitted), dtype=np.float64)
    norms = np.maximum(np.linalg.norm(rows, axis=1), 1e-12)
    return [float(x) for x in (rows[1:] @ rows[0]) / (norms[1:] * norms[0])]


async def _rerank(request: Request, body: dict[str, Any]) -> list[dict[str, Any]]:
    settings = settings_of(request)
    query = required_text(body, "query", settings)
    docs = required_texts(body.get("texts"), "texts", settings)
    item = chosen_model(request, body)
    need_reranker(item)
    check_batch(len(docs), settings)
    raw, return_text = flag(body, "raw_scores", False), flag(body, "return_text", False)
    truncate = flag(body, "truncate", auto_truncate(settings))
    fitted = await on_tokenizer(item, fit_pairs, item, query, docs, truncate, truncates_left(body))
    scores = await run(request, item, SCORE_KEY, [(query, d) for d in fitted])
    values = [float(s) if raw else float(item.model.activate(float(s))) for s in scores]
    order = sorted(range(len(values)), key=lambda i: -values[i])
    return [{"index": i, "score": values[i], **({"text": docs[i]} if return_text else {})} for i in order]


async def rerank_texts(request: Request, body: dict[str, Any]) -> Response:
    """TEI's ``POST /rerank`` (``query``, ``texts``) → ``[{"index", "score", "text"?}]``, best first."""
    return await answer(request, _rerank, body)


async def _root(request: Request, body: dict[str, Any]) -> Any:
    """TEI's ``POST /``: a similarity body (``inputs`` an object) is answered as ``/similarity``; otherwise a reranker
    reranks and an embedder embeds."""
    if isinstance(body.get("inputs"), dict):
        return await _similarity(request, body)
    if chosen_model(request, body).kind == "reranker":
        return await _rerank(request, body)
    return await _embed(request, body)


async def _tokenize(request: Request, body: dict[str, Any]) -> list[list[dict[str, Any]]]:
    inputs = texts(body.get("inputs"), "inputs", settings_of(request))
    add_special = flag(body, "add_special_tokens", True)
    prompt_name = optional_text(body, "prompt_name")
    item = chosen_model(request, body)
    result: list[list[dict[str, Any]]] = await on_tokenizer(
        item, lambda: [tokens(item, text, add_special, prompt_name) for text in inputs])
    return result


async def _decode(request: Request, body: dict[str, Any]) -> list[str]:
    ids = body.get("ids")
    if not isinstance(ids, list):
        raise TEIError("Validation", "`ids` must be an array of token ids, or an array of such arrays")
    batch = ids if ids and all(isinstance(row, list) for row in ids) else [ids]
    if ids and batch is ids:
        check_batch(len(batch), settings_of(request))
    for row in batch:
        if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in row):
            raise TEIError("Validation", "`ids` must hold non-negative integers (token ids)")
    item = chosen_model(request, body)
    result: list[str] = await on_tokenizer(item, decode, item, batch, flag(body, "skip_special_tokens", True))
    return result


async def _info(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    authorize(request)
    item = chosen_model(request, body)
    settings = settings_of(request)
    return {"model_id": item.source, "model_sha": None, "model_dtype": _dtype(item),
            "served_model_name": item.name, "model_type": _model_type(item),
            "max_concurrent_requests": _max_concurrent_requests(settings), "max_input_length": max_input_length(item),
            "max_batch_tokens": int(item.model.batch_token_budget or 2048), "max_batch_requests": None,
            "max_client_batch_size": max_client_batch_size(settings), "auto_truncate": auto_truncate(settings),
            "tokenization_workers": 1, "version": __version__, "sha": None, "docker_label": None}


def _max_concurrent_requests(settings: ServeSettings) -> int:
    """The server's limit of requests in flight where it has one, else its per-model queue limit."""
    return int(getattr(settings, "max_concurrent_requests", None) or settings.max_queue)


def _dtype(item: ServedModel) -> str:
    dtype = getattr(getattr(item.model, "model", None), "dtype", None)
    return str(dtype).removeprefix("torch.") if dtype is not None else "float32"


def _model_type(item: ServedModel) -> dict[str, Any]:
    """TEI's ``model_type``: ``{"embedding": {"pooling"}}`` or ``{"reranker": {"id2label", "label2id"}}``."""
    if item.kind == "embedder":
        return {"embedding": {"pooling": str(getattr(item.model, "pooling_method", None) or "unknown")}}
    config = getattr(getattr(item.model, "model", None), "config", None)
    labels = getattr(config, "id2label", None) or {0: "LABEL_0"}
    id2label = {str(i): str(label) for i, label in labels.items()}
    return {"reranker": {"id2label": id2label, "label2id": {label: int(i) for i, label in id2label.items()}}}


@router.get("/info")
async def info(request: Request) -> Response:
    return await answer(request, _info, {})


def _post(handler: Any) -> Any:
    """The route of a TEI handler that reads the request's JSON body."""
    async def route(request: Request) -> Response:
        return await answer(request, handler)

    route.__name__ = handler.__name__.lstrip("_")  # FastAPI names the operation after it
    return route


for _path, _handler in (("/", _root), ("/invocations", _root), ("/embed", _embed), ("/embed_sparse", _embed_sparse),
                        ("/embed_all", _embed_all), ("/similarity", _similarity), ("/tokenize", _tokenize),
                        ("/decode", _decode)):
    router.post(_path, name=f"tei{_path.replace('/', '_') if _path != '/' else '_root'}")(_post(_handler))
