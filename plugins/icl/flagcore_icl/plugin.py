"""The hooks flagcore calls. Light: the model class is registered by reference."""

from __future__ import annotations

from flagcore.family import PoolingMethod, hookimpl

from .claims import MODEL_CLASS, embedder_claim


@hookimpl
def register_model_classes(register):
    register.add_embedder(MODEL_CLASS, "flagcore_icl.embedder:ICLEmbedder",
                          description="in-context-learning LLM embedder, few-shot examples in queries (FlagICLModel)",
                          pooling_methods=(PoolingMethod.LAST_TOKEN,))


@hookimpl
def claim_embedder(probe):
    return embedder_claim(probe)
