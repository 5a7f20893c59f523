"""Opt-in int8 inference on a CPU: int8 activations scaled per token, int8 weights scaled per output channel.

Two plans (``quantize=``; ``docs/quantization.md`` has the measurements):

- ``'int8'``: per-token *asymmetric* activations (each token's own minimum..maximum in 256 steps: post-GELU
  activations are nearly all ≥ -0.17, so a symmetric range wastes half its codes), and the few input channels
  with the largest activations (one in 48, ranked once on a fixed calibration batch: ``int8_calibration``) kept
  in fp32: their activations no longer widen every token's range, and their weights no longer cost their row's
  precision. all-MiniLM-L6-v2: min cosine 0.999 to fp32.
- ``'int8-per-token'``: per-token symmetric activations (absmax / 127), every channel in int8: no calibration,
  a little faster, min cosine 0.994.

Both keep each token's scale its own (a batch-wide scale lets a few large activations flatten the precision of
every other token: mean cosine 0.94). The int8 × int8 products run in ``torch._int_mm`` (VNNI/AMX on x86).
Quantizing the rows and rescaling the int32 products are element-wise passes that ``torch.compile`` fuses into one
loop each; where it cannot (no C++ compiler), eager ops do the same arithmetic, slower, after one warning.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import torch

from .blocks import block_linear_names
from .int8_calibration import outlier_channels

Kernel = Callable[..., Any]
_compiled: dict[Kernel, Kernel] = {}
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


def quantize_rows_asymmetric(x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Asymmetric int8 codes of each row of ``x × keep`` (its minimum..maximum in 256 steps), the row's scale and
    offset: a row is ``scale × (codes + offset)``."""
    x = x * keep
    low, high = x.amin(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)
    scale = ((high - low) / 255.0).clamp(min=1e-12)
    offset = torch.round(low / scale) + 128.0
    return (torch.round(x / scale) - offset).clamp(-128, 127).to(torch.int8), scale, offset


def rescale_asymmetric(products: torch.Tensor, row_scale: torch.Tensor, row_offset: torch.Tensor,
                       column_sum: torch.Tensor, column_scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """fp32 outputs from the int32 products of asymmetric rows: the offset's share (offset × the weight column's
    code sum) added back, × the row's and the column's scale, + bias (a vector, or a whole output's worth)."""
    return torch.addcmul(bias, (products + row_offset * column_sum) * column_scale, row_scale)


def rescale_asymmetric_plus(products: torch.Tensor, row_scale: torch.Tensor, row_offset: torch.Tensor,
                            column_sum: torch.Tensor, column_scale: torch.Tensor, bias: torch.Tensor,
                            fp32_part: torch.Tensor) -> torch.Tensor:
    """``rescale_asymmetric`` + the fp32 channels' products, in the same pass."""
    return rescale_asymmetric(products, row_scale, row_offset, column_sum, column_scale, fp32_part + bias)


def _fused(kernel: Kernel) -> Kernel:
    if kernel not in _compiled:
        _compiled[kernel] = torch.compile(kernel, dynamic=True)
    return _compiled[kernel]


def _eager(kernel: Kernel) -> Kernel:
    return kernel


def _fall_back_to_eager(error: BaseException) -> None:
    global _use_fused
    _use_fused = False
    warnings.warn(
        f"int8 kernels could not be compiled ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
        "running them as separate PyTorch ops, which gives the same numbers more slowly. Install a C++ "
        "compiler (torch.compile's CPU backend needs one) for the fused kernels.",
        RuntimeWarning, stacklevel=4)


def _quantized_weight(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 codes of a (out, in) weight, transposed to (in, out) for ``torch._int_mm``, and each output's scale."""
    codes, scale = quantize_rows(weight.detach().to(torch.float32))
    return codes.t().contiguous(), scale.squeeze(1)


def _bias(linear: torch.nn.Linear) -> torch.Tensor:
    if linear.bias is None:
        return torch.zeros(linear.out_features)
    return linear.bias.detach().to(torch.float32).clone()


class _Int8Base(torch.nn.Module):
    """What both plans share: the shapes, and running the fused kernels or, once they fail to compile, eager ops."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(torch.float32)
        if _use_fused:
            try:
                out = self._forward(rows, _fused)
            except torch._dynamo.exc.BackendCompilerFailed as error:
                _fall_back_to_eager(error)
            else:
                return out.reshape(*x.shape[:-1], self.out_features)
        return self._forward(rows, _eager).reshape(*x.shape[:-1], self.out_features)

    def _forward(self, rows: torch.Tensor, kernel: Callable[[Kernel], Kernel]) -> torch.Tensor:
        raise NotImplementedError


class Int8Linear(_Int8Base):
    """``quantize='int8-per-token'``: a drop-in for ``torch.nn.Linear`` at inference with int8 weights and
    per-token symmetric int8 activations."""

    weight_t: torch.Tensor
    weight_scale: torch.Tensor
    bias: torch.Tensor

    def __init__(self, weight_t: torch.Tensor, weight_scale: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__(*weight_t.shape)
        self.register_buffer("weight_t", weight_t)  # int8, (in_features, out_features), contiguous
        self.register_buffer("weight_scale", weight_scale)  # fp32, (out_features,)
        self.register_buffer("bias", bias)  # fp32, (out_features,); zeros where the Linear had none

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear) -> Int8Linear:
        return cls(*_quantized_weight(linear.weight), _bias(linear))

    def _forward(self, rows: torch.Tensor, kernel: Callable[[Kernel], Kernel]) -> torch.Tensor:
        codes, row_scale = kernel(quantize_rows)(rows)
        products = torch._int_mm(codes, self.weight_t)
        return kernel(rescale)(products, row_scale, self.weight_scale, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-token"


class Int8OutlierLinear(_Int8Base):
    """``quantize='int8'``: per-token asymmetric int8 activations and per-channel int8 weights for all input
    channels but a few outlier channels, whose activations and weights stay fp32."""

    weight_t: torch.Tensor
    weight_scale: torch.Tensor
    column_sum: torch.Tensor
    bias: torch.Tensor
    keep: torch.Tensor
    outliers: torch.Tensor
    outlier_weight: torch.Tensor

    def __init__(self, linear: torch.nn.Linear, outliers: torch.Tensor) -> None:
        super().__init__(linear.in_features, linear.out_features)
        weight = linear.weight.detach().to(torch.float32)
        keep = torch.ones(self.in_features)
        keep[outliers] = 0.0
        weight_t, weight_scale = _quantized_weight(weight * keep)  # the outlier columns don't set the row's scale
        self.register_buffer("weight_t", weight_t)  # int8, (in_features, out_features); outlier rows are 0
        self.register_buffer("weight_scale", weight_scale)  # fp32, (out_features,)
        self.register_buffer("column_sum", weight_t.sum(dim=0, dtype=torch.int32).to(torch.float32))
        self.register_buffer("bias", _bias(linear))
        self.register_buffer("keep", keep)  # fp32 0/1, (in_features,): 0 at the outlier channels
        self.register_buffer("outliers", outliers.to(torch.long))  # (k,)
        self.register_buffer("outlier_weight", weight[:, outliers].t().contiguous())  # fp32, (k, out_features)

    def _forward(self, rows: torch.Tensor, kernel: Callable[[Kernel], Kernel]) -> torch.Tensor:
        codes, row_scale, row_offset = kernel(quantize_rows_asymmetric)(rows, self.keep)
        products = torch._int_mm(codes, self.weight_t)
        scales = (row_scale, row_offset, self.column_sum, self.weight_scale, self.bias)
        if not self.outliers.numel():  # a layer the calibration pass did not reach
            return kernel(rescale_asymmetric)(products, *scales)
        # a plain mm: addmm would first copy the bias into every row of its output, a pass as long as the product
        fp32_part = torch.mm(rows.index_select(1, self.outliers), self.outlier_weight)
        return kernel(rescale_asymmetric_plus)(products, *scales, fp32_part)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, int8 per-token asymmetric, "
                f"{self.outliers.numel()} fp32 outlier channels")


def quantize_transformer_blocks(model: torch.nn.Module, plan: str = "int8") -> int:
    """Replace the Linear layers of ``model``'s transformer blocks by the int8 layers of ``plan`` ('int8' or
    'int8-per-token'), in place; returns how many."""
    targets = block_linear_names(model)
    if not targets:
        raise ValueError(
            f"quantize={plan!r} found no linear layers inside repeated transformer blocks of {type(model).__name__} "
            "(module names like 'encoder.layer.0.…' or 'layers.0.…'); load this model without quantize.")
    outliers = outlier_channels(model, targets) if plan == "int8" else {}
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        linear = getattr(parent, child)
        if plan == "int8":
            found = outliers.get(name, torch.zeros(0, dtype=torch.long))
            setattr(parent, child, Int8OutlierLinear(linear, found))
        else:
            setattr(parent, child, Int8Linear.from_linear(linear))
    return len(targets)
