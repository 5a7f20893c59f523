"""Model kinds, model-class ids and pooling names, with FlagEmbedding 1.4.2's values."""

from __future__ import annotations

from enum import Enum
from typing import Literal

Kind = Literal["embedder", "reranker"]
KINDS: tuple[Kind, ...] = ("embedder", "reranker")


class EmbedderModelClass(Enum):
    ENCODER_ONLY_BASE = "encoder-only-base"
    ENCODER_ONLY_M3 = "encoder-only-m3"
    DECODER_ONLY_BASE = "decoder-only-base"
    DECODER_ONLY_ICL = "decoder-only-icl"
    DECODER_ONLY_PSEUDO_MOE = "decoder-only-pseudo_moe"


class RerankerModelClass(Enum):
    ENCODER_ONLY_BASE = "encoder-only-base"
    DECODER_ONLY_BASE = "decoder-only-base"
    DECODER_ONLY_LAYERWISE = "decoder-only-layerwise"
    DECODER_ONLY_LIGHTWEIGHT = "decoder-only-lightweight"


class PoolingMethod(Enum):
    CLS = "cls"
    MEAN = "mean"
    LAST_TOKEN = "last_token"


#: FlagEmbedding's pooling methods (the values of :class:`PoolingMethod`). ``pool()`` computes these and more:
#: every mode it accepts is ``flagcore.family.ALL_POOLING_MODES``.
POOLING_METHODS: tuple[str, ...] = tuple(method.value for method in PoolingMethod)


def model_class_id(model_class: str | Enum) -> str:
    """The plain string id of an enum member or an id string."""
    if isinstance(model_class, Enum):
        return str(model_class.value)
    if isinstance(model_class, str):
        return model_class
    raise TypeError(
        f"model_class must be a string id or an EmbedderModelClass/RerankerModelClass member, "
        f"not {type(model_class).__name__}"
    )
