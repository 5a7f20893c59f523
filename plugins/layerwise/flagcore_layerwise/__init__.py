"""flagcore family plugin: BGE's layer-wise LLM rerankers, implemented natively (no remote code). Importing it
imports neither torch nor transformers."""

__version__ = "0.1.0"
