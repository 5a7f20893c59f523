# ruff: noqa
# Source: FlagOpen/FlagEmbedding examples/inference/reranker/README.md (commit 065de5f, unchanged since 2024-10-30;
# the "reranker inference" page the 1.4.2 README links to), section "1. Auto Reranker, the custom-model example".
# The snippet below is copied as written there. The migration harness (run_examples.py) changes its import line
# only, and runs 'cuda:N' devices on the CPU; it records what print(...) is given. RESULTS at the end is added.

from FlagEmbedding import FlagAutoReranker
reranker = FlagAutoReranker.from_finetuned('your_model_name_or_path',
                                           model_class='encoder-only-base',
                                           query_max_length=256,
                                           passage_max_length=512,
                                           use_fp16=True,
                                           devices=['cuda:1']) # Setting use_fp16 to True speeds up computation with a slight performance degradation
score = reranker.compute_score(['query', 'passage'])
print(score)

# --- added for the migration test ---
RESULTS = {"score": score}
