"""The activation a sentence-transformers CrossEncoder saved with its model (config.json ``sentence_transformers``
``activation_fn``, or the older ``sbert_ce_default_activation_function``): what ``normalize=True`` applies."""

from __future__ import annotations

import math
import os
from typing import Callable

from ..known_models import known_model
from ..probe import model_folder, model_name_from_reference
from .files import SentenceTransformersFormatError, json_object


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


#: the activations flagcore applies, by torch.nn class name
ACTIVATIONS: dict[str, Callable[[float], float]] = {"Sigmoid": _sigmoid, "Identity": float, "Tanh": math.tanh}


def declared_activation(reference: str | os.PathLike[str], cache_dir: str | None = None) -> tuple[str, str] | None:
    """(torch.nn class name, where it was read) of a cross-encoder's saved activation, or None when its config.json
    declares none (or the model is in FlagEmbedding's name table, whose behaviour is kept)."""
    folder = model_folder(reference, cache_dir)
    if folder is None or known_model(model_name_from_reference(os.fspath(reference)), "reranker") is not None:
        return None
    saved_by_st = json_object(folder / "config_sentence_transformers.json")
    config = json_object(folder / "config.json")
    saved = config.get("sentence_transformers")
    path, source = None, ""
    if saved_by_st.get("activation_fn") is not None:  # sentence-transformers 5.x and later
        path, source = saved_by_st["activation_fn"], "config_sentence_transformers.json activation_fn"
    elif isinstance(saved, dict) and saved.get("activation_fn") is not None:
        path, source = saved["activation_fn"], "config.json sentence_transformers.activation_fn"
    elif config.get("sbert_ce_default_activation_function") is not None:
        path = config["sbert_ce_default_activation_function"]
        source = "config.json sbert_ce_default_activation_function"
    if path is None:
        return None
    name = path.rsplit(".", 1)[-1] if isinstance(path, str) and path.startswith("torch.nn.") else None
    if name not in ACTIVATIONS:
        raise SentenceTransformersFormatError(
            f"{folder / 'config.json'}: the saved cross-encoder activation {path!r} ({source}) is not one flagcore "
            f"applies ({', '.join(ACTIVATIONS)} of torch.nn); it runs no code from model files")
    return name, source

