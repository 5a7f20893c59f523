"""Cohere v2's shapes: the ``meta`` block, and errors as Cohere sends them
(``{"id", "message"}``; the ``cohere`` client raises its ``BadRequestError`` and siblings with that body)."""

from __future__ import annotations

import uuid
from typing import Any, Callable, Coroutine

from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.requests import Request

from .errors import APIError

#: Cohere's embedding types: floats, the precisions of :func:`flagcore.embedding_precision.quantize_embeddings`, and
#: the floats' little-endian float32 bytes in base64
EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary", "base64")


class CohereRoute(APIRoute):
    """A route whose errors (the body's checks and authorization included) are answered in Cohere's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except APIError as exc:
                return cohere_error(exc)

        return handle


def cohere_error(exc: APIError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"id": new_id(), "message": exc.message}, status_code=exc.status, headers=headers)


def new_id() -> str:
    return str(uuid.uuid4())


def meta(tokens: int, billed: bool) -> dict[str, Any]:
    """Cohere's ``meta``: the API version and the request's input tokens (``billed``: also as billed units)."""
    block: dict[str, Any] = {"api_version": {"version": "2"}, "tokens": {"input_tokens": tokens}}
    if billed:
        block["billed_units"] = {"input_tokens": tokens}
    return block
