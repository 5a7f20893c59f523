"""Dynamic padding of tokenized features into tensors."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

#: Tokenized texts or pairs, unpadded: column name (``input_ids``, ``attention_mask``, ...) → one id list per row.
Columns = dict[str, list[list[int]]]


def tokenizer_pad_values(tokenizer: Any) -> dict[str, int]:
    """What each column is padded with: the tokenizer's pad id (0 when it has none), its pad token type, mask 0."""
    pad_id = getattr(tokenizer, "pad_token_id", None)
    return {
        "input_ids": pad_id if pad_id is not None else 0,
        "token_type_ids": getattr(tokenizer, "pad_token_type_id", 0) or 0,
        "attention_mask": 0,
    }


def pad_features(
    columns: Mapping[str, Sequence[Sequence[int]]],
    pad_values: Mapping[str, int],
    padding_side: str = "right",
    pad_to_multiple_of: int | None = None,
    max_width: int | None = None,
):  # type: ignore[no-untyped-def]
    """Pad each column (``input_ids``, ``attention_mask``, ...) to the longest row, rounded up to a multiple of
    ``pad_to_multiple_of`` but never past ``max_width`` (a model's position table: padded to it then, the longest row
    being no longer), and at least one column wide; return int64 tensors.

    Columns without an entry in ``pad_values`` are padded with 0.
    """
    import numpy as np
    import torch

    first = next(iter(columns.values()))
    rows = len(first)
    longest = max((len(r) for r in first), default=0)
    # a batch of only empty rows (empty texts, a tokenizer that adds no special tokens) still gets one padding
    # column, as such a row gets in a batch with longer ones: a zero-width batch crashes attention's reshapes
    width = max(longest, 1) if rows else 0
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
        if max_width is not None:
            width = max(min(width, max_width), longest)
    out = {}
    for key, values in columns.items():
        array = np.full((rows, width), pad_values.get(key, 0), dtype=np.int64)
        for i, row in enumerate(values):
            n = len(row)
            if n:
                if padding_side == "left":
                    array[i, width - n:] = row
                else:
                    array[i, :n] = row
        out[key] = torch.from_numpy(array)
    return out
