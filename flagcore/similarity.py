"""Cosine similarity of two sets of embeddings (numpy arrays or torch tensors)."""

from __future__ import annotations

from typing import Any


def cosine_similarity(a: Any, b: Any) -> Any:
    """``(n, m)`` cosine similarities of the rows of ``a`` and ``b`` (1-D inputs count as one row); torch in,
    torch out, otherwise numpy float32."""
    if type(a).__module__.startswith("torch") or type(b).__module__.startswith("torch"):
        import torch

        x, y = (torch.as_tensor(v).float() for v in (a, b))
        x, y = (v.reshape(1, -1) if v.ndim == 1 else v for v in (x, y))
        _check_shapes(tuple(x.shape), tuple(y.shape))
        return torch.nn.functional.normalize(x, dim=-1) @ torch.nn.functional.normalize(y, dim=-1).T
    return _numpy_cosine(a, b)


def _numpy_cosine(a: Any, b: Any) -> Any:
    import numpy as np

    x, y = (np.asarray(v, dtype=np.float32) for v in (a, b))
    x, y = (v.reshape(1, -1) if v.ndim == 1 else v for v in (x, y))
    _check_shapes(x.shape, y.shape)
    x, y = (v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12) for v in (x, y))
    return x @ y.T


def _check_shapes(a: tuple, b: tuple) -> None:
    if len(a) != 2 or len(b) != 2 or a[1] != b[1]:
        raise ValueError(f"similarity needs two sets of vectors of the same width, got shapes {a} and {b}")
