"""The pieces every route's JSON response shares."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

#: numpy arrays and scalars as JSON numbers, non-string keys as strings (as the standard library writes them)
ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class FastJSONResponse(Response):
    """A JSON response written by orjson, on the event loop as before: the answer to 16 texts of 384-dimensional
    vectors took 2.5 ms with the standard library's encoder (Starlette's ``JSONResponse``), 0.12 ms with orjson
    (0.16 and 0.008 ms for 1 text); the same values once parsed."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=ORJSON_OPTIONS)


def json_response(content: Any, status: int = 200) -> Response:
    return FastJSONResponse(content, status_code=status)


def usage(tokens: int) -> dict[str, int]:
    """OpenAI's ``usage`` field: the request's tokens (unpadded)."""
    return {"prompt_tokens": tokens, "total_tokens": tokens}
