"""Hugging Face text-embeddings-inference (TEI) requests: TEI's error body and status codes, reading TEI's request
fields, and the model a TEI-shaped request goes to (TEI serves one model; here the default unless the request names
another)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .errors import APIError
from .models import ServedModel
from .settings import ServeSettings
from .state import by_name_of, models_of

#: TEI's error types and the status of each (TEI's router/src/http/server.rs, ``From<&ErrorType> for StatusCode``)
STATUS = {"Unhealthy": 503, "Backend": 424, "Overloaded": 429, "Validation": 422, "Tokenizer": 422, "Empty": 400}
#: the header that names the model when the body does not (the body's ``model`` field wins)
MODEL_HEADER = "x-model"


class TEIError(Exception):
    """A failure in TEI's shape: ``{"error": message, "error_type": kind}``, with TEI's status of ``kind`` unless
    ``status`` says otherwise."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = STATUS[kind] if status is None else status

    def response(self) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse({"error": self.message, "error_type": self.kind}, status_code=self.status,
                            headers=headers)


def validation(message: str) -> TEIError:
    """TEI's input validation error (422), worded as TEI's ``TextEmbeddingsError::Validation``."""
    return TEIError("Validation", f"Input validation error: {message}")


def backend(message: str) -> TEIError:
    """TEI's backend error (424): what TEI answers when the model cannot do what the route asks."""
    return TEIError("Backend", f"Backend error: {message}")


def from_api_error(exc: APIError) -> TEIError:
    """One of the server's own errors (reading the body, the queue, the run) in TEI's shape: a full queue is TEI's
    ``Overloaded``; a server that stops its ``Unhealthy`` (503); a failed run its ``Backend`` (424); a timed-out run
    keeps its 504; a refused body its status."""
    if exc.status == 429:
        return TEIError("Overloaded", exc.message)
    if exc.status == 503:
        return TEIError("Unhealthy", exc.message)
    if exc.status == 500:
        return backend(exc.message)
    if exc.status > 500:
        return TEIError("Backend", exc.message, exc.status)
    return TEIError("Validation", exc.message, exc.status)


# -- fields ----------------------------------------------------------------------------------------------------
def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), "null")


def flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise TEIError("Validation", f"`{name}` must be true or false, not {_kind(value)}")
    return value


def optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise TEIError("Validation", f"`{name}` must be a string, not {_kind(value)}")
    return value


def required_text(body: dict[str, Any], name: str, settings: ServeSettings) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise TEIError("Validation", f"`{name}` is required: a string" if value is None
                       else f"`{name}` must be a string, not {_kind(value)}")
    return within_limit(value, settings)


def required_texts(value: Any, name: str, settings: ServeSettings) -> list[str]:
    """``value`` as a non-empty array of strings within the character limit, refused in TEI's wording (``name``:
    the field as the message shows it)."""
    if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
        raise TEIError("Validation", f"`{name}` must be an array of strings")
    if not value:
        raise TEIError("Empty", f"`{name}` cannot be empty")
    return [within_limit(text, settings) for text in value]


def within_limit(text: str, settings: ServeSettings) -> str:
    """``text``, refused past the server's characters per input (TEI's character rule and wording)."""
    if len(text) > settings.max_chars:
        raise validation(f"`inputs` must have less than {settings.max_chars} characters. Given: {len(text)}")
    return text


def truncates_left(body: dict[str, Any]) -> bool:
    """TEI's ``truncation_direction``: ``Right`` (default) or ``Left``, either capitalized or not."""
    value = body.get("truncation_direction")
    if value is None or value in ("Right", "right"):
        return False
    if value in ("Left", "left"):
        return True
    raise TEIError("Validation", f"`truncation_direction` must be 'Left' or 'Right', got {value!r}")


def dimensions(body: dict[str, Any]) -> int | None:
    value = body.get("dimensions")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TEIError("Validation", f"`dimensions` must be a positive integer, got {value!r}")
    if value == 0:
        raise validation("`dimensions` should be positive")
    return value


def auto_truncate(settings: ServeSettings) -> bool:
    """TEI's ``--auto-truncate``: what ``truncate`` is when a request leaves it out (off unless the server says)."""
    return bool(getattr(settings, "auto_truncate", False))


def max_client_batch_size(settings: ServeSettings) -> int:
    """Inputs per request: the server's ``max_client_batch_size`` where it has one, else its ``max_inputs``."""
    return int(getattr(settings, "max_client_batch_size", None) or settings.max_inputs)


def check_batch(size: int, settings: ServeSettings) -> None:
    limit = max_client_batch_size(settings)
    if size > limit:
        raise TEIError("Validation", f"batch size {size} > maximum allowed batch size {limit}")


def texts(value: Any, name: str, settings: ServeSettings) -> list[str]:
    """TEI's ``inputs``: a string, or a non-empty array of strings within the batch limit (token ids refused)."""
    if isinstance(value, str):
        return [within_limit(value, settings)]
    if value is None:
        raise TEIError("Validation", f"`{name}` is required: a string or an array of strings")
    if not isinstance(value, list):
        raise TEIError("Validation", f"`{name}` must be a string or an array of strings, not {_kind(value)}")
    if not value:
        raise TEIError("Empty", f"`{name}` cannot be empty")
    if any(isinstance(item, int) or isinstance(item, list) for item in value):
        raise TEIError("Validation", f"`{name}` holds token ids; this server takes text: send strings")
    check_batch(len(value), settings)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise TEIError("Validation", f"`{name}[{i}]` must be a string, not {_kind(item)}")
    return [within_limit(item, settings) for item in value]


# -- the model -------------------------------------------------------------------------------------------------
def chosen_model(request: Request, body: dict[str, Any]) -> ServedModel:
    """The model the body's ``model`` field names, else the one the ``X-Model`` header names, else the default
    (first) model; an unknown name is TEI's validation error (422)."""
    name = body.get("model")
    if name is not None and not isinstance(name, str):
        raise TEIError("Validation", f"`model` must be a string, not {_kind(name)}")
    name = name or request.headers.get(MODEL_HEADER) or None
    if name is None:
        return models_of(request)[0]
    item = by_name_of(request).get(name)
    if item is None:
        served = ", ".join(repr(m.name) for m in models_of(request))
        raise TEIError("Validation", f"the model {name!r} is not served; served: {served}")
    return item


def need_embedder(item: ServedModel) -> None:
    if item.kind != "embedder":
        raise backend("Model is not an embedding model")


def need_reranker(item: ServedModel) -> None:
    if item.kind != "reranker":
        raise backend("model is not a re-ranker model")
