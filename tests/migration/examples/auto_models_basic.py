# ruff: noqa
# Source: auto-models.md (usage examples of FlagEmbedding's auto factories), section "Basic Auto Embedder Usage".
# The snippet below is copied as written there. The migration harness (run_examples.py) changes its import line
# only, and runs 'cuda:N' devices on the CPU; it records what print(...) is given. RESULTS at the end is added.

from FlagEmbedding import FlagAutoModel
# Automatic model selection
embedder = FlagAutoModel.from_finetuned('bge-large-en-v1.5')
# Encode single query
embedding = embedder.encode_queries("What is machine learning?")
# Encode multiple documents
docs = ["ML is a subset of AI", "Neural networks are computing systems"]
doc_embeddings = embedder.encode_corpus(docs)

# --- added for the migration test ---
RESULTS = {"embedding": embedding, "doc_embeddings": doc_embeddings}
