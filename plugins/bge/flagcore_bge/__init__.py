"""flagcore family plugin: encoder-only embedders and cross-encoder rerankers.

Importing this package (what plugin discovery does) imports neither torch nor transformers;
the model classes live in ``flagcore_bge.embedder`` and ``flagcore_bge.reranker``.
"""

__version__ = "0.1.0"
