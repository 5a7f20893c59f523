"""Several devices, as the user sees them: worker names in errors, one progress bar for every device, the notice
while workers start, progress units, and a script without a main guard."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fakes import FakeEmbedder, FakeReranker

from flagcore.engine.batching import Batcher
from flagcore.engine.workers import WORKER_NAME_PREFIX, WorkerError

TEXTS = [" ".join(f"w{i}" for i in range(n)) for n in (3, 40, 1, 25, 7, 7, 60, 2, 15, 33, 9, 12)] * 3
PAIRS = [(t, t[::-1]) for t in TEXTS]
NOTICE_ONE = "flagcore: starting 1 worker process for device cpu#1 (first call only)..."
NOTICE_TWO = "flagcore: starting 2 worker processes for devices cpu#1, cpu#2 (first call only)..."


class FailingInOneWorker(FakeEmbedder):
    """Fails in worker ``fail_worker`` (its index in the device list) while the file ``fail_flag`` exists."""

    def __init__(self, model_name_or_path, fail_worker: int = 0, fail_flag: str = "", **kwargs) -> None:
        super().__init__(model_name_or_path, **kwargs)
        self.fail_worker, self.fail_flag = fail_worker, fail_flag

    def embed_batch(self, batch, **options):
        name = multiprocessing.current_process().name
        if name.startswith(f"{WORKER_NAME_PREFIX}{self.fail_worker}-") and os.path.exists(self.fail_flag):
            raise ValueError(f"simulated failure in {name}")
        return super().embed_batch(batch, **options)


class RecordingBar:
    """Stands in for tqdm: remembers how each bar was made and every update."""

    made: list[RecordingBar] = []

    def __init__(self, *args, **kwargs) -> None:
        self.kwargs, self.updates = kwargs, []
        RecordingBar.made.append(self)

    def update(self, n=1):
        self.updates.append(n)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


pytestmark = pytest.mark.usefixtures("hang_deadline")


@pytest.fixture
def bars(monkeypatch):
    import tqdm.auto

    RecordingBar.made = []
    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    return RecordingBar.made


@pytest.fixture(scope="module")
def three_cpu_embedder(tmp_path_factory):
    flag = tmp_path_factory.mktemp("flags") / "fail"
    model = FailingInOneWorker("fake-model", fail_worker=2, fail_flag=str(flag), devices=["cpu", "cpu", "cpu"],
                               pooling_method="mean", max_batch_tokens=64)
    model.fail_flag_path = flag
    yield model
    model.close()


def planned_batch_sizes(texts, batch_size=256, max_tokens=64):
    return sorted(len(b) for b in Batcher([len(t.split()) + 2 for t in texts], batch_size, max_tokens).all_batches())


@pytest.mark.slow
def test_a_worker_error_names_which_of_several_cpu_workers_failed(three_cpu_embedder):
    three_cpu_embedder.encode(TEXTS)
    three_cpu_embedder.fail_flag_path.touch()
    try:
        with pytest.raises(WorkerError) as info:
            three_cpu_embedder.encode(TEXTS)
    finally:
        three_cpu_embedder.fail_flag_path.unlink()
    error = info.value
    assert isinstance(error, RuntimeError)
    assert str(error) == f"worker cpu#2 failed: ValueError: simulated failure in {WORKER_NAME_PREFIX}2-cpu"
    assert (error.worker, error.device, error.index) == ("cpu#2", "cpu", 2)
    assert (error.exc_type, error.exc_message) == ("ValueError", f"simulated failure in {WORKER_NAME_PREFIX}2-cpu")
    assert error.exit_code is None
    assert "Traceback (most recent call last)" in error.remote_traceback and "embed_batch" in error.remote_traceback
    assert error.remote_traceback.strip() in str(error.__cause__)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.worker, copy.exc_type) == (str(error), "cpu#2", "ValueError")
    assert three_cpu_embedder.device_pool.alive  # an exception in a worker leaves the pool usable
    assert three_cpu_embedder.encode(TEXTS).shape == (len(TEXTS), 8)


@pytest.mark.slow
def test_one_progress_bar_counts_every_batch_of_every_device(three_cpu_embedder, bars):
    three_cpu_embedder.encode(TEXTS, show_progress_bar=True)
    assert len(bars) == 1
    bar = bars[0]
    assert bar.kwargs["total"] == len(TEXTS) and bar.kwargs["unit"] == "text" and bar.kwargs["disable"] is False
    # one update per batch, the workers' included, instead of one lump for the workers' share at the end
    assert sorted(bar.updates) == planned_batch_sizes(TEXTS)
    assert sum(bar.updates) == len(TEXTS)


@pytest.mark.slow
def test_reranker_progress_counts_pairs_on_one_device_and_on_several(bars):
    FakeReranker("fake-model", devices="cpu", max_batch_tokens=64).compute_score(PAIRS, show_progress_bar=True)
    FakeEmbedder("fake-model", devices="cpu", max_batch_tokens=64).encode(TEXTS, show_progress_bar=True)
    model = FakeReranker("fake-model", devices=["cpu", "cpu"], max_batch_tokens=64)
    try:
        model.compute_score(PAIRS, show_progress_bar=False)
    finally:
        model.close()
    assert [bar.kwargs["unit"] for bar in bars] == ["pair", "text", "pair"]
    assert [sum(bar.updates) for bar in bars] == [len(PAIRS), len(TEXTS), len(PAIRS)]
    assert bars[2].kwargs["disable"] is True


@pytest.mark.slow
def test_starting_workers_prints_one_line_once(capsys):
    quiet = FakeEmbedder("fake-model", devices=["cpu", "cpu"], max_batch_tokens=64)
    try:
        quiet.encode(TEXTS, show_progress_bar=False)
        assert quiet.device_pool is not None
        assert capsys.readouterr().err == ""
    finally:
        quiet.close()
    model = FakeEmbedder("fake-model", devices=["cpu", "cpu", "cpu"], max_batch_tokens=64)
    try:
        model.encode(TEXTS[:12])  # the bar is hidden by default for so few texts; the notice is not
        assert capsys.readouterr().err == NOTICE_TWO + "\n"
        model.encode(TEXTS)
        assert capsys.readouterr().err == ""
        model.close()
        model.encode(TEXTS[:12])
        assert capsys.readouterr().err == (
            "flagcore: starting 2 worker processes for devices cpu#1, cpu#2 again (the previous workers stopped)...\n")
    finally:
        model.close()


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from fakes import FakeEmbedder

{guard}
    print("top-level code ran", flush=True)
    model = FakeEmbedder("fake-model", devices=["cpu", "cpu"], max_batch_tokens=32)
    print(model.encode([" ".join(["w"] * n) for n in range(1, 40)]).shape)
"""


def run_script(tmp_path: Path, guarded: bool) -> tuple[subprocess.CompletedProcess, float]:
    script = tmp_path / "script.py"
    guard = 'if __name__ == "__main__":' if guarded else "if True:"
    script.write_text(textwrap.dedent(SCRIPT.format(tests=str(Path(__file__).parent), guard=guard)))
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90)
    return done, time.monotonic() - started


@pytest.mark.slow
def test_a_script_without_a_main_guard_is_refused_with_the_fix(tmp_path):
    done, seconds = run_script(tmp_path, guarded=False)
    assert done.returncode != 0
    assert seconds < 60
    assert 'if __name__ == "__main__":' in done.stderr
    assert "RuntimeError: worker cpu#1 stopped: the main script makes a multi-device flagcore call when it is " \
           "imported" in done.stderr
    assert done.stderr.count("Traceback") == 1  # the parent's error only: the worker stops quietly
    # the worker ran the top-level code again up to the call, and was stopped there; no result anywhere
    assert done.stdout.splitlines() == ["top-level code ran", "top-level code ran"]


@pytest.mark.slow
def test_the_same_script_with_a_main_guard_works(tmp_path):
    done, _ = run_script(tmp_path, guarded=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["top-level code ran", "(39, 8)"]
    assert done.stderr.strip() == NOTICE_ONE


def test_the_notice_names_workers_by_device_and_position():
    from flagcore.engine.multi_device import start_notice

    assert start_notice(["cpu", "cpu"], again=False) == NOTICE_ONE
    assert start_notice(["cuda:0", "cuda:1", "cuda:2"], again=False) == (
        "flagcore: starting 2 worker processes for devices cuda:1#1, cuda:2#2 (first call only)...")
    assert start_notice(["cpu", "cpu"], again=True) == (
        "flagcore: starting 1 worker process for device cpu#1 again (the previous workers stopped)...")
