"""Choosing a model class: ask every plugin for a claim, keep the best, explain the choice."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .claims import Claim, Evidence
from .enums import KINDS, Kind, model_class_id
from .errors import (
    AmbiguousModelError,
    PluginNotInstalledError,
    UnknownModelClassError,
    UnknownModelError,
)
from .known_models import extra_for_model_class, install_hint, known_model
from .plugins import PluginHost, _warn
from .plugins import host as default_host
from .probe import ModelProbe
from .registry import ModelClassEntry


@dataclass(frozen=True)
class Resolution:
    """The chosen class and the constructor defaults that come with the choice."""

    kind: Kind
    probe: ModelProbe
    entry: ModelClassEntry
    claim: Claim | None
    claims: tuple[Claim, ...]

    @property
    def model_class(self) -> str:
        return self.entry.model_class

    @property
    def defaults(self) -> dict[str, Any]:
        return dict(self.claim.defaults) if self.claim is not None else {}


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
    """Every plugin's claims on ``probe``, best first. Claims for unregistered classes are dropped."""
    host = host or default_host
    registry = host.registry
    claims: list[Claim] = []
    for plugin, result in host.call_each(f"claim_{kind}", probe=probe):
        try:
            answered = _as_claims(result)
        except TypeError as exc:
            _warn(f"flagcore plugin {plugin!r}: {exc}; ignoring its answer")
            continue
        for claim in answered:
            if registry.get(kind, claim.model_class) is None:
                _warn(f"flagcore plugin {plugin!r} claimed {probe.name!r} for {kind} class "
                      f"{claim.model_class!r}, which no plugin registered; ignoring the claim")
                continue
            claims.append(claim.with_plugin(plugin))
    claims.sort(key=lambda c: -c.score)  # stable: equal scores keep plugin order
    return claims


def resolve(
    model_name_or_path: str | os.PathLike[str] | ModelProbe,
    kind: Kind,
    model_class: str | Enum | None = None,
    host: PluginHost | None = None,
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
    if not claims:
        _raise_not_installed(probe, kind, None, host)
        raise UnknownModelError(
            f"No installed flagcore plugin claims {probe.reference!r} as an {kind}. Looked at: "
            f"{probe.describe()}. {_installed_summary(kind, host)} If you know what the model is, pass "
            f"model_class= (one of {host.registry.ids(kind) or 'the ids of an installed family'}); "
            f"'flagcore explain {probe.reference}' shows every plugin's answer."
        )
    best = claims[0]
    rivals = [c for c in claims if c.score == best.score and c.model_class != best.model_class]
    if rivals:
        listed = "; ".join(f"{c.model_class!r} from plugin {c.plugin!r} ({c.reason})" for c in [best, *rivals])
        raise AmbiguousModelError(
            f"{probe.reference!r} is claimed equally (score {best.score:g}) by different {kind} classes: "
            f"{listed}. Pick one with model_class=, e.g. model_class={best.model_class!r}."
        )
    _raise_not_installed(probe, kind, best, host)
    entry = host.registry.get(kind, best.model_class)
    assert entry is not None
    return Resolution(kind, probe, entry, best, tuple(claims))


def _resolve_explicit(probe: ModelProbe, kind: Kind, wanted: str, claims: list[Claim], host: PluginHost) -> Resolution:
    entry = host.registry.get(kind, wanted)
    if entry is None:
        extra = extra_for_model_class(kind, wanted)
        if extra is not None:
            raise PluginNotInstalledError(
                f"model_class={wanted!r} is served by the flagcore '{extra}' family, which is not installed. "
                f"Install it with: {install_hint(extra)}"
            )
        ids = host.registry.ids(kind)
        close = difflib.get_close_matches(wanted.replace("_", "-"), ids, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownModelClassError(
            f"model_class={wanted!r} is not a registered {kind} class.{hint} Registered: {ids or 'none'}."
        )
    # The claim for the same class (if any) still supplies its defaults; other classes' claims do not.
    same = next((c for c in claims if c.model_class == wanted), None)
    return Resolution(kind, probe, entry, same, tuple(claims))


def _raise_not_installed(probe: ModelProbe, kind: Kind, best: Claim | None, host: PluginHost) -> None:
    """A first-party name whose family is missing must not fall to a weaker, wrong claim."""
    known = known_model(probe.name, kind)
    if known is None or (best is not None and (best.model_class == known.model_class or best.score >= Evidence.NAME)):
        return
    if host.registry.get(kind, known.model_class) is not None:
        return  # the family is installed; its own claim (or silence) decides
    fallback = (
        f" The best installed claim, {best.model_class!r} from plugin {best.plugin!r} ({best.reason}), is only "
        f"{best.evidence}-level evidence and would not reproduce the model's outputs; pass model_class="
        f"{best.model_class!r} to use it anyway."
        if best is not None else ""
    )
    raise PluginNotInstalledError(
        f"{probe.name!r} is a FlagEmbedding {kind} of class {known.model_class!r}, served by the flagcore "
        f"'{known.extra}' family, which is not installed. Install it with: {known.install_hint}.{fallback}"
    )


def _installed_summary(kind: Kind, host: PluginHost) -> str:
    ids = host.registry.ids(kind)
    if ids:
        return f"Installed {kind} classes: {ids}."
    return "No model family is installed; install one, e.g. pip install 'flagcore[bge]'."


def explain(
    model_name_or_path: str | os.PathLike[str],
    kind: Kind = "embedder",
    host: PluginHost | None = None,
) -> list[Claim]:
    """Every plugin's claim on the model (model class id, score, reason, defaults), best first."""
    return collect_claims(ModelProbe.from_reference(model_name_or_path), _check_kind(kind), host)
