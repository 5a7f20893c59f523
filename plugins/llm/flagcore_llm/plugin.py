"""The hooks flagcore calls. Light: model classes are registered by reference."""

from __future__ import annotations

from flagcore.family import hookimpl

from .claims import LAST_TOKEN, MODEL_CLASS, PSEUDO_MOE_CLASS, embedder_claim, reranker_claim


@hookimpl
def register_model_classes(register):
    register.add_embedder(MODEL_CLASS, "flagcore_llm.embedder:LLMEmbedder",
                          description="decoder-only embedder, last-token pooling (FlagLLMModel)",
                          pooling_methods=(LAST_TOKEN,))
    register.add_embedder(PSEUDO_MOE_CLASS, "flagcore_llm.pseudo_moe:PseudoMoEEmbedder",
                          description="decoder-only pseudo-MoE embedder with domain routing (FlagPseudoMoEModel)",
                          pooling_methods=(LAST_TOKEN,))
    register.add_reranker(MODEL_CLASS, "flagcore_llm.reranker:LLMReranker",
                          description="decoder-only reranker, the 'Yes' logit after a prompt (FlagLLMReranker)")


@hookimpl
def claim_embedder(probe):
    return embedder_claim(probe)


@hookimpl
def claim_reranker(probe):
    return reranker_claim(probe)
