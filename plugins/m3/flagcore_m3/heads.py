"""The two M3 heads: ``colbert_linear`` (hidden → colbert dim) and ``sparse_linear`` (hidden → 1).

Read from ``<name>.safetensors`` or ``<name>.pt`` (with ``torch.load(weights_only=True)``: never unpickling
arbitrary objects). A missing head is ``None``: FlagEmbedding silently initialises random heads instead.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from flagcore.family import head_files, refused_pickle_message


def load_head(folder: Path, stem: str, *, in_features: int, out_features: int | None, dtype: Any) -> Any:
    import torch

    safetensors_file, pickle_file = (folder / name for name in head_files(stem))
    if safetensors_file.exists():
        from safetensors.torch import load_file

        state = load_file(str(safetensors_file))
    elif pickle_file.exists():
        try:
            state = torch.load(pickle_file, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise ValueError(refused_pickle_message(str(pickle_file), exc)) from exc
    else:
        return None
    if not isinstance(state, dict) or "weight" not in state:
        raise ValueError(f"{stem} head in {folder} must hold a state dict with 'weight' (and 'bias')")
    weight = state["weight"]
    if weight.ndim != 2 or weight.shape[1] != in_features:
        raise ValueError(f"{stem} head in {folder} has weight of shape {tuple(weight.shape)}; "
                         f"expected (out, {in_features}) for this backbone")
    if out_features is not None and weight.shape[0] != out_features:
        raise ValueError(f"{stem} head in {folder} has {weight.shape[0]} outputs; expected {out_features}")
    head = torch.nn.Linear(weight.shape[1], weight.shape[0], bias="bias" in state)
    head.load_state_dict({k: v for k, v in state.items() if k in ("weight", "bias")})
    return head.to(dtype)
