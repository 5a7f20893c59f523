"""The ``ModelMeta`` MTEB stores with every result, filled from the loaded flagcore model rather than from the hub:
nothing here reads the network. MTEB keys its results cache by name, revision and ``experiment_kwargs``, so a local
folder gets a revision derived from its path and a run in another precision or backend gets its own entry."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from mteb.models.model_meta import ModelMeta, ScoringFunction

from flagcore import AbsEmbedder, AbsReranker

_SCORING = {"cosine": ScoringFunction.COSINE, "dot": ScoringFunction.DOT_PRODUCT}
_DTYPE_SWITCHES = {"bfloat16": "use_bf16", "float16": "use_fp16"}
_BACKEND_FRAMEWORKS = {"openvino": "OpenVINO", "onnxruntime": "ONNX", "onnx": "ONNX"}


def scoring_function(model: AbsEmbedder) -> ScoringFunction | None:
    """MTEB's name for the model's similarity (cosine unless a sentence-transformers model declares another); None
    for one MTEB has no name for (euclidean, manhattan), which the encoder then computes with the model itself."""
    return _SCORING.get(model.similarity_fn_name)


def identity(model_name_or_path: str, name: str | None, revision: str | None) -> tuple[str, str | None]:
    """(name, revision) for the results. A hub id is its own name. A local folder is ``local/<folder>`` with the
    revision ``local-<hash of its absolute path>``, so that two folders both called ``model`` never share cached
    results; ``name`` / ``revision`` given by the caller win."""
    if os.path.isdir(model_name_or_path):
        folder = Path(model_name_or_path).resolve()
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:10]
        return name or f"local/{folder.name}", revision or f"local-{digest}"
    return name or model_name_or_path, revision


def embedder_meta(model: AbsEmbedder, loader: Any, *, name: str | None, revision: str | None,
                  use_instructions: bool) -> ModelMeta:
    """The ModelMeta of an embedder: dimension, token limit, similarity and size read off the loaded model."""
    model_name, model_revision = identity(model.model_name_or_path, name, revision)
    return ModelMeta.create_empty(overwrites=dict(
        loader=loader, name=model_name, revision=model_revision, model_type=["dense"],
        n_parameters=_n_parameters(model), max_tokens=model.input_limit(query=False), embed_dim=model.embedding_dim,
        similarity_fn_name=scoring_function(model), framework=_frameworks(model), use_instructions=use_instructions,
        experiment_kwargs=_experiment(model, truncate_dim=model.truncate_dim) or None,
    ))


def reranker_meta(model: AbsReranker, loader: Any, *, name: str | None, revision: str | None) -> ModelMeta:
    """The ModelMeta of a reranker (``model_type=["cross-encoder"]``, which is how MTEB tells it is one)."""
    model_name, model_revision = identity(model.model_name_or_path, name, revision)
    return ModelMeta.create_empty(overwrites=dict(
        loader=loader, name=model_name, revision=model_revision, model_type=["cross-encoder"],
        n_parameters=_n_parameters(model), max_tokens=model.input_limit(), framework=_frameworks(model),
        use_instructions=model.query_instruction_for_rerank is not None, experiment_kwargs=_experiment(model) or None,
    ))


def _n_parameters(model: AbsEmbedder | AbsReranker) -> int | None:
    parameters = getattr(model.model, "parameters", None)
    if not callable(parameters):
        return None  # a backend that holds no torch module (OpenVINO's compiled model)
    return int(sum(parameter.numel() for parameter in parameters()))


def _frameworks(model: AbsEmbedder | AbsReranker) -> list[str]:
    backend = _BACKEND_FRAMEWORKS.get(str(model.backend))
    return ["PyTorch"] + ([backend] if backend else [])


def _experiment(model: AbsEmbedder | AbsReranker, **extra: Any) -> dict[str, Any]:
    """What makes this run's numbers differ from a float32 torch run of the same model, written as the factory
    keywords that reproduce it: MTEB passes ``experiment_kwargs`` back to the loader in ``ModelMeta.load_model``."""
    settings: dict[str, Any] = {key: value for key, value in extra.items() if value is not None}
    dtype = str(model.compute_dtype)
    if dtype in _DTYPE_SWITCHES:
        settings[_DTYPE_SWITCHES[dtype]] = True
    if model.quantize:
        settings["quantize"] = str(model.quantize)
    if model.backend != "torch":
        settings["backend"] = str(model.backend)
    return settings
