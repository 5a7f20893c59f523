"""Cosine similarity of two sets of embeddings (numpy arrays or torch tensors)."""

from __future__ import annotations

import numbers
from typing import Any

_ACCEPTED = "a numpy array, a torch tensor or a list of vectors (lists of numbers)"
#: values that cannot be one vector or a set of vectors (numpy would read None as NaN and a dict as an object)
_NOT_VECTORS = (str, bytes, bytearray, memoryview, dict, set, frozenset, numbers.Number)


def cosine_similarity(a: Any, b: Any, names: tuple[str, str] = ("embeddings_1", "embeddings_2")) -> Any:
    """``(n, m)`` cosine similarities of the rows of ``a`` and ``b`` (1-D inputs count as one row); torch in,
    torch out, otherwise numpy float32. ``names``: the arguments, for the messages."""
    for value, name in zip((a, b), names, strict=True):
        if value is None or isinstance(value, _NOT_VECTORS):
            raise TypeError(f"{name} must be {_ACCEPTED}, not {type(value).__name__}")
    if type(a).__module__.startswith("torch") or type(b).__module__.startswith("torch"):
        import torch

        x, y = (_converted(lambda v: torch.as_tensor(v).float(), v, name)
                for v, name in zip((a, b), names, strict=True))
        x, y = (v.reshape(1, -1) if v.ndim == 1 else v for v in (x, y))
        _check_shapes(tuple(x.shape), tuple(y.shape))
        return torch.nn.functional.normalize(x, dim=-1) @ torch.nn.functional.normalize(y, dim=-1).T
    return _numpy_cosine(a, b, names)


def _converted(convert: Any, value: Any, name: str) -> Any:
    """``convert(value)``; a value that is not numbers (a None or a string inside a list) names its argument."""
    try:
        return convert(value)
    except (TypeError, RuntimeError) as exc:  # torch: RuntimeError "Could not infer dtype of NoneType"
        raise TypeError(f"{name} must be {_ACCEPTED}: {exc}") from None
    except ValueError as exc:  # ragged rows, strings
        raise ValueError(f"{name} must be {_ACCEPTED}: {exc}") from None


def _float32_array(value: Any) -> Any:
    import numpy as np

    array = np.asarray(value)
    if array.dtype.kind not in "biuf":  # asarray(..., dtype=float32) would read a None inside a list as NaN
        raise TypeError(f"it holds values of dtype {array.dtype}, not numbers")
    return array.astype(np.float32, copy=False)


def _numpy_cosine(a: Any, b: Any, names: tuple[str, str]) -> Any:
    import numpy as np

    x, y = (_converted(_float32_array, v, name) for v, name in zip((a, b), names, strict=True))
    x, y = (v.reshape(1, -1) if v.ndim == 1 else v for v in (x, y))
    _check_shapes(x.shape, y.shape)
    x, y = (v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12) for v in (x, y))
    return x @ y.T


def _check_shapes(a: tuple, b: tuple) -> None:
    if len(a) != 2 or len(b) != 2 or a[1] != b[1]:
        raise ValueError(f"similarity needs two sets of vectors of the same width, got shapes {a} and {b}")
