"""flagcore's sparse (lexical) vectors, such as BGE-M3's, as a LlamaIndex sparse embedding model
(``BaseSparseEmbedding``)."""

from __future__ import annotations

import asyncio
from typing import Any, List

from llama_index.core.base.embeddings.base_sparse import BaseSparseEmbedding, SparseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr

from flagcore import AbsEmbedder
from flagcore.integration import embedder_from, sparse_vectors

from ._common import model_lock, split_options
from .embedding import ModelArg


class FlagcoreSparseEmbedding(BaseSparseEmbedding):
    """The lexical weights of a model with a sparse head (BGE-M3) as LlamaIndex sparse embeddings: ``{token id:
    weight}``. A model without one is refused here, when it is built, naming the outputs it has.

    ``model`` and the keyword arguments as for :class:`~flagcore_llamaindex.FlagcoreEmbedding`: fields of
    ``BaseSparseEmbedding`` (``embed_batch_size``, ``num_workers``, ``model_name``) go to it, the rest to
    ``FlagAutoModel.from_finetuned``.
    """

    _model: AbsEmbedder = PrivateAttr()

    def __init__(self, model: ModelArg, **options: Any) -> None:
        llama_fields, factory_options = split_options(BaseSparseEmbedding, options)
        loaded = embedder_from(model, **factory_options)
        sparse_vectors(loaded, [], query=False)  # refuses a dense-only model now, not at the first query
        llama_fields.setdefault("model_name", str(loaded.model_name_or_path))
        super().__init__(**llama_fields)
        self._model = loaded

    @classmethod
    def class_name(cls) -> str:
        return "FlagcoreSparseEmbedding"

    @property
    def flagcore_model(self) -> AbsEmbedder:
        """The flagcore embedder behind this wrapper (one BGE-M3 can serve a FlagcoreEmbedding too)."""
        return self._model

    def _side(self, texts: List[str], *, query: bool) -> List[SparseEmbedding]:
        with model_lock(self._model):
            vectors = sparse_vectors(self._model, texts, query=query)
        return [dict(zip(vector.indices, vector.values, strict=True)) for vector in vectors]

    def _get_query_embedding(self, query: str) -> SparseEmbedding:
        return self._side([query], query=True)[0]

    def _get_text_embedding(self, text: str) -> SparseEmbedding:
        return self._side([text], query=False)[0]

    def _get_text_embeddings(self, texts: List[str]) -> List[SparseEmbedding]:
        return self._side(texts, query=False)

    # in a worker thread, as FlagcoreEmbedding's: the event loop is not blocked by a forward pass
    async def _aget_query_embedding(self, query: str) -> SparseEmbedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> SparseEmbedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: List[str]) -> List[SparseEmbedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
