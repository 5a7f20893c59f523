"""The hooks flagcore calls. Light: model classes are registered by reference."""

from __future__ import annotations

from flagcore.family import hookimpl

from .claims import MODEL_CLASS, SUPPORTED_POOLING, embedder_claim, reranker_claim


@hookimpl
def register_model_classes(register):
    register.add_embedder(MODEL_CLASS, "flagcore_bge.embedder:EncoderEmbedder",
                          description="encoder-only embedder, CLS or mean pooling (FlagModel)",
                          pooling_methods=SUPPORTED_POOLING)
    register.add_reranker(MODEL_CLASS, "flagcore_bge.reranker:CrossEncoderReranker",
                          description="cross-encoder reranker, one logit per pair (FlagReranker)")


@hookimpl
def claim_embedder(probe):
    return embedder_claim(probe)


@hookimpl
def claim_reranker(probe):
    return reranker_claim(probe)
