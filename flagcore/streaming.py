"""Streaming encode: any iterable of texts in, one result per chunk out, in input order, with memory bounded by the
chunk size rather than the corpus.

A background thread reads the next chunk from the iterable and tokenizes it (the public call run with
``TOKENIZE_ONLY``) while the calling thread runs the forward pass of the current chunk (the same public call, told
to take the columns already made through :data:`PRETOKENIZED`). Each chunk is therefore exactly one ordinary call
on that chunk's list, with every option and family behaviour (instructions, M3's dict outputs, a device pool fed
batch by batch) unchanged. At most ``prefetch`` tokenized chunks wait beside the one being embedded.
"""

from __future__ import annotations

import queue
import threading
from contextvars import ContextVar
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from .inputs import positive_int

#: rows per chunk when the caller does not say
DEFAULT_CHUNK_SIZE = 8192

#: set around the forward call of one chunk: the token columns its texts already became in the tokenizer thread
PRETOKENIZED: ContextVar[Any] = ContextVar("flagcore_pretokenized", default=None)

_END = object()


def chunked(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    """Lists of ``size`` items (the last one shorter) from any iterable; a single string is refused (iterating it
    would give characters)."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("a stream takes an iterable of texts (a list, a generator, a file's lines), not one string; "
                        "wrap a single text in a list")
    iterator = iter(texts)
    while True:
        chunk = list(islice(iterator, size))
        if not chunk:
            return
        yield chunk


def stream_call(call: Callable[..., Any], texts: Iterable[str], *, chunk_size: int | None = None, prefetch: int = 1,
                tokenize_only: Any = None, **kwargs: Any) -> Iterator[Any]:
    """Yield ``call(chunk, **kwargs)`` for each chunk of ``texts``, in order, tokenizing chunk ``k + 1`` in a
    background thread while chunk ``k`` runs. ``tokenize_only`` is the context variable that makes ``call`` stop
    after tokenizing and return the columns (``flagcore.model_base.TOKENIZE_ONLY``)."""
    size = positive_int(DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size, "chunk_size")
    ahead = positive_int(prefetch, "prefetch")
    kwargs.setdefault("show_progress_bar", False)  # one bar per chunk would be noise: callers count rows themselves
    chunks = chunked(texts, size)
    ready: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        token = tokenize_only.set(True)
        try:
            for chunk in chunks:
                columns = call(chunk, **kwargs)
                if not put((chunk, columns, None)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put((None, None, exc))
            return
        finally:
            tokenize_only.reset(token)
        put(_END)

    worker = threading.Thread(target=produce, name="flagcore-stream-tokenizer", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            chunk, columns, error = item
            if error is not None:
                raise error
            token = PRETOKENIZED.set(columns)
            try:
                result = call(chunk, **kwargs)
            finally:
                PRETOKENIZED.reset(token)
            del chunk, columns, item
            yield result
    finally:
        stop.set()
        worker.join(timeout=5)
