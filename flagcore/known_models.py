"""First-party model names and the family distribution that serves each.

This table powers the "install this extra" hint; the plugins own the claiming logic, with
:func:`name_table_claim` as their one claim on a name in the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from .claims import Claim, Evidence
from .enums import Kind
from .extras import FAMILY_DISTRIBUTIONS, install_hint

if TYPE_CHECKING:
    from .probe import ModelProbe

# model class id -> extra of the core distribution that installs its family
FAMILY_OF_MODEL_CLASS: dict[tuple[Kind, str], str] = {
    ("embedder", "encoder-only-base"): "bge",
    ("embedder", "encoder-only-m3"): "m3",
    ("embedder", "decoder-only-base"): "llm",
    ("embedder", "decoder-only-pseudo_moe"): "llm",
    ("embedder", "decoder-only-icl"): "icl",
    ("reranker", "encoder-only-base"): "bge",
    ("reranker", "decoder-only-base"): "llm",
    ("reranker", "decoder-only-layerwise"): "layerwise",
    ("reranker", "decoder-only-lightweight"): "layerwise",
}


_EMBEDDER_NAMES: dict[str, tuple[str, ...]] = {
    "decoder-only-base": (
        "bge-reasoner-embed-qwen3-8b-0923", "bge-code-v1", "bge-multilingual-gemma2",
        "Qwen3-Embedding-0.6B", "Qwen3-Embedding-4B", "Qwen3-Embedding-8B", "e5-mistral-7b-instruct",
        "gte-Qwen2-7B-instruct", "gte-Qwen2-1.5B-instruct", "gte-Qwen1.5-7B-instruct",
        "SFR-Embedding-2_R", "SFR-Embedding-Mistral", "Linq-Embed-Mistral",
    ),
    "decoder-only-icl": ("bge-en-icl",),
    "encoder-only-m3": ("bge-m3",),
    "encoder-only-base": (
        "bge-large-en-v1.5", "bge-base-en-v1.5", "bge-small-en-v1.5",
        "bge-large-zh-v1.5", "bge-base-zh-v1.5", "bge-small-zh-v1.5",
        "bge-large-en", "bge-base-en", "bge-small-en", "bge-large-zh", "bge-base-zh", "bge-small-zh",
        "e5-large-v2", "e5-base-v2", "e5-small-v2", "multilingual-e5-large-instruct",
        "multilingual-e5-large", "multilingual-e5-base", "multilingual-e5-small",
        "e5-large", "e5-base", "e5-small",
        "gte-multilingual-base", "gte-large-en-v1.5", "gte-base-en-v1.5",
        "gte-large", "gte-base", "gte-small", "gte-large-zh", "gte-base-zh", "gte-small-zh",
        "bce-embedding-base_v1",
    ),
}

_RERANKER_NAMES: dict[str, tuple[str, ...]] = {
    "encoder-only-base": (
        "bge-reranker-base", "bge-reranker-large", "bge-reranker-v2-m3",
        "jina-reranker-v2-base-multilingual", "gte-multilingual-reranker-base",
        "bce-reranker-base_v1", "jina-reranker-v1-turbo-en",
    ),
    "decoder-only-base": ("bge-reranker-v2-gemma",),
    "decoder-only-layerwise": ("bge-reranker-v2-minicpm-layerwise",),
    "decoder-only-lightweight": ("bge-reranker-v2.5-gemma2-lightweight",),
}


# FlagEmbedding's AUTO_EMBEDDER_MAPPING attributes: (pooling, query instruction format) of each embedder class, and
# the names whose row differs from their class's
_CLASS_DEFAULTS: dict[str, tuple[str, str]] = {
    "encoder-only-base": ("cls", "{}{}"),
    "encoder-only-m3": ("cls", "{}{}"),
    "decoder-only-base": ("last_token", "Instruct: {}\nQuery: {}"),
    "decoder-only-icl": ("last_token", "<instruct>{}\n<query>{}"),
}
_MEAN_POOLED = frozenset({
    "e5-large-v2", "e5-base-v2", "e5-small-v2", "multilingual-e5-large-instruct",
    "multilingual-e5-large", "multilingual-e5-base", "multilingual-e5-small",
    "e5-large", "e5-base", "e5-small", "gte-large", "gte-base", "gte-small",
})
_QUERY_FORMATS = {
    "multilingual-e5-large-instruct": "Instruct: {}\nQuery: {}",
    "bge-code-v1": "<instruct>{}\n<query>{}",
    "bge-multilingual-gemma2": "<instruct>{}\n<query>{}",
    # no space after "Query:", as the Qwen3-Embedding model card writes it
    "Qwen3-Embedding-0.6B": "Instruct: {}\nQuery:{}",
    "Qwen3-Embedding-4B": "Instruct: {}\nQuery:{}",
    "Qwen3-Embedding-8B": "Instruct: {}\nQuery:{}",
}
# FlagEmbedding's trust_remote_code=True embedder rows
_REMOTE_CODE_EMBEDDERS = frozenset({
    "bge-code-v1", "gte-Qwen2-7B-instruct", "gte-Qwen2-1.5B-instruct", "gte-Qwen1.5-7B-instruct",
    "gte-multilingual-base", "gte-large-en-v1.5", "gte-base-en-v1.5",
})
# rerankers that ship their own modelling code (FlagEmbedding's table says False, and fails to load them)
_REMOTE_CODE_RERANKERS = frozenset({
    "jina-reranker-v2-base-multilingual", "gte-multilingual-reranker-base", "jina-reranker-v1-turbo-en",
})


@dataclass(frozen=True)
class KnownModel:
    """One row of FlagEmbedding's name tables."""

    name: str
    kind: Kind
    model_class: str
    pooling_method: str | None = None  # embedders
    query_instruction_format: str = "{}{}"
    #: FlagEmbedding's trust_remote_code column (embedders; its reranker rows are all False)
    trust_remote_code: bool = False
    #: the model needs its repository's code to load (flagcore's knowledge; it never turns the switch on)
    needs_remote_code: bool = False

    @property
    def defaults(self) -> dict[str, Any]:
        """The constructor arguments the table gives this name (a claim's defaults)."""
        values: dict[str, Any] = {}
        if self.kind == "embedder":
            values = {"pooling_method": self.pooling_method, "query_instruction_format": self.query_instruction_format}
        if self.needs_remote_code:
            values["trust_remote_code"] = True
        return values

    @property
    def extra(self) -> str:
        return FAMILY_OF_MODEL_CLASS[(self.kind, self.model_class)]

    @property
    def distribution(self) -> str:
        return FAMILY_DISTRIBUTIONS[self.extra]

    @property
    def install_hint(self) -> str:
        return install_hint(self.extra)


def _row(kind: Kind, model_class: str, name: str) -> KnownModel:
    if kind == "reranker":
        return KnownModel(name, kind, model_class, needs_remote_code=name in _REMOTE_CODE_RERANKERS)
    pooling, query_format = _CLASS_DEFAULTS[model_class]
    remote = name in _REMOTE_CODE_EMBEDDERS
    return KnownModel(name, kind, model_class, "mean" if name in _MEAN_POOLED else pooling,
                      _QUERY_FORMATS.get(name, query_format), trust_remote_code=remote, needs_remote_code=remote)


def _index(kind: Kind, table: dict[str, tuple[str, ...]]) -> dict[str, KnownModel]:
    return {name: _row(kind, cls, name) for cls, names in table.items() for name in names}


KNOWN_MODELS: dict[Kind, dict[str, KnownModel]] = {
    "embedder": _index("embedder", _EMBEDDER_NAMES),
    "reranker": _index("reranker", _RERANKER_NAMES),
}


def known_model(name: str, kind: Kind) -> KnownModel | None:
    """The first-party entry for a model name (exact, case-sensitive, like FlagEmbedding)."""
    return KNOWN_MODELS[kind].get(name)


def table_defaults(name: str, kind: Kind) -> dict[str, Any]:
    """The constructor defaults FlagEmbedding's table gives ``name`` (pooling, query format, remote code); ``{}`` for a
    name not in the table."""
    row = known_model(name, kind)
    return row.defaults if row is not None else {}


def names_for(kind: Kind, model_class: str) -> tuple[str, ...]:
    """Every first-party name of one model class, for plugins that claim by name."""
    table = _EMBEDDER_NAMES if kind == "embedder" else _RERANKER_NAMES
    return table.get(model_class, ())


def name_table_claim(probe: ModelProbe, kind: Kind, model_class: str,
                     defaults: Mapping[str, Any] | None = None) -> Claim | None:
    """A NAME claim on ``probe`` for ``model_class`` when its name is one of that class's in FlagEmbedding's
    ``kind`` table, else None. The claim's defaults are the table's for the name (:func:`table_defaults`) unless
    ``defaults`` is given."""
    if probe.name not in names_for(kind, model_class):
        return None
    return Claim(model_class, Evidence.NAME, f"'{probe.name}' is in FlagEmbedding's {kind} table",
                 table_defaults(probe.name, kind) if defaults is None else defaults)


def extra_for_model_class(kind: Kind, model_class: str) -> str | None:
    return FAMILY_OF_MODEL_CLASS.get((kind, model_class))


