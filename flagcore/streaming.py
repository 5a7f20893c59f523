"""Streaming: any iterable of inputs in, one result per chunk out, in input order, with memory bounded by the chunk
size rather than the corpus.

A background thread reads the next chunk from the iterable and runs the call's ``prepare`` stage on it (the chunk
tokenized, checked, nothing run) while the calling thread runs ``complete`` (``run``, ``finish``, ``present``) on the
current chunk's work. Each chunk is therefore exactly one ordinary call on that chunk's list, with every option and
family behaviour unchanged. At most ``prefetch`` prepared chunks wait beside the one being run.
"""

from __future__ import annotations

import queue
import threading
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from .inputs import positive_int

#: rows per chunk when the caller does not say
DEFAULT_CHUNK_SIZE = 8192

_END = object()


def chunked(texts: Iterable[Any], size: int) -> Iterator[list[Any]]:
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


def stream_stages(prepare: Callable[..., Any], complete: Callable[[Any], Any], items: Iterable[Any], *,
                  chunk_size: int | None = None, prefetch: int = 1, **kwargs: Any) -> Iterator[Any]:
    """Yield ``complete(prepare(chunk, **kwargs))`` for each chunk of ``items``, in order, preparing chunk ``k + 1``
    in a background thread while chunk ``k`` completes."""
    size = positive_int(DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size, "chunk_size")
    ahead = positive_int(prefetch, "prefetch")
    kwargs.setdefault("show_progress_bar", False)  # one bar per chunk would be noise: callers count rows themselves
    chunks = chunked(items, size)
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
        try:
            for chunk in chunks:
                if not put((prepare(chunk, **kwargs), None)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put((None, exc))
            return
        put(_END)

    worker = threading.Thread(target=produce, name="flagcore-stream-tokenizer", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            work, error = item
            if error is not None:
                raise error
            del item
            result = complete(work)
            del work
            yield result
    finally:
        stop.set()
        worker.join(timeout=5)
