"""Finding, loading and calling plugins.

Plugins are modules or objects with pluggy hook implementations (see ``flagcore.hookspecs``).
Installed plugins are found through the ``flagcore`` entry-point group. The environment
variable ``FLAGCORE_LOAD_PLUGINS`` restricts which of them load: a comma-separated list of
entry-point or distribution names; set but empty, no installed plugin loads. Applications and
tests can add plugin objects in-process with :func:`register_plugin` / :func:`plugin_registered`.

A plugin that fails to import, or raises inside a hook, is reported with a
:class:`~flagcore.errors.PluginWarning` naming it and its distribution; the others carry on.
"""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import importlib_metadata
import pluggy

from . import hookspecs
from .errors import PluginWarning
from .registry import ModelClassRegistrar, ModelClassRegistry

ENTRY_POINT_GROUP = "flagcore"
LOAD_PLUGINS_ENV = "FLAGCORE_LOAD_PLUGINS"
IN_PROCESS = "(in-process)"


@dataclass(frozen=True)
class PluginSource:
    distribution: str
    version: str


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    embedders: tuple[str, ...]
    rerankers: tuple[str, ...]


def _allowed_names() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


class PluginHost:
    """One plugin manager plus what flagcore knows about each plugin."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pm: pluggy.PluginManager | None = None
        self._sources: dict[str, PluginSource] = {}
        self._registry: ModelClassRegistry | None = None

    # -- the manager ----------------------------------------------------------------------
    @property
    def pm(self) -> pluggy.PluginManager:
        with self._lock:
            if self._pm is None:
                pm = pluggy.PluginManager("flagcore")
                pm.add_hookspecs(hookspecs)
                self._pm = pm
                self._load_entry_points()
            return self._pm

    def reset(self) -> None:
        """Forget every plugin; the next use reads the entry points (and the env var) again."""
        with self._lock:
            self._pm = None
            self._sources.clear()
            self._registry = None

    def _load_entry_points(self) -> None:
        allowed = _allowed_names()
        seen: set[str] = set()
        for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else "?"
            if allowed is not None and ep.name not in allowed and dist not in allowed:
                continue
            if ep.name in seen:
                warnings.warn(
                    f"two installed distributions provide a flagcore plugin named {ep.name!r}; "
                    f"ignoring the one from {dist} {version}",
                    PluginWarning,
                    stacklevel=3,
                )
                continue
            seen.add(ep.name)
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                _warn(f"flagcore plugin {ep.name!r} (distribution {dist} {version}) failed to import: "
                      f"{type(exc).__name__}: {exc}; continuing without it")
                continue
            self._add(plugin, ep.name, PluginSource(dist, version))
        if allowed:
            missing = allowed - seen - {s.distribution for s in self._sources.values()}
            if missing:
                _warn(f"{LOAD_PLUGINS_ENV} names {sorted(missing)}, but no installed flagcore plugin has "
                      "that entry-point or distribution name")

    def _add(self, plugin: Any, name: str, source: PluginSource) -> str:
        pm = self._pm
        assert pm is not None
        try:
            registered = pm.register(plugin, name=name)
            pm.check_pending()
        except Exception as exc:
            if pm.is_registered(plugin):
                pm.unregister(plugin)
            _warn(f"flagcore plugin {name!r} (distribution {source.distribution} {source.version}) "
                  f"cannot be registered: {type(exc).__name__}: {exc}; continuing without it")
            return name
        assert registered is not None
        self._sources[registered] = source
        self._registry = None
        return registered

    # -- in-process plugins ----------------------------------------------------------------
    def register(self, plugin: Any, name: str | None = None) -> str:
        with self._lock:
            pm = self.pm
            if name is None:
                name = pm.get_canonical_name(plugin)
            if pm.get_plugin(name) is not None:
                raise ValueError(f"a flagcore plugin named {name!r} is already registered")
            before = set(self._sources)
            registered = self._add(plugin, name, PluginSource(IN_PROCESS, ""))
            if registered not in self._sources or registered in before:
                raise ValueError(f"plugin {name!r} could not be registered (see the warning above)")
            return registered

    def unregister(self, plugin_or_name: Any) -> None:
        with self._lock:
            pm = self.pm
            if isinstance(plugin_or_name, str):
                removed = pm.unregister(name=plugin_or_name)
                name = plugin_or_name
            else:
                name = pm.get_name(plugin_or_name) or ""
                removed = pm.unregister(plugin_or_name)
            if removed is None:
                raise ValueError(f"no flagcore plugin {plugin_or_name!r} is registered")
            self._sources.pop(name, None)
            self._registry = None

    # -- calling hooks ---------------------------------------------------------------------
    def source(self, name: str) -> PluginSource:
        return self._sources.get(name, PluginSource("unknown", "?"))

    def call_each(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call one hook on every plugin, separately, so one failing plugin does not hide the others."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():  # registration order
            ok, result = self._invoke(impl, hook_name, kwargs)
            if ok:
                yield impl.plugin_name, result

    def _invoke(self, impl: Any, hook_name: str, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        try:
            return True, impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception as exc:
            source = self.source(impl.plugin_name)
            _warn(f"flagcore plugin {impl.plugin_name!r} (distribution {source.distribution} "
                  f"{source.version}) raised in {hook_name}: {type(exc).__name__}: {exc}; "
                  "ignoring its answer")
            return False, None

    @property
    def registry(self) -> ModelClassRegistry:
        with self._lock:
            if self._registry is None:
                registry = ModelClassRegistry()
                for impl in self.pm.hook.register_model_classes.get_hookimpls():
                    registrar = ModelClassRegistrar(impl.plugin_name)
                    ok, _ = self._invoke(impl, "register_model_classes", {"register": registrar})
                    if ok:  # a plugin that failed half-way adds nothing
                        for entry in registrar.added:
                            registry.add(entry)
                self._registry = registry
            return self._registry

    def _plugin_names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin() if name is not None]

    def infos(self) -> list[PluginInfo]:
        registry = self.registry
        infos = []
        for name in self._plugin_names():
            entries = registry.by_plugin(name)
            source = self.source(name)
            infos.append(PluginInfo(
                name=name,
                distribution=source.distribution,
                version=source.version,
                embedders=tuple(sorted(e.model_class for e in entries if e.kind == "embedder")),
                rerankers=tuple(sorted(e.model_class for e in entries if e.kind == "reranker")),
            ))
        return infos


def _warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=4)


host = PluginHost()


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Add a plugin object (a module, class or instance with hook implementations) in-process."""
    return host.register(plugin, name)


def unregister_plugin(plugin_or_name: Any) -> None:
    host.unregister(plugin_or_name)


@contextmanager
def plugin_registered(plugin: Any, name: str | None = None) -> Iterator[str]:
    """``with plugin_registered(MyPlugin()):`` registers a plugin for the duration of the block."""
    registered = register_plugin(plugin, name)
    try:
        yield registered
    finally:
        unregister_plugin(registered)


def list_plugins() -> list[PluginInfo]:
    """Loaded plugins with their distributions, versions and registered model class ids."""
    return host.infos()
