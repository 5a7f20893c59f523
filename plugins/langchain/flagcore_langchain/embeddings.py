"""LangChain's :class:`~langchain_core.embeddings.Embeddings` over a flagcore embedder."""

from __future__ import annotations

import os
from typing import Any

from langchain_core.embeddings import Embeddings

from flagcore import AbsEmbedder
from flagcore.integration import dense_lists, embedder_from


class FlagcoreEmbeddings(Embeddings):
    """A flagcore embedder as LangChain embeddings: ``embed_query`` gives what ``model.encode_queries`` gives (the
    model's query instruction or prompt applied), ``embed_documents`` what ``model.encode_corpus`` gives (the passage
    side), as lists of floats. LangChain's vector stores call one for the question and the other for the texts they
    store, which is the split an asymmetric model such as BGE needs to retrieve well.

    ``model`` is a model name or path, loaded with ``FlagAutoModel.from_finetuned(model, **options)`` (``devices``,
    ``use_bf16``, ``backend``, ``quantize``, ``batch_size``, ``query_instruction_for_retrieval``, ...), or an
    already-loaded flagcore embedder (then with no options). The async methods (``aembed_documents``,
    ``aembed_query``) are LangChain's: they run the sync ones in an executor thread, off the event loop.
    """

    def __init__(self, model: str | os.PathLike[str] | AbsEmbedder, **options: Any) -> None:
        self.model: AbsEmbedder = embedder_from(model, **options)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The passage-side vectors of ``texts``, one per text, in order (``[]`` for no texts)."""
        if isinstance(texts, str):
            raise TypeError("embed_documents takes a list of texts, not one string: pass [text], or use "
                            "embed_query for a question")
        return dense_lists(self.model, list(texts), query=False)

    def embed_query(self, text: str) -> list[float]:
        """The query-side vector of ``text`` (with the model's query instruction or prompt)."""
        if not isinstance(text, str):
            raise TypeError(f"embed_query takes one string, not {type(text).__name__}: use embed_documents for a "
                            "list of texts")
        return dense_lists(self.model, [text], query=True)[0]

    def __repr__(self) -> str:
        return f"FlagcoreEmbeddings({self.model.model_name_or_path!r}, {type(self.model).__name__})"
