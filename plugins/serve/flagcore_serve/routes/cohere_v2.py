"""Cohere's v2 API, as ``cohere.ClientV2`` calls it: ``POST /v2/embed`` and ``POST /v2/rerank``. Errors come back
in Cohere's shape (:mod:`flagcore_serve.cohere_format`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from flagcore.embedding_precision import quantize_embeddings

from ..cohere_format import EMBEDDING_TYPES, CohereRoute, meta, new_id
from ..cohere_tokens import TRUNCATE, cut_documents, fit_texts, on_tokenizer_thread
from ..errors import APIError
from ..inference import infer
from ..models import SCORE_KEY, EmbedKey, ServedModel
from ..picking import embedder_with, is_reranker, pick
from ..reading import JSONBody
from ..responses import json_response
from ..settings import ServeSettings
from ..state import settings_of
from ..validation import boolean, choice, documents, positive_int, text, texts
from .embeddings import base64_rows, truncate_dimensions

router = APIRouter(route_class=CohereRoute)

INPUT_TYPES = ("search_query", "search_document", "classification", "clustering")
#: input types that pick the model's own prompt of that name when it declares one
PROMPTED_INPUT_TYPES = ("classification", "clustering")


@router.post("/v2/embed")
async def embed(request: Request, body: JSONBody) -> Response:
    item = pick(request, body, "/v2/embed", embedder_with("dense"), "dense embeddings")
    settings = settings_of(request)
    inputs = _texts(body, settings)
    key = _embed_key(item, choice(body, "input_type", INPUT_TYPES, "search_document"))
    types = _embedding_types(body)
    dimension = positive_int(body, "output_dimension")
    truncate = choice(body, "truncate", TRUNCATE, "END")
    max_tokens = positive_int(body, "max_tokens")
    fitted = await on_tokenizer_thread(item, fit_texts, item.model, inputs, key, truncate, max_tokens)
    rows, tokens = await infer(item, key, fitted, settings.request_timeout)
    vectors = np.asarray(rows, dtype=np.float32)
    if dimension is not None and dimension != vectors.shape[1]:
        vectors = truncate_dimensions(vectors, dimension, item, "output_dimension")
    return json_response({"id": new_id(), "response_type": "embeddings_by_type",
                          "embeddings": _by_type(vectors, types), "texts": inputs, "meta": meta(tokens, billed=True)})


def _texts(body: dict[str, Any], settings: ServeSettings) -> list[str]:
    for field in ("images", "inputs"):
        if body.get(field) is not None:
            raise APIError(400, f"'{field}' is not supported: this server embeds text; send 'texts'", param=field)
    return texts(body.get("texts"), "texts", settings)


def _embed_key(item: ServedModel, input_type: str) -> EmbedKey:
    """search_query: the query side; classification and clustering: the model's own prompt of that name when it
    declares one; otherwise the passage side."""
    if input_type == "search_query":
        return EmbedKey("dense", query=True)
    prompts = getattr(item.model, "prompts", None) or {}
    if input_type in PROMPTED_INPUT_TYPES and input_type in prompts:
        return EmbedKey("dense", query=False, prompt_name=input_type)
    return EmbedKey("dense", query=False)


def _embedding_types(body: dict[str, Any]) -> list[str]:
    value = body.get("embedding_types")
    if value is None:
        return ["float"]
    if not isinstance(value, list) or not value or any(kind not in EMBEDDING_TYPES for kind in value):
        raise APIError(400, f"'embedding_types' must be a non-empty array of "
                            f"{', '.join(map(repr, EMBEDDING_TYPES))}, got {value!r}", param="embedding_types")
    return list(dict.fromkeys(value))


def _by_type(vectors: np.ndarray, types: list[str]) -> dict[str, Any]:
    """Cohere's ``embeddings`` object: one array per asked type."""
    out: dict[str, Any] = {}
    for kind in types:
        if kind == "float":
            out[kind] = vectors.tolist()
        elif kind == "base64":
            out[kind] = base64_rows(vectors)
        else:
            out[kind] = _quantized(vectors, kind).tolist()
    return out


def _quantized(vectors: np.ndarray, kind: str) -> np.ndarray:
    """The library's quantization; int8 and uint8 are calibrated on the request's own embeddings."""
    try:
        return np.asarray(quantize_embeddings(vectors, kind))
    except ValueError as exc:
        raise APIError(400, f"'embedding_types' has {kind!r}: {exc} (this server calibrates int8 and uint8 on the "
                            f"request's own embeddings: send several texts, or ask for float, binary or ubinary)",
                       param="embedding_types") from None


@router.post("/v2/rerank")
async def rerank(request: Request, body: JSONBody) -> Response:
    item = pick(request, body, "/v2/rerank", is_reranker, "reranking (a reranker model)")
    settings = settings_of(request)
    query = text(body.get("query"), "query", settings)
    docs = documents(body.get("documents"), settings)
    top_n = positive_int(body, "top_n")
    max_tokens = positive_int(body, "max_tokens_per_doc")
    return_documents = boolean(body, "return_documents", False)
    _no_relevant_spans(body)
    read = docs if max_tokens is None else await on_tokenizer_thread(
        item, cut_documents, item.model.tokenizer, docs, max_tokens)
    scores, tokens = await infer(item, SCORE_KEY, [(query, d) for d in read], settings.request_timeout)
    values = [item.model.activate(float(s)) for s in scores]
    order = sorted(range(len(values)), key=lambda i: -values[i])[: top_n or len(values)]
    results = [_result(i, values[i], docs[i] if return_documents else None) for i in order]
    return json_response({"id": new_id(), "results": results, "meta": meta(tokens, billed=False)})


def _no_relevant_spans(body: dict[str, Any]) -> None:
    spans = body.get("relevant_spans")
    if isinstance(spans, dict) and spans.get("mode") == "enabled":
        raise APIError(400, "'relevant_spans' is not supported: this server's rerankers score whole documents",
                       param="relevant_spans")


def _result(index: int, score: float, document: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"index": index, "relevance_score": score}
    if document is not None:
        result["document"] = {"text": document}
    return result
