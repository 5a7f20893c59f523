"""Several devices: one worker process per extra device, each with its own copy of the model.

The parent's model serves the first device (in a thread) while the workers serve the others; batches are
dealt out by padded-token count so every device gets a similar share. The pool starts on first use and is
reused. A worker's exception reaches the caller as :class:`WorkerError` naming the device; a worker that dies
is noticed within a second, the call fails with the device named, and the next call starts a fresh pool.
Nothing is left running (or printed) at interpreter exit.
"""

from __future__ import annotations

import atexit
import importlib
import queue
import threading
import traceback
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

_POLL_SECONDS = 0.2
_START_TIMEOUT_SECONDS = 600.0
_live_pools: weakref.WeakSet[DevicePool] = weakref.WeakSet()


class WorkerError(RuntimeError):
    """A worker process failed; ``device`` says which, ``remote_traceback`` what happened there."""

    def __init__(self, device: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(f"worker on device {device!r} failed: {message}"
                         + (f"\n--- traceback in the worker ---\n{remote_traceback}" if remote_traceback else ""))
        self.device = device
        self.remote_traceback = remote_traceback


@dataclass(frozen=True)
class ModelSpec:
    """How to build the same model in another process: its class and constructor arguments."""

    module: str
    qualname: str
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def build(self, device: str) -> Any:
        target: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            target = getattr(target, part)
        return target(*self.args, **{**self.kwargs, "devices": device})


def _worker_main(spec: ModelSpec, index: int, device: str, threads: int, jobs: Any, results: Any) -> None:
    """Runs in the worker process: build the model, then answer jobs until told to stop.

    Every message back is ``(kind, job id, worker index, payload)``.
    """
    try:
        import torch

        if threads > 0:
            torch.set_num_threads(threads)
        model = spec.build(device)
        results.put(("ready", None, index, None))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        results.put(("failed", None, index, (f"{type(exc).__name__}: {exc}", traceback.format_exc())))
        return
    while True:
        job = jobs.get()
        if job is None:
            return
        job_id, step_name, step_args, batches, pad_to_multiple_of = job
        try:
            outputs = [model.run_step(step_name, step_args, columns, pad_to_multiple_of) for columns in batches]
            results.put(("done", job_id, index, outputs))
        except BaseException as exc:  # noqa: BLE001
            results.put(("error", job_id, index, (f"{type(exc).__name__}: {exc}", traceback.format_exc())))


class DevicePool:
    """Worker processes for ``devices[1:]``; ``devices[0]`` is served in the parent."""

    def __init__(self, spec: ModelSpec, devices: list[str]) -> None:
        import multiprocessing

        self.devices = devices
        self._context = multiprocessing.get_context("spawn")
        self._results = self._context.Queue()
        self._workers: list[tuple[str, Any, Any]] = []  # (device, process, job queue)
        self._job_counter = 0
        cpu_workers = sum(d == "cpu" for d in devices)
        import torch

        self._threads = max(1, torch.get_num_threads() // cpu_workers) if cpu_workers else 0
        for index, device in enumerate(devices[1:], start=1):
            jobs = self._context.Queue()
            threads = self._threads if device == "cpu" else 0
            process = self._context.Process(
                target=_worker_main, args=(spec, index, device, threads, jobs, self._results),
                daemon=True, name=f"flagcore-worker-{index}-{device}")
            process.start()
            self._workers.append((device, process, jobs))
        _live_pools.add(self)
        self._wait_ready()

    @property
    def cpu_threads(self) -> int:
        return self._threads

    def _wait_ready(self) -> None:
        waiting = set(range(1, len(self.devices)))
        deadline = _START_TIMEOUT_SECONDS / _POLL_SECONDS
        while waiting and deadline > 0:
            deadline -= 1
            try:
                kind, _, index, detail = self._results.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                self._check_alive()
                continue
            if kind == "failed":
                self.close()
                raise WorkerError(self.devices[index], f"could not build the model: {detail[0]}", detail[1])
            waiting.discard(index)
        if waiting:
            self.close()
            raise WorkerError(self.devices[min(waiting)], "did not start in time")

    def _check_alive(self) -> None:
        for device, process, _ in self._workers:
            if not process.is_alive():
                code = process.exitcode
                self.close()
                raise WorkerError(device, f"the worker process died (exit code {code})")

    @property
    def alive(self) -> bool:
        return bool(self._workers) and all(p.is_alive() for _, p, _ in self._workers)

    def run(self, step_name: str, step_args: tuple, shares: list[list[dict]], pad_to_multiple_of: int | None,
            local: Callable[[list[dict], threading.Event], list[Any]]) -> list[list[Any]]:
        """Run ``shares[i]`` (a list of column batches) on ``devices[i]``; share 0 runs through ``local``.

        Returns the outputs per share, in the order given.
        """
        self._job_counter += 1
        job_id = self._job_counter
        for (_, _, jobs), batches in zip(self._workers, shares[1:], strict=True):
            if batches:
                jobs.put((job_id, step_name, step_args, batches, pad_to_multiple_of))
        outputs: list[Any] = [None] * len(shares)
        local_error: list[BaseException] = []
        cancel = threading.Event()

        def run_local() -> None:
            try:
                outputs[0] = local(shares[0], cancel)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                local_error.append(exc)

        thread = threading.Thread(target=run_local, name="flagcore-local-device", daemon=True)
        thread.start()
        pending = {i for i in range(1, len(shares)) if shares[i]}
        for i in range(1, len(shares)):
            if not shares[i]:
                outputs[i] = []
        try:
            while pending or thread.is_alive():
                if local_error:
                    raise local_error[0]
                try:
                    kind, received_job, index, payload = self._results.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    self._check_alive()
                    continue
                if received_job != job_id:
                    continue  # a late answer to a call that already failed
                if kind == "error":
                    raise WorkerError(self.devices[index], payload[0], payload[1])
                outputs[index] = payload
                pending.discard(index)
            if local_error:
                raise local_error[0]
        except BaseException:
            cancel.set()
            raise
        return outputs

    def close(self) -> None:
        for _, process, jobs in self._workers:
            if process.is_alive():
                try:
                    jobs.put(None)
                except (OSError, ValueError):
                    pass
        for _, process, jobs in self._workers:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            jobs.close()
            jobs.join_thread()
        self._workers = []
        self._results.close()
        self._results.join_thread()
        _live_pools.discard(self)


@atexit.register
def _close_all_pools() -> None:
    for pool in list(_live_pools):
        pool.close()


def deal_batches(token_counts: list[int], devices: int) -> list[list[int]]:
    """Batch positions per device, greedily balancing padded tokens (largest batches first)."""
    loads = [0] * devices
    shares: list[list[int]] = [[] for _ in range(devices)]
    for position in sorted(range(len(token_counts)), key=lambda i: -token_counts[i]):
        target = loads.index(min(loads))
        shares[target].append(position)
        loads[target] += token_counts[position]
    return [sorted(share) for share in shares]

