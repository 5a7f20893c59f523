"""The hooks flagcore calls. Light: the model class is registered by reference, so torch and transformers are
imported only when ``encoder-max-pool`` is chosen."""

from __future__ import annotations

from flagcore.family import hookimpl

from .claims import MODEL_CLASS, SUPPORTED_POOLING, embedder_claim


@hookimpl
def register_model_classes(register):
    register.add_embedder(MODEL_CLASS, "flagcore_example_maxpool.embedder:MaxPoolEmbedder",
                          description="encoder embedder, token states max-pooled over the real tokens",
                          pooling_methods=SUPPORTED_POOLING)


@hookimpl
def claim_embedder(probe):
    return embedder_claim(probe)
