"""Similarity of two sets of embeddings (numpy arrays or torch tensors): cosine, and the dot product and negative
euclidean / manhattan distances a sentence-transformers model may declare (``similarity_fn_name``)."""

from __future__ import annotations

import numbers
from typing import Any

_ACCEPTED = "a numpy array, a torch tensor or a list of vectors (lists of numbers)"
#: values that cannot be one vector or a set of vectors (numpy would read None as NaN and a dict as an object)
_NOT_VECTORS = (str, bytes, bytearray, memoryview, dict, set, frozenset, numbers.Number)


SIMILARITY_FUNCTIONS = ("cosine", "dot", "euclidean", "manhattan")


def similarity_of(a: Any, b: Any, function: str,
                  names: tuple[str, str] = ("embeddings_1", "embeddings_2")) -> Any:
    """``(n, m)`` similarities of the rows of ``a`` and ``b`` by ``function`` (one of :data:`SIMILARITY_FUNCTIONS`:
    cosine, dot product, negative euclidean or negative manhattan distance); torch in, torch out, otherwise numpy
    float32."""
    if function not in SIMILARITY_FUNCTIONS:
        raise ValueError(f"similarity function {function!r} is not one of {', '.join(SIMILARITY_FUNCTIONS)}")
    for value, name in zip((a, b), names, strict=True):
        if value is None or isinstance(value, _NOT_VECTORS):
            raise TypeError(f"{name} must be {_ACCEPTED}, not {type(value).__name__}")
    torch_in = type(a).__module__.startswith("torch") or type(b).__module__.startswith("torch")
    import torch

    if torch_in:
        x, y = (_converted(lambda v: torch.as_tensor(v).float(), v, name)
                for v, name in zip((a, b), names, strict=True))
    else:
        x, y = (torch.from_numpy(_converted(_float32_array, v, name)) for v, name in zip((a, b), names, strict=True))
    x, y = (v.reshape(1, -1) if v.ndim == 1 else v for v in (x, y))
    _check_shapes(tuple(x.shape), tuple(y.shape))
    if function == "cosine":
        result = torch.nn.functional.normalize(x, dim=-1) @ torch.nn.functional.normalize(y, dim=-1).T
    elif function == "dot":
        result = x @ y.T
    else:
        result = -torch.cdist(x, y, p=2.0 if function == "euclidean" else 1.0)
    return result if torch_in else result.numpy()


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
    return np.ascontiguousarray(array.astype(np.float32, copy=False))


def _check_shapes(a: tuple, b: tuple) -> None:
    if len(a) != 2 or len(b) != 2 or a[1] != b[1]:
        raise ValueError(f"similarity needs two sets of vectors of the same width, got shapes {a} and {b}")
