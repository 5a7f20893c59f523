"""Which floating-point type a model computes in."""

from __future__ import annotations

from typing import Literal

DtypeName = Literal["float32", "float16", "bfloat16"]


def compute_dtype_name(device: str, use_fp16: bool, use_bf16: bool) -> DtypeName:
    """fp32 on a CPU whatever the flags say (half precision there is ~100x slower);
    otherwise bf16 if asked, else fp16 if asked, else fp32 (bf16 wins, as in FlagEmbedding)."""
    if device.split(":")[0] == "cpu":
        return "float32"
    if use_bf16:
        return "bfloat16"
    if use_fp16:
        return "float16"
    return "float32"


def torch_dtype(name: DtypeName):  # type: ignore[no-untyped-def]
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


QUANTIZE_CHOICES = ("int8",)


def check_quantize(value: str | None, devices: list[str]) -> str | None:
    """``quantize`` validated: None, or 'int8' (a CPU path: per-token int8 activations, per-channel int8 weights)."""
    if value is None:
        return None
    if value not in QUANTIZE_CHOICES:
        raise ValueError(f"quantize must be None or one of {', '.join(map(repr, QUANTIZE_CHOICES))}, got {value!r}")
    accelerators = [d for d in devices if d.split(":")[0] != "cpu"]
    if accelerators:
        raise ValueError(
            f"quantize={value!r} is a CPU path, but devices include {', '.join(accelerators)}; on an accelerator "
            "use use_fp16=True or use_bf16=True instead, or pass devices='cpu'.")
    return value
