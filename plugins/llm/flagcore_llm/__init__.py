"""flagcore family plugin: decoder-only LLM embedders (last-token pooling), the pseudo-MoE embedder and the LLM
reranker. Importing this package (what plugin discovery does) imports neither torch nor transformers."""

__version__ = "0.1.0"
