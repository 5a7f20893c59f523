# ruff: noqa
# Source: auto-models.md (usage examples of FlagEmbedding's auto factories), section "Forced Model Class Selection".
# The snippet below is copied as written there. The migration harness (run_examples.py) changes its import line
# only, and runs 'cuda:N' devices on the CPU; it records what print(...) is given. RESULTS at the end is added.

from FlagEmbedding import FlagAutoModel, EmbedderModelClass
# Force specific model class even if auto-detection would choose different
embedder = FlagAutoModel.from_finetuned(
'custom-model-name',
model_class=EmbedderModelClass.ENCODER_ONLY_BASE,
pooling_method="mean",
trust_remote_code=True
)

# --- added for the migration test ---
RESULTS = {}
