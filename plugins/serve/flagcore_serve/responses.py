"""The pieces every route's JSON response shares."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response


def json_response(content: Any, status: int = 200) -> Response:
    return JSONResponse(content, status_code=status)


def usage(tokens: int) -> dict[str, int]:
    """OpenAI's ``usage`` field: the request's tokens (unpadded)."""
    return {"prompt_tokens": tokens, "total_tokens": tokens}
