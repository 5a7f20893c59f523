"""Checks of a model reference made before any class is built, so that a wrong path, an uncached hub id
offline, or a model whose pooling no class implements gets a plain answer instead of a loader's error."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .enums import POOLING_METHODS
from .probe import ModelProbe, hub_cache_dir, looks_like_hub_id

_TRUE = {"1", "on", "yes", "true"}


def hub_offline() -> bool:
    """Whether the Hugging Face libraries are told not to use the network (read now)."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_reference(probe: ModelProbe) -> None:
    """A path that is a file, or a path where nothing is."""
    if probe.local_dir is not None:
        return
    path = Path(os.path.expanduser(probe.reference.strip()))
    if path.is_file():
        hint = (f" It looks like a file of a model: pass its folder, {str(path.parent)!r}."
                if path.name in ("config.json", "tokenizer.json", "modules.json") or path.suffix in (
                    ".safetensors", ".bin", ".pt") else "")
        raise FileNotFoundError(f"{probe.reference!r} is a file, not a model directory: pass the directory that holds "
                                f"config.json, the weights and the tokenizer files.{hint}")
    if probe.is_missing_path:
        raise FileNotFoundError(
            f"Model directory {probe.reference!r} does not exist (looked for {str(path.absolute())!r}). Pass an "
            "existing directory holding config.json, the weights and the tokenizer files, or a hub id such as "
            "'BAAI/bge-m3'."
        )


def download_failure(probe: ModelProbe, error: BaseException) -> FileNotFoundError | None:
    """The plain answer for a loader's failure to fetch an uncached hub id (no network, hub unreachable)."""
    if probe.local_dir is None and _is_connection_problem(error):
        first_line = str(error).splitlines()[0] if str(error) else ""
        if hub_offline():
            why = ("HF_HUB_OFFLINE is set, so it cannot be downloaded. Download it where there is network "
                   f"(`huggingface-cli download {probe.reference}`, then copy the cache), unset HF_HUB_OFFLINE, or "
                   "pass a local directory.")
        else:
            why = (f"could not be downloaded ({type(error).__name__}: {first_line}). Check the network, or download "
                   "it where there is one and pass the local directory.")
        return FileNotFoundError(f"{probe.reference!r} is not in the Hugging Face cache ({str(hub_cache_dir())!r}, or "
                                 f"the cache_dir passed) and {why}")
    return None


def _is_connection_problem(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        name = type(seen).__name__
        text = str(seen).lower()
        if ("connect" in name.lower() or name in ("LocalEntryNotFoundError", "OfflineModeIsEnabled", "Timeout")
                or "couldn't connect" in text or "offline mode" in text):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def relative_path_note(probe: ModelProbe) -> str:
    """For an unknown bare name that could also be meant as a relative path: where it was looked for."""
    if probe.local_dir is None and looks_like_hub_id(probe.reference) and "/" not in probe.reference.strip("/"):
        return (f" There is no directory {probe.reference!r} in the current directory ({os.getcwd()!r}) either;"
                " pass a path to your model folder.")
    return ""


def unserved_pooling_note(probe: ModelProbe, served: Iterable[str]) -> str:
    """For a model whose sentence-transformers pooling none of the ``served`` pooling methods is: say so."""
    mode = probe.sentence_transformers_pooling
    served = sorted(set(served) or POOLING_METHODS)
    if probe.local_dir is None or mode is None or mode in served:
        return ""
    return (f" Its sentence-transformers pooling module pools by {mode!r}, which no installed class implements "
            f"(they pool by {', '.join(served)}); a plugin serving {mode!r} pooling would claim it.")
