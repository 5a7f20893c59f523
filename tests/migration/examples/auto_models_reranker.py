# ruff: noqa
# Source: auto-models.md (usage examples of FlagEmbedding's auto factories), section "Auto Reranker Usage".
# The snippet below is copied as written there. The migration harness (run_examples.py) changes its import line
# only, and runs 'cuda:N' devices on the CPU; it records what print(...) is given. RESULTS at the end is added.

from FlagEmbedding import FlagAutoReranker
# Initialize reranker
reranker = FlagAutoReranker.from_finetuned('bge-reranker-base')
# Score query-document pairs
pairs = [
("machine learning query", "ML is a subset of artificial intelligence"),
("machine learning query", "Cooking recipes for pasta dishes")
]
scores = reranker.compute_score(pairs)
print(f"Relevance scores: {scores}") # Higher scores = more relevant

# --- added for the migration test ---
RESULTS = {"scores": scores}
