"""Running one call's batches on several devices: the model's first device in this process, the others in a
:class:`~flagcore.engine.pool.DevicePool` of worker processes built from the same constructor arguments.

Batches are dealt out by padded-token count, the devices share the CPU thread budget while they run, one
progress bar counts every device's texts, and results come back in batch order.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Callable

from .padding import Columns

if TYPE_CHECKING:
    import numpy as np

    from .batching import Batcher
    from .pool import DevicePool, ModelSpec

# (step name, step args, one batch's columns, pad_to_multiple_of) -> that batch's output
RunStep = Callable[[str, tuple, Columns, "int | None"], Any]


class MultiDeviceRunner:
    """Owns the worker pool of one model (started on first use, rebuilt if a worker died, closed with the model)."""

    def __init__(self, owner: Any, spec: ModelSpec, devices: list[str]) -> None:
        self.spec = spec
        self.devices = devices
        self._pool: DevicePool | None = None
        self._finalizer: Any = None
        self._owner = weakref.ref(owner)

    def pool(self) -> DevicePool:
        from .pool import DevicePool

        if self._pool is not None and not self._pool.alive:
            self.close()
        if self._pool is None:
            self._pool = DevicePool(self.spec, list(self.devices))
            owner = self._owner()
            if owner is not None:
                self._finalizer = weakref.finalize(owner, self._pool.close)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            if self._finalizer is not None:
                self._finalizer.detach()
            self._pool.close()
            self._pool = None

    def run(self, batcher: Batcher, batches: list[np.ndarray], subset: Callable[[Any], Columns],
            run_step: RunStep, step_name: str, step_args: tuple, pad_to_multiple_of: int | None,
            desc: str, show: bool) -> list[Any]:
        """Every batch's output, in the order of ``batches``."""
        import torch
        from tqdm.auto import tqdm

        from .pool import WorkerError, deal_batches

        tokens = [len(b) * int(batcher.lengths[b[0]]) for b in batches]
        positions = deal_batches(tokens, len(self.devices))
        shares = [[subset(batches[p]) for p in share] for share in positions]
        pool = self.pool()
        bar = tqdm(total=len(batcher), desc=desc, unit="text", disable=not show, leave=False)

        def local(share: list[Columns], cancel: Any) -> list[Any]:
            outputs = []
            for columns in share:
                if cancel.is_set():
                    raise RuntimeError("cancelled: another device failed")
                outputs.append(run_step(step_name, step_args, columns, pad_to_multiple_of))
                bar.update(len(columns["input_ids"]))
            return outputs

        threads = torch.get_num_threads()
        if self.devices[0] == "cpu" and pool.cpu_threads:
            torch.set_num_threads(pool.cpu_threads)  # the CPU devices share the thread budget
        try:
            per_share = pool.run(step_name, step_args, shares, pad_to_multiple_of, local)
            bar.update(sum(len(columns["input_ids"]) for share in shares[1:] for columns in share))
        except WorkerError:
            if not pool.alive:
                self.close()
            raise
        finally:
            torch.set_num_threads(threads)
            bar.close()
        results: list[Any] = [None] * len(batches)
        for share, outputs in zip(positions, per_share, strict=True):
            for position, output in zip(share, outputs, strict=True):
                results[position] = output
        return results
