"""Which models this family claims: bge-en-icl, by FlagEmbedding's name table only (its config.json is a plain
Mistral, which cannot be told apart from any other decoder)."""

from __future__ import annotations

from flagcore.family import Claim, Evidence, ModelProbe, names_for, table_defaults

MODEL_CLASS = "decoder-only-icl"
#: the class's own default (FlagICLModel's), also its row in FlagEmbedding's table
QUERY_FORMAT = "<instruct>{}\n<query>{}"


def embedder_claim(probe: ModelProbe) -> Claim | None:
    if probe.name in names_for("embedder", MODEL_CLASS):
        return Claim(MODEL_CLASS, Evidence.NAME, f"'{probe.name}' is in FlagEmbedding's embedder table",
                     table_defaults(probe.name, "embedder"))
    return None
