"""flagcore family plugin: the in-context-learning LLM embedder (bge-en-icl). Importing it imports neither torch nor
transformers."""

__version__ = "0.1.0"
