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
:class:`~flagcore.errors.PluginWarning` naming it and its distribution; the others carry on. Nothing a plugin does
ends the program: ``SystemExit`` (and any other ``BaseException`` but ``KeyboardInterrupt``) raised while importing
it or calling one of its hooks disables that plugin, with a warning. A distribution's metadata is read
defensively: a missing name, version or summary falls back to the entry point's module, ``unknown`` and nothing
(one warning), and a distribution whose metadata cannot be read at all (empty, not UTF-8) is skipped with a
warning. Every plugin found, loaded or not, has a :class:`PluginStatus` (state, why, import time, classes,
warnings): :func:`check_plugins`, ``flagcore plugins --check``.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import importlib_metadata
import pluggy

import flagcore.hookspecs as hookspecs

from .errors import PluginContractError, PluginWarning
from .extras import FAMILY_DISTRIBUTIONS
from .known_models import FAMILY_OF_MODEL_CLASS
from .registry import ModelClassRegistrar, ModelClassRegistry

ENTRY_POINT_GROUP = "flagcore"
LOAD_PLUGINS_ENV = "FLAGCORE_LOAD_PLUGINS"
IN_PROCESS = "(in-process)"
#: The first-party family distributions, in precedence order.
FIRST_PARTY_DISTRIBUTIONS: tuple[str, ...] = tuple(FAMILY_DISTRIBUTIONS.values())
# Options that would let a plugin change the call order or wrap other plugins' answers: flagcore's precedence
# rule fixes the order, and every plugin is called on its own (see PluginHost.call_each).
_REFUSED_HOOK_OPTIONS = ("wrapper", "hookwrapper", "tryfirst", "trylast")
#: a plugin whose import takes longer than this (seconds) is reported: a warning, and ``flagcore plugins``
SLOW_IMPORT_SECONDS = 5.0
#: the states of a plugin (:attr:`PluginStatus.state`)
LOADED, DISABLED, NOT_SELECTED = "loaded", "disabled", "not selected"
_ADVICE = (f"Fix or reinstall that distribution, or leave it out with {LOAD_PLUGINS_ENV}; 'flagcore plugins "
           "--check' shows every plugin's state.")
# what a missing metadata field falls back to, as the warning says it
_FALLBACKS = {"Name": "the entry point's module {module!r} as its name", "Version": "version 'unknown'",
              "Summary": "an empty description"}
_MAX_WARNINGS_KEPT = 10  # per plugin, for the report: a hook that raises on every call must not grow a list forever


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


@dataclass
class PluginStatus:
    """One plugin found in the ``flagcore`` entry-point group (or registered in-process), loaded or not: a row of
    ``flagcore plugins --check``."""

    name: str
    source: PluginSource
    state: str = LOADED  # LOADED, DISABLED or NOT_SELECTED
    reason: str = ""  # why it is disabled or not selected
    import_seconds: float | None = None  # None: not imported (in-process, not selected, unreadable metadata)
    #: (kind, model class id) it registered; for a plugin that is not loaded, those it would register where that can
    #: be known (a first-party family's, or what it had registered before it was disabled)
    model_classes: tuple[tuple[str, str], ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def slow(self) -> bool:
        """Its import took longer than :data:`SLOW_IMPORT_SECONDS`."""
        return self.import_seconds is not None and self.import_seconds > SLOW_IMPORT_SECONDS

    def owns(self, kind: str, model_class: str) -> bool:
        """Whether ``model_class`` is (or would be) this plugin's: one of its classes, or its entry-point or
        distribution name."""
        names = {self.name, self.source.distribution, self.source.distribution.removeprefix("flagcore-")}
        return (kind, model_class) in self.model_classes or model_class in names


def _allowed_names() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _describe(exc: BaseException) -> str:
    """``Type: message``; a ``SystemExit`` also says what it means."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, SystemExit):
        text += " (the plugin called sys.exit())"
    return text


def _module_of(ep: Any) -> str:
    try:
        return str(ep.module)
    except Exception:  # a value that is not "module[:attr]"
        return str(getattr(ep, "value", "?"))


def _read_source(ep: Any) -> tuple[PluginSource, str | None, str | None]:
    """An entry point's distribution, read defensively: its source (a missing name, version or summary falls back
    to the entry point's module, ``unknown`` and nothing), the warning to give when a field was missing, and why
    the metadata cannot be read at all (None when it can)."""
    module = _module_of(ep)
    dist = getattr(ep, "dist", None)
    if dist is None:
        return PluginSource(module, "unknown"), None, None
    try:
        metadata = dist.metadata
        fields = {key: str(metadata.get(key) or "").strip() for key in _FALLBACKS}
    except Exception as exc:  # empty METADATA (MetadataNotFound), not UTF-8 (UnicodeDecodeError), ...
        return PluginSource(module, "unknown"), None, f"has metadata that cannot be read ({dist}: {_describe(exc)})"
    source = PluginSource(fields["Name"] or module, fields["Version"] or "unknown", fields["Summary"])
    missing = [key for key, value in fields.items() if not value]
    if not missing:
        return source, None, None
    using = ", ".join(_FALLBACKS[key].format(module=module) for key in missing)
    return source, (
        f"flagcore plugin {ep.name!r} ({source}): the metadata of its distribution ({dist}) has no "
        f"{', '.join(missing)}; using {using}. The plugin still loads; its author should set the distribution's "
        "name, version and description (in pyproject.toml)."), None


def installed_entry_points(group: str) -> tuple[list[Any], list[str]]:
    """The entry points of ``group`` in the installed distributions, and what could not be read. When one
    distribution's entry_points.txt cannot be read (not UTF-8), the others' are read one distribution at a time,
    so that it hides no other entry point; it is named in the second list."""
    try:
        return list(importlib_metadata.entry_points(group=group)), []
    except Exception:  # a broken distribution somewhere: find it below
        pass
    found: dict[tuple[str, str], Any] = {}
    problems: list[str] = []
    for dist in importlib_metadata.distributions():
        try:
            selected = dist.entry_points.select(group=group)
        except Exception as exc:
            problems.append(f"the entry points of the installed distribution {dist} cannot be read "
                            f"({_describe(exc)}); skipping it. If it is a flagcore plugin, reinstall it.")
            continue
        for ep in selected:
            found.setdefault((ep.name, ep.value), ep)  # the first copy on the path, as entry_points() keeps
    return list(found.values()), problems


def _first_party_classes(distribution: str) -> tuple[tuple[str, str], ...]:
    """The (kind, model class id) a first-party family registers; none for another distribution."""
    extras = {extra for extra, dist in FAMILY_DISTRIBUTIONS.items() if dist == distribution}
    return tuple(sorted(key for key, extra in FAMILY_OF_MODEL_CLASS.items() if extra in extras))


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
        self._loaded: dict[str, PluginStatus] = {}  # the registered plugins, by name, in precedence order
        self._statuses: list[PluginStatus] = []  # every plugin found or registered, loaded or not, in that order
        self._problems: list[str] = []  # warnings that concern no one plugin
        self._registry: ModelClassRegistry | None = None

    # -- the manager ----------------------------------------------------------------------
    @property
    def pm(self) -> pluggy.PluginManager:
        with self._lock:
            if self._pm is None:
                pm = pluggy.PluginManager("flagcore")
                pm.add_hookspecs(hookspecs)
                self._pm = pm
                try:
                    self._load_entry_points()
                except BaseException:  # Ctrl-C while a plugin imports: the next use starts again
                    self.reset()
                    raise
            return self._pm

    def reset(self) -> None:
        """Forget every plugin; the next use reads the entry points (and the env var) again."""
        with self._lock:
            self._pm = None
            self._loaded.clear()
            self._statuses.clear()
            self._problems.clear()
            self._registry = None

    def _load_entry_points(self) -> None:
        allowed = _allowed_names()
        found = [(ep, _read_source(ep)) for ep in self._find_entry_points()]
        found.sort(key=lambda item: precedence_key(item[0].name, item[1][0]))
        taken: dict[str, PluginSource] = {}
        for ep, (source, incomplete, unreadable) in found:
            status = PluginStatus(ep.name, source, model_classes=_first_party_classes(source.distribution))
            self._statuses.append(status)
            if allowed is not None and ep.name not in allowed and source.distribution not in allowed:
                status.state, status.reason = NOT_SELECTED, f"not named in {LOAD_PLUGINS_ENV}"
                continue
            if ep.name in taken:
                self._disable(status, f"is ignored: {taken[ep.name]} provides a plugin of the same name, first in "
                                      "flagcore's precedence order",
                              f"two installed distributions provide a flagcore plugin named {ep.name!r}: "
                              f"{taken[ep.name]} and {source}; keeping the first (flagcore's precedence rule), "
                              f"ignoring the second. Uninstall one, or choose with {LOAD_PLUGINS_ENV}.")
                continue
            taken[ep.name] = source
            if incomplete is not None:
                self._note(status, incomplete)
            if unreadable is not None:
                self._disable(status, unreadable)
                continue
            self._load(ep, status)
        if allowed:
            missing = allowed - set(taken) - {s.distribution for s in taken.values()}
            if missing:
                self._problem(f"{LOAD_PLUGINS_ENV} names {sorted(missing)}, but no installed flagcore plugin has "
                              "that entry-point or distribution name")

    def _find_entry_points(self) -> list[Any]:
        found, problems = installed_entry_points(ENTRY_POINT_GROUP)
        for problem in problems:
            self._problem(problem)
        return found

    def _load(self, ep: Any, status: PluginStatus) -> None:
        """Import one installed plugin and register it. Whatever its import raises, SystemExit included (not
        Ctrl-C), disables it with a warning; its import time is recorded, and a slow import is reported."""
        start = time.perf_counter()
        try:
            plugin = ep.load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin must not break the others, nor end the program
            status.import_seconds = time.perf_counter() - start
            self._disable(status, f"failed to import: {_describe(exc)}")
            return
        status.import_seconds = time.perf_counter() - start
        if status.slow:
            self._note(status, f"flagcore plugin {status.name!r} ({status.source}) took {status.import_seconds:.1f} s "
                               f"to import (more than {SLOW_IMPORT_SECONDS:g} s), which every program using flagcore "
                               "waits for: a plugin module should import only what its hooks need, and register its "
                               "model classes as 'module:Class' strings so that heavy libraries load when a class is "
                               "chosen.")
        try:
            self._add(plugin, status)
        except (PluginContractError, ValueError) as exc:
            self._disable(status, f"is refused: {exc}", f"{exc}; continuing without it")

    def _add(self, plugin: Any, status: PluginStatus) -> str:
        pm = self._pm
        assert pm is not None
        name, source = status.name, status.source
        if pm.get_plugin(name) is not None:
            raise ValueError(f"a flagcore plugin named {name!r} is already registered; pass another name=")
        try:
            pm.register(plugin, name=name)
            pm.check_pending()
            _check_contract(pm, plugin, name, source)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            if pm.is_registered(plugin):
                pm.unregister(plugin)
            if isinstance(exc, PluginContractError):
                raise
            raise PluginContractError(
                f"flagcore plugin {name!r} ({source}) cannot be registered: {_describe(exc)}") from exc
        self._loaded[name] = status
        self._registry = None
        return name

    # -- what went wrong ---------------------------------------------------------------------
    def _note(self, status: PluginStatus, message: str) -> None:
        """Warn about one plugin, and keep the warning for its report."""
        if message not in status.warnings and len(status.warnings) < _MAX_WARNINGS_KEPT:
            status.warnings.append(message)
        _warn(message)

    def _problem(self, message: str) -> None:
        """Warn about something that concerns no one plugin, and keep it for the report."""
        if message not in self._problems:
            self._problems.append(message)
        _warn(message)

    def _disable(self, status: PluginStatus, reason: str, message: str | None = None) -> None:
        """Mark a plugin that is not registered as disabled and say so (``reason`` completes "flagcore plugin
        'x' (its source) ...")."""
        status.state, status.reason = DISABLED, reason
        _warn(message or f"flagcore plugin {status.name!r} ({status.source}) {reason}; continuing without it. "
                         f"{_ADVICE}")

    def _disable_registered(self, name: str, hook_name: str, reason: str) -> None:
        """Take out a registered plugin that raised SystemExit (or another BaseException) in a hook; the classes
        it registers are remembered as the ones it would own."""
        with self._lock:
            status = self._loaded.pop(name, None)
            if status is None:  # already taken out
                return
            status.model_classes = tuple(sorted(self._classes_of(name, hook_name) | set(status.model_classes)))
            if self._pm is not None and self._pm.get_plugin(name) is not None:
                self._pm.unregister(name=name)
            self._registry = None
            self._disable(status, reason)

    def _classes_of(self, name: str, failed_hook: str) -> set[tuple[str, str]]:
        """What a plugin that is being disabled registered: in the registry, else asked once more (unless that
        is the hook that failed; a second failure is ignored, the plugin is already out of ``_loaded``)."""
        if self._registry is not None:
            return {(e.kind, e.model_class) for e in self._registry.by_plugin(name)}
        if failed_hook == "register_model_classes" or self._pm is None:
            return set()
        registrar = ModelClassRegistrar(name)
        for impl in self._pm.hook.register_model_classes.get_hookimpls():
            if impl.plugin_name == name:
                self._invoke(impl, "register_model_classes", {"register": registrar})
        return {(e.kind, e.model_class) for e in registrar.added}

    # -- in-process plugins ----------------------------------------------------------------
    def register(self, plugin: Any, name: str | None = None) -> str:
        with self._lock:
            self.pm  # noqa: B018 - installed plugins come first in the order
            status = PluginStatus(name or readable_name(plugin), PluginSource(IN_PROCESS, ""))
            self._add(plugin, status)
            stale = self._disabled_in_process(status.name)  # an earlier plugin of that name that was disabled
            self._statuses = [s for s in self._statuses if s is not stale] + [status]
            return status.name

    def _disabled_in_process(self, name: str | None) -> PluginStatus | None:
        return next((s for s in self._statuses if s.name == name and s.state == DISABLED
                     and s.source.distribution == IN_PROCESS), None)

    def unregister(self, plugin_or_name: Any) -> None:
        """Remove a plugin; one registered in-process that was disabled is forgotten without an error."""
        with self._lock:
            pm = self.pm
            name = plugin_or_name if isinstance(plugin_or_name, str) else pm.get_name(plugin_or_name)
            status = self._loaded.pop(name, None) if name is not None else None
            if status is not None:
                pm.unregister(name=name)
                self._registry = None
            else:
                status = self._disabled_in_process(name)
                if status is None:
                    raise ValueError(f"no flagcore plugin {plugin_or_name!r} is registered")
            if status.source.distribution == IN_PROCESS:
                self._statuses = [s for s in self._statuses if s is not status]
            else:
                status.state, status.reason = NOT_SELECTED, "removed with unregister_plugin()"

    # -- calling hooks ---------------------------------------------------------------------
    def source(self, name: str) -> PluginSource:
        status = self._loaded.get(name)
        return status.source if status is not None else PluginSource("unknown", "?")

    @property
    def plugin_names(self) -> list[str]:
        """Registered plugins in precedence order."""
        self.pm  # noqa: B018 - loads the entry points on first use
        return list(self._loaded)

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
        """One plugin's hook: an exception is a warning and no answer; SystemExit or another BaseException (not
        Ctrl-C) also disables the plugin."""
        name = impl.plugin_name
        try:
            return True, impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            message = (f"flagcore plugin {name!r} ({self.source(name)}) raised in {hook_name}: "
                       f"{type(exc).__name__}: {exc}; ignoring its answer")
            status = self._loaded.get(name)
            if status is not None:
                self._note(status, message)
            else:
                _warn(message)
        except BaseException as exc:  # the plugin must not end the program
            self._disable_registered(name, hook_name, f"raised in {hook_name}: {_describe(exc)}")
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

    # -- the report ------------------------------------------------------------------------
    def statuses(self) -> list[PluginStatus]:
        """Every plugin found in the entry-point group or registered in-process, loaded or not, in precedence
        order (copies): a loaded one with the classes it registered and the registrations refused to it."""
        registry = self.registry
        with self._lock:
            report = []
            for status in self._statuses:
                copy = replace(status, warnings=list(status.warnings))
                if self._loaded.get(status.name) is status:
                    entries = registry.by_plugin(status.name)
                    copy.model_classes = tuple(sorted((e.kind, e.model_class) for e in entries))
                    copy.warnings += [f"its {refused.kind} class {refused.model_class!r} is refused: plugin "
                                      f"{owner.plugin!r} ({owner.source}) registered that id first"
                                      for refused, owner in registry.refused if refused.plugin == status.name]
                report.append(copy)
            return report

    def problems(self) -> list[str]:
        """Warnings that concern no one plugin (an unreadable entry_points.txt, a name in the env var that matches
        no plugin)."""
        self.pm  # noqa: B018 - loads the entry points on first use
        return list(self._problems)

    def failed(self) -> list[PluginStatus]:
        """The disabled plugins, in precedence order."""
        return [s for s in self.statuses() if s.state == DISABLED]

    def failed_owner(self, kind: str, model_class: str) -> PluginStatus | None:
        """The disabled plugin that registers (or would register) ``model_class``, if one is known to."""
        return next((s for s in self.failed() if s.owns(kind, model_class)), None)

    def failure_note(self, kind: str, model_class: str) -> str:
        """For a model class no plugin registered: the disabled plugin that would own it and why it is disabled,
        else every disabled plugin and why; "" when no plugin is disabled."""
        owner = self.failed_owner(kind, model_class)
        if owner is not None:
            return (f" It belongs to flagcore plugin {owner.name!r} ({owner.source}), which {owner.reason}: fix or "
                    "reinstall that distribution ('flagcore plugins --check' shows every plugin's state).")
        failed = self.failed()
        if not failed:
            return ""
        listed = "; ".join(f"{s.name!r} ({s.source}) {s.reason}" for s in failed)
        return (f" Plugins that failed to load, whose classes are therefore missing: {listed} ('flagcore plugins "
                "--check' shows every plugin's state).")


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


def check_plugins() -> list[PluginStatus]:
    """Every plugin found in the ``flagcore`` entry-point group, loaded or not, then the in-process ones, in
    precedence order: its state (loaded, disabled, not selected) and why, its import time, the classes it registers
    and its warnings (``flagcore plugins --check``)."""
    return host.statuses()
