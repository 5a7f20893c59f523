"""Exceptions raised while loading plugins and choosing a model class."""

from __future__ import annotations


class ModelResolutionError(ValueError):
    """No model class could be chosen for a model reference."""


class UnknownModelError(ModelResolutionError):
    """No installed plugin claims the model."""


class AmbiguousModelError(ModelResolutionError):
    """Two different model classes claim the model with the same top score."""


class PluginNotInstalledError(ModelResolutionError):
    """The model belongs to a first-party family whose plugin is not installed."""


class UnknownModelClassError(ModelResolutionError):
    """``model_class=`` names an id that no installed plugin registered. When a plugin failed to load, the message
    names it and why (the one that would own the id, if known; else every one that failed)."""


class PluginWarning(UserWarning):
    """A plugin failed to import, raised inside a hook (its answer is ignored; after ``SystemExit`` or another
    ``BaseException`` it is disabled), was slow to import, or its distribution's metadata is incomplete (defaults
    are used) or unreadable (it is skipped). The message names the plugin and its distribution."""


class PluginContractError(ValueError):
    """A plugin breaks the hook contract (e.g. a hook wrapper, an unknown hook name) and cannot be registered."""


class ModelClassImportError(ImportError):
    """A model class registered as ``"module:Class"`` cannot be imported; the message names the plugin, its
    distribution and the reference."""
