"""flagcore's dense vectors as a LlamaIndex embedding model (``BaseEmbedding``)."""

from __future__ import annotations

import asyncio
import os
from typing import Any, List, Union

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import PrivateAttr

from flagcore import AbsEmbedder
from flagcore.integration import dense_lists, embedder_from

from ._common import model_lock, split_options

ModelArg = Union[str, "os.PathLike[str]", AbsEmbedder]


class FlagcoreEmbedding(BaseEmbedding):
    """Any embedder flagcore resolves (BGE, BGE-M3's dense side, LLM embedders, sentence-transformers models), as
    LlamaIndex's ``embed_model``.

    ``model``: a model name or path, or an already-loaded flagcore embedder (used as it is). Keyword arguments that
    are fields of LlamaIndex's ``BaseEmbedding`` (``embed_batch_size``, ``callback_manager``, ``num_workers``,
    ``model_name``, ...) go to it; every other one goes to ``FlagAutoModel.from_finetuned`` (``devices``,
    ``use_bf16``, ``backend``, ``quantize``, ``batch_size``, ``query_instruction_for_retrieval``, ...).

    Queries get the model's query instruction or prompt, texts (passages) the passage one, so the vectors are
    those of ``encode_queries`` / ``encode_corpus``.
    """

    _model: AbsEmbedder = PrivateAttr()

    def __init__(self, model: ModelArg, **options: Any) -> None:
        llama_fields, factory_options = split_options(BaseEmbedding, options)
        loaded = embedder_from(model, **factory_options)
        llama_fields.setdefault("model_name", str(loaded.model_name_or_path))
        super().__init__(**llama_fields)
        self._model = loaded

    @classmethod
    def class_name(cls) -> str:
        return "FlagcoreEmbedding"

    @property
    def flagcore_model(self) -> AbsEmbedder:
        """The flagcore embedder behind this wrapper (to encode outside LlamaIndex, or share with another one)."""
        return self._model

    def _side(self, texts: List[str], *, query: bool) -> List[Embedding]:
        with model_lock(self._model):
            return dense_lists(self._model, texts, query=query)

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._side([query], query=True)[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._side([text], query=False)[0]

    def _get_text_embeddings(self, texts: List[str]) -> List[Embedding]:
        """One flagcore call per LlamaIndex batch (``embed_batch_size`` texts): flagcore sorts them by length and
        batches them itself (``batch_size``), so a larger ``embed_batch_size`` wastes less padding."""
        return self._side(texts, query=False)

    # The async forms run the model in a worker thread, so that an event loop serving other requests is not
    # blocked for the length of a forward pass.
    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: List[str]) -> List[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
