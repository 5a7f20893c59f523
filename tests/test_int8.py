"""quantize='int8' (outlier channels in fp32, asymmetric per-token activations) and 'int8-per-token': the int8
linear layers, the calibration that picks the outlier channels, the model surgery, and what they do to real outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import FakeEmbedder

from flagcore import FlagAutoModel, FlagAutoReranker
from flagcore.engine import int8
from flagcore.engine.int8 import (
    Int8Linear,
    Int8OutlierLinear,
    quantize_rows,
    quantize_rows_asymmetric,
    quantize_transformer_blocks,
    rescale,
)
from flagcore.engine.int8_calibration import CHANNELS_PER_OUTLIER, outlier_channels, outlier_count, top_channels
from flagcore.engine.precision import QUANTIZE_CHOICES, check_quantize


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
    outlier_layer = Int8OutlierLinear(_linear(), torch.tensor([0, 5]))
    fused, fused_outliers = layer(x), outlier_layer(x)
    monkeypatch.setattr(int8, "_use_fused", False)
    torch.testing.assert_close(fused, layer(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fused_outliers, outlier_layer(x), rtol=1e-5, atol=1e-5)
    assert torch.equal(rescale(torch.ones(1, 2, dtype=torch.int32), torch.ones(1, 1), torch.ones(2), torch.zeros(2)),
                       torch.ones(1, 2))


def test_a_missing_compiler_falls_back_to_eager_ops_with_one_warning(monkeypatch):
    def cannot_compile(*_args, **_kwargs):
        raise torch._dynamo.exc.BackendCompilerFailed(cannot_compile, RuntimeError("No working C++ compiler"), None)

    monkeypatch.setattr(int8, "_use_fused", True)
    monkeypatch.setattr(int8, "_fused", lambda kernel: cannot_compile)
    layers = [Int8Linear.from_linear(_linear()), Int8OutlierLinear(_linear(), torch.tensor([3]))]
    x = torch.randn(3, 48)
    with pytest.warns(RuntimeWarning, match="could not be compiled.*C\\+\\+ compiler"):
        first = layers[0](x)
    assert int8._use_fused is False
    torch.testing.assert_close(first, layers[0](x))
    layers[1](x)  # eager from now on, for either plan


@pytest.mark.slow
def test_other_errors_are_not_swallowed():
    layer = Int8Linear.from_linear(_linear())
    with pytest.raises(RuntimeError):
        layer(torch.randn(3, 47))


@pytest.mark.parametrize(("plan", "layer_type"), [("int8", Int8OutlierLinear), ("int8-per-token", Int8Linear)])
def test_only_the_transformer_blocks_are_quantized(tiny_models, plan, layer_type):
    from transformers import AutoModel

    model = AutoModel.from_pretrained(tiny_models["tiny-bert"])
    layers = model.config.num_hidden_layers
    assert quantize_transformer_blocks(model, plan) == 6 * layers  # Q, K, V, attention output, two feed-forward
    assert isinstance(model.pooler.dense, torch.nn.Linear)
    assert isinstance(model.encoder.layer[0].intermediate.dense, layer_type)


def test_asymmetric_rows_use_each_rows_own_range_and_skip_the_outlier_channels():
    x = torch.tensor([[-0.17, 0.0, 3.0, 50.0], [-2.0, -1.0, 1.0, -900.0]])
    codes, scale, offset = quantize_rows_asymmetric(x, torch.tensor([1.0, 1.0, 1.0, 0.0]))
    assert codes.dtype == torch.int8
    np.testing.assert_allclose(scale.squeeze(1).numpy(), [3.17 / 255, 3.0 / 255], rtol=1e-5)
    restored = scale * (codes.float() + offset)
    expected = x * torch.tensor([1.0, 1.0, 1.0, 0.0])  # the masked channel is 0, inside the range
    np.testing.assert_allclose(restored.numpy(), expected.numpy(), atol=float(scale.max()) / 2 + 1e-6)
    assert int(codes.min()) >= -128 and int(codes.max()) <= 127


def test_outlier_linear_does_the_arithmetic_it_claims(eager_kernels):
    linear, outliers = _linear(), torch.tensor([2, 30])
    layer = Int8OutlierLinear(linear, outliers)
    assert layer.weight_t[outliers].abs().sum() == 0  # those weights live in fp32 instead
    x = torch.randn(7, 48)
    x[:, 30] *= 1000.0
    keep = torch.ones(48)
    keep[outliers] = 0.0
    codes, scale, offset = quantize_rows_asymmetric(x, keep)
    weight = linear.weight.detach().double()
    int8_part = ((codes.double() + offset.double()) @ layer.weight_t.double()) * scale.double() * layer.weight_scale
    expected = int8_part + x[:, outliers].double() @ weight[:, outliers].T + linear.bias.detach().double()
    np.testing.assert_allclose(layer(x).double().numpy(), expected.numpy(), rtol=1e-5, atol=1e-4)


def test_a_huge_outlier_channel_costs_the_other_channels_nothing(eager_kernels):
    """The point of the fp32 channels: 1000x activations there leave the int8 part's range alone."""
    linear = _linear()
    layer = Int8OutlierLinear(linear, torch.tensor([30]))
    x = torch.randn(5, 48)
    loud = x.clone()
    loud[:, 30] = 1000.0
    with torch.inference_mode():
        shift = (loud[:, 30:31] - x[:, 30:31]) * linear.weight[:, 30]
        torch.testing.assert_close(layer(loud), layer(x) + shift, rtol=1e-5, atol=1e-3)
        per_token = Int8Linear.from_linear(linear)(loud) - linear(loud)
        assert float((layer(loud) - linear(loud)).abs().max()) < float(per_token.abs().max()) / 50


def test_the_outlier_count_is_one_channel_in_48():
    assert CHANNELS_PER_OUTLIER == 48
    assert [outlier_count(n) for n in (32, 384, 768, 1024, 1536, 4096)] == [1, 8, 16, 21, 32, 85]
    peaks = torch.tensor([1.0, 9.0, 2.0, 9.0, 30.0] + [0.5] * 43)
    assert top_channels(peaks).tolist() == [4]
    assert top_channels(torch.ones(96)).tolist() == [0, 1]  # ties: the lowest indices, deterministically


def test_the_plan_is_the_same_every_time_and_ranks_the_largest_inputs(tiny_models):
    from transformers import AutoModel

    from flagcore.engine.blocks import block_linear_names
    from flagcore.engine.int8_calibration import input_absmax

    model = AutoModel.from_pretrained(tiny_models["tiny-xlmr"]).eval()
    names = block_linear_names(model)
    first, second = outlier_channels(model, names), outlier_channels(model, names)
    assert list(first) == names
    assert all(torch.equal(first[name], second[name]) for name in names)
    peaks = input_absmax(model, names)
    for name in names:
        chosen = first[name]
        assert len(chosen) == outlier_count(model.get_submodule(name).in_features)
        rest = torch.ones_like(peaks[name], dtype=torch.bool)
        rest[chosen] = False
        assert float(peaks[name][chosen].min()) >= float(peaks[name][rest].max())


def test_a_model_without_a_transformers_backbone_cannot_be_calibrated():
    from flagcore.engine.int8_calibration import backbone

    with pytest.raises(ValueError, match="no transformers model.*int8-per-token"):
        backbone(torch.nn.Sequential(torch.nn.Linear(4, 4)))


def test_a_model_without_blocks_is_refused():
    with pytest.raises(ValueError, match="no linear layers inside repeated transformer blocks"):
        quantize_transformer_blocks(torch.nn.Sequential(torch.nn.Linear(4, 4)))


def test_the_argument_is_checked():
    assert check_quantize(None, ["cuda:0"]) is None
    assert check_quantize("int8", ["cpu", "cpu"]) == "int8"
    assert check_quantize("int8-per-token", ["cpu"]) == "int8-per-token"
    assert QUANTIZE_CHOICES == ("int8", "int8-per-token")
    with pytest.raises(ValueError, match="quantize must be None or one of 'int8', 'int8-per-token', got 'int4'"):
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
    assert any(isinstance(m, Int8OutlierLinear) for m in quantized.model.modules())
    assert not any(isinstance(m, (Int8Linear, Int8OutlierLinear)) for m in fp32.model.modules())


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


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny-bert", "tiny-xlmr"])
def test_both_plans_serve_the_tiny_encoders(tiny_models, name):
    texts = ["a cat sat on the mat", "stocks fell today", "paris is the capital of france"]
    exact = FlagAutoModel.from_finetuned(str(tiny_models[name]), devices="cpu").encode(texts)
    for plan in QUANTIZE_CHOICES:
        approx = FlagAutoModel.from_finetuned(str(tiny_models[name]), devices="cpu", quantize=plan).encode(texts)
        assert (exact * approx).sum(axis=1).min() > 0.98


def _corpus_passages(count: int) -> list[str]:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "corpus.py"
    spec = importlib.util.spec_from_file_location("benchmark_corpus", path)
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    return corpus.paragraphs()[::3][:count]  # the passages benchmarks/cpu_backends.py picks


@pytest.mark.slow
def test_int8_keeps_min_cosine_0999_on_minilm_where_per_token_int8_did_not(tiny_models):
    texts = _corpus_passages(100)
    options = {"devices": "cpu", "pooling_method": "mean", "passage_max_length": 512}
    exact = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), **options).encode_corpus(texts)
    cosine = {}
    for plan in QUANTIZE_CHOICES:
        model = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), quantize=plan, **options)
        cosine[plan] = (exact * model.encode_corpus(texts)).sum(axis=1)
    assert cosine["int8"].min() >= 0.999 and cosine["int8"].mean() >= 0.9995
    assert cosine["int8-per-token"].min() < 0.999  # the old plan, for comparison (0.994-0.995 here)
    assert cosine["int8"].min() > cosine["int8-per-token"].min()
