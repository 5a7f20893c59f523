"""What both MTEB wrappers do with MTEB's side of a call: the factory options from MTEB's loader arguments, the
texts out of MTEB's DataLoaders, and which of MTEB's ``encode_kwargs`` reach flagcore."""

from __future__ import annotations

from typing import Any

#: encode_kwargs keys that mean nothing to a flagcore reranker (an embedding dtype): dropped, not refused
_EMBEDDING_ONLY = frozenset({"precision"})


def factory_options(device: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """The auto factory's keyword arguments: ``options`` plus MTEB's ``device`` (what its loaders and
    ``ModelMeta.load_model`` pass) as flagcore's ``devices``."""
    if device is None:
        return dict(options)
    if "devices" in options:
        raise TypeError(f"device={device!r} and devices={options['devices']!r} both given: pass one (MTEB's loaders "
                        "pass device; flagcore's factory takes devices, which may also be a list)")
    return {**options, "devices": device}


def texts_of(inputs: Any, wrapper: str) -> list[str]:
    """Every text of an MTEB DataLoader, in order. MTEB's text batches carry them under ``"text"`` (a document's
    title is already joined to it, a query's instruction already appended)."""
    texts: list[str] = []
    for batch in inputs:
        if "text" not in batch:
            raise ValueError(f"{wrapper} reads text, and this task's batches have only {sorted(batch)}: evaluate "
                             "it on text tasks (mteb.get_tasks(modalities=['text'], exclusive_modality_filter=True))")
        texts.extend(batch["text"])
    return texts


def call_options(encode_kwargs: dict[str, Any], batch_size: int | None, *, embedding: bool) -> dict[str, Any]:
    """The flagcore call options of one MTEB call. ``batch_size`` given to the wrapper wins over MTEB's, which
    ``mteb.evaluate`` always sets (32 unless ``encode_kwargs={"batch_size": ...}``); every other key goes on to
    flagcore, which refuses the ones it does not know by name (``precision`` is dropped for a reranker)."""
    options = {key: value for key, value in encode_kwargs.items()
               if value is not None and (embedding or key not in _EMBEDDING_ONLY)}
    if batch_size is not None:
        options["batch_size"] = batch_size
    return options
