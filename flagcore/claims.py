"""What a plugin answers when asked whether it claims a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Any, Mapping


class Evidence(IntEnum):
    """Score bands. A claim's score is its band plus an offset below 100.

    The bands encode the order of evidence: a known model name beats an architecture
    detected from config.json or the file list, which beats a generic fallback.
    """

    FALLBACK = 100
    ARCHITECTURE = 200
    NAME = 300

    @classmethod
    def of(cls, score: float) -> Evidence | None:
        for band in sorted(cls, reverse=True):
            if score >= band:
                return band
        return None


MAX_SCORE = Evidence.NAME + 100


@dataclass(frozen=True)
class Claim:
    """A plugin's scored claim on a model.

    ``defaults`` are the constructor arguments the claim implies (pooling method,
    query instruction format, ...); the caller's explicit arguments override them.
    ``plugin`` and ``dropped`` are filled in by the resolver: ``dropped`` says why a claim was set aside (it names
    a model class another plugin registered: it is not scored and its defaults are never applied); it is empty for
    a claim that counts.
    """

    model_class: str
    score: float
    reason: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    plugin: str | None = None
    dropped: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.model_class, str) or not self.model_class:
            raise ValueError(f"Claim.model_class must be a non-empty string, got {self.model_class!r}")
        if not isinstance(self.score, (int, float)) or not 0 <= self.score < MAX_SCORE:
            raise ValueError(f"Claim.score must be a number in [0, {int(MAX_SCORE)}), got {self.score!r}")
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError("Claim.reason must be a non-empty one-line string")
        if not isinstance(self.dropped, str):
            raise ValueError(f"Claim.dropped must be a string, got {self.dropped!r}")
        if isinstance(self.score, IntEnum):
            object.__setattr__(self, "score", int(self.score))
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    @property
    def evidence(self) -> str:
        band = Evidence.of(self.score)
        return band.name.lower() if band is not None else "weak"

    def with_plugin(self, plugin: str) -> Claim:
        """The claim as the resolver records it: from ``plugin``, and not (yet) set aside."""
        return Claim(self.model_class, self.score, self.reason, self.defaults, plugin)

    def set_aside(self, why: str) -> Claim:
        """The claim dropped by the resolver for ``why``; its reason says so first, for ``flagcore explain``."""
        return Claim(self.model_class, self.score, f"DROPPED, not scored: {why}. Its reason: {self.reason}",
                     self.defaults, self.plugin, why)
