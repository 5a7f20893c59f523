"""The hooks flagcore calls. Light: the model class is registered by reference."""

from __future__ import annotations

from flagcore.family import POOLING_METHODS, hookimpl

from .claims import MODEL_CLASS, embedder_claim


@hookimpl
def register_model_classes(register):
    register.add_embedder(MODEL_CLASS, "flagcore_m3.embedder:M3Embedder",
                          description="BGE-M3: dense + lexical weights + ColBERT vectors (BGEM3FlagModel)",
                          pooling_methods=POOLING_METHODS)


@hookimpl
def claim_embedder(probe):
    return embedder_claim(probe)
