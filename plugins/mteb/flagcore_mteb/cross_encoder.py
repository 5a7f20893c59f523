"""A flagcore reranker behind MTEB's cross-encoder protocol (``mteb.models.CrossEncoderProtocol``): MTEB hands
``predict`` two DataLoaders, queries and documents row by row, and gets one score per pair. MTEB uses it on
retrieval tasks to rerank a previous run's top documents (``task.convert_to_reranking(...)``) and on reranking
tasks that ship their candidates."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from flagcore import AbsReranker
from flagcore.integration import reranker_from

from .calls import call_options, factory_options, texts_of
from .meta import reranker_meta

if TYPE_CHECKING:
    from mteb.abstasks.task_metadata import TaskMetadata
    from mteb.models.model_meta import ModelMeta
    from mteb.types import PromptType


class FlagcoreCrossEncoder:
    """Evaluate a flagcore reranker with MTEB. ``model``: a model name or path, loaded with
    ``FlagAutoReranker.from_finetuned(model, **options)`` (``devices``, ``use_bf16``, ``batch_size``,
    ``max_length``...), or an already-loaded flagcore reranker (then no options).

    Scores are :meth:`~flagcore.AbsReranker.compute_score`'s: raw logits (only their order matters to MTEB's
    metrics), or the model's activation applied with ``normalize=True``; ``normalize=None`` keeps the model's
    own setting. ``revision``, ``name`` and ``device`` are as for :class:`~flagcore_mteb.FlagcoreEncoder`.
    """

    mteb_model_meta: ModelMeta

    def __init__(self, model: str | os.PathLike[str] | AbsReranker, revision: str | None = None, *,
                 device: str | None = None, normalize: bool | None = None, name: str | None = None,
                 **options: Any) -> None:
        self.model = reranker_from(model, **factory_options(device, options))
        self.normalize = None if normalize is None else bool(normalize)
        self.batch_size: int | None = options.get("batch_size")
        self.mteb_model_meta = reranker_meta(self.model, type(self), name=name, revision=revision)

    def predict(self, inputs1: Any, inputs2: Any, *, task_metadata: TaskMetadata, hf_split: str, hf_subset: str,
                prompt_type: PromptType | None = None, **kwargs: Any) -> np.ndarray:
        """One score per (query, document) pair, row ``i`` of ``inputs1`` with row ``i`` of ``inputs2``. All
        pairs go to one ``compute_score`` call, which batches them by length."""
        queries = texts_of(inputs1, type(self).__name__)
        documents = texts_of(inputs2, type(self).__name__)
        if len(queries) != len(documents):
            raise ValueError(f"predict scores row i of inputs1 with row i of inputs2, and got {len(queries)} "
                             f"queries for {len(documents)} documents")
        if not queries:
            return np.zeros(0, dtype=np.float32)
        scores = self.model.compute_score(list(zip(queries, documents, strict=True)), normalize=self.normalize,
                                          **call_options(kwargs, self.batch_size, embedding=False))
        if scores and isinstance(scores[0], list):
            raise ValueError(f"{self.model.model_name_or_path} gives one score per cutoff layer and MTEB needs one "
                             "per pair: load it with a single layer, e.g. FlagcoreCrossEncoder(name, "
                             "cutoff_layers=[28])")
        return np.asarray(scores)

    def __repr__(self) -> str:
        return f"FlagcoreCrossEncoder({self.model!r}, name={self.mteb_model_meta.name!r})"
