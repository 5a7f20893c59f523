"""FlagAutoModel / FlagAutoReranker: resolve a model to a plugin's class and build it."""

from __future__ import annotations

import logging
import os
from enum import Enum
from typing import Any, List, Union

from .embedder import AbsEmbedder
from .enums import EmbedderModelClass, Kind, RerankerModelClass
from .probe import ModelProbe
from .reference_checks import check_reference, download_failure
from .reranker import AbsReranker
from .resolve import Resolution, resolve

logger = logging.getLogger(__name__)


def _build(kind: Kind, model_name_or_path: str | os.PathLike[str], model_class: str | Enum | None,
           explicit: dict[str, Any]) -> Any:
    prefer_plugin = explicit.pop("prefer_plugin", None)
    ignore_classifier_head = explicit.pop("ignore_classifier_head", False)
    probe = ModelProbe.from_reference(model_name_or_path, cache_dir=explicit.get("cache_dir"))
    check_reference(probe)
    resolution = resolve(probe, kind, model_class, prefer_plugin=prefer_plugin)
    if kind == "embedder" and probe.is_sequence_classifier and not ignore_classifier_head:
        raise ValueError(
            f"{probe.reference!r} is a {', '.join(probe.architectures)} (config.json architectures): a classifier, "
            f"such as a cross-encoder reranker, not an embedder; {resolution.model_class!r} would drop its "
            "classification head and embed with the encoder under it. Load it with FlagAutoReranker.from_finetuned, "
            "or pass ignore_classifier_head=True to embed with its encoder anyway.")
    arguments = _arguments(resolution, explicit)
    cls = resolution.entry.load()
    logger.info("%s %r → %s (%s)", kind, probe.reference, resolution.model_class, resolution.why)
    try:
        return cls(probe.reference, **arguments)
    except OSError as exc:
        plain = download_failure(probe, exc)
        if plain is None:
            raise
        raise plain from exc


def _arguments(resolution: Resolution, explicit: dict[str, Any]) -> dict[str, Any]:
    """The claim's defaults, overridden by everything the caller set explicitly.

    A claim never turns on ``trust_remote_code``: running a repository's code is the caller's call.
    """
    defaults = resolution.defaults
    needs_remote_code = bool(defaults.pop("trust_remote_code", False))
    if needs_remote_code and not explicit.get("trust_remote_code"):
        logger.warning(
            "%r is known to need trust_remote_code=True (it runs code from the model repository); "
            "flagcore leaves it off unless you pass it.", resolution.probe.name)
    return {**defaults, **explicit}


def _given(named: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """What the caller set: the factory's own parameters unless left at None (the class's default then applies),
    and every extra keyword as passed, None included (``query_instruction_for_rerank=None`` means no instruction)."""
    return {**{k: v for k, v in named.items() if v is not None}, **kwargs}


class FlagAutoModel:
    """Builds the right embedder for a model. Use :meth:`from_finetuned`."""

    def __init__(self) -> None:
        raise OSError(
            "FlagAutoModel is designed to be instantiated using the "
            "`FlagAutoModel.from_finetuned(model_name_or_path)` method."
        )

    @classmethod
    def from_finetuned(
        cls,
        model_name_or_path: str,
        model_class: Union[str, EmbedderModelClass] | None = None,
        normalize_embeddings: bool | None = None,
        use_fp16: bool | None = None,
        use_bf16: bool | None = None,
        query_instruction_for_retrieval: str | None = None,
        devices: Union[str, int, List[str], List[int]] | None = None,
        pooling_method: str | None = None,
        trust_remote_code: bool | None = None,
        query_instruction_format: str | None = None,
        truncate_dim: int | None = None,
        **kwargs: Any,
    ) -> AbsEmbedder:
        """Resolve ``model_name_or_path`` to an embedder class (``flagcore explain`` shows why) and build it.

        Arguments left at None take the chosen class's own default (FlagEmbedding's factory forces
        ``use_fp16=True, use_bf16=False`` on every class); ``normalize_embeddings`` left at None is True, or for
        a model saved by sentence-transformers whether its module chain ends with a Normalize. Beyond FlagEmbedding's
        arguments: ``prefer_plugin="name"``
        lets that plugin's claim win over the name table and the scores (``docs/resolution.md``);
        ``ignore_classifier_head=True`` embeds with the encoder of a classifier checkpoint (a cross-encoder), which
        is refused otherwise; every other keyword goes to the class's constructor.
        """
        explicit = _given(dict(
            normalize_embeddings=normalize_embeddings, use_fp16=use_fp16, use_bf16=use_bf16,
            query_instruction_for_retrieval=query_instruction_for_retrieval, devices=devices,
            pooling_method=pooling_method, trust_remote_code=trust_remote_code,
            query_instruction_format=query_instruction_format, truncate_dim=truncate_dim), kwargs)
        return _build("embedder", model_name_or_path, model_class, explicit)


class FlagAutoReranker:
    """Builds the right reranker for a model. Use :meth:`from_finetuned`."""

    def __init__(self) -> None:
        raise OSError(
            "FlagAutoReranker is designed to be instantiated using the "
            "`FlagAutoReranker.from_finetuned(model_name_or_path)` method."
        )

    @classmethod
    def from_finetuned(
        cls,
        model_name_or_path: str,
        model_class: Union[str, RerankerModelClass] | None = None,
        use_fp16: bool | None = None,
        trust_remote_code: bool | None = None,
        **kwargs: Any,
    ) -> AbsReranker:
        """Resolve ``model_name_or_path`` to a reranker class and build it.

        ``flagcore explain --kind reranker NAME`` shows why a class was chosen; ``prefer_plugin=`` works as for
        :meth:`FlagAutoModel.from_finetuned`.
        """
        explicit = _given(dict(use_fp16=use_fp16, trust_remote_code=trust_remote_code), kwargs)
        return _build("reranker", model_name_or_path, model_class, explicit)
