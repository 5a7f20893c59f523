"""How many tokens a loaded model can read: models with learned absolute position embeddings (BERT, XLM-R, ...)
fail with an opaque tensor-size error past their table; a longer ``max_length`` is clamped, with one warning."""

from __future__ import annotations

import warnings
from typing import Any


def position_limit(model: Any) -> int | None:
    """Tokens the model's learned position table covers (XLM-R style tables start after the padding index), or
    None when positions are computed (rotary) or the model has no such table."""
    import torch

    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] == "position_embeddings" and isinstance(module, torch.nn.Embedding):
            owner = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            padding = getattr(owner, "padding_idx", None)
            return module.num_embeddings - (padding + 1 if isinstance(padding, int) else 0)
    return None


def fit_max_length(holder: Any, max_length: int) -> int:
    """``max_length``, or the model's position limit when that is smaller (warned once per value and model)."""
    state = holder.__dict__
    if "_position_limit" not in state:
        model = getattr(holder, "model", None)
        state["_position_limit"] = position_limit(model) if hasattr(model, "named_modules") else None
    limit = state["_position_limit"]
    if limit is None or max_length <= limit:
        return max_length
    warned = state.setdefault("_max_length_warned", set())
    if max_length not in warned:
        warned.add(max_length)
        warnings.warn(f"max_length={max_length} is more than {holder.model_name_or_path} can read: its learned "
                      f"position embeddings cover {limit} tokens, so inputs are truncated to {limit} tokens (pass "
                      f"a max_length of at most {limit} to silence this)", UserWarning, stacklevel=4)
    return limit
