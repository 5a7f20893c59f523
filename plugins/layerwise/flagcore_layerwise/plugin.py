"""The hooks flagcore calls. Light: the model class is registered by reference."""

from __future__ import annotations

from flagcore.family import hookimpl

from .claims import LAYERWISE_CLASS, LIGHTWEIGHT_CLASS, reranker_claim


@hookimpl
def register_model_classes(register):
    register.add_reranker(LAYERWISE_CLASS, "flagcore_layerwise.reranker:LayerWiseReranker",
                          description="MiniCPM reranker, a score per cutoff layer (LayerWiseFlagLLMReranker)")
    register.add_reranker(LIGHTWEIGHT_CLASS, "flagcore_layerwise.lightweight:LightweightReranker",
                          description="Gemma2 reranker with passage token compression (LightWeightFlagLLMReranker)")


@hookimpl
def claim_reranker(probe):
    return reranker_claim(probe)
