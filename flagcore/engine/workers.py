"""Several devices: one worker process per extra device, each with its own copy of the model.

The parent's model serves the first device (in a thread) while the workers serve the others; batches are
dealt out by padded-token count so every device gets a similar share. The workers start on first use and are
reused. Workers are named by device and position in the model's device list (``cpu#1``). A worker's exception
reaches the caller as :class:`WorkerError` naming the worker and carrying the original type, message and
traceback; a worker that dies is noticed at once, the call fails naming it, and the next call starts a fresh
set of workers. Workers ignore Ctrl-C (the parent handles it and stops them), stop when the parent dies, and nothing is
left running (or printed) at interpreter exit.
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing
import queue
import signal
import threading
import time
import traceback
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any, Callable, Iterator

from .batching import split_on_out_of_memory

_POLL_SECONDS = 0.2
_START_TIMEOUT_SECONDS = 600.0
_STOP_SECONDS = 5.0
_live_workers: weakref.WeakSet[DeviceWorkers] = weakref.WeakSet()

WORKER_NAME_PREFIX = "flagcore-worker-"
UNGUARDED_MAIN_EXIT_CODE = 87
UNGUARDED_MAIN_MESSAGE = (
    "the main script makes a multi-device flagcore call when it is imported. Worker processes are started with "
    "'spawn', which imports the main script again in each worker, so the script's top-level code ran again there "
    "and reached that call. Put the top-level code under a main guard:\n\n"
    '    if __name__ == "__main__":\n'
    "        model = ...\n"
    "        model.encode(...)\n")


def worker_label(devices: list[str], index: int) -> str:
    """How errors and notices name the device at ``index`` of a model's device list: ``cpu#1``."""
    return f"{devices[index]}#{index}"


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process, shown as the cause of a :class:`WorkerError`."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0]).rstrip()


class WorkerError(RuntimeError):
    """A worker process failed. ``worker`` names it (``cpu#1``: ``device`` and ``index`` in the model's device
    list); ``exc_type``/``exc_message`` are the original exception's (None when the process died, then
    ``exit_code`` says how) and ``remote_traceback`` its traceback in the worker."""

    def __init__(self, worker: str, detail: str, remote_traceback: str = "", exc_type: str | None = None,
                 exc_message: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(f"worker {worker} failed: {detail}")
        self.worker = worker
        device, _, index = worker.rpartition("#")
        self.device = device or worker
        self.index = int(index) if index.isdigit() else None
        self.detail = detail
        self.remote_traceback = remote_traceback
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.exit_code = exit_code
        if remote_traceback:
            self.__cause__ = RemoteTraceback(remote_traceback)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.worker, self.detail, self.remote_traceback, self.exc_type, self.exc_message,
                             self.exit_code))


def exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exit code {code}"


def refuse_in_bootstrapping_worker() -> None:
    """Stop a worker that is still importing the main script when that script makes a multi-device call.

    The worker exits with :data:`UNGUARDED_MAIN_EXIT_CODE` and its parent raises the error that shows the fix.
    """
    process = multiprocessing.current_process()
    if getattr(process, "_inheriting", False) and process.name.startswith(WORKER_NAME_PREFIX):
        raise SystemExit(UNGUARDED_MAIN_EXIT_CODE)


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


def _failure(exc: BaseException) -> tuple[str, str, str]:
    return type(exc).__name__, str(exc), traceback.format_exc()


def _next_job(jobs: Any) -> Any:
    """The next job, or None when told to stop or when the parent process is gone."""
    parent = multiprocessing.parent_process()
    while True:
        try:
            return jobs.get(timeout=1.0)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return None


def _answer(model: Any, job: tuple, results: Any) -> None:
    job_id, step, batches, pad_to_multiple_of = job

    def run(columns: Any) -> Any:
        return model.engine.run_step(model, step, columns, pad_to_multiple_of)

    try:
        outputs = []
        for columns in batches:
            outputs.append(split_on_out_of_memory(run, columns, model.engine.release_cached_memory))
            results.send(("progress", job_id, len(columns["input_ids"])))
    except (BrokenPipeError, EOFError):
        raise
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        results.send(("error", job_id, _failure(exc)))
        return
    results.send(("done", job_id, outputs))


def _worker_main(spec: ModelSpec, device: str, threads: int, jobs: Any, results: Any) -> None:
    """Runs in the worker process: build the model, then answer jobs until told to stop.

    Every message back is ``(kind, job id, payload)``: "ready", "failed" (could not build), "progress" (rows of
    one finished batch), "done" (the outputs of every batch, each a list of its parts) or "error".
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        try:
            import torch

            if threads > 0:
                torch.set_num_threads(threads)
            model = spec.build(device)
        except BaseException as exc:  # noqa: BLE001
            results.send(("failed", None, _failure(exc)))
            return
        results.send(("ready", None, None))
        while (job := _next_job(jobs)) is not None:
            _answer(model, job, results)
    except (BrokenPipeError, EOFError):
        pass  # the parent is gone


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while workers are spawned: they inherit that, so Ctrl-C in a terminal (sent to the whole
    process group) reaches only the parent, even while a worker is still importing."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class _Worker:
    index: int
    label: str
    process: Any
    jobs: Any  # multiprocessing.Queue of jobs (its feeder thread never blocks the caller)
    results: Any  # receiving end of a pipe only this worker writes to: EOF as soon as it dies


class DeviceWorkers:
    """Worker processes for ``devices[1:]``; ``devices[0]`` is served in the parent."""

    def __init__(self, spec: ModelSpec, devices: list[str]) -> None:
        import torch

        self.devices = devices
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._job_counter = 0
        self._closed = False
        cpu_workers = sum(d == "cpu" for d in devices)
        self._threads = max(1, torch.get_num_threads() // cpu_workers) if cpu_workers else 0
        _live_workers.add(self)
        try:
            with _sigint_ignored():
                for index, device in enumerate(devices[1:], start=1):
                    self._start_worker(spec, index, device)
            self._wait_ready()
        except BaseException:
            self.close(now=True)
            raise

    def _start_worker(self, spec: ModelSpec, index: int, device: str) -> None:
        jobs = self._context.Queue()
        reader, writer = self._context.Pipe(duplex=False)
        threads = self._threads if device == "cpu" else 0
        process = self._context.Process(target=_worker_main, args=(spec, device, threads, jobs, writer),
                                        daemon=True, name=f"{WORKER_NAME_PREFIX}{index}-{device}")
        self._workers.append(_Worker(index, worker_label(self.devices, index), process, jobs, reader))
        process.start()
        writer.close()

    @property
    def cpu_threads(self) -> int:
        return self._threads

    @property
    def labels(self) -> list[str]:
        """The workers' names, as errors give them: ``["cpu#1", ...]``."""
        return [worker.label for worker in self._workers]

    @property
    def processes(self) -> list[Any]:
        """The workers' ``multiprocessing.Process`` objects, in device order."""
        return [worker.process for worker in self._workers]

    @property
    def alive(self) -> bool:
        return not self._closed and all(worker.process.is_alive() for worker in self._workers)

    def _receive(self, timeout: float) -> list[tuple[_Worker, tuple]]:
        """Messages that arrive within ``timeout``; a worker that died stops the workers and raises."""
        by_reader: dict[Any, _Worker] = {worker.results: worker for worker in self._workers}
        messages: list[tuple[_Worker, tuple]] = []
        for reader in wait(list(by_reader), timeout):
            try:
                messages.append((by_reader[reader], by_reader[reader].results.recv()))
            except (EOFError, OSError):
                self._lost(by_reader[reader])
        if not messages:
            for worker in self._workers:
                if not worker.process.is_alive() and not worker.results.poll():
                    self._lost(worker)
        return messages

    def _lost(self, worker: _Worker) -> None:
        worker.process.join(timeout=_STOP_SECONDS)
        code = worker.process.exitcode
        self.close(now=True)
        if code == UNGUARDED_MAIN_EXIT_CODE:
            raise RuntimeError(f"worker {worker.label} stopped: {UNGUARDED_MAIN_MESSAGE}") from None
        raise WorkerError(worker.label, f"its process died ({exit_description(code)})", exit_code=code) from None

    def _wait_ready(self) -> None:
        waiting = {worker.index for worker in self._workers}
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while waiting:
            if time.monotonic() > deadline:
                label = worker_label(self.devices, min(waiting))
                self.close(now=True)
                raise WorkerError(label, f"did not start within {_START_TIMEOUT_SECONDS:.0f} s")
            for worker, (kind, _, payload) in self._receive(_POLL_SECONDS):
                if kind == "failed":
                    self.close(now=True)
                    exc_type, message, remote = payload
                    raise WorkerError(worker.label, f"could not build the model: {exc_type}: {message}", remote,
                                      exc_type, message)
                waiting.discard(worker.index)

    def run(self, step: Any, shares: list[list[dict]], pad_to_multiple_of: int | None,
            local: Callable[[list[dict], threading.Event], list[Any]],
            progress: Callable[[int], None]) -> list[list[Any]]:
        """Run ``shares[i]`` (a list of column batches) on ``devices[i]``; share 0 runs through ``local``.

        ``progress(rows)`` is called as each worker finishes a batch. Returns the outputs per share, in the order
        given (a worker's batch output is the list of its parts). A worker's exception leaves the workers usable;
        a worker that dies, or an interruption (Ctrl-C), stops every worker now.
        """
        self._job_counter += 1
        job_id = self._job_counter
        outputs: list[Any] = [[] for _ in shares]
        pending: set[int] = set()
        local_error: list[BaseException] = []
        cancel = threading.Event()

        def run_local() -> None:
            try:
                outputs[0] = local(shares[0], cancel)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                local_error.append(exc)

        thread = threading.Thread(target=run_local, name="flagcore-local-device", daemon=True)
        try:
            for worker, batches in zip(self._workers, shares[1:], strict=True):
                if batches:
                    worker.jobs.put((job_id, step, batches, pad_to_multiple_of))
                    pending.add(worker.index)
            thread.start()
            while pending or thread.is_alive():
                if local_error:
                    raise local_error[0]
                for worker, (kind, received_job, payload) in self._receive(_POLL_SECONDS):
                    if received_job != job_id:
                        continue  # a late answer to a call that already failed
                    if kind == "progress":
                        progress(payload)
                    elif kind == "error":
                        exc_type, message, remote = payload
                        raise WorkerError(worker.label, f"{exc_type}: {message}", remote, exc_type, message)
                    else:
                        outputs[worker.index] = payload
                        pending.discard(worker.index)
            if local_error:
                raise local_error[0]
        except BaseException as exc:
            cancel.set()
            if not isinstance(exc, Exception):
                self.close(now=True)  # Ctrl-C: stop the workers' share of the call now
            if thread.is_alive():
                thread.join()
            raise
        return outputs

    def close(self, now: bool = False) -> None:
        """Stop the workers: after their current job (up to a few seconds), or at once with ``now``."""
        if self._closed:
            return
        self._closed = True
        _live_workers.discard(self)
        if not now:
            for worker in self._workers:
                if worker.process.is_alive():
                    try:
                        worker.jobs.put(None)
                    except (OSError, ValueError):
                        pass
            for worker in self._workers:
                worker.process.join(timeout=_STOP_SECONDS)
        for worker in self._workers:
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=_STOP_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        for worker in self._workers:
            worker.results.close()
            worker.jobs.close()
            if worker.process.exitcode == 0:
                worker.jobs.join_thread()
            else:
                worker.jobs.cancel_join_thread()  # what a killed worker never read stays unsent


@atexit.register
def _close_all_workers() -> None:
    for workers in list(_live_workers):
        workers.close()


def deal_batches(token_counts: list[int], devices: int) -> list[list[int]]:
    """Batch positions per device, greedily balancing padded tokens (largest batches first)."""
    loads = [0] * devices
    shares: list[list[int]] = [[] for _ in range(devices)]
    for position in sorted(range(len(token_counts)), key=lambda i: -token_counts[i]):
        target = loads.index(min(loads))
        shares[target].append(position)
        loads[target] += token_counts[position]
    return [sorted(share) for share in shares]
