"""flagcore in LangChain: any embedder flagcore resolves as a ``langchain_core`` :class:`Embeddings`
(:class:`FlagcoreEmbeddings`) and any reranker as a document compressor (:class:`FlagcoreRerank`), so vector stores,
retrievers and compression pipelines use the library's own vectors and scores."""

from __future__ import annotations

from .embeddings import FlagcoreEmbeddings
from .rerank import RELEVANCE_SCORE, FlagcoreRerank

__all__ = ["RELEVANCE_SCORE", "FlagcoreEmbeddings", "FlagcoreRerank"]
