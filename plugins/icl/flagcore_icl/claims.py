"""Which models this family claims: bge-en-icl, by FlagEmbedding's name table only (its config.json is a plain
Mistral, which cannot be told apart from any other decoder)."""

from __future__ import annotations

from flagcore.family import Claim, ModelProbe, name_table_claim

MODEL_CLASS = "decoder-only-icl"
#: the class's own default (FlagICLModel's), also its row in FlagEmbedding's table
QUERY_FORMAT = "<instruct>{}\n<query>{}"


def embedder_claim(probe: ModelProbe) -> Claim | None:
    return name_table_claim(probe, "embedder", MODEL_CLASS)
