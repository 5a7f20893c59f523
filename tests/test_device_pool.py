"""Several devices: the worker pool gives the single-device results, is reused, and never hangs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import FakeEmbedder, FakeReranker

from flagcore.engine.workers import WorkerError, deal_batches

TEXTS = [" ".join(f"w{i}" for i in range(n)) for n in (3, 40, 1, 25, 7, 7, 60, 2, 15, 33, 9, 12)] * 3
PAIRS = [(t, t[::-1]) for t in TEXTS]


pytestmark = pytest.mark.usefixtures("hang_deadline")


@pytest.fixture(scope="module")
def two_cpu_embedder():
    model = FakeEmbedder("fake-model", devices=["cpu", "cpu"], pooling_method="mean", max_batch_tokens=64)
    yield model
    model.close()


def test_deal_balances_tokens():
    shares = deal_batches([100, 10, 60, 50, 40], 2)
    loads = [sum([100, 10, 60, 50, 40][i] for i in share) for share in shares]
    assert sorted(i for share in shares for i in share) == [0, 1, 2, 3, 4]
    assert abs(loads[0] - loads[1]) <= 30


@pytest.mark.slow
def test_results_equal_the_single_device_path_and_the_pool_is_reused(two_cpu_embedder):
    single = FakeEmbedder("fake-model", devices="cpu", pooling_method="mean", max_batch_tokens=64)
    expected = single.encode(TEXTS)
    np.testing.assert_allclose(two_cpu_embedder.encode(TEXTS), expected, atol=1e-6)
    pool = two_cpu_embedder.device_pool
    assert pool is not None and pool.alive
    worker_pid = pool.processes[0].pid
    np.testing.assert_allclose(two_cpu_embedder.encode(TEXTS[::-1]), expected[::-1], atol=1e-6)
    assert two_cpu_embedder.device_pool is pool and pool.processes[0].pid == worker_pid
    tensors = two_cpu_embedder.encode(TEXTS, convert_to_numpy=False)
    assert isinstance(tensors, torch.Tensor) and np.allclose(tensors.numpy(), expected, atol=1e-6)


def test_small_inputs_do_not_use_the_pool():
    model = FakeEmbedder("fake-model", devices=["cpu", "cpu"])
    assert model.encode(["one short text", "another"]).shape == (2, 8)
    assert model.device_pool is None


@pytest.mark.slow
def test_a_worker_exception_reaches_the_caller_naming_the_worker():
    model = FakeEmbedder("fake-model", devices=["cpu", "cpu"], max_batch_tokens=64, fail_outside_pid=os.getpid())
    try:
        started = time.monotonic()
        with pytest.raises(WorkerError, match=r"^worker cpu#1 failed: ValueError: simulated failure") as info:
            model.encode(TEXTS)
        assert time.monotonic() - started < 60
        error = info.value
        assert (error.worker, error.device, error.index, error.exc_type) == ("cpu#1", "cpu", 1, "ValueError")
        assert error.exc_message.startswith("simulated failure in process")
        assert "embed_batch" in error.remote_traceback and "embed_batch" in str(error.__cause__)
        assert model.device_pool is not None and model.device_pool.alive  # the pool stays usable
        assert model.encode("short").shape == (8,)  # and the model too
        with pytest.raises(WorkerError):
            model.encode(TEXTS)
    finally:
        model.close()


@pytest.mark.slow
def test_a_dead_worker_is_reported_and_the_pool_rebuilt(two_cpu_embedder):
    two_cpu_embedder.encode(TEXTS)
    process = two_cpu_embedder.device_pool.processes[0]
    os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=10)
    # the dead pool is noticed before work is sent, and a fresh one takes over
    out = two_cpu_embedder.encode(TEXTS)
    assert two_cpu_embedder.device_pool.processes[0].pid != process.pid
    assert out.shape == (len(TEXTS), 8)


@pytest.mark.slow
def test_a_worker_dying_mid_call_fails_within_seconds(two_cpu_embedder, monkeypatch):
    two_cpu_embedder.encode(TEXTS)
    pool = two_cpu_embedder.device_pool
    victim = pool.processes[0]
    real_run = pool.run

    def run_then_kill(*args, **kwargs):
        os.kill(victim.pid, signal.SIGKILL)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(pool, "run", run_then_kill)
    started = time.monotonic()
    with pytest.raises(WorkerError, match="died"):
        two_cpu_embedder.encode(TEXTS)
    assert time.monotonic() - started < 30
    assert two_cpu_embedder.device_pool is None
    assert two_cpu_embedder.encode(TEXTS).shape == (len(TEXTS), 8)


@pytest.mark.slow
def test_rerankers_get_a_list_back_like_single_device():
    model = FakeReranker("fake-model", devices=["cpu", "cpu"], max_batch_tokens=64)
    try:
        got = model.compute_score(PAIRS)
        assert isinstance(got, list) and all(type(s) is float for s in got)
        np.testing.assert_allclose(got, FakeReranker("fake-model", devices="cpu").compute_score(PAIRS), atol=1e-6)
    finally:
        model.close()


@pytest.mark.slow
def test_no_errors_or_warnings_at_interpreter_exit(tmp_path):
    script = tmp_path / "use_pool.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from fakes import FakeEmbedder

        if __name__ == "__main__":
            model = FakeEmbedder("fake-model", devices=["cpu", "cpu"], max_batch_tokens=32)
            texts = [" ".join(["w"] * n) for n in range(1, 40)]
            print(model.encode(texts).shape)
    """))
    done = subprocess.run([sys.executable, "-W", "always", str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(39, 8)"
    assert done.stderr.strip() == "flagcore: starting 1 worker process for device cpu#1 (first call only)..."


@pytest.mark.slow
def test_thread_settings_are_respected_and_restored(two_cpu_embedder):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        FakeEmbedder("fake-model", devices="cpu").encode(TEXTS)
        assert torch.get_num_threads() == 1  # one device: the user's setting is left alone
        torch.set_num_threads(2)
        two_cpu_embedder.encode(TEXTS)
        assert torch.get_num_threads() == 2  # the pool shares the threads while it runs, then gives them back
    finally:
        torch.set_num_threads(before)
