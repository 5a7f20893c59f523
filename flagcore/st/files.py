"""The files of a sentence-transformers model folder: where the folder is, reading its JSON, the error a file
flagcore cannot honour raises, and a value with the file it was read from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SentenceTransformersFormatError(ValueError):
    """A sentence-transformers file flagcore cannot honour: an unknown module type, a malformed config, a size that
    disagrees with the model. The message names the file."""


@dataclass(frozen=True)
class Declared:
    """One value a model's files declare, and where it was read."""

    value: Any
    source: str


def read_json(path: Path, expected: type) -> Any:
    """A sentence-transformers JSON file holding a ``expected`` (dict or list), or a clear error naming it."""
    try:
        with open(path, encoding="utf-8") as fh:
            value = json.load(fh)
    except OSError as exc:
        raise SentenceTransformersFormatError(f"{path} cannot be read ({exc})") from None
    except ValueError as exc:
        raise SentenceTransformersFormatError(f"{path} is not valid JSON ({exc}); save the model again") from None
    if not isinstance(value, expected):
        raise SentenceTransformersFormatError(
            f"{path} holds {type(value).__name__} {json.dumps(value)[:60]}, not a JSON "
            f"{'object' if expected is dict else 'list'}; save the model again")
    return value


def json_object(path: Path) -> dict[str, Any]:
    """A JSON file holding an object, or ``{}`` when it is absent, unreadable or holds anything else."""
    try:
        with open(path, encoding="utf-8") as fh:
            value = json.load(fh)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}

