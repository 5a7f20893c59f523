"""flagcore: BGE-family embedders and rerankers behind FlagEmbedding's auto factories,
with every model family as a plugin. Importing this package imports neither torch nor transformers.

FlagEmbedding's class names (``FlagModel``, ``BGEM3FlagModel``, ``FlagReranker``, ``FlagLLMModel``, ``FlagICLModel``,
``FlagPseudoMoEModel``, ``FlagLLMReranker``, ``LayerWiseFlagLLMReranker``, ``LightWeightFlagLLMReranker``) are
importable from here too: each is the installed family class that serves it, loaded on first access.
"""

from __future__ import annotations

from ._version import __version__ as __version__
from .auto import FlagAutoModel, FlagAutoReranker
from .claims import Claim, Evidence
from .embedder import AbsEmbedder
from .enums import EmbedderModelClass, PoolingMethod, RerankerModelClass
from .errors import (
    AmbiguousModelError,
    ModelClassImportError,
    ModelResolutionError,
    PluginContractError,
    PluginNotInstalledError,
    PluginWarning,
    UnknownModelClassError,
    UnknownModelError,
)
from .flagembedding_names import AUTO_EMBEDDER_MAPPING, AUTO_RERANKER_MAPPING, FLAGEMBEDDING_CLASSES
from .hookspecs import hookimpl
from .plugins import list_plugins, plugin_registered, register_plugin, unregister_plugin
from .probe import ModelProbe
from .reranker import AbsReranker, RankedDocument
from .resolve import explain, model_kind, resolve

__all__ = [
    "AUTO_EMBEDDER_MAPPING",
    "AUTO_RERANKER_MAPPING",
    "AbsEmbedder",
    "AbsReranker",
    "AmbiguousModelError",
    "Claim",
    "EmbedderModelClass",
    "Evidence",
    "FlagAutoModel",
    "FlagAutoReranker",
    "ModelClassImportError",
    "ModelProbe",
    "ModelResolutionError",
    "PluginContractError",
    "PluginNotInstalledError",
    "PluginWarning",
    "PoolingMethod",
    "RankedDocument",
    "RerankerModelClass",
    "UnknownModelClassError",
    "UnknownModelError",
    "explain",
    "hookimpl",
    "list_plugins",
    "model_kind",
    "plugin_registered",
    "register_plugin",
    "resolve",
    "unregister_plugin",
]


def __getattr__(name: str) -> type:
    if name in FLAGEMBEDDING_CLASSES:
        from .flagembedding_names import flagembedding_class

        return flagembedding_class(name)
    raise AttributeError(f"module 'flagcore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *FLAGEMBEDDING_CLASSES})
