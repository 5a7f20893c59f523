"""Exception handlers: every error, ours or the framework's, answered in OpenAI's shape (:mod:`.errors`); and
:class:`Admission`, the middleware that refuses requests while the server drains or is full, counts those in flight
and cancels those whose client went away."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import APIError
from .state import Lifecycle


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


#: paths that are never refused, counted or cancelled: the probes answer while the server drains or is full
PROBES = frozenset({"/health", "/metrics"})
#: the scope key of a request's refusal (an APIError, decided when it arrived), raised by ``read_body``
REFUSAL = "flagcore_serve.refusal"


def refusal(lifecycle: Lifecycle, limit: int) -> APIError | None:
    """Why a request arriving now is refused: 503 while the server drains, 429 with ``limit`` requests in flight."""
    if lifecycle.draining:
        return APIError(503, "the server is shutting down: it finishes the requests in flight and takes no new "
                             "ones; send this request to another replica, or retry once the server is back",
                        code="shutting_down")
    if lifecycle.in_flight >= limit:
        return APIError(429, f"{lifecycle.in_flight} requests are in flight, the server's limit "
                             f"(--max-concurrent-requests); retry later", code="overloaded")
    return None


class Admission:
    """Pure ASGI middleware in front of the routes (``/health`` and ``/metrics`` pass by). It decides when a request
    arrives whether it is refused (:func:`refusal`; the route answers that error, in its own shape, when it reads the
    body), counts the requests in flight (the drain waits for them), closes connections while draining, and cancels a
    request whose client disconnects before its answer starts (:func:`run_until_disconnect`)."""

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle, max_concurrent_requests: int) -> None:
        self.app = app
        self.lifecycle = lifecycle
        self.limit = max_concurrent_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        scope[REFUSAL] = refusal(self.lifecycle, self.limit)
        self.lifecycle.in_flight += 1
        try:
            await run_until_disconnect(self.app, scope, receive, self._closing(send))
        finally:
            self.lifecycle.in_flight -= 1

    def _closing(self, send: Send) -> Send:
        """``send``, adding ``Connection: close`` to an answer given while the server drains."""

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and self.lifecycle.draining:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        return closing_send


async def run_until_disconnect(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app`` for one request in a task of its own; cancel it when the client disconnects before the answer
    starts. A cancelled request waiting for the batcher leaves its queue (its texts never run). Once the body is read,
    a watcher waits on ``receive``: the server answers it only at a disconnect or once the response is complete."""
    answering = gone = False
    watcher: asyncio.Future[None] | None = None

    def disconnected() -> None:
        nonlocal gone
        if not answering and not task.done():
            gone = True
            task.cancel()

    async def watch() -> None:
        if (await receive())["type"] == "http.disconnect":
            disconnected()

    async def receive_body() -> Message:
        nonlocal watcher
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnected()
        elif watcher is None and not message.get("more_body", False):
            watcher = asyncio.ensure_future(watch())
        return message

    async def send_answer(message: Message) -> None:
        nonlocal answering
        answering = answering or message["type"] == "http.response.start"
        await send(message)

    task = asyncio.ensure_future(app(scope, receive_body, send_answer))
    try:
        await task
    except asyncio.CancelledError:
        if not gone:  # cancelled from outside (the server stops now): not ours to swallow
            raise
    finally:
        if watcher is not None:
            watcher.cancel()
