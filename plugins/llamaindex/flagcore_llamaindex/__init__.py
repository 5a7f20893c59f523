"""flagcore in LlamaIndex: :class:`FlagcoreEmbedding` (``embed_model``), :class:`FlagcoreSparseEmbedding` (BGE-M3's
lexical weights) and :class:`FlagcoreRerank` (a node postprocessor taking ``FlagEmbeddingReranker``'s arguments).
The models, vectors and rankings come from :mod:`flagcore.integration`, as in every flagcore framework adapter."""

from __future__ import annotations

from .embedding import FlagcoreEmbedding
from .rerank import FlagcoreRerank
from .sparse import FlagcoreSparseEmbedding

__all__ = ["FlagcoreEmbedding", "FlagcoreRerank", "FlagcoreSparseEmbedding"]
