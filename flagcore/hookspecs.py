"""The hooks a flagcore plugin implements (every one is optional), and their contract.

Mark implementations with :data:`hookimpl` (plain: ``@hookimpl``). flagcore calls each plugin's implementation
on its own, never as a pluggy chain, so:

- **Call order** is flagcore's precedence order, the same whatever the install order: first-party families
  (``flagcore-bge``, ``flagcore-m3``, ``flagcore-llm``, ``flagcore-icl``, ``flagcore-layerwise``), then other
  installed plugins sorted by entry-point name (then distribution name), then in-process plugins in the order they
  were registered. ``wrapper=True``, ``hookwrapper=True``, ``tryfirst`` and ``trylast`` are refused at
  registration (:class:`~flagcore.errors.PluginContractError`), as are hooks with names not declared here.
- **Exceptions are isolated**: an implementation that raises is reported as a
  :class:`~flagcore.errors.PluginWarning` naming the plugin and its distribution, its answer is ignored and the
  other plugins carry on. A ``register_model_classes`` that raises registers nothing at all. A ``SystemExit`` (or any
  other ``BaseException`` but ``KeyboardInterrupt``), at import or in a hook, disables the plugin, with a warning.
- **Arguments** are passed by name; an implementation may declare only the ones it uses.
"""

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
    """Register this plugin's model classes under their ids.

    :param register: call ``register.add_embedder(model_class_id, target, description=...)`` and
        ``register.add_reranker(...)``. ``target`` is the class, or better a ``"module:Class"`` string so that
        nothing heavy is imported until the class is chosen; it must subclass
        :class:`~flagcore.AbsEmbedder` / :class:`~flagcore.AbsReranker`.

    Called once per plugin when the registry is first needed (again after a plugin is added or removed). The
    return value is ignored.

    **One owner per id**: a (kind, id) belongs to the first plugin in precedence order that registers it; a later
    registration of the same id is refused with a :class:`~flagcore.errors.PluginWarning` naming both plugins and
    their distributions. Ids of FlagEmbedding's classes (``encoder-only-base``, ``encoder-only-m3``,
    ``decoder-only-base``, ...) are therefore kept by the first-party families when they are installed; give your
    own classes ids of their own.
    """


@hookspec
def claim_embedder(probe: ModelProbe) -> Claim | Iterable[Claim] | None:
    """Say whether, and how strongly, this plugin's embedder classes fit a model.

    :param probe: a :class:`~flagcore.ModelProbe`, read without loading weights or touching the network:
        ``name`` (FlagEmbedding's name rule), ``reference``, ``is_local``, ``local_dir``, ``config`` (config.json as
        a dict, or None), ``files`` (relative paths two levels deep), helpers ``model_type``, ``architectures``,
        ``num_labels``, ``auto_map``, ``is_sequence_classifier``, ``has_file(...)``, ``has_any_file(...)``,
        ``has_m3_heads()``, ``read_json(path)`` and ``sentence_transformers_pooling``. A hub id found in the local
        Hugging Face cache is probed like a directory.
    :return: ``None`` (no claim), a :class:`~flagcore.Claim` or several. A claim names a *registered* embedder id
        (claims for unregistered ids are dropped with a warning, and so are claims for an id another plugin
        registered: a plugin claims only its own ids), a score in ``[0, 400)`` in the bands of
        :class:`~flagcore.Evidence` (``NAME`` 300-399: the name is known; ``ARCHITECTURE`` 200-299: config.json
        and files; ``FALLBACK`` 100-199: a guess), a one-line reason shown by ``flagcore explain``, and the
        constructor defaults the claim implies (the caller's explicit arguments override them; a claim's
        ``trust_remote_code=True`` is never applied, only reported).

    Must be cheap and must not raise for models it does not know: it is called for every model resolved. The
    resolver then applies the precedence rule of ``docs/resolution.md``: ``model_class=``, then a preferred
    plugin, then FlagEmbedding's name table, then the highest score (a tie between different classes is an
    error).
    """


@hookspec
def claim_reranker(probe: ModelProbe) -> Claim | Iterable[Claim] | None:
    """Say whether, and how strongly, this plugin's reranker classes fit a model.

    The same contract as :func:`claim_embedder`, for reranker ids.
    """
