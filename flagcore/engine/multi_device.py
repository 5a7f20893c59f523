"""Running one call's batches on several devices: the model's first device in this process, the others in a
:class:`~flagcore.engine.workers.DeviceWorkers` of worker processes built from the same constructor arguments.

Batches are dealt out by padded-token count, the devices share the CPU thread budget while they run, one
progress bar counts every device's rows as each batch finishes, and results come back in batch order. Starting
the workers (the first call) prints one line to stderr unless the call passed ``show_progress_bar=False``.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable

from .padding import Columns

if TYPE_CHECKING:
    import numpy as np

    from .batching import Batcher
    from .workers import DeviceWorkers, ModelSpec

# one batch's columns -> that batch's output (on the model's first device, in this process)
RunOne = Callable[[Columns], Any]


class Cancelled(RuntimeError):
    """Raised in the parent's device thread when another device failed: its remaining batches are skipped."""


def start_notice(devices: list[str], again: bool) -> str:
    from .workers import worker_label

    labels = [worker_label(devices, i) for i in range(1, len(devices))]
    count = "1 worker process for device" if len(labels) == 1 else f"{len(labels)} worker processes for devices"
    when = "again (the previous workers stopped)" if again else "(first call only)"
    return f"flagcore: starting {count} {', '.join(labels)} {when}..."


class MultiDeviceRunner:
    """Owns the worker pool of one model (started on first use, rebuilt if a worker died, closed with the model)."""

    def __init__(self, owner: Any, spec: ModelSpec, devices: list[str]) -> None:
        self.spec = spec
        self.devices = devices
        self._pool: DeviceWorkers | None = None
        self._started = False
        self._finalizer: Any = None
        self._owner = weakref.ref(owner)

    def workers(self, notice: bool = False) -> DeviceWorkers:
        from .workers import DeviceWorkers, refuse_in_bootstrapping_worker

        refuse_in_bootstrapping_worker()
        if self._pool is not None and not self._pool.alive:
            self.close()
        if self._pool is None:
            if notice:
                print(start_notice(self.devices, self._started), file=sys.stderr, flush=True)
            self._started = True
            self._pool = DeviceWorkers(self.spec, list(self.devices))
            owner = self._owner()
            if owner is not None:
                self._finalizer = weakref.finalize(owner, self._pool.close)
        return self._pool

    @property
    def current_workers(self) -> DeviceWorkers | None:
        """The worker processes, once started (None before the first call that needs them, or after close)."""
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            if self._finalizer is not None:
                self._finalizer.detach()
            self._pool.close()
            self._pool = None

    def run(self, batcher: Batcher, batches: list[np.ndarray], subset: Callable[[Any], Columns],
            run_one: RunOne, step: Any, pad_to_multiple_of: int | None,
            desc: str, show: bool, *, unit: str = "text", notice: bool = True,
            on_out_of_memory: Callable[[], None] | None = None) -> list[Any]:
        """Every batch's output in the order of ``batches`` (a batch split after running out of memory gives
        the outputs of its parts, in order)."""
        import torch
        from tqdm.auto import tqdm

        from .batching import split_on_out_of_memory
        from .workers import deal_batches

        tokens = [len(b) * int(batcher.lengths[b[0]]) for b in batches]
        positions = deal_batches(tokens, len(self.devices))
        shares = [[subset(batches[p]) for p in share] for share in positions]
        pool = self.workers(notice)
        bar = tqdm(total=len(batcher), desc=desc, unit=unit, disable=not show, leave=False)
        lock = threading.Lock()

        def advance(rows: int) -> None:
            with lock:
                bar.update(rows)

        def local(share: list[Columns], cancel: threading.Event) -> list[Any]:
            outputs = []
            for columns in share:
                if cancel.is_set():
                    raise Cancelled("cancelled: another device failed")
                outputs.append(split_on_out_of_memory(run_one, columns, on_out_of_memory))
                advance(len(columns["input_ids"]))
            return outputs

        threads = torch.get_num_threads()
        if self.devices[0] == "cpu" and pool.cpu_threads:
            torch.set_num_threads(pool.cpu_threads)  # the CPU devices share the thread budget
        try:
            per_share = pool.run(step, shares, pad_to_multiple_of, local, advance)
        except BaseException:
            if not pool.alive:
                self.close()
            raise
        finally:
            torch.set_num_threads(threads)
            bar.close()
        parts: list[list[Any]] = [[] for _ in batches]
        for share, outputs in zip(positions, per_share, strict=True):
            for position, output in zip(share, outputs, strict=True):
                parts[position] = output
        return [output for part in parts for output in part]
