"""Dynamic batching across requests.

Each request is prepared on its own (the model's ``prepare_*`` stage: its texts tokenized); its work joins a bounded
queue. One worker thread per model takes the oldest waiting request and every other waiting request that runs the same
way (same key, so the same options), up to ``max_run_tokens`` padded tokens, joins their works into one and runs it (the
model's ``run`` and ``finish`` stages), which sorts the rows by length and runs them in batches under the model's token
budget (on a single CPU device, in groups of similar lengths first: :mod:`flagcore_serve.grouping`). The output rows are
split back per request, in order, and each request's future is resolved on its event loop. A run closes when it is full,
or when no request is on its way (being read or tokenized) — or, at the latest, ``batch_wait_ms`` after its oldest
request was queued. Inference never runs on the event loop, so ``/health`` answers while a run is in progress.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable

if TYPE_CHECKING:
    from flagcore.family import Work


class QueueFull(Exception):
    """The model's queue holds ``max_queue`` inputs already."""


class Stopped(RuntimeError):
    """The batcher was stopped (the server is shutting down): it takes no more work."""


@dataclass(eq=False)
class Job:
    key: Hashable
    work: Work
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    rows: int
    tokens: int
    queued: float = field(default_factory=time.monotonic)

    @property
    def columns(self) -> dict[str, list[list[int]]]:
        return self.work.columns


def _resolve(future: asyncio.Future, value: Any, error: BaseException | None) -> None:
    if future.done():  # timed out or cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class DynamicBatcher:
    """Merges the requests of one model into shared runs on a worker thread.

    ``run(key, work)`` computes one merged run and returns a list of per-row outputs, or a callable splitting
    the run's output: ``split(output, start, stop)``.
    """

    def __init__(self, name: str, run: Callable[[Any, Work], Any],
                 split: Callable[[Any, int, int], Any], *, max_queue: int, max_run_tokens: int,
                 batch_wait_s: float, observe: Callable[[int, int, float], None] | None = None) -> None:
        self.name = name
        self._run = run
        self._split = split
        self.max_queue = max_queue
        self.max_run_tokens = max_run_tokens
        self.batch_wait_s = batch_wait_s
        self._observe = observe
        self._jobs: deque[Job] = deque()
        self._queued_rows = 0
        self._arriving = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=f"flagcore-serve-{name}", daemon=True)
        self._thread.start()

    # -- the request side (event loop) -----------------------------------------------------------------
    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def arriving(self) -> _Arriving:
        """Context of a request being read and tokenized: the worker waits a little for it before closing a run."""
        return _Arriving(self)

    def submit(self, key: Hashable, work: Work, arrival: _Arriving | None = None) -> asyncio.Future:
        """Queue one request's prepared work (``arrival``: the context it was read in, which ends here); its future
        gets the request's outputs. :class:`QueueFull` when full."""
        loop = asyncio.get_running_loop()
        rows = work.rows
        job = Job(key, work, loop.create_future(), loop, rows, work.tokens)
        with self._cond:
            if arrival is not None:
                arrival.leave()
            if self._stopped:
                raise Stopped("the server is shutting down")
            if self._queued_rows + rows > self.max_queue and self._queued_rows:
                raise QueueFull(f"the queue of model {self.name!r} is full ({self._queued_rows} inputs waiting, "
                                f"limit {self.max_queue}); retry later")
            self._jobs.append(job)
            self._queued_rows += rows
            self._cond.notify()
        job.future.add_done_callback(functools.partial(self._withdraw, job))
        return job.future

    def _withdraw(self, job: Job, future: asyncio.Future) -> None:
        """A job whose future was cancelled (its client went away, or it timed out) leaves the queue at once, so it
        never runs and the queue's count drops now, not when the worker next looks; one already in a run goes on."""
        if not future.cancelled():
            return
        with self._cond:
            try:
                self._jobs.remove(job)
            except ValueError:  # taken by a run, or dropped by _take, already
                return
            self._queued_rows -= job.rows

    @property
    def alive(self) -> bool:
        """Whether the worker takes work (not stopped, its thread running)."""
        return not self._stopped and self._thread.is_alive()

    def stop(self) -> None:
        """Stop the worker after its current run; the requests still queued get :class:`Stopped`."""
        with self._cond:
            self._stopped = True
            left, self._jobs, self._queued_rows = list(self._jobs), deque(), 0
            self._cond.notify_all()
        for job in left:
            self._deliver(job, None, Stopped("the server is shutting down"))
        self._thread.join(timeout=30)

    # -- the worker thread ------------------------------------------------------------------------------
    def _take(self) -> list[Job] | None:
        """The next run: the oldest job and the waiting jobs of its key, up to the token cap."""
        with self._cond:
            while not self._jobs and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return None
            first = self._jobs[0]
            deadline = first.queued + self.batch_wait_s
            while self._arriving > 0 and self._padded(first.key) < self.max_run_tokens:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            taken: list[Job] = []
            kept: deque[Job] = deque()
            longest, rows = 0, 0
            for job in self._jobs:
                if job.future.done() or job.loop.is_closed():  # timed out while waiting: never run
                    self._queued_rows -= job.rows
                    continue
                if job.key == first.key and (not taken or self._fits(job, longest, rows)):
                    taken.append(job)
                    longest = max(longest, max((len(ids) for ids in job.columns["input_ids"]), default=1))
                    rows += job.rows
                else:
                    kept.append(job)
            self._jobs = kept
            self._queued_rows -= rows
            return taken

    def _fits(self, job: Job, longest: int, rows: int) -> bool:
        job_longest = max((len(ids) for ids in job.columns["input_ids"]), default=1)
        return max(longest, job_longest) * (rows + job.rows) <= self.max_run_tokens

    def _padded(self, key: Hashable) -> int:
        rows = [job for job in self._jobs if job.key == key]
        longest = max((len(ids) for job in rows for ids in job.columns["input_ids"]), default=0)
        return longest * sum(job.rows for job in rows)

    def _loop(self) -> None:
        while True:
            jobs = self._take()
            if jobs is None:
                return
            if not jobs:
                continue
            self._execute(jobs)

    def _execute(self, jobs: list[Job]) -> None:
        start = time.perf_counter()
        try:
            merged = jobs[0].work.joined([job.work for job in jobs[1:]])
            output = self._run(jobs[0].key, merged)
            parts, offset = [], 0
            for job in jobs:
                parts.append(self._split(output, offset, offset + job.rows))
                offset += job.rows
        except Exception as exc:  # the worker outlives every failure; each request of the run gets the error
            for job in jobs:
                self._deliver(job, None, exc)
            return
        finally:
            if self._observe is not None:
                self._observe(sum(job.rows for job in jobs), sum(job.tokens for job in jobs),
                              time.perf_counter() - start)
        for job, part in zip(jobs, parts, strict=True):
            self._deliver(job, part, None)

    @staticmethod
    def _deliver(job: Job, value: Any, error: BaseException | None) -> None:
        try:
            job.loop.call_soon_threadsafe(_resolve, job.future, value, error)
        except RuntimeError:  # its event loop has closed: nobody waits for it
            pass


class _Arriving:
    """A request on its way to the queue (counted until it is submitted or fails)."""

    def __init__(self, batcher: DynamicBatcher) -> None:
        self.batcher = batcher
        self.counted = False

    def __enter__(self) -> _Arriving:
        with self.batcher._cond:
            self.batcher._arriving += 1
            self.counted = True
        return self

    def leave(self) -> None:
        """Stop counting (the caller holds the batcher's lock)."""
        if self.counted:
            self.counted = False
            self.batcher._arriving -= 1
            self.batcher._cond.notify()

    def __exit__(self, *exc: object) -> None:
        with self.batcher._cond:
            self.leave()
