"""Reading a layer-wise checkpoint folder: its config.json and its safetensors weights, loaded strictly into this
family's own model classes (never through remote code)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, TypeVar

import torch
from torch import nn

Model = TypeVar("Model", bound=nn.Module)


def read_config(folder: Path) -> dict:
    with open(folder / "config.json", encoding="utf-8") as fh:
        return json.load(fh)


def load_state(folder: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors: ``model.safetensors`` or the shards of ``model.safetensors.index.json``."""
    from safetensors.torch import load_file

    index = folder / "model.safetensors.index.json"
    if index.is_file():
        with open(index, encoding="utf-8") as fh:
            shards = sorted(set(json.load(fh)["weight_map"].values()))
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(load_file(str(folder / shard)))
        return state
    single = folder / "model.safetensors"
    if not single.is_file():
        raise FileNotFoundError(f"{folder} has no model.safetensors (or index): the layer-wise rerankers load "
                                "safetensors weights only")
    return load_file(str(single))


def load_checkpoint(path: str | os.PathLike[str], build: Callable[[dict], Model], architecture: str,
                    dtype: torch.dtype, finish: Callable[[Model], None] | None = None) -> Model:
    """``build(config)`` on the meta device, then every tensor of the checkpoint assigned under its published name:
    a missing or unexpected tensor is an error naming it. ``finish`` rebuilds what is computed rather than loaded
    (rotary frequencies)."""
    folder = Path(os.path.expanduser(os.fspath(path)))
    config = read_config(folder)
    with torch.device("meta"):
        model = build(config)
    state = load_state(folder)
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"{folder} does not hold a {architecture} checkpoint of this shape: missing "
                         f"{missing[:5]}{'...' if len(missing) > 5 else ''}, unexpected "
                         f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, assign=True)
    if finish is not None:
        finish(model)
    return model.eval()


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """0 where attention is allowed, the dtype's minimum elsewhere (a row allowed nothing gets a uniform, harmless
    distribution instead of NaN)."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed,
                                                                                     torch.finfo(dtype).min)


def causal_padding_allowed(attention_mask: torch.Tensor) -> torch.Tensor:
    """``(batch, 1, length, length)`` booleans: a query may see earlier (or its own) real tokens."""
    length = attention_mask.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=attention_mask.device).tril()
    return causal[None, None] & attention_mask[:, None, None, :].bool()
