"""flagcore in Haystack pipelines: dense and sparse embedders and a ranker that load any model flagcore resolves
(BGE, BGE-M3, bge-reranker, ...) by name or path, with ``FlagAutoModel`` / ``FlagAutoReranker`` options, and save
with the pipeline (``Pipeline.dumps`` / ``Pipeline.loads``)."""

from __future__ import annotations

from .embedders import FlagcoreDocumentEmbedder, FlagcoreTextEmbedder
from .ranker import FlagcoreRanker
from .sparse import FlagcoreSparseDocumentEmbedder, FlagcoreSparseTextEmbedder

__all__ = [
    "FlagcoreDocumentEmbedder",
    "FlagcoreRanker",
    "FlagcoreSparseDocumentEmbedder",
    "FlagcoreSparseTextEmbedder",
    "FlagcoreTextEmbedder",
]
