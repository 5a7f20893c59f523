"""The token-budget batcher: order, budgets, restoration, and out-of-memory back-off."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import FakeEmbedder, FakeReranker

from flagcore.engine.batching import Batcher, run_batches
from flagcore.model_base import DEFAULT_CPU_BATCH_TOKENS

LENGTHS = [5, 40, 7, 40, 1, 12, 33, 2, 9, 18]


def test_batches_respect_the_token_budget_and_the_count_limit():
    batcher = Batcher(LENGTHS, batch_size=3, max_tokens=80)
    batches = batcher.all_batches()
    lengths = np.array(LENGTHS)
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) * lengths[batch].max() <= 80 or len(batch) == 1
    ran = np.concatenate(batches)
    assert sorted(ran.tolist()) == list(range(len(LENGTHS)))
    assert list(lengths[ran]) == sorted(LENGTHS, reverse=True)  # longest first
    assert [len(b) for b in batches] == [2, 2, 3, 3]  # 40,40 | 33,18 | 12,9,7 | 5,2,1


def test_restore_puts_results_back_in_input_order():
    batcher = Batcher(LENGTHS, batch_size=4, max_tokens=64)
    ran = np.concatenate(batcher.all_batches())
    values = np.array(LENGTHS)[ran]
    assert list(values[batcher.restore]) == LENGTHS


def test_budget_of_none_is_count_only_and_bad_values_are_rejected():
    assert [len(b) for b in Batcher(LENGTHS, 4).all_batches()] == [4, 4, 2]
    with pytest.raises(ValueError, match="batch_size"):
        Batcher(LENGTHS, 0)
    with pytest.raises(ValueError, match="max_batch_tokens"):
        Batcher(LENGTHS, 4, max_tokens=0)


def test_out_of_memory_halves_the_budget_and_retries_that_batch_only():
    batcher = Batcher([10] * 8, batch_size=8, max_tokens=80)
    seen, freed = [], []

    def step(batch):
        seen.append(len(batch))
        if len(batch) * 10 > 20:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return batch.copy()

    results = run_batches(batcher, step, desc="t", show_progress=False, on_out_of_memory=lambda: freed.append(1))
    assert seen == [8, 4, 2, 2, 2, 2]  # 80 → 40 → 20 tokens, then the rest at 20
    assert sorted(np.concatenate(results).tolist()) == list(range(8))
    assert len(freed) == 2


def test_out_of_memory_on_a_single_item_propagates():
    def step(batch):
        raise torch.cuda.OutOfMemoryError("simulated")

    with pytest.raises(torch.cuda.OutOfMemoryError):
        run_batches(Batcher([10, 10], 2, 20), step, desc="t", show_progress=False)


def test_other_errors_propagate_unchanged_and_nothing_is_retried():
    calls = []

    def step(batch):
        calls.append(1)
        raise RuntimeError("a real bug")

    with pytest.raises(RuntimeError, match="a real bug"):
        run_batches(Batcher([10] * 4, 4, 40), step, desc="t", show_progress=False)
    assert calls == [1]


def test_no_batch_runs_twice_in_a_model(monkeypatch):
    model = FakeEmbedder("fake-model", devices="cpu", batch_size=4)
    texts = [" ".join(["w"] * n) for n in (3, 9, 1, 30, 4, 4, 12)]
    model.encode(texts)
    assert model.model.forward_calls == 2


def test_budget_batching_gives_the_same_embeddings_and_scores():
    texts = [" ".join(f"w{i}" for i in range(n)) for n in (3, 90, 1, 30, 4, 45, 12, 60)]
    narrow = FakeEmbedder("fake-model", devices="cpu", max_batch_tokens=64, pooling_method="mean")
    wide = FakeEmbedder("fake-model", devices="cpu", max_batch_tokens=100_000, pooling_method="mean")
    np.testing.assert_allclose(narrow.encode(texts), wide.encode(texts), atol=1e-6)
    assert narrow.model.forward_calls > wide.model.forward_calls
    pairs = [(t, t[::-1]) for t in texts]
    np.testing.assert_allclose(FakeReranker("fake-model", devices="cpu", max_batch_tokens=50).compute_score(pairs),
                               FakeReranker("fake-model", devices="cpu").compute_score(pairs), atol=1e-6)


def test_default_budget_depends_on_the_device():
    model = FakeEmbedder("fake-model", devices="cpu")
    assert model.batch_token_budget == DEFAULT_CPU_BATCH_TOKENS == 2048
    assert FakeEmbedder("fake-model", devices="cpu", max_batch_tokens=123).batch_token_budget == 123


def test_model_out_of_memory_is_survived(monkeypatch):
    model = FakeEmbedder("fake-model", devices="cpu", pooling_method="mean")
    texts = [" ".join(f"w{i}" for i in range(n)) for n in (20, 20, 20, 20, 3, 3)]
    expected = model.encode(texts)
    real = model.embed_batch

    def flaky(batch, **options):
        if batch["input_ids"].shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("simulated")
        return real(batch, **options)

    monkeypatch.setattr(model, "embed_batch", flaky)
    np.testing.assert_allclose(model.encode(texts), expected, atol=1e-6)


def test_accelerator_settings_around_the_gpu_path(monkeypatch):
    """What a GPU run relies on, checked without one: budget, precision, cache release on out-of-memory."""
    model = FakeEmbedder("fake-model", devices="cpu")
    model.target_devices = ["cuda:0"]  # as if validated on a GPU machine
    assert model.batch_token_budget == 65536
    assert model.compute_dtype == "float16"  # use_fp16=True is the embedder default
    model.use_bf16 = True
    assert model.compute_dtype == "bfloat16"
    freed = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: freed.append(1))
    model.engine.release_cached_memory()
    assert freed == [1]
    model.target_devices = ["cpu"]
    model.engine.release_cached_memory()
    assert freed == [1]
