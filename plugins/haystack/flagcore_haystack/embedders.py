"""Dense embedders: a query (:class:`FlagcoreTextEmbedder`) and documents (:class:`FlagcoreDocumentEmbedder`), each on
its side of the model, so an instruction-tuned BGE model gets its query instruction on the query alone."""

# No "from __future__ import annotations": Haystack 2 reads run()'s annotations as they are, and would see strings.

from typing import Any

from haystack import Document, component

from flagcore.integration import dense_lists

from ._base import DocumentEmbedderComponent, EmbedderComponent
from ._documents import check_text


@component
class FlagcoreTextEmbedder(EmbedderComponent):
    """Embeds a query string with any embedder flagcore resolves, for an embedding retriever.

    ``FlagcoreTextEmbedder(model, **options)``: ``model`` is a model name or path (or a loaded flagcore embedder, to
    share one with a document embedder; such a component cannot be saved); ``options`` go to
    ``FlagAutoModel.from_finetuned`` (``devices``, ``use_bf16``, ``batch_size``, ``query_instruction_for_retrieval``,
    ...) and are saved with the pipeline. The model loads in :meth:`warm_up`.
    """

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, list[float]]:
        """``{"embedding": [...]}``: ``text`` embedded as a query (with the model's query instruction or prompt)."""
        check_text(type(self).__name__, text, "FlagcoreDocumentEmbedder")
        return {"embedding": dense_lists(self._warm(), [text], query=True)[0]}


@component
class FlagcoreDocumentEmbedder(DocumentEmbedderComponent):
    """Sets each document's ``embedding``: its text embedded as a passage, for a document store.

    ``FlagcoreDocumentEmbedder(model, *, meta_fields_to_embed=None, embedding_separator="\\n", **options)``: the
    listed meta fields a document has are put before its content, joined by ``embedding_separator``, as Haystack's
    document embedders do; ``model`` and ``options`` as for :class:`FlagcoreTextEmbedder`.
    """

    _output_field = "embedding"
    _text_component = "FlagcoreTextEmbedder"

    def _vectors(self, model: Any, texts: list[str]) -> list[list[float]]:
        return dense_lists(model, texts, query=False)

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """``{"documents": [...]}``: copies of ``documents``, in order, with ``embedding`` set."""
        return self._embedded(documents)
