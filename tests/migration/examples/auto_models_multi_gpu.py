# ruff: noqa
# Source: auto-models.md (usage examples of FlagEmbedding's auto factories), section "Multi-GPU Auto Embedder".
# The snippet below is copied as written there. The migration harness (run_examples.py) changes its import line
# only, and runs 'cuda:N' devices on the CPU; it records what print(...) is given. RESULTS at the end is added.

from FlagEmbedding import FlagAutoModel
# Use multiple GPUs for faster inference
embedder = FlagAutoModel.from_finetuned(
'bge-large-en-v1.5',
devices=['cuda:0', 'cuda:1', 'cuda:2'],
use_fp16=True
)
# Process large batch across multiple devices
large_corpus = [f"Document {i}" for i in range(10000)]
embeddings = embedder.encode_corpus(large_corpus, batch_size=512)

# --- added for the migration test ---
RESULTS = {"embeddings": embeddings}
