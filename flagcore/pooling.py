"""Pooling a ``(batch, tokens, hidden)`` state to ``(batch, hidden)``, as FlagEmbedding does."""

from __future__ import annotations

from enum import Enum
from typing import Any

from .enums import POOLING_METHODS


def check_pooling(method: Any, supported: tuple[str, ...], model_class: str) -> str:
    """The pooling name (a :class:`~flagcore.PoolingMethod` member counts as its value), if the class supports it."""
    if isinstance(method, Enum):
        method = method.value
    if method not in supported:
        raise ValueError(f"pooling_method={method!r} is not supported by {model_class}; "
                         f"use one of {', '.join(supported)}")
    return method


def pool(hidden: Any, attention_mask: Any, method: str) -> Any:
    """``cls``: the first token (right padding assumed); ``mean``: masked mean computed with a float mask;
    ``last_token``: the last real token, for left or right padding."""
    import torch

    if method == "cls":
        return hidden[:, 0]
    if method == "mean":
        summed = (hidden * attention_mask.unsqueeze(-1).float()).sum(dim=1)
        return summed / attention_mask.sum(dim=1, keepdim=True).float()
    if method == "last_token":
        if bool((attention_mask[:, -1] == 1).all()):
            return hidden[:, -1]
        last = attention_mask.sum(dim=1) - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise ValueError(f"unknown pooling method {method!r}; use one of {', '.join(POOLING_METHODS)}")
