"""Sparse (lexical) embedders for a model with a sparse head, such as BGE-M3: ``SparseEmbedding`` outputs (token
ids and weights) for document stores with sparse or hybrid retrieval (Qdrant, for example)."""

# No "from __future__ import annotations": Haystack 2 reads run()'s annotations as they are, and would see strings.

from typing import Any

from haystack import Document, component
from haystack.dataclasses import SparseEmbedding

from flagcore.integration import SparseVector, sparse_vectors

from ._base import DocumentEmbedderComponent, EmbedderComponent
from ._documents import check_text


def _as_haystack(vector: SparseVector) -> SparseEmbedding:
    return SparseEmbedding(indices=vector.indices, values=vector.values)


class _SparseModel:
    """Refuses a dense-only model at warm-up, with flagcore's message, instead of on the first text."""

    def _check_model(self, model: Any) -> None:
        sparse_vectors(model, [], query=True)  # checks the model's outputs before looking at the (no) texts


@component
class FlagcoreSparseTextEmbedder(_SparseModel, EmbedderComponent):
    """Embeds a query string as a sparse vector. ``FlagcoreSparseTextEmbedder(model, **options)``, as
    :class:`~flagcore_haystack.FlagcoreTextEmbedder`; a model without a sparse head is refused at warm-up."""

    @component.output_types(sparse_embedding=SparseEmbedding)
    def run(self, text: str) -> dict[str, SparseEmbedding]:
        """``{"sparse_embedding": SparseEmbedding}``: ``text``'s lexical weights as a query, token ids ascending."""
        check_text(type(self).__name__, text, "FlagcoreSparseDocumentEmbedder")
        return {"sparse_embedding": _as_haystack(sparse_vectors(self._warm(), [text], query=True)[0])}


@component
class FlagcoreSparseDocumentEmbedder(_SparseModel, DocumentEmbedderComponent):
    """Sets each document's ``sparse_embedding`` (passage side). Parameters as
    :class:`~flagcore_haystack.FlagcoreDocumentEmbedder`; a model without a sparse head is refused at warm-up."""

    _output_field = "sparse_embedding"
    _text_component = "FlagcoreSparseTextEmbedder"

    def _vectors(self, model: Any, texts: list[str]) -> list[SparseEmbedding]:
        return [_as_haystack(vector) for vector in sparse_vectors(model, texts, query=False)]

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """``{"documents": [...]}``: copies of ``documents``, in order, with ``sparse_embedding`` set."""
        return self._embedded(documents)
