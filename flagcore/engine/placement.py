"""Putting a loaded model where it computes: device, dtype, eval mode and the optional int8 path."""

from __future__ import annotations

from typing import Any


def place_model(model: Any, device: str, dtype: Any, quantize: str | None) -> None:
    """Move ``model`` to ``device`` in ``dtype``, switch it to eval mode and apply ``quantize`` (in place)."""
    if hasattr(model, "to"):
        model.to(device=device, dtype=dtype)
    if hasattr(model, "eval"):
        model.eval()
    if quantize == "int8":
        from .int8 import quantize_transformer_blocks

        quantize_transformer_blocks(model)
