"""Finding, loading, ordering and calling plugins.

Plugins are modules or objects with pluggy hook implementations (see ``flagcore.hookspecs``). Installed plugins
are found through the ``flagcore`` entry-point group. The environment variable ``FLAGCORE_LOAD_PLUGINS``
restricts which of them load: a comma-separated list of entry-point or distribution names; set but empty, no
installed plugin loads. Applications and tests add plugin objects in-process with :func:`register_plugin` /
:func:`plugin_registered`.

Plugins are loaded, registered and asked in one fixed order that no install order can change (the precedence
rule of ``docs/resolution.md``): the first-party families in the order of ``FIRST_PARTY_DISTRIBUTIONS``, then
every other installed plugin sorted by entry-point name (then distribution name), then in-process plugins in the
order they were registered.

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

import flagcore.hookspecs as hookspecs

from .errors import PluginContractError, PluginWarning
from .known_models import FAMILY_DISTRIBUTIONS
from .registry import ModelClassRegistrar, ModelClassRegistry

ENTRY_POINT_GROUP = "flagcore"
LOAD_PLUGINS_ENV = "FLAGCORE_LOAD_PLUGINS"
IN_PROCESS = "(in-process)"
#: The first-party family distributions, in precedence order.
FIRST_PARTY_DISTRIBUTIONS: tuple[str, ...] = tuple(FAMILY_DISTRIBUTIONS.values())
# Options that would let a plugin change the call order or wrap other plugins' answers: flagcore's precedence
# rule fixes the order, and every plugin is called on its own (see PluginHost.call_each).
_REFUSED_HOOK_OPTIONS = ("wrapper", "hookwrapper", "tryfirst", "trylast")


@dataclass(frozen=True)
class PluginSource:
    """Where a plugin comes from: its distribution, version and one-line description."""

    distribution: str
    version: str
    description: str = ""

    @property
    def first_party(self) -> bool:
        return self.distribution in FIRST_PARTY_DISTRIBUTIONS

    def __str__(self) -> str:
        if self.distribution == IN_PROCESS:
            return "registered in-process"
        return f"distribution {self.distribution} {self.version}".rstrip()


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    description: str
    embedders: tuple[str, ...]
    rerankers: tuple[str, ...]


def _allowed_names() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _entry_point_source(ep: Any) -> PluginSource:
    dist = ep.dist
    if dist is None:
        return PluginSource("unknown", "?")
    return PluginSource(dist.name, dist.version, (dist.metadata["Summary"] or "").strip())


def precedence_key(entry_point_name: str, source: PluginSource) -> tuple[int, str, str]:
    """Sort key of an installed plugin: first-party families by their fixed rank, then the rest by name."""
    rank = (FIRST_PARTY_DISTRIBUTIONS.index(source.distribution) if source.first_party
            else len(FIRST_PARTY_DISTRIBUTIONS))
    return rank, entry_point_name, source.distribution


def readable_name(plugin: Any) -> str:
    """A module's or class's ``__name__``; for an instance, its class as ``module.Class``."""
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str) and name:
        return name
    cls = type(plugin)
    return f"{cls.__module__}.{cls.__qualname__}"


class PluginHost:
    """One plugin manager plus what flagcore knows about each plugin, in precedence order."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pm: pluggy.PluginManager | None = None
        self._sources: dict[str, PluginSource] = {}
        self._order: list[str] = []
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
            self._order.clear()
            self._registry = None

    def _load_entry_points(self) -> None:
        allowed = _allowed_names()
        found = [(ep, _entry_point_source(ep)) for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP)]
        found.sort(key=lambda item: precedence_key(item[0].name, item[1]))
        taken: dict[str, PluginSource] = {}
        for ep, source in found:
            if allowed is not None and ep.name not in allowed and source.distribution not in allowed:
                continue
            if ep.name in taken:
                _warn(f"two installed distributions provide a flagcore plugin named {ep.name!r}: "
                      f"{taken[ep.name]} and {source}; keeping the first (flagcore's precedence rule), ignoring "
                      f"the second. Uninstall one, or choose with {LOAD_PLUGINS_ENV}.")
                continue
            taken[ep.name] = source
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                _warn(f"flagcore plugin {ep.name!r} ({source}) failed to import: "
                      f"{type(exc).__name__}: {exc}; continuing without it")
                continue
            try:
                self._add(plugin, ep.name, source)
            except (PluginContractError, ValueError) as exc:
                _warn(f"{exc}; continuing without it")
        if allowed:
            missing = allowed - set(taken) - {s.distribution for s in taken.values()}
            if missing:
                _warn(f"{LOAD_PLUGINS_ENV} names {sorted(missing)}, but no installed flagcore plugin has "
                      "that entry-point or distribution name")

    def _add(self, plugin: Any, name: str, source: PluginSource) -> str:
        pm = self._pm
        assert pm is not None
        if pm.get_plugin(name) is not None:
            raise ValueError(f"a flagcore plugin named {name!r} is already registered; pass another name=")
        try:
            pm.register(plugin, name=name)
            pm.check_pending()
            _check_contract(pm, plugin, name, source)
        except Exception as exc:
            if pm.is_registered(plugin):
                pm.unregister(plugin)
            if isinstance(exc, PluginContractError):
                raise
            raise PluginContractError(
                f"flagcore plugin {name!r} ({source}) cannot be registered: {type(exc).__name__}: {exc}") from exc
        self._sources[name] = source
        self._order.append(name)
        self._registry = None
        return name

    # -- in-process plugins ----------------------------------------------------------------
    def register(self, plugin: Any, name: str | None = None) -> str:
        with self._lock:
            self.pm  # noqa: B018 - installed plugins come first in the order
            return self._add(plugin, name or readable_name(plugin), PluginSource(IN_PROCESS, ""))

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
            if name in self._order:
                self._order.remove(name)
            self._registry = None

    # -- calling hooks ---------------------------------------------------------------------
    def source(self, name: str) -> PluginSource:
        return self._sources.get(name, PluginSource("unknown", "?"))

    @property
    def plugin_names(self) -> list[str]:
        """Registered plugins in precedence order."""
        self.pm  # noqa: B018 - loads the entry points on first use
        return list(self._order)

    def _impls_in_order(self, hook_name: str) -> list[Any]:
        rank = {name: i for i, name in enumerate(self.plugin_names)}
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        return sorted(impls, key=lambda impl: rank.get(impl.plugin_name, len(rank)))

    def call_each(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call one hook on every plugin separately, in precedence order, so that one failing plugin does not
        hide the others' answers."""
        for impl in self._impls_in_order(hook_name):
            ok, result = self._invoke(impl, hook_name, kwargs)
            if ok:
                yield impl.plugin_name, result

    def _invoke(self, impl: Any, hook_name: str, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        try:
            return True, impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception as exc:
            _warn(f"flagcore plugin {impl.plugin_name!r} ({self.source(impl.plugin_name)}) raised in {hook_name}: "
                  f"{type(exc).__name__}: {exc}; ignoring its answer")
            return False, None

    @property
    def registry(self) -> ModelClassRegistry:
        with self._lock:
            if self._registry is None:
                registry = ModelClassRegistry()
                for impl in self._impls_in_order("register_model_classes"):
                    source = self.source(impl.plugin_name)
                    registrar = ModelClassRegistrar(impl.plugin_name, str(source))
                    ok, _ = self._invoke(impl, "register_model_classes", {"register": registrar})
                    if ok:  # a plugin that failed half-way adds nothing
                        for entry in registrar.added:
                            registry.add(entry)
                self._registry = registry
            return self._registry

    def infos(self) -> list[PluginInfo]:
        registry = self.registry
        infos = []
        for name in self.plugin_names:
            entries = registry.by_plugin(name)
            source = self.source(name)
            infos.append(PluginInfo(
                name=name,
                distribution=source.distribution,
                version=source.version,
                description=source.description,
                embedders=tuple(sorted(e.model_class for e in entries if e.kind == "embedder")),
                rerankers=tuple(sorted(e.model_class for e in entries if e.kind == "reranker")),
            ))
        return infos


def _check_contract(pm: pluggy.PluginManager, plugin: Any, name: str, source: PluginSource) -> None:
    for caller in pm.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            refused = [option for option in _REFUSED_HOOK_OPTIONS if getattr(impl, option, False)]
            if refused:
                raise PluginContractError(
                    f"flagcore plugin {name!r} ({source}) declares {caller.name} with "
                    f"{', '.join(f'{option}=True' for option in refused)}; flagcore calls every plugin's hooks on "
                    "their own, in a fixed precedence order, so hook wrappers and tryfirst/trylast are not "
                    "supported. Use a plain @hookimpl and return your answer.")


def _warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=4)


host = PluginHost()


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Add a plugin object (a module, class or instance with hook implementations) in-process.

    Its name is ``name``, else the object's ``__name__``, else ``module.Class`` of its class. Raises
    :class:`~flagcore.errors.PluginContractError` (a ``ValueError``) when the plugin breaks the hook contract.
    """
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
    """Loaded plugins in precedence order, with their distributions, versions, descriptions and the model class
    ids each registered."""
    return host.infos()

