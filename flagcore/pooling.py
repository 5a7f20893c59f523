"""Pooling a ``(batch, tokens, hidden)`` state to ``(batch, hidden)``: FlagEmbedding's three methods and the other
modes sentence-transformers models declare, one definition each.

``cls``, ``mean`` and ``last_token`` are FlagEmbedding's; ``max``, ``weightedmean`` and ``mean_sqrt_len_tokens``
are sentence-transformers' (its ``lasttoken`` is ``last_token`` here). A prompt excluded from pooling
(sentence-transformers' ``include_prompt=False``) is taken out of the mask first (:func:`without_prompt`).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from .enums import POOLING_METHODS

#: every mode :func:`pool` computes: FlagEmbedding's, then sentence-transformers' others
ALL_POOLING_MODES: tuple[str, ...] = (*POOLING_METHODS, "max", "weightedmean", "mean_sqrt_len_tokens")


def check_pooling(method: Any, supported: tuple[str, ...], model_class: str) -> str:
    """The pooling name (a :class:`~flagcore.PoolingMethod` member counts as its value), if the class supports it."""
    if isinstance(method, Enum):
        method = method.value
    if method not in supported:
        raise ValueError(f"pooling_method={method!r} is not supported by {model_class}; "
                         f"use one of {', '.join(supported)}")
    return method


def pool(hidden: Any, attention_mask: Any, method: str, *, positions_from: Any = None) -> Any:
    """One pooled vector per row.

    ``cls``: the first real token (the first column with right padding); ``mean``: masked mean; ``last_token``: the
    last real token, for left or right padding; ``max``: masked maximum; ``weightedmean``: tokens weighted by their
    position (1, 2, ... from the first real token); ``mean_sqrt_len_tokens``: the masked sum over the square root of
    the token count. ``positions_from``: the mask positions count from, when ``attention_mask`` has a prompt taken out
    (the prompt's tokens keep their weight positions)."""
    import torch

    mask = attention_mask
    if method == "cls":
        if bool((mask[:, 0] == 1).all()):
            return hidden[:, 0]
        first = mask.to(torch.int32).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), first]
    if method in ("mean", "mean_sqrt_len_tokens"):
        summed = (hidden * mask.unsqueeze(-1).float()).sum(dim=1)  # fp32 sums for half-precision states
        count = mask.sum(dim=1, keepdim=True).float().clamp(min=1e-9)
        return summed / (count if method == "mean" else count.sqrt())
    if method == "last_token":
        if bool((mask[:, -1] == 1).all()):
            return hidden[:, -1]
        values, from_end = mask.flip(1).max(dim=1)
        last = torch.where(values == 0, 0, hidden.shape[1] - 1 - from_end)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    if method == "max":
        return hidden.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1).values
    if method == "weightedmean":
        reference = mask if positions_from is None else positions_from
        weights = torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype).view(1, -1)
        weights = weights - reference.to(torch.int32).argmax(dim=1, keepdim=True).to(hidden.dtype)
        weighted = mask.to(hidden.dtype) * weights
        return (hidden * weighted.unsqueeze(-1)).sum(dim=1) / weighted.sum(dim=1, keepdim=True).clamp(min=1e-9)
    raise ValueError(f"unknown pooling method {method!r}; use one of {', '.join(ALL_POOLING_MODES)}")


def without_prompt(attention_mask: Any, prompt_length: int) -> Any:
    """A copy of the mask with each row's first ``prompt_length`` real tokens (the prompt, with the tokenizer's
    leading special token) taken out: what is pooled when a model says ``include_prompt=False``."""
    import torch

    first_real = attention_mask.to(torch.int32).argmax(dim=1, keepdim=True)
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device).unsqueeze(0)
    return attention_mask.masked_fill(positions < first_real + prompt_length, 0)
