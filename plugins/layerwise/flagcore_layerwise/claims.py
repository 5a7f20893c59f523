"""Which models this family claims: FlagEmbedding's layer-wise reranker names, and local directories whose
config.json names the layer-wise architecture (the hub checkpoints point ``auto_map`` at their own code, which
flagcore never runs: the architecture is implemented in this family)."""

from __future__ import annotations

from flagcore.family import Claim, Evidence, ModelProbe, name_table_claim

LAYERWISE_CLASS = "decoder-only-layerwise"
LIGHTWEIGHT_CLASS = "decoder-only-lightweight"
ARCHITECTURES = {"LayerWiseMiniCPMForCausalLM": LAYERWISE_CLASS, "CostWiseGemmaForCausalLM": LIGHTWEIGHT_CLASS}


def reranker_claim(probe: ModelProbe) -> Claim | None:
    for model_class in (LAYERWISE_CLASS, LIGHTWEIGHT_CLASS):
        by_name = name_table_claim(probe, "reranker", model_class)
        if by_name is not None:
            return by_name
    found = [ARCHITECTURES[a] for a in probe.architectures if a in ARCHITECTURES] if probe.is_local else []
    if found:
        return Claim(found[0], Evidence.ARCHITECTURE + 50,
                     f"config.json architecture {probe.architectures[0]} (implemented natively, no remote code)")
    return None
