"""Faults on purpose: a worker killed mid-batch, out of memory at each batch, Ctrl-C, a parent that dies."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import FakeEmbedder

from flagcore.engine.workers import WORKER_NAME_PREFIX, WorkerError

TEXTS = [" ".join(f"w{i}" for i in range(n)) for n in (3, 40, 1, 25, 7, 7, 60, 2, 15, 33, 9, 12)] * 3
# similar lengths: every batch under a 64-token budget holds several texts
SHORT_TEXTS = [" ".join(f"w{i}" for i in range(3 + n % 8)) for n in range(40)]
ONE_ROW_NOTE = "flagcore: out of memory on a batch of one input"

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")


def in_worker(index: int | None = None) -> bool:
    name = multiprocessing.current_process().name
    return name.startswith(WORKER_NAME_PREFIX if index is None else f"{WORKER_NAME_PREFIX}{index}-")


class StallingInOneWorker(FakeEmbedder):
    """While the file ``stall_flag`` exists, worker ``stall_worker`` writes its pid next to it and hangs."""

    def __init__(self, model_name_or_path, stall_worker: int = 0, stall_flag: str = "", **kwargs) -> None:
        super().__init__(model_name_or_path, **kwargs)
        self.stall_worker, self.stall_flag = stall_worker, stall_flag

    def embed_batch(self, batch, **options):
        if in_worker(self.stall_worker) and os.path.exists(self.stall_flag):
            Path(self.stall_flag + ".tmp").write_text(str(os.getpid()))
            os.replace(self.stall_flag + ".tmp", self.stall_flag + ".pid")
            time.sleep(60)
        return super().embed_batch(batch, **options)


class OutOfMemoryAbove(FakeEmbedder):
    """Runs out of memory on every batch of more than ``max_rows`` rows (only in workers with ``workers_only``)."""

    def __init__(self, model_name_or_path, max_rows: int = 0, workers_only: bool = False, **kwargs) -> None:
        super().__init__(model_name_or_path, **kwargs)
        self.max_rows, self.workers_only = max_rows, workers_only

    def embed_batch(self, batch, **options):
        if batch["input_ids"].shape[0] > self.max_rows and (in_worker() or not self.workers_only):
            raise torch.OutOfMemoryError("out of memory (simulated)")
        return super().embed_batch(batch, **options)


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of a process, or None when there is none (zombies count as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return None if state in ("Z", "X") else state


def session_members(session: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[3]) == session and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def wait_until_gone(pids, seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := [pid for pid in pids if process_state(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def out_of_memory_at(call: int, real, seen: list):
    """``real``, except that call number ``call`` (from 0) runs out of memory; ``seen`` gets every batch's shape."""
    def step(batch, **options):
        seen.append(tuple(batch["input_ids"].shape))
        if len(seen) == call + 1:
            raise torch.OutOfMemoryError("out of memory (simulated)")
        return real(batch, **options)

    return step


def recording(real, seen: list):
    def step(batch, **options):
        seen.append(tuple(batch["input_ids"].shape))
        return real(batch, **options)

    return step


pytestmark = pytest.mark.usefixtures("hang_deadline")


@pytest.fixture(scope="module")
def expected():
    return FakeEmbedder("fake-model", devices="cpu", pooling_method="mean", max_batch_tokens=64).encode(TEXTS)


# -- a worker killed mid-batch ------------------------------------------------------------------

@pytest.mark.slow
def test_a_worker_killed_mid_batch_fails_the_call_within_seconds_and_the_next_call_works(tmp_path, expected):
    flag = tmp_path / "stall"
    model = StallingInOneWorker("fake-model", stall_worker=2, stall_flag=str(flag), devices=["cpu", "cpu", "cpu"],
                                pooling_method="mean", max_batch_tokens=64)
    try:
        model.encode(TEXTS)
        old = model.device_pool.processes
        killed_at = []

        def kill_when_stalled():
            while not (flag.parent / "stall.pid").exists():
                time.sleep(0.02)
            killed_at.append(time.monotonic())
            os.kill(int((flag.parent / "stall.pid").read_text()), signal.SIGKILL)

        flag.touch()
        threading.Thread(target=kill_when_stalled, daemon=True).start()
        with pytest.raises(WorkerError) as info:
            model.encode(TEXTS)
        assert time.monotonic() - killed_at[0] < 5
        assert str(info.value) == "worker cpu#2 failed: its process died (killed by SIGKILL)"
        assert (info.value.worker, info.value.exit_code, info.value.exc_type) == ("cpu#2", -signal.SIGKILL, None)
        assert int((flag.parent / "stall.pid").read_text()) == old[1].pid
        assert model.device_pool is None  # the whole pool went: cpu#1 was stopped too
        assert wait_until_gone([p.pid for p in old], seconds=1) == []
        assert not set(multiprocessing.active_children()) & set(old)

        flag.unlink()
        np.testing.assert_allclose(model.encode(TEXTS), expected, atol=1e-6)
        new = model.device_pool.processes
        assert {p.pid for p in new}.isdisjoint(p.pid for p in old) and all(p.is_alive() for p in new)
    finally:
        model.close()
    assert wait_until_gone([p.pid for p in new], seconds=1) == []


# -- out of memory ------------------------------------------------------------------------------

def batch_plan(model):
    """(the right output, the real embed_batch, the rows of each batch the parent runs) for SHORT_TEXTS."""
    right = model.encode(SHORT_TEXTS)
    real, planned = model.embed_batch, []
    model.embed_batch = recording(real, planned)
    model.encode(SHORT_TEXTS)
    return right, real, [shape[0] for shape in planned]


def test_out_of_memory_at_each_batch_position_retries_that_batch_halved():
    model = FakeEmbedder("fake-model", devices="cpu", pooling_method="mean", max_batch_tokens=64)
    right, real, plan = batch_plan(model)
    assert len(plan) >= 3 and min(plan) >= 2
    for position in range(len(plan)):
        seen, released = [], []
        model.embed_batch = out_of_memory_at(position, real, seen)
        model.engine.release_cached_memory = lambda released=released: released.append(1)
        np.testing.assert_allclose(model.encode(SHORT_TEXTS), right, atol=1e-6)
        sizes = [shape[0] for shape in seen]
        assert sizes[:position + 1] == plan[:position + 1]  # the batches before ran once, as planned
        assert sizes[position + 1] == plan[position] // 2  # the failed one again, halved
        assert released == [1]
        assert sum(sizes) - sizes[position] == len(SHORT_TEXTS)  # nothing else ran twice


def test_out_of_memory_on_a_batch_of_one_text_at_each_position_raises_with_a_note():
    texts = SHORT_TEXTS[:5]
    model = FakeEmbedder("fake-model", devices="cpu", pooling_method="mean", max_batch_tokens=1)
    real = model.embed_batch
    for position in range(len(texts)):
        seen = []
        model.embed_batch = out_of_memory_at(position, real, seen)
        with pytest.raises(torch.OutOfMemoryError, match="simulated") as info:
            model.encode(texts)
        assert len(seen) == position + 1 and all(rows == 1 for rows, _ in seen)
        assert info.value.__notes__ == [
            f"{ONE_ROW_NOTE} ({seen[-1][1]} tokens), which cannot be split further; pass a smaller max_length, or use "
            "a device with more memory"]
    model.embed_batch = real
    assert model.encode(texts).shape == (5, 8)  # and the model works on


@pytest.mark.slow
def test_out_of_memory_on_several_devices_splits_the_batch_on_every_device():
    right = FakeEmbedder("fake-model", devices="cpu", pooling_method="mean", max_batch_tokens=64).encode(SHORT_TEXTS)
    model = OutOfMemoryAbove("fake-model", max_rows=2, devices=["cpu", "cpu"], pooling_method="mean",
                             max_batch_tokens=64)
    try:
        np.testing.assert_allclose(model.encode(SHORT_TEXTS), right, atol=1e-6)
    finally:
        model.close()


@pytest.mark.slow
def test_out_of_memory_at_each_batch_of_the_parents_share_is_survived():
    model = FakeEmbedder("fake-model", devices=["cpu", "cpu"], pooling_method="mean", max_batch_tokens=64)
    try:
        right, real, plan = batch_plan(model)
        assert len(plan) >= 2 and min(plan) >= 2
        for position in range(len(plan)):
            seen = []
            model.embed_batch = out_of_memory_at(position, real, seen)
            np.testing.assert_allclose(model.encode(SHORT_TEXTS), right, atol=1e-6)
            halves = [(plan[position] + 1) // 2, plan[position] // 2]
            assert [shape[0] for shape in seen] == plan[:position + 1] + halves + plan[position + 1:]
    finally:
        model.close()


@pytest.mark.slow
def test_out_of_memory_on_one_row_in_a_worker_is_a_worker_error():
    model = OutOfMemoryAbove("fake-model", max_rows=0, workers_only=True, devices=["cpu", "cpu"],
                             max_batch_tokens=64)
    try:
        with pytest.raises(WorkerError, match=r"^worker cpu#1 failed: OutOfMemoryError: out of memory \(simulated\)$") \
                as info:
            model.encode(SHORT_TEXTS)
        assert info.value.exc_type == "OutOfMemoryError"
        assert ONE_ROW_NOTE in info.value.remote_traceback
        assert model.device_pool.alive
    finally:
        model.close()


# -- Ctrl-C and a parent that dies --------------------------------------------------------------

SCRIPT = """
import multiprocessing
import os
import signal
import sys
import threading
import time

sys.path.insert(0, {tests!r})
from fakes import FakeEmbedder


class SlowEmbedder(FakeEmbedder):
    def embed_batch(self, batch, **options):
        time.sleep(0.2)
        return super().embed_batch(batch, **options)


def interrupt():
    if {how!r} == "group":
        os.killpg(os.getpgid(0), signal.SIGINT)  # as Ctrl-C in a terminal: the parent and its workers
    elif {how!r} == "parent":
        os.kill(os.getpid(), signal.SIGINT)
    else:
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    model = SlowEmbedder("fake-model", devices=["cpu", "cpu", "cpu"], max_batch_tokens=16)
    texts = [" ".join(["w"] * (n % 9 + 1)) for n in range(300)]
    if {when!r} == "mid-call":
        model.encode(texts[:20])
        print("workers", *[p.pid for p in model.device_pool.processes], flush=True)
    threading.Timer({after}, interrupt).start()
    try:
        model.encode(texts)
    except KeyboardInterrupt:
        print("children", multiprocessing.active_children(), flush=True)
        raise
    print("not interrupted", flush=True)
"""


def run_script(tmp_path: Path, how: str, when: str, after: float) -> tuple[subprocess.Popen, str, str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT.format(tests=str(Path(__file__).parent), how=how, when=when,
                                                    after=after)))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    out, err = process.communicate(timeout=90)
    return process, out, err


@pytest.mark.slow
@pytest.mark.parametrize(("how", "when", "after"), [("parent", "mid-call", 1.0), ("group", "mid-call", 1.0),
                                                    ("group", "while-starting", 0.5)])
def test_ctrl_c_stops_the_workers_quietly(tmp_path, how, when, after):
    process, out, err = run_script(tmp_path, how, when, after)
    assert process.returncode in (-signal.SIGINT, 130), err
    assert "children []" in out.splitlines()
    assert "not interrupted" not in out
    assert err.count("Traceback") == 1, err  # the parent's KeyboardInterrupt, nothing from workers or at exit
    assert err.rstrip().endswith("KeyboardInterrupt"), err
    assert "Exception ignored" not in err and WORKER_NAME_PREFIX not in err
    assert wait_until_gone(session_members(process.pid), seconds=5) == []


@pytest.mark.slow
def test_workers_stop_when_their_parent_is_killed(tmp_path):
    process, out, err = run_script(tmp_path, "kill", "mid-call", 1.0)
    assert process.returncode == -signal.SIGKILL
    workers = [int(pid) for pid in out.split("workers", 1)[1].split()[:2]]
    assert wait_until_gone(workers, seconds=10) == [], "the workers outlived their parent"
    assert wait_until_gone(session_members(process.pid), seconds=5) == []
