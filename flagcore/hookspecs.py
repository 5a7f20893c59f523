"""The hooks a flagcore plugin implements. Every hook is optional."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import pluggy

if TYPE_CHECKING:
    from .claims import Claim
    from .probe import ModelProbe
    from .registry import ModelClassRegistrar

hookspec = pluggy.HookspecMarker("flagcore")
hookimpl = pluggy.HookimplMarker("flagcore")


@hookspec
def register_model_classes(register: ModelClassRegistrar) -> None:
    """Register embedder and reranker classes under ids: ``register.add_embedder`` / ``add_reranker``."""


@hookspec
def claim_embedder(probe: ModelProbe) -> Claim | Iterable[Claim] | None:
    """Say whether (and how strongly) this plugin's embedder classes fit the probed model."""


@hookspec
def claim_reranker(probe: ModelProbe) -> Claim | Iterable[Claim] | None:
    """Say whether (and how strongly) this plugin's reranker classes fit the probed model."""
