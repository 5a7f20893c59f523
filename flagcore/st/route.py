"""What one encode call tells the module chain after the transformer: its task and its prompt's length."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..inputs import format_instruction


@dataclass(frozen=True)
class Route:
    """The task a call encodes for ("query", "document", or None for plain ``encode``: a Router picks its route by
    it) and how many leading tokens the call's prompt takes (pooling that excludes the prompt leaves them out)."""

    task: str | None = None
    prompt_length: int = 0


def prompt_prefix(instruction_format: str, instruction: str) -> str:
    """The text an instruction puts before every input ("" when the format does not put it first)."""
    prefix = format_instruction(instruction_format, instruction, "")
    return prefix if format_instruction(instruction_format, instruction, "x").startswith(prefix) else ""


def prompt_length(tokenizer: Any, prefix: str) -> int:
    """Tokens of ``prefix`` as the tokenizer encodes it alone, with its leading special tokens and without a trailing
    one (how sentence-transformers measures a prompt it excludes from pooling)."""
    if not prefix:
        return 0
    ids = list(tokenizer(prefix)["input_ids"])
    special = set(getattr(tokenizer, "all_special_ids", ()) or ())
    return len(ids) - 1 if ids and ids[-1] in special else len(ids)
