"""The table of model classes that plugins registered, keyed by (kind, model class id)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

from .enums import Kind
from .errors import ModelClassImportError, PluginWarning


@dataclass(frozen=True)
class ModelClassEntry:
    """One registered model class. ``target`` is the class or a lazy ``"module:Class"`` reference,
    so that registering a family imports none of its heavy dependencies."""

    kind: Kind
    model_class: str
    target: type | str
    plugin: str
    description: str = ""
    source: str = ""  # the plugin's distribution and version, for messages
    pooling_methods: tuple[str, ...] = ()  # what an embedder class can pool by (for the CLI's choices and messages)

    def load(self) -> type:
        if isinstance(self.target, type):
            cls = self.target
        else:
            module_name, _, attr = self.target.partition(":")
            try:
                cls = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError, SystemExit) as exc:  # a module calling sys.exit() ends no program
                raise ModelClassImportError(
                    f"plugin {self.plugin!r} ({self.source}) registered {self.kind} {self.model_class!r} as "
                    f"{self.target!r}, which cannot be imported: {type(exc).__name__}: {exc}. Reinstall that "
                    "distribution (or install what it needs), or choose another model_class."
                ) from exc
        from .embedder import AbsEmbedder
        from .reranker import AbsReranker

        base = AbsEmbedder if self.kind == "embedder" else AbsReranker
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(
                f"plugin {self.plugin!r} ({self.source}) registered {self.target!r} as {self.kind} "
                f"{self.model_class!r}, "
                f"but it is not a subclass of {base.__name__}"
            )
        return cls


@dataclass
class ModelClassRegistry:
    entries: dict[tuple[Kind, str], ModelClassEntry] = field(default_factory=dict)
    #: registrations refused because another plugin owns the id: (the refused entry, the owner's entry)
    refused: list[tuple[ModelClassEntry, ModelClassEntry]] = field(default_factory=list)

    def get(self, kind: Kind, model_class: str) -> ModelClassEntry | None:
        return self.entries.get((kind, model_class))

    def ids(self, kind: Kind) -> list[str]:
        return sorted(mc for k, mc in self.entries if k == kind)

    def by_plugin(self, plugin: str) -> list[ModelClassEntry]:
        return [e for e in self.entries.values() if e.plugin == plugin]

    def pooling_methods(self) -> list[str]:
        """Every pooling method some registered embedder class declares, sorted."""
        return sorted({m for e in self.entries.values() if e.kind == "embedder" for m in e.pooling_methods})

    def add(self, entry: ModelClassEntry) -> None:
        key = (entry.kind, entry.model_class)
        existing = self.entries.get(key)
        if existing is not None and existing.plugin != entry.plugin:
            warnings.warn(
                f"{entry.kind} model class {entry.model_class!r} is registered by both plugin {existing.plugin!r} "
                f"({existing.source}) and plugin {entry.plugin!r} ({entry.source}); the id belongs to "
                f"{existing.plugin!r}, which comes first in flagcore's precedence order, so {entry.plugin!r}'s "
                "registration is refused. Register your class under an id of its own, or leave one plugin out "
                "with FLAGCORE_LOAD_PLUGINS.",
                PluginWarning,
                stacklevel=2,
            )
            self.refused.append((entry, existing))
            return
        self.entries[key] = entry


class ModelClassRegistrar:
    """Handed to a plugin's ``register_model_classes`` hook; records what that plugin adds."""

    def __init__(self, plugin: str, source: str = "") -> None:
        self.plugin = plugin
        self.source = source
        self.added: list[ModelClassEntry] = []

    def add_embedder(self, model_class: str, target: type | str, *, description: str = "",
                     pooling_methods: Iterable[str] = ()) -> None:
        """``pooling_methods``: the ``pooling_method`` values the class accepts (``flagcore encode`` offers them)."""
        methods = tuple(getattr(m, "value", m) for m in pooling_methods)
        if not all(isinstance(m, str) and m for m in methods):
            raise TypeError(f"pooling_methods must be strings, got {list(pooling_methods)!r}")
        self._add("embedder", model_class, target, description, methods)

    def add_reranker(self, model_class: str, target: type | str, *, description: str = "") -> None:
        self._add("reranker", model_class, target, description)

    def _add(self, kind: Kind, model_class: str, target: type | str, description: str,
             pooling_methods: tuple[str, ...] = ()) -> None:
        if not isinstance(model_class, str) or not model_class:
            raise ValueError(f"model class id must be a non-empty string, got {model_class!r}")
        if not isinstance(target, type) and not (isinstance(target, str) and ":" in target):
            raise TypeError(f"register a class or a 'module:Class' string, not {target!r}")
        self.added.append(ModelClassEntry(kind, model_class, target, self.plugin, description, self.source,
                                          pooling_methods))
