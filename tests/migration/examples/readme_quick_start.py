# ruff: noqa
# Source: FlagEmbedding 1.4.2's README (the package description on PyPI), section "Quick Start (its three code blocks,
# one after the other)".
# The snippet below is copied as written there. The migration harness (run_examples.py) changes its import line
# only, and runs 'cuda:N' devices on the CPU; it records what print(...) is given. RESULTS at the end is added.

from FlagEmbedding import FlagAutoModel

model = FlagAutoModel.from_finetuned('BAAI/bge-base-en-v1.5',
                                      query_instruction_for_retrieval="Represent this sentence for searching relevant passages:",
                                      use_fp16=True)

sentences_1 = ["I love NLP", "I love machine learning"]
sentences_2 = ["I love BGE", "I love text retrieval"]
embeddings_1 = model.encode(sentences_1)
embeddings_2 = model.encode(sentences_2)

similarity = embeddings_1 @ embeddings_2.T
print(similarity)

# --- added for the migration test ---
RESULTS = {"embeddings_1": embeddings_1, "embeddings_2": embeddings_2, "similarity": similarity}
