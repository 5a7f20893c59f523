"""Reading a request: its bearer token, and its JSON body within the size limit (read, checked and authorized once
per request); a request refused when it arrived (:class:`~flagcore_serve.handlers.Admission`) gets that error
instead."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request

from .errors import APIError
from .handlers import REFUSAL
from .state import settings_of
from .validation import parse_body


def authorize(request: Request) -> None:
    """Refuse the request if it was refused when it arrived (503 while the server drains, 429 when it is full), or
    (401) unless it carries the server's API key, when the server has one."""
    refused: APIError | None = request.scope.get(REFUSAL)
    if refused is not None:
        raise refused
    api_key = settings_of(request).api_key
    if not api_key:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise APIError(401, "missing API key: send the header 'Authorization: Bearer <key>'", code="invalid_api_key")
    if not hmac.compare_digest(token.strip().encode(), api_key.encode()):
        raise APIError(401, "incorrect API key", code="invalid_api_key")


async def read_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, checked and authorized once (later calls return the stored body)."""
    cached: dict[str, Any] | None = getattr(request.state, "flagcore_body", None)
    if cached is None:
        cached = await _read_new_body(request)
        request.state.flagcore_body = cached
    return cached


#: a route parameter that gets the request's JSON object (:func:`read_body`)
JSONBody = Annotated[dict[str, Any], Depends(read_body)]


async def _read_new_body(request: Request) -> dict[str, Any]:
    authorize(request)
    limit = settings_of(request).max_body_bytes
    _check_declared_length(request.headers.get("content-length"), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise APIError(413, f"the request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return parse_body(b"".join(chunks))


def _check_declared_length(declared: str | None, limit: int) -> None:
    """Refuse a body whose Content-Length is invalid or over ``limit`` before reading it."""
    if declared is None:
        return
    if not declared.isdigit():
        raise APIError(400, f"invalid Content-Length {declared!r}")
    if int(declared) > limit:
        raise APIError(413, f"the request body has {int(declared)} bytes; the limit is {limit}")
