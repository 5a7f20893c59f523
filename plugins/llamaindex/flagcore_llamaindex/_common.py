"""What the LlamaIndex wrappers share: telling LlamaIndex's own fields from flagcore's factory options, and one lock
per loaded flagcore model."""

from __future__ import annotations

import threading
import weakref
from typing import Any

_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def split_options(llama_class: Any, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``options`` as ``(fields of llama_class, the rest)``: LlamaIndex's own fields (``embed_batch_size``,
    ``callback_manager``, ...) go to its base class, everything else to flagcore's auto factory. Read from the
    class's pydantic fields, so a field a newer llama-index-core adds is routed to it without a change here."""
    fields = set(llama_class.model_fields)
    ours = {name: value for name, value in options.items() if name in fields}
    rest = {name: value for name, value in options.items() if name not in fields}
    return ours, rest


def model_lock(model: Any) -> threading.Lock:
    """The lock that serializes calls into ``model``. LlamaIndex runs async embedding batches concurrently and its
    postprocessors in worker threads (``asyncio.to_thread``); a flagcore model is one set of weights on its devices,
    so calls take turns instead of contending for the same cores. Shared by every wrapper of the same model (a
    BGE-M3 behind both a dense and a sparse embedding), released with the model."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.Lock()
        return lock
