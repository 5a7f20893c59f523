"""Which models this plugin claims, and how strongly.

A local model directory whose config.json says ``"embedding_pooling": "max"`` is claimed in the ARCHITECTURE band
with an offset of 50: above the encoder family's generic claim on any BERT-like config (``ARCHITECTURE + 10``),
below every NAME claim. Names in FlagEmbedding's table go to their own class whatever anyone claims, so this
plugin never takes over a known model.
"""

from __future__ import annotations

from flagcore.family import Claim, Evidence, ModelProbe

MODEL_CLASS = "encoder-max-pool"
#: The config.json field (and value) this plugin looks for.
CONFIG_FIELD = "embedding_pooling"
CONFIG_VALUE = "max"
SUPPORTED_POOLING = ("max",)
SCORE = Evidence.ARCHITECTURE + 50


def embedder_claim(probe: ModelProbe) -> Claim | None:
    if not probe.is_local or not probe.config:
        return None
    if probe.config.get(CONFIG_FIELD) != CONFIG_VALUE:
        return None
    return Claim(MODEL_CLASS, SCORE,
                 f'config.json has "{CONFIG_FIELD}": "{CONFIG_VALUE}" ({probe.model_type or "no model_type"})',
                 {"pooling_method": "max"})
