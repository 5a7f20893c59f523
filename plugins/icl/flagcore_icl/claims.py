"""Which models this family claims: bge-en-icl, by FlagEmbedding's name table only (its config.json is a plain
Mistral, which cannot be told apart from any other decoder)."""

from __future__ import annotations

from flagcore.family import Claim, Evidence, ModelProbe, PoolingMethod, names_for

MODEL_CLASS = "decoder-only-icl"
QUERY_FORMAT = "<instruct>{}\n<query>{}"
DEFAULTS = {"pooling_method": PoolingMethod.LAST_TOKEN.value, "query_instruction_format": QUERY_FORMAT}


def embedder_claim(probe: ModelProbe) -> Claim | None:
    if probe.name in names_for("embedder", MODEL_CLASS):
        return Claim(MODEL_CLASS, Evidence.NAME, f"'{probe.name}' is in FlagEmbedding's embedder table", DEFAULTS)
    return None
