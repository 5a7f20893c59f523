"""The extras of ``flagcore`` and how to install each, in one table: every install hint flagcore prints is made here,
and a test holds pyproject.toml's ``[project.optional-dependencies]`` and the docs' install commands to it.

The first-party distributions are not on the package index yet, so a hint says how to install from where the user
is: from a flagcore checkout (``pip install -e plugins/<folder>``, with this checkout's absolute paths when flagcore
itself runs from one), from the wheels ``nox -s dist`` builds (``--find-links``), or from the index once published.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Extra:
    """One extra: ``pip install 'flagcore[name]'``. ``folder``: the checkout folder of the first-party distribution
    it installs (``plugins/serve``); None when it installs packages of the index only (``openvino``)."""

    name: str
    requirements: tuple[str, ...]
    folder: str | None
    purpose: str

    @property
    def distribution(self) -> str:
        return self.requirements[0]


def _plugin(name: str, purpose: str, folder: str | None = None) -> Extra:
    return Extra(name, (f"flagcore-{name}",), f"plugins/{folder or name}", purpose)


#: the model families, in the order the resolver ranks them
FAMILY_EXTRAS: tuple[Extra, ...] = (
    _plugin("bge", "encoder embedders and cross-encoder rerankers (BGE, sentence-transformers folders)"),
    _plugin("m3", "BGE-M3: dense, sparse and multi-vector outputs"),
    _plugin("llm", "decoder-only embedders and rerankers"),
    _plugin("icl", "in-context-learning embedders (bge-en-icl)"),
    _plugin("layerwise", "layer-wise and lightweight LLM rerankers"),
)

#: the add-ons: a server, Ray, the framework integrations, the OpenVINO backend
ADDON_EXTRAS: tuple[Extra, ...] = (
    _plugin("serve", "flagcore serve: an HTTP server (OpenAI, Cohere, TEI APIs)"),
    _plugin("ray", "Ray Data: flagcore_ray.embed_dataset, flagcore encode --ray"),
    _plugin("langchain", "LangChain: FlagcoreEmbeddings, FlagcoreRerank"),
    _plugin("llamaindex", "LlamaIndex: FlagcoreEmbedding, FlagcoreRerank"),
    _plugin("haystack", "Haystack: embedder and ranker components"),
    _plugin("mteb", "MTEB: FlagcoreEncoder, FlagcoreCrossEncoder"),
    Extra("openvino", ("openvino>=2024.4",), None, "backend='openvino' on a CPU"),
)

EXTRAS: dict[str, Extra] = {extra.name: extra for extra in (*FAMILY_EXTRAS, *ADDON_EXTRAS)}

#: ``flagcore[all]``: every model family
ALL_FAMILIES = "all"


#: family extra -> its distribution (``{"bge": "flagcore-bge", ...}``), in rank order
FAMILY_DISTRIBUTIONS: dict[str, str] = {extra.name: extra.distribution for extra in FAMILY_EXTRAS}


@cache
def checkout_root() -> Path | None:
    """The flagcore checkout this flagcore is imported from (an editable install or a run from the source tree),
    recognised by its ``plugins/`` folders next to the package; None for an installed wheel."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "plugins" / "bge" / "pyproject.toml").is_file():
        return root
    return None


def install_hint(*names: str) -> str:
    """The command that installs the extras ``names``, as one line a user can act on from where they are."""
    unknown = [name for name in names if name not in EXTRAS]
    if unknown or not names:
        raise ValueError(f"unknown extras {unknown}: extras are {sorted(EXTRAS)}")
    extras = [EXTRAS[name] for name in names]
    published, command = _published(names), install_command(*names)
    if command != published:
        return f"{command} (from this checkout; once flagcore is published: {published})"
    if all(extra.folder is None for extra in extras):
        return published
    return (f"{published} (from a flagcore checkout: {checkout_command(extras)}, in the checkout's folder; from the "
            f"wheels `nox -s dist` builds: pip install --find-links dist 'flagcore[{','.join(names)}]')")


def _published(names: tuple[str, ...]) -> str:
    return f"pip install 'flagcore[{','.join(names)}]'"


def install_command(*names: str) -> str:
    """Just the command of :func:`install_hint` (for tables): this checkout's when flagcore runs from one."""
    root = checkout_root()
    if root is not None and any(EXTRAS[name].folder for name in names):
        return checkout_command([EXTRAS[name] for name in names], root)
    return _published(names)


def checkout_command(extras: list[Extra], root: Path | None = None) -> str:
    """``pip install -e plugins/x ...`` for ``extras`` (their index requirements as they are), with ``root``'s
    absolute paths when given."""
    parts = []
    for extra in extras:
        if extra.folder is None:
            parts.extend(f"'{requirement}'" for requirement in extra.requirements)
        else:
            parts.append(f"-e {root / extra.folder if root is not None else extra.folder}")
    return "pip install " + " ".join(parts)
