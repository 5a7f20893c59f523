# ruff: noqa
# Source: FlagOpen/FlagEmbedding research/llm_reranker/README.md (commit 7ccaf64, unchanged since 2024-10-30), section
# "Using FlagEmbedding: For LLM-based reranker".
# The snippet below is copied as written there. The migration harness (run_examples.py) changes its import line
# only, and runs 'cuda:N' devices on the CPU; it records what print(...) is given. RESULTS at the end is added.

from FlagEmbedding import FlagLLMReranker
reranker = FlagLLMReranker('BAAI/bge-reranker-v2-gemma', use_fp16=True) # Setting use_fp16 to True speeds up computation with a slight performance degradation
# reranker = FlagLLMReranker('BAAI/bge-reranker-v2-gemma', use_bf16=True) # You can also set use_bf16=True to speed up computation with a slight performance degradation

score = reranker.compute_score(['query', 'passage'])
print(score)

scores = reranker.compute_score([['what is panda?', 'hi'], ['what is panda?', 'The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or simply panda, is a bear species endemic to China.']])
print(scores)

# --- added for the migration test ---
RESULTS = {"score": score, "scores": scores}
