"""Choosing a model class: ask every plugin for a claim, apply the precedence rule, explain the choice.

The rule (``docs/resolution.md``), strongest first:

1. ``model_class=`` names the class.
2. A preferred plugin (``prefer_plugin=`` or ``FLAGCORE_PREFER_PLUGINS``) that claims the model: its best claim.
3. A name in FlagEmbedding's table goes to the class the table names (with that class's own claim, for its
   defaults), whatever other plugins claim; a missing family is an install hint, never a weaker class.
4. Otherwise the highest score; a tie between different classes is an error.

Claims stay in their lane: a plugin's claim for a class another plugin registered is dropped (listed, with why, but
never scored and its defaults never applied), with a ``PluginWarning`` naming the plugin, the class and its owner.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from .claims import Claim, Evidence
from .enums import KINDS, Kind, model_class_id
from .errors import (
    AmbiguousModelError,
    ModelResolutionError,
    PluginNotInstalledError,
    UnknownModelClassError,
    UnknownModelError,
)
from .extras import install_hint
from .known_models import KnownModel, extra_for_model_class, known_model
from .plugins import PluginHost, _warn
from .plugins import host as default_host
from .probe import ModelProbe
from .reference_checks import relative_path_note, unserved_pooling_note
from .registry import ModelClassEntry

PREFER_PLUGINS_ENV = "FLAGCORE_PREFER_PLUGINS"
Rule = Literal["model_class", "preferred plugin", "name table", "score"]


@dataclass(frozen=True)
class Resolution:
    """The chosen class, the claim that chose it (its defaults go to the constructor) and the rule that decided."""

    kind: Kind
    probe: ModelProbe
    entry: ModelClassEntry
    claim: Claim | None
    claims: tuple[Claim, ...]
    rule: Rule = "score"

    @property
    def model_class(self) -> str:
        return self.entry.model_class

    @property
    def defaults(self) -> dict[str, Any]:
        return dict(self.claim.defaults) if self.claim is not None else {}

    @property
    def why(self) -> str:
        """One line: which rule decided, and the claim's reason."""
        reason = f": {self.claim.reason}" if self.claim is not None else ""
        return {
            "model_class": "model_class= given",
            "preferred plugin": f"preferred plugin {self.claim.plugin if self.claim else '?'!r}",
            "name table": "FlagEmbedding's name table",
            "score": "highest score",
        }[self.rule] + reason


def _check_kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise ValueError(f"kind must be 'embedder' or 'reranker', not {kind!r}")
    return kind  # type: ignore[return-value]


def _as_claims(result: Any) -> list[Claim]:
    if result is None:
        return []
    if isinstance(result, Claim):
        return [result]
    if isinstance(result, Iterable) and not isinstance(result, (str, bytes)):
        claims = list(result)
        if all(isinstance(c, Claim) for c in claims):
            return claims
    raise TypeError(f"a claim hook must return a Claim, several Claims or None, not {result!r}")


def collect_claims(probe: ModelProbe, kind: Kind, host: PluginHost | None = None) -> list[Claim]:
    """Every plugin's claims on ``probe``, best score first; equal scores keep the plugins' precedence order.

    Claims for classes no plugin registered are ignored with a warning. A claim for a class another plugin
    registered stays in the list, set aside (``Claim.dropped`` says why; see :func:`_in_lane`)."""
    host = host or default_host
    claims: list[Claim] = []
    for plugin, result in host.call_each(f"claim_{kind}", probe=probe):
        try:
            answered = _as_claims(result)
        except TypeError as exc:
            _warn(f"flagcore plugin {plugin!r}: {exc}; ignoring its answer")
            continue
        for claim in answered:
            kept = _in_lane(claim.with_plugin(plugin), probe, kind, host)
            if kept is not None:
                claims.append(kept)
    claims.sort(key=lambda c: -c.score)  # stable
    return claims


def _in_lane(claim: Claim, probe: ModelProbe, kind: Kind, host: PluginHost) -> Claim | None:
    """The claim as it counts: None for a class nobody registered; set aside, with a ``PluginWarning`` naming the
    plugin, the class and its owner, for a class another plugin registered (a registration of that id the registry
    refused included): a plugin's claims, and the defaults they carry, count only for the classes it registered."""
    entry = host.registry.get(kind, claim.model_class)
    if entry is None:
        _warn(f"flagcore plugin {claim.plugin!r} claimed {probe.name!r} for {kind} class "
              f"{claim.model_class!r}, which no plugin registered; ignoring the claim")
        return None
    if entry.plugin == claim.plugin:
        return claim
    rule = "a plugin's claims count only for the classes it registered itself"
    defaults = f"; its defaults {dict(claim.defaults)} are not applied" if claim.defaults else ""
    _warn(f"flagcore plugin {claim.plugin!r} ({host.source(str(claim.plugin))}) claimed {probe.name!r} for {kind} "
          f"class {claim.model_class!r}, which belongs to {entry.plugin!r} ({entry.source}): the claim is dropped, "
          f"not scored{defaults}. {rule.capitalize()}, as {claim.plugin!r}'s registration is refused for an id "
          f"another plugin registered first. Register a class under an id of your own (it may reuse the same "
          f"implementation), or pass model_class={claim.model_class!r} with the arguments you want.")
    return claim.set_aside(f"{kind} class {claim.model_class!r} belongs to plugin {entry.plugin!r} "
                           f"({entry.source}), not to {claim.plugin!r}; {rule}")


def _counted(claims: Iterable[Claim]) -> list[Claim]:
    """The claims that take part in the choice: all but those set aside."""
    return [c for c in claims if not c.dropped]


def preferred_plugins(prefer_plugin: str | Iterable[str] | None, host: PluginHost) -> tuple[str, ...]:
    """The plugins whose claims win over the name table and the scores: the argument, else the env var.

    A name given as an argument must be a loaded plugin (``ValueError`` otherwise); a name in the env var that is
    not loaded is skipped with a warning, since the variable applies to every model.
    """
    if prefer_plugin is not None:
        names = (prefer_plugin,) if isinstance(prefer_plugin, str) else tuple(prefer_plugin)
        unknown = [n for n in names if n not in host.plugin_names]
        if unknown:
            raise ValueError(f"prefer_plugin names {unknown}, which is not a loaded flagcore plugin; loaded: "
                             f"{host.plugin_names or 'none'} ('flagcore plugins' lists them)")
        return names
    raw = os.environ.get(PREFER_PLUGINS_ENV, "")
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [n for n in names if n not in host.plugin_names]
    if unknown:
        _warn(f"{PREFER_PLUGINS_ENV} names {unknown}, which is not a loaded flagcore plugin; ignoring it")
    return tuple(n for n in names if n not in unknown)


def resolve(
    model_name_or_path: str | os.PathLike[str] | ModelProbe,
    kind: Kind,
    model_class: str | Enum | None = None,
    host: PluginHost | None = None,
    prefer_plugin: str | Iterable[str] | None = None,
) -> Resolution:
    """Pick the model class for a model, or raise a :class:`~flagcore.errors.ModelResolutionError`."""
    kind = _check_kind(kind)
    host = host or default_host
    probe = (
        model_name_or_path if isinstance(model_name_or_path, ModelProbe)
        else ModelProbe.from_reference(model_name_or_path)
    )
    claims = collect_claims(probe, kind, host)
    if model_class is not None:
        return _resolve_explicit(probe, kind, model_class_id(model_class), claims, host)
    preferred = preferred_plugins(prefer_plugin, host)
    mine = [c for c in _counted(claims) if c.plugin in preferred]
    if mine:
        return _best(probe, kind, mine, claims, host, "preferred plugin")
    known = known_model(probe.name, kind)
    if known is not None:
        return _resolve_known_name(probe, kind, known, claims, host)
    if not _counted(claims):
        notes = (unserved_pooling_note(probe, host.registry.pooling_methods()) + relative_path_note(probe)
                 + "".join(f" Plugin {c.plugin!r}'s claim was dropped: {c.dropped}." for c in claims))
        raise UnknownModelError(
            f"No installed flagcore plugin claims {probe.reference!r} as {'an' if kind == 'embedder' else 'a'} "
            f"{kind}.{_other_kind_hint(probe, kind, host)} Looked at: {probe.describe()}.{notes} "
            f"{_installed_summary(kind, host)} If you know what the model is, pass "
            f"model_class= (one of {host.registry.ids(kind) or 'the ids of an installed family'}); "
            f"'flagcore explain {probe.reference}' shows every plugin's answer."
        )
    return _best(probe, kind, _counted(claims), claims, host, "score")


def _other_kind_hint(probe: ModelProbe, kind: Kind, host: PluginHost) -> str:
    """`` It is claimed as an embedder ...: use FlagAutoModel`` when the other kind's plugins claim the model."""
    import warnings

    other: Kind = "reranker" if kind == "embedder" else "embedder"
    with warnings.catch_warnings():  # the plugins' warnings were given once already, for the kind asked for
        warnings.simplefilter("ignore")
        claims = _counted(collect_claims(probe, other, host))
    if not claims:
        return ""
    best = max(claims, key=lambda c: c.score)
    factory = "FlagAutoModel" if other == "embedder" else "FlagAutoReranker"
    return (f" It is {'an' if other == 'embedder' else 'a'} {other} ({best.model_class}: {best.reason}): load it "
            f"with {factory}.from_finetuned (on the command line: 'flagcore explain {probe.reference} --kind "
            f"{other}').")


def model_kind(model_name_or_path: str | os.PathLike[str] | ModelProbe, model_class: str | Enum | None = None,
               host: PluginHost | None = None) -> Kind:
    """``"reranker"`` when flagcore resolves the model as a reranker, else ``"embedder"``: how ``flagcore rerank``
    and ``flagcore serve`` tell what a model is."""
    try:
        resolve(model_name_or_path, "reranker", model_class, host)
    except ModelResolutionError:
        return "embedder"
    return "reranker"


def _best(probe: ModelProbe, kind: Kind, candidates: list[Claim], claims: list[Claim], host: PluginHost,
          rule: Rule) -> Resolution:
    best = candidates[0]
    rivals = [c for c in candidates if c.score == best.score and c.model_class != best.model_class]
    if rivals:
        listed = "; ".join(f"{c.model_class!r} from plugin {c.plugin!r} ({c.reason})" for c in [best, *rivals])
        raise AmbiguousModelError(
            f"{probe.reference!r} is claimed equally (score {best.score:g}) by different {kind} classes: "
            f"{listed}. Pick one with model_class=, e.g. model_class={best.model_class!r}."
        )
    entry = host.registry.get(kind, best.model_class)
    assert entry is not None
    return Resolution(kind, probe, entry, best, tuple(claims), rule)


def _resolve_known_name(probe: ModelProbe, kind: Kind, known: KnownModel, claims: list[Claim],
                        host: PluginHost) -> Resolution:
    """A FlagEmbedding name goes to its class: the claim of the plugin that owns the id (the only plugin whose claims
    for it count), else the table itself (no defaults)."""
    entry = host.registry.get(kind, known.model_class)
    if entry is None:
        others = [c for c in _counted(claims) if c.model_class != known.model_class]
        elsewhere = (
            f" Plugin {others[0].plugin!r} claims it as {others[0].model_class!r} ({others[0].reason}); to use "
            f"that instead pass prefer_plugin={others[0].plugin!r} or model_class={others[0].model_class!r}."
            if others else ""
        )
        installed = [n for n in host.plugin_names if host.source(n).distribution == known.distribution]
        if installed:
            source = host.source(installed[0])
            raise PluginNotInstalledError(
                f"{probe.name!r} is a FlagEmbedding {kind} of class {known.model_class!r}, which the installed "
                f"{source.distribution} {source.version} does not provide; a newer {source.distribution} may."
                f"{elsewhere}"
            )
        raise PluginNotInstalledError(
            f"{probe.name!r} is a FlagEmbedding {kind} of class {known.model_class!r}, served by the flagcore "
            f"'{known.extra}' family, which is not installed. Install it with: {known.install_hint}.{elsewhere}"
        )
    same = [c for c in _counted(claims) if c.model_class == known.model_class]
    claim = next((c for c in same if c.plugin == entry.plugin), same[0] if same else None)
    if claim is None:
        claim = Claim(known.model_class, Evidence.NAME, f"'{probe.name}' is in FlagEmbedding's {kind} table",
                      plugin=entry.plugin)
    return Resolution(kind, probe, entry, claim, tuple(claims), "name table")


def _resolve_explicit(probe: ModelProbe, kind: Kind, wanted: str, claims: list[Claim], host: PluginHost) -> Resolution:
    entry = host.registry.get(kind, wanted)
    if entry is None:
        extra = extra_for_model_class(kind, wanted)
        if extra is not None and host.failed_owner(kind, wanted) is None:  # installed but broken: said below
            raise PluginNotInstalledError(
                f"model_class={wanted!r} is served by the flagcore '{extra}' family, which is not installed. "
                f"Install it with: {install_hint(extra)}"
            )
        ids = host.registry.ids(kind)
        close = difflib.get_close_matches(wanted.replace("_", "-"), ids, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownModelClassError(  # the note names the plugins that failed to load, and why
            f"model_class={wanted!r} is not a registered {kind} class.{host.failure_note(kind, wanted)}{hint} "
            f"Registered: {ids or 'none'}."
        )
    # The owner's claim for the same class still supplies its defaults; other claims (set aside ones too) do not.
    same = [c for c in _counted(claims) if c.model_class == wanted]
    claim = next((c for c in same if c.plugin == entry.plugin), same[0] if same else None)
    return Resolution(kind, probe, entry, claim, tuple(claims), "model_class")


def _installed_summary(kind: Kind, host: PluginHost) -> str:
    ids = host.registry.ids(kind)
    if ids:
        return f"Installed {kind} classes: {ids}."
    return f"No model family is installed; install one, e.g. {install_hint('bge')}."


def explain(
    model_name_or_path: str | os.PathLike[str],
    kind: Kind = "embedder",
    host: PluginHost | None = None,
) -> list[Claim]:
    """Every plugin's claim on the model (model class id, score, reason, defaults), best first. A claim set aside
    for naming another plugin's class is listed too: ``dropped`` (and the start of its reason) says why."""
    return collect_claims(ModelProbe.from_reference(model_name_or_path), _check_kind(kind), host)
