"""``POST /v1/embeddings`` (OpenAI's), and BGE-M3's ``/v1/embeddings/sparse`` and ``/v1/embeddings/colbert``."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..errors import APIError
from ..inference import infer
from ..models import EmbedKey, ServedModel
from ..picking import embedder_with, pick
from ..reading import JSONBody
from ..responses import json_response, usage
from ..settings import ServeSettings
from ..state import settings_of
from ..validation import choice, positive_int, text, texts

router = APIRouter()


async def embed(request: Request, body: dict[str, Any], output: str, endpoint: str, needs: str
                ) -> tuple[ServedModel, Any, int]:
    """Pick the model, check the inputs, compute ``output`` for them; (model, rows, tokens)."""
    item = pick(request, body, endpoint, embedder_with(output), needs)
    settings = settings_of(request)
    inputs = texts(body.get("input"), "input", settings)
    side = choice(body, "input_type", ("query", "passage", "document"), "passage")
    query = side == "query"
    key = EmbedKey(output, query, _prompt_name(body, item, settings))
    rows, tokens = await infer(item, key, inputs, settings.request_timeout)
    return item, rows, tokens


def _prompt_name(body: dict[str, Any], item: ServedModel, settings: ServeSettings) -> str | None:
    """The request's ``prompt_name`` (flagcore): one of the model's own prompts, used instead of the side's."""
    value = body.get("prompt_name")
    if value is None:
        return None
    name = text(value, "prompt_name", settings)
    prompts = getattr(item.model, "prompts", None) or {}
    if name not in prompts:
        have = f"its prompts are {', '.join(map(repr, sorted(prompts)))}" if prompts else "it declares no prompts"
        raise APIError(400, f"'prompt_name' is {name!r}; the model {item.name!r} has no prompt of that name ({have})",
                       param="prompt_name")
    return name


@router.post("/v1/embeddings")
async def embeddings(request: Request, body: JSONBody) -> Response:
    fmt = choice(body, "encoding_format", ("float", "base64"), "float")
    dimensions = positive_int(body, "dimensions")
    item, rows, tokens = await embed(request, body, "dense", "/v1/embeddings", "dense embeddings")
    vectors = np.asarray(rows, dtype=np.float32)
    if dimensions is not None and dimensions != vectors.shape[1]:
        vectors = truncate_dimensions(vectors, dimensions, item)
    encoded: list[Any] = base64_rows(vectors) if fmt == "base64" else vectors.tolist()
    data = [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(encoded)]
    return json_response({"object": "list", "data": data, "model": item.name, "usage": usage(tokens)})


def base64_rows(vectors: np.ndarray) -> list[str]:
    """Each row's little-endian float32 bytes, base64-encoded (OpenAI's and Cohere's ``base64``)."""
    return [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors]


def truncate_dimensions(vectors: np.ndarray, dimensions: int, item: ServedModel, param: str = "dimensions"
                        ) -> np.ndarray:
    """The first ``dimensions`` of each vector (Matryoshka-style), renormalized when the model normalizes;
    ``param``: the request field that asked for it."""
    if dimensions > vectors.shape[1]:
        raise APIError(400, f"'{param}' is {dimensions}; the model {item.name!r} gives "
                            f"{vectors.shape[1]}-dimensional embeddings", param=param)
    vectors = vectors[:, :dimensions]
    if getattr(item.model, "normalize_embeddings", True):
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
    return vectors


@router.post("/v1/embeddings/sparse")
async def sparse(request: Request, body: JSONBody) -> Response:
    fmt = choice(body, "sparse_format", ("token", "id"), "token")
    item, rows, tokens = await embed(request, body, "sparse", "/v1/embeddings/sparse",
                                     "lexical (sparse) weights, as BGE-M3")
    data = [{"object": "sparse_embedding", "index": i, "embedding": _sparse_embedding(weights, fmt, item)}
            for i, weights in enumerate(rows)]
    return json_response({"object": "list", "data": data, "model": item.name, "usage": usage(tokens)})


def _sparse_embedding(weights: dict[Any, float], fmt: str, item: ServedModel) -> Any:
    """One text's {token_id: weight}: as {indices, values} sorted by id (``id``), or as {token: weight}."""
    if fmt == "id":
        ids = sorted(weights, key=int)
        return {"indices": [int(t) for t in ids], "values": [weights[t] for t in ids]}
    return item.model.convert_id_to_token(weights) if weights else {}


@router.post("/v1/embeddings/colbert")
async def colbert(request: Request, body: JSONBody) -> Response:
    item, rows, tokens = await embed(request, body, "colbert", "/v1/embeddings/colbert", "ColBERT vectors, as BGE-M3")
    data = [{"object": "colbert_embedding", "index": i, "embedding": np.asarray(v).tolist()}
            for i, v in enumerate(rows)]
    return json_response({"object": "list", "data": data, "model": item.name, "usage": usage(tokens)})
