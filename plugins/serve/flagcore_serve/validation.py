"""Reading and checking request bodies: every problem is an :class:`APIError` with a message naming the field."""

from __future__ import annotations

import json
from typing import Any

from .errors import APIError
from .settings import ServeSettings


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise APIError(400, "the request body is empty; send a JSON object")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise APIError(400, "the request body is not UTF-8 text") from None
    except ValueError as exc:
        raise APIError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise APIError(400, f"the request body must be a JSON object, not {_kind(body)}")
    return body


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)


def text(value: Any, param: str, settings: ServeSettings) -> str:
    if not isinstance(value, str):
        raise APIError(400, f"'{param}' must be a string, not {_kind(value)}", param=param)
    if len(value) > settings.max_chars:
        raise APIError(400, f"'{param}' has {len(value)} characters; the limit is {settings.max_chars} per input",
                       param=param)
    return value


def texts(value: Any, param: str, settings: ServeSettings) -> list[str]:
    """A string or a non-empty array of strings, within the limits."""
    if value is None:
        raise APIError(400, f"'{param}' is required: a string or an array of strings", param=param)
    if isinstance(value, str):
        return [text(value, param, settings)]
    if not isinstance(value, list):
        raise APIError(400, f"'{param}' must be a string or an array of strings, not {_kind(value)}", param=param)
    if not value:
        raise APIError(400, f"'{param}' is an empty array; send at least one text", param=param)
    if len(value) > settings.max_inputs:
        raise APIError(400, f"'{param}' has {len(value)} items; the limit is {settings.max_inputs} per request",
                       param=param)
    if isinstance(value[0], int) or (isinstance(value[0], list) and value[0] and isinstance(value[0][0], int)):
        raise APIError(400, f"'{param}' holds token ids; this server takes text: send strings", param=param)
    return [text(item, f"{param}[{i}]", settings) for i, item in enumerate(value)]


def choice(body: dict[str, Any], param: str, options: tuple[str, ...], default: str) -> str:
    value = body.get(param)
    if value is None:
        return default
    if value not in options:
        raise APIError(400, f"'{param}' must be one of {', '.join(repr(o) for o in options)}, got {value!r}",
                       param=param)
    return str(value)


def positive_int(body: dict[str, Any], param: str) -> int | None:
    value = body.get(param)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise APIError(400, f"'{param}' must be a positive integer, got {value!r}", param=param)
    return value


def boolean(body: dict[str, Any], param: str, default: bool) -> bool:
    value = body.get(param)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise APIError(400, f"'{param}' must be true or false, got {value!r}", param=param)
    return value


def model_name(body: dict[str, Any]) -> str | None:
    value = body.get("model")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise APIError(400, f"'model' must be a string, not {_kind(value)}", param="model")
    return value


def documents(value: Any, settings: ServeSettings) -> list[str]:
    """Cohere's documents: strings, or objects with a ``text`` field."""
    if not isinstance(value, list):
        raise APIError(400, f"'documents' must be an array of strings, not {_kind(value)}", param="documents")
    if not value:
        raise APIError(400, "'documents' is an empty array; send at least one document", param="documents")
    if len(value) > settings.max_inputs:
        raise APIError(400, f"'documents' has {len(value)} items; the limit is {settings.max_inputs} per request",
                       param="documents")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            item = item.get("text")
        out.append(text(item, f"documents[{i}]", settings))
    return out
