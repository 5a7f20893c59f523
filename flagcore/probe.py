"""A cheap look at a model reference: its name and, for a local directory, the files and
configs that can be read without loading weights. Never touches the network or torch."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

# A hub id is "name" or "org/name" made of these characters; anything else that is not an
# existing directory is taken to be a local path.
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.\-]*/)?[\w.\-]+$")
_LISTING_DEPTH = 2
#: what Linux allows (and what a reference beyond it cannot be, hub ids being shorter still): bytes per file or folder
#: name, and in a whole path
_NAME_MAX, _PATH_MAX = 255, 4095

#: BGE-M3's extra heads, each stored as ``<name>.safetensors`` or ``<name>.pt`` next to the backbone.
M3_HEADS = ("colbert_linear", "sparse_linear")


def head_files(stem: str) -> tuple[str, str]:
    """The file names a head named ``stem`` may be stored under, preferred first."""
    return f"{stem}.safetensors", f"{stem}.pt"


def model_name_from_reference(reference: str) -> str:
    """FlagEmbedding's basename rule, made tolerant of a trailing slash.

    ``/x/bge-m3`` and ``BAAI/bge-m3`` give ``bge-m3``; ``/x/bge-m3/checkpoint-500`` gives
    the parent folder's name ``bge-m3``.
    """
    ref = reference.strip().replace("\\", "/").rstrip("/")
    parts = [p for p in ref.split("/") if p]
    if not parts:
        return ""
    name = parts[-1]
    if name.startswith("checkpoint-") and len(parts) > 1:
        name = parts[-2]
    return name


def looks_like_hub_id(reference: str) -> bool:
    return bool(_HUB_ID.match(reference.strip().rstrip("/"))) and not reference.startswith((".", "~"))


@dataclass(frozen=True)
class ModelProbe:
    """What the resolver and the plugins know about a model before anything is loaded."""

    reference: str
    name: str
    local_dir: Path | None
    config: dict[str, Any] | None = None
    files: frozenset[str] = field(default_factory=frozenset)

    from_hub_cache: bool = False

    @classmethod
    def from_reference(cls, reference: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None
                       ) -> ModelProbe:
        """Probe a directory, or a hub id (looked up in ``cache_dir`` or the default Hugging Face cache)."""
        if isinstance(reference, os.PathLike):
            reference = os.fspath(reference)
        if not isinstance(reference, str):
            raise TypeError(
                f"model_name_or_path must be a string or a path, not {type(reference).__name__}"
            )
        if not reference.strip():
            raise ValueError("model_name_or_path is empty; pass a model directory or a hub id such as 'BAAI/bge-m3'")
        name = model_name_from_reference(reference)
        path = Path(os.path.expanduser(reference.strip()))
        _check_path_length(str(path))
        from_cache = False
        if not path.is_dir():
            snapshot = cached_snapshot(reference, cache_dir) if looks_like_hub_id(reference) else None
            if snapshot is None:
                return cls(reference=reference, name=name, local_dir=None)
            path, from_cache = snapshot, True
        files = frozenset(_list_files(path, _LISTING_DEPTH))
        config = _read_json(path / "config.json") if "config.json" in files else None
        if not isinstance(config, dict):  # `true` or `[1]` is no config: treated as an unreadable one
            config = None
        return cls(reference=reference, name=name, local_dir=path, config=config, files=files,
                   from_hub_cache=from_cache)

    # -- where the model is -------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        return self.local_dir is not None

    @property
    def is_missing_path(self) -> bool:
        """A reference that can only mean a local path, and nothing is there."""
        return self.local_dir is None and not looks_like_hub_id(self.reference)

    # -- config.json ----------------------------------------------------------------------
    @property
    def model_type(self) -> str | None:
        value = (self.config or {}).get("model_type")
        return value if isinstance(value, str) else None

    @property
    def architectures(self) -> tuple[str, ...]:
        value = (self.config or {}).get("architectures") or ()
        return tuple(a for a in value if isinstance(a, str)) if isinstance(value, list) else ()

    @property
    def num_labels(self) -> int | None:
        config = self.config or {}
        id2label = config.get("id2label")
        if isinstance(id2label, dict) and id2label:
            return len(id2label)
        value = config.get("num_labels")
        return value if isinstance(value, int) else None

    @property
    def auto_map(self) -> dict[str, str]:
        value = (self.config or {}).get("auto_map")
        return dict(value) if isinstance(value, dict) else {}

    # -- files ----------------------------------------------------------------------------
    def has_file(self, *relative_paths: str) -> bool:
        """True when every one of the given files is in the directory."""
        return all(p in self.files for p in relative_paths)

    def has_any_file(self, *relative_paths: str) -> bool:
        """True when at least one of the given files is in the directory."""
        return any(p in self.files for p in relative_paths)

    def has_m3_heads(self) -> bool:
        """Both BGE-M3 heads (``colbert_linear`` and ``sparse_linear``) are in the directory."""
        return all(self.has_any_file(*head_files(head)) for head in M3_HEADS)

    @property
    def is_sequence_classifier(self) -> bool:
        """config.json names a ``*ForSequenceClassification`` architecture."""
        return any(a.endswith("ForSequenceClassification") for a in self.architectures)

    def read_json(self, relative_path: str) -> dict[str, Any] | None:
        """A JSON file of the directory holding an object, as a dict; None when it is absent, unreadable or holds
        anything else (a list, ``true``)."""
        value = self._read_any_json(relative_path)
        return value if isinstance(value, dict) else None

    def _read_any_json(self, relative_path: str) -> Any:
        if self.local_dir is None or relative_path not in self.files:
            return None
        return _read_json(self.local_dir / relative_path)

    @cached_property
    def sentence_transformers_pooling(self) -> str | None:
        """'cls', 'mean', 'last_token' (or 'max', ...) from a sentence-transformers pooling module."""
        path = self._pooling_config_path()
        config = self.read_json(path) if path else None
        if not config:
            return None
        mode = config.get("pooling_mode")
        if isinstance(mode, list) and len(mode) == 1:
            mode = mode[0]
        if isinstance(mode, str):  # the current format: one mode by name
            return {"lasttoken": "last_token"}.get(mode, mode)
        if mode is not None:
            return None  # several modes, concatenated
        modes = {
            "pooling_mode_cls_token": "cls",
            "pooling_mode_mean_tokens": "mean",
            "pooling_mode_lasttoken": "last_token",
            "pooling_mode_max_tokens": "max",
            "pooling_mode_weightedmean_tokens": "weightedmean",
            "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
        }
        chosen = [mode for key, mode in modes.items() if config.get(key)]
        return chosen[0] if len(chosen) == 1 else None

    @cached_property
    def _sentence_transformers(self) -> tuple[Any, str | None]:
        if self.local_dir is None or "modules.json" not in self.files:
            return None, None
        from .st.description import SentenceTransformersFormatError, read_description

        try:
            return read_description(self.local_dir, self.config), None
        except SentenceTransformersFormatError as exc:
            return None, str(exc)

    @property
    def sentence_transformers(self) -> Any:
        """The folder's sentence-transformers description (a :class:`flagcore.st.description.Description`: modules,
        pooling, prompts, max length), or None when there is no ``modules.json`` or it cannot be served (then
        :attr:`sentence_transformers_problem` says why). Reads JSON only."""
        return self._sentence_transformers[0]

    @property
    def sentence_transformers_problem(self) -> str | None:
        """Why the folder's sentence-transformers files cannot be served (the file and what is wrong), or None."""
        return self._sentence_transformers[1]

    def _pooling_config_path(self) -> str | None:
        modules = self._read_any_json("modules.json")
        if isinstance(modules, list):
            for module in modules:
                if isinstance(module, dict) and str(module.get("type", "")).endswith("Pooling"):
                    candidate = f"{str(module.get('path', '')).strip('/')}/config.json"
                    if candidate in self.files:
                        return candidate
        return "1_Pooling/config.json" if "1_Pooling/config.json" in self.files else None

    def describe(self) -> str:
        """One paragraph of what was looked at, for error messages."""
        parts = [f"name {self.name!r} (from {self.reference!r})"]
        if self.local_dir is None:
            parts.append("no local directory and not in the Hugging Face cache (only the name can be used; nothing "
                         "is downloaded to decide)")
        else:
            if self.from_hub_cache:
                parts.append(f"found in the Hugging Face cache at {str(self.local_dir)!r}")
            if self.config is None:
                if "config.json" in self.files:
                    parts.append(f"its config.json {_json_problem(self.local_dir / 'config.json')}")
                else:
                    parts.append(f"directory {str(self.local_dir)!r} has no config.json")
            else:
                parts.append(
                    f"config.json model_type={self.model_type!r} architectures={list(self.architectures)}"
                    f" num_labels={self.num_labels}"
                )
            shown = sorted(self.files)
            more = f" and {len(shown) - 12} more" if len(shown) > 12 else ""
            parts.append(f"files {shown[:12]}{more}")
        return "; ".join(parts)


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloaded repositories (HF_HUB_CACHE, else HF_HOME/hub)."""
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join("~", ".cache", "huggingface"), "hub")
    return Path(os.path.expanduser(cache))


def cached_snapshot(hub_id: str, cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The local snapshot of a hub model already in the cache (``refs/main``, else the newest), or None.

    Only reads the cache's folder layout: never contacts the hub.
    """
    repo_id = hub_id.strip().rstrip("/")
    if "/" not in repo_id:
        return None
    root = Path(os.path.expanduser(os.fspath(cache_dir))) if cache_dir else hub_cache_dir()
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshots = repo / "snapshots"
    try:
        main = (repo / "refs" / "main").read_text().strip()
    except OSError:
        main = ""
    if main and (snapshots / main).is_dir():
        return snapshots / main
    try:
        candidates = [p for p in snapshots.iterdir() if p.is_dir()]
    except OSError:
        return None
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def model_folder(reference: str | os.PathLike[str], cache_dir: str | None = None) -> Path | None:
    """The local folder of a model: the directory, or a hub id's snapshot already in the Hugging Face cache (an id
    not in the cache is not downloaded to look); None otherwise."""
    reference = os.fspath(reference)
    folder = Path(os.path.expanduser(reference))
    if folder.is_dir():
        return folder
    return cached_snapshot(reference, cache_dir) if looks_like_hub_id(reference) else None


def _json_problem(path: Path) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            value = json.load(fh)
    except (OSError, ValueError) as exc:
        return f"cannot be read as JSON ({type(exc).__name__}: {exc})"
    return f"is not a JSON object (it holds {json.dumps(value)[:40]})"


def _check_path_length(path: str) -> None:
    encoded = path.encode("utf-8", "surrogatepass")
    longest = max(encoded.split(b"/"), key=len)
    if len(longest) > _NAME_MAX or len(encoded) > _PATH_MAX:
        what = (f"a name of {len(longest):,} bytes ({longest[:40].decode('utf-8', 'replace')!r}...)"
                if len(longest) > _NAME_MAX else f"{len(encoded):,} bytes")
        raise ValueError(f"model_name_or_path is too long to be a model directory or a hub id: it has {what}, and "
                         f"the file system allows {_NAME_MAX} bytes per file or folder name and {_PATH_MAX:,} in all; "
                         "pass a model directory or a hub id such as 'BAAI/bge-m3'")


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _list_files(root: Path, depth: int) -> list[str]:
    found: list[str] = []
    stack: list[tuple[Path, str, int]] = [(root, "", 1)]
    while stack:
        folder, prefix, level = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if entry.is_dir():
                if level < depth and not entry.name.startswith("."):
                    stack.append((Path(entry.path), f"{rel}/", level + 1))
            else:
                found.append(rel)
    return found
