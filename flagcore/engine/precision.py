"""Which floating-point type a model computes in."""

from __future__ import annotations

from typing import Literal

from .devices import accelerators, is_cpu

DtypeName = Literal["float32", "float16", "bfloat16"]


def compute_dtype_name(device: str, use_fp16: bool, use_bf16: bool) -> DtypeName:
    """On a CPU: bf16 when asked and the CPU has native bf16, else fp32 (fp16, and bf16 without native support, run
    ~100x slower there). Elsewhere: bf16 if asked, else fp16 if asked, else fp32 (bf16 wins, as in FlagEmbedding)."""
    if is_cpu(device):
        from .cpu import has_native_bf16

        return "bfloat16" if use_bf16 and has_native_bf16() else "float32"
    if use_bf16:
        return "bfloat16"
    if use_fp16:
        return "float16"
    return "float32"


def torch_dtype(name: DtypeName):  # type: ignore[no-untyped-def]
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


#: ``quantize=`` plans (CPU): 'int8' keeps ~2% outlier input channels in fp32 and scales activations per token
#: asymmetrically (min cosine ~0.999 to fp32); 'int8-per-token' quantizes every channel, symmetric per token (~0.994)
QUANTIZE_CHOICES = ("int8", "int8-per-token")


def cpu_precision_notice(devices: list[str], use_bf16: bool) -> str | None:
    """The one-line notice for ``use_bf16=True`` on a CPU without native bf16 (it computes in fp32 there), else None."""
    from .cpu import CPU_BF16_ENV, has_native_bf16

    if not use_bf16 or not any(is_cpu(d) for d in devices) or has_native_bf16():
        return None
    return (f"use_bf16=True: this CPU has no native bf16 (AVX512-BF16, AMX or Arm BF16), where bf16 runs ~100x slower "
            f"than fp32, so the model computes in fp32 (set {CPU_BF16_ENV}=1 if the detection is wrong)")


def check_quantize(value: str | None, devices: list[str]) -> str | None:
    """``quantize`` validated: None, or one of ``QUANTIZE_CHOICES`` (CPU paths: int8 activations scaled per token,
    int8 weights scaled per output channel; docs/quantization.md)."""
    if value is None:
        return None
    if value not in QUANTIZE_CHOICES:
        raise ValueError(f"quantize must be None or one of {', '.join(map(repr, QUANTIZE_CHOICES))}, got {value!r}")
    others = accelerators(devices)
    if others:
        raise ValueError(
            f"quantize={value!r} is a CPU path, but devices include {', '.join(others)}; on an accelerator "
            "use use_fp16=True or use_bf16=True instead, or pass devices='cpu'.")
    return value
