"""Exception handlers: every error, ours or the framework's, answered in OpenAI's shape (:mod:`.errors`)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import APIError


async def api_error(request: Request, exc: APIError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Starlette's 404 and 405 (no such route, or method), with a message naming the method and path."""
    message = {404: f"no such endpoint: {request.method} {request.url.path}",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
    return JSONResponse(APIError(exc.status_code, message).body(), status_code=exc.status_code)


async def unexpected(request: Request, exc: Exception) -> Response:
    return JSONResponse(APIError(500, f"internal error: {type(exc).__name__}: {exc}").body(), status_code=500)


def add_exception_handlers(app: FastAPI) -> None:
    app.exception_handler(APIError)(api_error)
    app.exception_handler(StarletteHTTPException)(http_error)
    app.exception_handler(Exception)(unexpected)
