"""How many tokens a loaded model can read: models with learned absolute position embeddings (BERT, XLM-R, ...)
fail with an opaque tensor-size error past their table; a longer ``max_length`` is clamped, with one warning, and a
batch is never padded past the table. A ``max_length`` below the special tokens the tokenizer adds is refused: the
tokenizer would truncate nothing."""

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


def holder_position_limit(holder: Any) -> int | None:
    """:func:`position_limit` of ``holder.model``, worked out once per model."""
    state = holder.__dict__
    if "_position_limit" not in state:
        model = getattr(holder, "model", None)
        state["_position_limit"] = position_limit(model) if hasattr(model, "named_modules") else None
    return state["_position_limit"]


def special_token_count(tokenizer: Any) -> int:
    """Special tokens the tokenizer adds to one text ([CLS] and [SEP], <s> and </s>, a BOS); 0 when it cannot say."""
    count = getattr(tokenizer, "num_special_tokens_to_add", None)
    return int(count()) if callable(count) else 0


def check_room_for_special_tokens(holder: Any, max_length: int, argument: str) -> int:
    """``max_length``, refused when it is below the special tokens the tokenizer adds to every text: the tokenizer
    then truncates nothing, and the whole text is embedded (past a position table, torch fails)."""
    special = special_token_count(holder.tokenizer)
    if max_length < special:
        raise ValueError(f"{argument}={max_length} leaves no room for the {special} special tokens the tokenizer of "
                         f"{holder.model_name_or_path} adds to every text; pass a {argument} of at least {special}")
    return max_length


def fit_max_length(holder: Any, max_length: int) -> int:
    """``max_length``, or the model's position limit when that is smaller (warned once per value and model)."""
    state = holder.__dict__
    limit = holder_position_limit(holder)
    if limit is None or max_length <= limit:
        return max_length
    warned = state.setdefault("_max_length_warned", set())
    if max_length not in warned:
        warned.add(max_length)
        warnings.warn(f"max_length={max_length} is more than {holder.model_name_or_path} can read: its learned "
                      f"position embeddings cover {limit} tokens, so inputs are truncated to {limit} tokens (pass "
                      f"a max_length of at most {limit} to silence this)", UserWarning, stacklevel=4)
    return limit
