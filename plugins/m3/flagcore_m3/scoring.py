"""Scores between M3 outputs: lexical matching, ColBERT late interaction, and their weighted mixes."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def lexical_score(query: Mapping[str, float], passage: Mapping[str, float]) -> float:
    """Σ over tokens present in both of query weight × passage weight."""
    if len(passage) < len(query):
        query, passage = passage, query
    return float(sum(weight * passage[token] for token, weight in query.items() if token in passage))


def compute_lexical_matching_score(lexical_weights_1: Any, lexical_weights_2: Any) -> Any:
    """Two dicts → a float; two lists of dicts → an ``(len1, len2)`` array (``(0, len2)`` for an empty first list)."""
    if isinstance(lexical_weights_1, Mapping) and isinstance(lexical_weights_2, Mapping):
        return lexical_score(lexical_weights_1, lexical_weights_2)
    if _is_list_of_mappings(lexical_weights_1) and _is_list_of_mappings(lexical_weights_2):
        scores = [[lexical_score(a, b) for b in lexical_weights_2] for a in lexical_weights_1]
        return np.array(scores, dtype=np.float64).reshape(len(lexical_weights_1), len(lexical_weights_2))
    raise ValueError(
        "compute_lexical_matching_score expects two dicts (token id → weight) or two lists of such dicts, "
        f"got {type(lexical_weights_1).__name__} and {type(lexical_weights_2).__name__}"
    )


def _is_list_of_mappings(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and all(
        isinstance(item, Mapping) for item in value)


def colbert_score(query_vectors: Any, passage_vectors: Any) -> float:
    """Mean over query vectors of the best dot product with any passage vector (no padding involved)."""
    q = _as_matrix(query_vectors, "query_vectors")
    p = _as_matrix(passage_vectors, "passage_vectors")
    if q.shape[1] != p.shape[1]:
        raise ValueError(f"ColBERT vectors differ in width: {q.shape[1]} and {p.shape[1]}")
    if len(q) == 0 or len(p) == 0:
        return 0.0
    return float((q @ p.T).max(axis=1).sum() / q.shape[0])


def _as_matrix(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().float().numpy()
    not_finite = (f"{name} must hold finite numbers within float32's range (magnitudes up to 3.4e38): it holds "
                  "NaN, an infinity or a number too large")
    try:
        with np.errstate(over="ignore"):  # a number past float32's range becomes inf, refused below
            array = np.asarray(value, dtype=np.float32)
    except OverflowError:  # a Python int too large for any float (10**400)
        raise ValueError(not_finite) from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (tokens × dim), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(not_finite)
    return array


def check_weights(weights: Any) -> tuple[float, float, float]:
    """``weights_for_different_modes``: [dense, sparse, colbert] (FlagEmbedding's order)."""
    if weights is None:
        return 1.0, 1.0, 1.0
    try:
        dense, sparse, colbert = (float(w) for w in weights)
    except (TypeError, ValueError):
        raise ValueError(
            f"weights_for_different_modes must be three numbers [dense, sparse, colbert], got {weights!r}") from None
    except OverflowError:  # an int too large for a float
        dense = sparse = colbert = math.inf
    if not all(math.isfinite(w) for w in (dense, sparse, colbert, dense + sparse, dense + sparse + colbert)):
        # NaN or inf would make every mixed score NaN
        raise ValueError(f"weights_for_different_modes must be finite numbers [dense, sparse, colbert] with finite "
                         f"sums, got {reprlib.repr(weights)}")
    if dense + sparse <= 0 or dense + sparse + colbert <= 0:
        raise ValueError(f"weights_for_different_modes {weights!r} must have positive sums")
    return dense, sparse, colbert


def mix(dense: float, sparse: float, colbert: float, weights: tuple[float, float, float]) -> dict[str, float]:
    wd, ws, wc = weights
    return {
        "colbert": colbert,
        "sparse": sparse,
        "dense": dense,
        "sparse+dense": (sparse * ws + dense * wd) / (ws + wd),
        "colbert+sparse+dense": (colbert * wc + sparse * ws + dense * wd) / (wc + ws + wd),
    }
