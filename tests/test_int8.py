"""quantize='int8': the per-token int8 linear layer, the model surgery, and what it does to real outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import FakeEmbedder

from flagcore import FlagAutoModel, FlagAutoReranker
from flagcore.engine import int8
from flagcore.engine.int8 import Int8Linear, quantize_rows, quantize_transformer_blocks, rescale
from flagcore.engine.precision import check_quantize


def _linear(in_features: int = 48, out_features: int = 80, bias: bool = True) -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(in_features, out_features, bias=bias)


@pytest.fixture
def eager_kernels(monkeypatch):
    monkeypatch.setattr(int8, "_use_fused", False)


def test_quantize_rows_uses_each_rows_own_scale():
    x = torch.tensor([[0.5, -1.0, 0.25], [100.0, 3.0, -50.0]])
    codes, scale = quantize_rows(x)
    assert codes.dtype == torch.int8
    assert codes.abs().amax(dim=1).tolist() == [127, 127]
    np.testing.assert_allclose(scale.squeeze(1).numpy(), [1.0 / 127, 100.0 / 127], rtol=1e-6)
    np.testing.assert_allclose((codes.float() * scale).numpy(), x.numpy(), atol=float(scale.max()) / 2 + 1e-6)


def test_quantize_rows_keeps_an_all_zero_row_zero():
    codes, _ = quantize_rows(torch.zeros(2, 4))
    assert codes.abs().sum() == 0


def test_int8_linear_does_the_integer_arithmetic_it_claims(eager_kernels):
    linear = _linear()
    layer = Int8Linear.from_linear(linear)
    x = torch.randn(7, 48)
    codes, row_scale = quantize_rows(x)
    expected = (codes.double() @ layer.weight_t.double()) * row_scale.double() * layer.weight_scale.double()
    expected += linear.bias.detach().double()
    np.testing.assert_allclose(layer(x).double().numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_int8_linear_stays_close_to_the_float_layer(eager_kernels):
    linear = _linear()
    x = torch.randn(3, 5, 48)
    with torch.inference_mode():
        exact, approx = linear(x), Int8Linear.from_linear(linear)(x)
    assert approx.shape == exact.shape == (3, 5, 80)
    cosine = torch.nn.functional.cosine_similarity(exact.reshape(-1, 80), approx.reshape(-1, 80))
    assert float(cosine.min()) > 0.999


def test_one_extreme_token_does_not_cost_the_others_precision(eager_kernels):
    """The point of per-token scales: a batch-wide scale would flatten the ordinary rows."""
    layer = Int8Linear.from_linear(_linear())
    ordinary = torch.randn(4, 48)
    alone = layer(ordinary)
    with_outlier = layer(torch.cat([ordinary, 1000.0 * torch.randn(1, 48)]))[:4]
    assert torch.equal(alone, with_outlier)


def test_linear_without_bias(eager_kernels):
    linear = _linear(bias=False)
    x = torch.randn(4, 48)
    with torch.inference_mode():
        np.testing.assert_allclose(Int8Linear.from_linear(linear)(x).numpy(), linear(x).numpy(), atol=0.05)


@pytest.mark.slow
def test_fused_kernels_give_the_eager_numbers(monkeypatch):
    layer = Int8Linear.from_linear(_linear())
    x = torch.randn(9, 48)
    fused = layer(x)
    monkeypatch.setattr(int8, "_use_fused", False)
    torch.testing.assert_close(fused, layer(x), rtol=1e-5, atol=1e-5)
    assert torch.equal(rescale(torch.ones(1, 2, dtype=torch.int32), torch.ones(1, 1), torch.ones(2), torch.zeros(2)),
                       torch.ones(1, 2))


def test_a_missing_compiler_falls_back_to_eager_ops_with_one_warning(monkeypatch):
    def cannot_compile(*_args, **_kwargs):
        raise torch._dynamo.exc.BackendCompilerFailed(cannot_compile, RuntimeError("No working C++ compiler"), None)

    monkeypatch.setattr(int8, "_use_fused", True)
    monkeypatch.setattr(int8, "_fused_kernels", (cannot_compile, cannot_compile))
    layer = Int8Linear.from_linear(_linear())
    x = torch.randn(3, 48)
    with pytest.warns(RuntimeWarning, match="could not be compiled.*C\\+\\+ compiler"):
        first = layer(x)
    assert int8._use_fused is False
    torch.testing.assert_close(first, layer(x))


@pytest.mark.slow
def test_other_errors_are_not_swallowed():
    layer = Int8Linear.from_linear(_linear())
    with pytest.raises(RuntimeError):
        layer(torch.randn(3, 47))


def test_only_the_transformer_blocks_are_quantized(tiny_models):
    from transformers import AutoModel

    model = AutoModel.from_pretrained(tiny_models["tiny-bert"])
    layers = model.config.num_hidden_layers
    assert quantize_transformer_blocks(model) == 6 * layers  # Q, K, V, attention output, two feed-forward
    assert isinstance(model.pooler.dense, torch.nn.Linear)
    assert isinstance(model.encoder.layer[0].intermediate.dense, Int8Linear)


def test_a_model_without_blocks_is_refused():
    with pytest.raises(ValueError, match="no linear layers inside repeated transformer blocks"):
        quantize_transformer_blocks(torch.nn.Sequential(torch.nn.Linear(4, 4)))


def test_the_argument_is_checked():
    assert check_quantize(None, ["cuda:0"]) is None
    assert check_quantize("int8", ["cpu", "cpu"]) == "int8"
    with pytest.raises(ValueError, match="quantize must be None or one of 'int8', got 'int4'"):
        check_quantize("int4", ["cpu"])
    with pytest.raises(ValueError, match="CPU path.*cuda:0.*use_fp16=True"):
        check_quantize("int8", ["cpu", "cuda:0"])
    with pytest.raises(ValueError, match="quantize must be"):
        FakeEmbedder("fake-model", devices="cpu", quantize="fp8")


@pytest.mark.slow
def test_int8_minilm_embeddings_stay_close_to_fp32(tiny_models):
    from parity.cases import PASSAGES, QUERIES

    texts = list(QUERIES) + list(PASSAGES)
    fp32 = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu")
    quantized = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu", quantize="int8")
    assert "quantize='int8'" in repr(quantized)
    exact, approx = fp32.encode(texts), quantized.encode(texts)
    assert approx.shape == exact.shape and approx.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(approx, axis=1), 1.0, atol=1e-5)
    cosine = (exact * approx).sum(axis=1)
    assert cosine.mean() > 0.99 and cosine.min() > 0.98  # the bar of benchmarks/quantization.py is on the mean
    assert np.array_equal(np.argmax(approx[:len(QUERIES)] @ approx[len(QUERIES):].T, axis=1),
                          np.argmax(exact[:len(QUERIES)] @ exact[len(QUERIES):].T, axis=1))
    assert any(isinstance(m, Int8Linear) for m in quantized.model.modules())
    assert not any(isinstance(m, Int8Linear) for m in fp32.model.modules())


@pytest.mark.slow
def test_int8_reranker_scores_follow_fp32(tiny_models):
    pairs = [("what is a cat", "a cat is a small feline"), ("what is a cat", "stocks fell today"),
             ("capital of france", "paris is the capital of france"), ("capital of france", "bananas are yellow")]
    exact = FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu")
    approx = FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu", quantize="int8")
    np.testing.assert_allclose(approx.compute_score(pairs), exact.compute_score(pairs), atol=0.05)


@pytest.mark.slow
def test_int8_m3_keeps_its_heads_in_fp32_and_its_outputs(tiny_models):
    from parity.cases import PASSAGES

    options = {"return_dense": True, "return_sparse": True, "return_colbert_vecs": True}
    exact = FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices="cpu").encode(PASSAGES, **options)
    model = FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices="cpu", quantize="int8")
    approx = model.encode(PASSAGES, **options)
    assert isinstance(model.model.colbert_linear, torch.nn.Linear)
    assert isinstance(model.model.sparse_linear, torch.nn.Linear)
    assert (exact["dense_vecs"] * approx["dense_vecs"]).sum(axis=1).min() > 0.98
    assert [len(v) for v in approx["colbert_vecs"]] == [len(v) for v in exact["colbert_vecs"]]
    assert len(approx["lexical_weights"]) == len(PASSAGES)


@pytest.mark.slow
def test_int8_on_two_cpu_devices_equals_one(tiny_models):
    texts = [f"passage number {i} " * (1 + i % 7) for i in range(60)]
    single = FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), devices="cpu", quantize="int8",
                                          max_batch_tokens=64)
    double = FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), devices=["cpu", "cpu"], quantize="int8",
                                          max_batch_tokens=64)
    try:
        np.testing.assert_allclose(double.encode(texts), single.encode(texts), atol=1e-6)
    finally:
        double.close()
