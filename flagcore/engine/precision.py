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
