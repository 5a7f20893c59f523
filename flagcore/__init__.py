"""flagcore: BGE-family embedders and rerankers behind FlagEmbedding's auto factories,
with every model family as a plugin. Importing this package imports neither torch nor transformers."""

from __future__ import annotations

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
from .hookspecs import hookimpl
from .plugins import list_plugins, plugin_registered, register_plugin, unregister_plugin
from .probe import ModelProbe
from .reranker import AbsReranker
from .resolve import explain, resolve

__version__ = "0.1.0"

__all__ = [
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
    "RerankerModelClass",
    "UnknownModelClassError",
    "UnknownModelError",
    "explain",
    "hookimpl",
    "list_plugins",
    "plugin_registered",
    "register_plugin",
    "resolve",
    "unregister_plugin",
]
