"""First-party model names and the family distribution that serves each.

This table only powers the "install this extra" hint; the plugins own the claiming logic.
"""

from __future__ import annotations

from dataclasses import dataclass

from .enums import Kind

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

FAMILY_DISTRIBUTIONS: dict[str, str] = {
    "bge": "flagcore-bge",
    "m3": "flagcore-m3",
    "llm": "flagcore-llm",
    "icl": "flagcore-icl",
    "layerwise": "flagcore-layerwise",
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


@dataclass(frozen=True)
class KnownModel:
    name: str
    kind: Kind
    model_class: str

    @property
    def extra(self) -> str:
        return FAMILY_OF_MODEL_CLASS[(self.kind, self.model_class)]

    @property
    def distribution(self) -> str:
        return FAMILY_DISTRIBUTIONS[self.extra]

    @property
    def install_hint(self) -> str:
        return install_hint(self.extra)


def _index(kind: Kind, table: dict[str, tuple[str, ...]]) -> dict[str, KnownModel]:
    return {name: KnownModel(name, kind, cls) for cls, names in table.items() for name in names}


KNOWN_MODELS: dict[Kind, dict[str, KnownModel]] = {
    "embedder": _index("embedder", _EMBEDDER_NAMES),
    "reranker": _index("reranker", _RERANKER_NAMES),
}


def known_model(name: str, kind: Kind) -> KnownModel | None:
    """The first-party entry for a model name (exact, case-sensitive, like FlagEmbedding)."""
    return KNOWN_MODELS[kind].get(name)


def names_for(kind: Kind, model_class: str) -> tuple[str, ...]:
    """Every first-party name of one model class, for plugins that claim by name."""
    table = _EMBEDDER_NAMES if kind == "embedder" else _RERANKER_NAMES
    return table.get(model_class, ())


def extra_for_model_class(kind: Kind, model_class: str) -> str | None:
    return FAMILY_OF_MODEL_CLASS.get((kind, model_class))


def install_hint(extra: str) -> str:
    return (f"pip install 'flagcore[{extra}]' (the {FAMILY_DISTRIBUTIONS[extra]} distribution; "
            f"from a flagcore checkout: pip install -e plugins/{extra})")
