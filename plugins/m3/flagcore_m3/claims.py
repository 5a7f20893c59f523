"""Which models this family claims: BGE-M3 by FlagEmbedding's name table, and any local encoder directory that
holds both M3 heads."""

from __future__ import annotations

from flagcore.family import Claim, Evidence, ModelProbe, name_table_claim

MODEL_CLASS = "encoder-only-m3"
DEFAULTS = {"pooling_method": "cls"}


def embedder_claim(probe: ModelProbe) -> Claim | None:
    by_name = name_table_claim(probe, "embedder", MODEL_CLASS, DEFAULTS)
    if by_name is not None:
        return by_name
    if probe.is_local and probe.has_m3_heads() and not probe.is_sequence_classifier:
        return Claim(MODEL_CLASS, Evidence.ARCHITECTURE + 50,
                     "directory holds the M3 heads colbert_linear and sparse_linear", DEFAULTS)
    return None
