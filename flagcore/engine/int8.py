"""Opt-in int8 inference on a CPU: a scale per token for activations, a scale per output channel for weights.

Plain dynamic quantization gives a whole batch one activation scale, so a few large activations flatten the
precision of every other token (all-MiniLM-L6-v2: mean cosine 0.94 to fp32). Scaling each token on its own
keeps 0.997 (``benchmarks/quantization.py``). The int8 × int8 product runs in ``torch._int_mm`` (VNNI
instructions on x86). Quantizing the rows and rescaling the int32 products are element-wise passes that
``torch.compile`` fuses into one loop each; where it cannot (no C++ compiler), eager ops do the same
arithmetic, slower, after one warning.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import torch

from .blocks import block_linear_names

_fused_kernels: tuple[Callable[..., Any], Callable[..., Any]] | None = None
_use_fused = True


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 codes of each row of a 2-D tensor and the row's scale (absmax / 127)."""
    scale = (x.abs().amax(dim=1, keepdim=True) / 127.0).clamp(min=1e-12)
    return torch.round(x / scale).clamp(-127, 127).to(torch.int8), scale


def rescale(products: torch.Tensor, row_scale: torch.Tensor, column_scale: torch.Tensor,
            bias: torch.Tensor) -> torch.Tensor:
    """fp32 outputs from int32 products: × the row's and the column's scale, + bias."""
    # int32 × fp32 promotes to fp32 in the same pass; addcmul then scales the rows and adds the bias in one more
    return torch.addcmul(bias, products * column_scale, row_scale)


def _kernels() -> tuple[Callable[..., Any], Callable[..., Any]]:
    global _fused_kernels
    if _fused_kernels is None:
        _fused_kernels = (torch.compile(quantize_rows, dynamic=True), torch.compile(rescale, dynamic=True))
    return _fused_kernels


def _fall_back_to_eager(error: BaseException) -> None:
    global _use_fused
    _use_fused = False
    warnings.warn(
        f"int8 kernels could not be compiled ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
        "running them as separate PyTorch ops, which gives the same numbers more slowly. Install a C++ "
        "compiler (torch.compile's CPU backend needs one) for the fused kernels.",
        RuntimeWarning, stacklevel=3)


class Int8Linear(torch.nn.Module):
    """A drop-in for ``torch.nn.Linear`` at inference: int8 weights and per-token int8 activations."""

    weight_t: torch.Tensor
    weight_scale: torch.Tensor
    bias: torch.Tensor

    def __init__(self, weight_t: torch.Tensor, weight_scale: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.in_features, self.out_features = weight_t.shape
        self.register_buffer("weight_t", weight_t)  # int8, (in_features, out_features), contiguous
        self.register_buffer("weight_scale", weight_scale)  # fp32, (out_features,)
        self.register_buffer("bias", bias)  # fp32, (out_features,); zeros where the Linear had none

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear) -> Int8Linear:
        codes, scale = quantize_rows(linear.weight.detach().to(torch.float32))  # a row per output channel
        bias = (linear.bias.detach().to(torch.float32) if linear.bias is not None
                else torch.zeros(linear.out_features))
        return cls(codes.t().contiguous(), scale.squeeze(1), bias.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _use_fused:
            try:
                return self._forward(x, *_kernels())
            except torch._dynamo.exc.BackendCompilerFailed as error:
                _fall_back_to_eager(error)
        return self._forward(x, quantize_rows, rescale)

    def _forward(self, x: torch.Tensor, quantize: Callable[..., Any], finish: Callable[..., Any]) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(torch.float32)
        codes, row_scale = quantize(rows)
        products = torch._int_mm(codes, self.weight_t)
        return finish(products, row_scale, self.weight_scale, self.bias).reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-token"


def quantize_transformer_blocks(model: torch.nn.Module) -> int:
    """Replace the Linear layers of ``model``'s transformer blocks by ``Int8Linear``, in place; returns how many."""
    targets = block_linear_names(model)
    if not targets:
        raise ValueError(
            f"quantize='int8' found no linear layers inside repeated transformer blocks of {type(model).__name__} "
            "(module names like 'encoder.layer.0.…' or 'layers.0.…'); load this model without quantize.")
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, Int8Linear.from_linear(getattr(parent, child)))
    return len(targets)
