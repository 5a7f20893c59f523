"""Putting a loaded model where it computes: device, dtype, eval mode and the optional CPU fast paths (int8, or
bf16 matrix multiplies on a CPU with native bf16)."""

from __future__ import annotations

from typing import Any

from .blocks import block_linear_names


def place_model(model: Any, device: str, dtype: Any, quantize: str | None, block_linear_dtype: Any = None) -> None:
    """Move ``model`` to ``device`` in ``dtype``, switch it to eval mode and apply ``quantize`` (in place).
    ``block_linear_dtype``: store the weights of the blocks' linear layers in that dtype (CPU bf16: the multiplies
    run in bf16 under autocast, which then casts only the activations; norms, residuals and heads stay fp32)."""
    if hasattr(model, "to"):
        model.to(device=device, dtype=dtype)
    if hasattr(model, "eval"):
        model.eval()
    if block_linear_dtype is not None and hasattr(model, "named_modules"):
        for name in block_linear_names(model):
            model.get_submodule(name).to(dtype=block_linear_dtype)
    if quantize:
        from .int8 import quantize_transformer_blocks

        quantize_transformer_blocks(model, quantize)
