"""encode_stream and friends: chunk outputs equal the one-shot call, in order, for a dense model, M3's dicts and a
two-device pool; errors surface; the tokenizer thread stops when the consumer does."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from flagcore import FlagAutoModel

TEXTS = [f"text {i}: " + "pandas eat bamboo " * (1 + i % 9) for i in range(53)]


@pytest.fixture(scope="module")
def dense(tiny_models):
    return FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), model_class="encoder-only-base", devices="cpu",
                                        query_instruction_for_retrieval="query: ", max_batch_tokens=256)


def generator(texts):
    yield from texts


@pytest.mark.parametrize("method", ["encode", "encode_queries", "encode_corpus"])
def test_dense_stream_equals_one_shot(dense, method):
    chunks = list(getattr(dense, f"{method}_stream")(generator(TEXTS), chunk_size=7))
    assert [len(c) for c in chunks] == [7] * 7 + [4]
    np.testing.assert_allclose(np.concatenate(chunks), getattr(dense, method)(TEXTS), atol=1e-6)


def test_stream_passes_call_options(dense):
    chunks = list(dense.encode_stream(iter(TEXTS), chunk_size=20, max_length=8, instruction="x: "))
    np.testing.assert_allclose(np.concatenate(chunks), dense.encode(TEXTS, max_length=8, instruction="x: "),
                               atol=1e-6)


def test_m3_stream_yields_the_dicts_of_each_chunk(tiny_models):
    m3 = FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices="cpu")
    modes = {"return_dense": True, "return_sparse": True, "return_colbert_vecs": True}
    chunks = list(m3.encode_corpus_stream(generator(TEXTS), chunk_size=10, **modes))
    whole = m3.encode_corpus(TEXTS, **modes)
    np.testing.assert_allclose(np.concatenate([c["dense_vecs"] for c in chunks]), whole["dense_vecs"], atol=1e-6)
    lexical = [w for c in chunks for w in c["lexical_weights"]]
    assert [sorted(w) for w in lexical] == [sorted(w) for w in whole["lexical_weights"]]
    for got, want in zip(lexical, whole["lexical_weights"], strict=True):
        np.testing.assert_allclose([got[k] for k in sorted(got)], [want[k] for k in sorted(want)], atol=1e-6)
    colbert = [v for c in chunks for v in c["colbert_vecs"]]
    for got, want in zip(colbert, whole["colbert_vecs"], strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.slow
def test_two_cpu_devices_are_fed_chunk_by_chunk(tiny_models, hang_deadline):
    model = FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), model_class="encoder-only-base",
                                         devices=["cpu", "cpu"], max_batch_tokens=64)
    try:
        chunks = list(model.encode_corpus_stream(generator(TEXTS), chunk_size=25))
        assert model.device_pool is not None  # the chunks ran on the pool
        single = FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), model_class="encoder-only-base",
                                              devices="cpu")
        np.testing.assert_allclose(np.concatenate(chunks), single.encode_corpus(TEXTS), atol=1e-6)
    finally:
        model.close()


def test_a_single_string_is_refused(dense):
    with pytest.raises(TypeError, match="not one string"):
        next(dense.encode_stream("one text"))


def test_an_error_in_the_input_surfaces_in_order(dense):
    def broken():
        yield from TEXTS[:10]
        raise OSError("disk gone")

    stream = dense.encode_stream(broken(), chunk_size=5)
    assert len(next(stream)) == 5 and len(next(stream)) == 5
    with pytest.raises(OSError, match="disk gone"):
        next(stream)


def test_a_bad_text_raises_the_encode_error(dense):
    with pytest.raises(TypeError):
        list(dense.encode_stream(iter(["fine", None]), chunk_size=5))


def test_stopping_early_stops_the_tokenizer_thread(dense):
    def endless():
        i = 0
        while True:
            i += 1
            yield f"text {i}"

    stream = dense.encode_stream(endless(), chunk_size=16)
    assert len(next(stream)) == 16
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "flagcore-stream-tokenizer"]
