"""FlagEmbedding's public names, served by flagcore: its class names (``FlagModel``, ``FlagReranker``, ...) are the
installed families' classes, and its name tables are available as read-only mappings.

``from flagcore import FlagModel`` imports the family class that serves ``encoder-only-base`` embedders (only then:
importing ``flagcore`` stays light); when that family is not installed the import fails with the command that
installs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from .enums import EmbedderModelClass, Kind, PoolingMethod, RerankerModelClass
from .extras import FAMILY_DISTRIBUTIONS, install_hint
from .known_models import KNOWN_MODELS, extra_for_model_class

#: FlagEmbedding class name -> (kind, flagcore model class id)
FLAGEMBEDDING_CLASSES: Mapping[str, tuple[Kind, str]] = MappingProxyType({
    "FlagModel": ("embedder", "encoder-only-base"),
    "BGEM3FlagModel": ("embedder", "encoder-only-m3"),
    "FlagLLMModel": ("embedder", "decoder-only-base"),
    "FlagICLModel": ("embedder", "decoder-only-icl"),
    "FlagPseudoMoEModel": ("embedder", "decoder-only-pseudo_moe"),
    "FlagReranker": ("reranker", "encoder-only-base"),
    "FlagLLMReranker": ("reranker", "decoder-only-base"),
    "LayerWiseFlagLLMReranker": ("reranker", "decoder-only-layerwise"),
    "LightWeightFlagLLMReranker": ("reranker", "decoder-only-lightweight"),
})


@dataclass(frozen=True)
class EmbedderConfig:
    """A row of FlagEmbedding's ``AUTO_EMBEDDER_MAPPING`` (its ``model_class`` there is a class; here the id)."""

    model_class: EmbedderModelClass
    pooling_method: PoolingMethod
    trust_remote_code: bool = False
    query_instruction_format: str = "{}{}"


@dataclass(frozen=True)
class RerankerConfig:
    """A row of FlagEmbedding's ``AUTO_RERANKER_MAPPING``."""

    model_class: RerankerModelClass
    trust_remote_code: bool = False


AUTO_EMBEDDER_MAPPING: Mapping[str, EmbedderConfig] = MappingProxyType({
    name: EmbedderConfig(EmbedderModelClass(row.model_class), PoolingMethod(row.pooling_method),
                         row.trust_remote_code, row.query_instruction_format)
    for name, row in KNOWN_MODELS["embedder"].items()
})
AUTO_RERANKER_MAPPING: Mapping[str, RerankerConfig] = MappingProxyType({
    name: RerankerConfig(RerankerModelClass(row.model_class)) for name, row in KNOWN_MODELS["reranker"].items()
})


def flagembedding_class(name: str) -> type:
    """The installed class serving FlagEmbedding's class ``name``; ``ImportError`` with the install command if its
    family is absent."""
    from .plugins import host

    kind, model_class = FLAGEMBEDDING_CLASSES[name]
    entry = host.registry.get(kind, model_class)
    if entry is None:
        extra = extra_for_model_class(kind, model_class)
        family = f"the {FAMILY_DISTRIBUTIONS[extra]} family" if extra else "a family"
        hint = f" Install it: {install_hint(extra)}." if extra else ""
        raise ImportError(f"cannot import name {name!r} from 'flagcore': FlagEmbedding's {name} is served by {family} "
                          f"({kind} class {model_class!r}), which is not installed.{hint}", name=name)
    return entry.load()
