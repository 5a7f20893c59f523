# ruff: noqa
# Source: auto-models.md (usage examples of FlagEmbedding's auto factories), section "Custom Instructions and
# Formatting".
# The snippet below is copied as written there. The migration harness (run_examples.py) changes its import line
# only, and runs 'cuda:N' devices on the CPU; it records what print(...) is given. RESULTS at the end is added.

from FlagEmbedding import FlagAutoModel
# Use custom query instructions
embedder = FlagAutoModel.from_finetuned(
'bge-large-en-v1.5',
query_instruction_for_retrieval="Represent this query for retrieving relevant documents: ",
query_instruction_format="{}{}",
normalize_embeddings=True
)
queries = ["How to implement neural networks"]
embeddings = embedder.encode_queries(queries)

# --- added for the migration test ---
RESULTS = {"embeddings": embeddings}
