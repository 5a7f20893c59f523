"""A cross-encoder ranker: scores each (query, document) pair with any reranker flagcore resolves."""

# No "from __future__ import annotations": Haystack 2 reads run()'s annotations as they are, and would see strings.

import os
from dataclasses import replace
from typing import Any

from haystack import Document, component

from flagcore.integration import ranked

from ._base import RerankerComponent
from ._documents import check_documents, text_of, unique_by_id


def _positive(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
        raise ValueError(f"top_k must be an integer > 0, but got {top_k!r}")
    return top_k


@component
class FlagcoreRanker(RerankerComponent):
    """Orders documents by a reranker's score against the query, best first, keeping ``top_k``.

    ``FlagcoreRanker(model, top_k=10, *, meta_fields_to_embed=None, embedding_separator="\\n", **options)``:
    ``options`` go to ``FlagAutoReranker.from_finetuned`` (``devices``, ``use_bf16``, ``batch_size``, ``max_length``,
    ``normalize``, ...). Scores are the model's raw ones, as FlagEmbedding's ``compute_score`` gives them (a
    sentence-transformers CrossEncoder's with its saved activation), or in (0, 1) with ``normalize=True``. Documents
    sharing an id are scored once, as Haystack's rankers do.
    """

    def __init__(self, model: str | os.PathLike[str] | Any, top_k: int = 10, *,
                 meta_fields_to_embed: list[str] | None = None, embedding_separator: str = "\n",
                 **options: Any) -> None:
        # not super(): @component rebuilds the class, so the zero-argument form would name the undecorated one
        RerankerComponent.__init__(self, model, **options)
        self.top_k = _positive(top_k)
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator

    def _own_parameters(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "meta_fields_to_embed": self.meta_fields_to_embed,
                "embedding_separator": self.embedding_separator}

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document], top_k: int | None = None) -> dict[str, list[Document]]:
        """``{"documents": [...]}``: at most ``top_k`` (this call's, else the component's) copies of ``documents``
        with ``score`` set, best first."""
        top_k = self.top_k if top_k is None else _positive(top_k)
        check_documents(type(self).__name__, documents)
        unique = unique_by_id(documents)
        texts = [text_of(document, self.meta_fields_to_embed, self.embedding_separator) for document in unique]
        best = ranked(self._warm(), query, texts, top_n=top_k)
        return {"documents": [replace(unique[result.index], score=float(result.score)) for result in best]}
