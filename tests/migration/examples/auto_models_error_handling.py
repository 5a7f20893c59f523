# ruff: noqa
# Source: auto-models.md (usage examples of FlagEmbedding's auto factories), section "Error Handling".
# The snippet below is copied as written there, with one repair: the source lost the indentation of the try/except
# bodies (an IndentationError in any Python), restored here with four spaces. The migration harness
# (run_examples.py) changes its import line only; it records what print(...) is given. RESULTS at the end is added.

from FlagEmbedding import FlagAutoModel
try:
    embedder = FlagAutoModel.from_finetuned('unknown-model')
except ValueError as e:
    print(f"Model not supported: {e}")
try:
    # Invalid device specification
    embedder = FlagAutoModel.from_finetuned('bge-base-en', devices=['invalid:0'])
except RuntimeError as e:
    print(f"Device error: {e}")

# --- added for the migration test ---
RESULTS = {}
