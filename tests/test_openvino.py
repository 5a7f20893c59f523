"""``backend="openvino"``: outputs equal to the torch path in fp32, the conversion cached by the weights' digest,
bf16 where asked, clear refusals."""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest
import torch

from flagcore import FlagAutoModel, FlagAutoReranker
from flagcore.cli import main
from flagcore.engine import openvino as ov_backend
from flagcore.engine.cpu import CPU_BF16_ENV

pytestmark = pytest.mark.slow  # each model is converted once (seconds)

TEXTS = ["what is a panda?", "The giant panda is a bear species endemic to China.",
         "Paris is the capital of France. " * 30, "tides follow the moon", "", "x"]
PAIRS = [("what is a panda?", t) for t in TEXTS[1:]] + [("a", "b" * 40)]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A fresh conversion cache per test, and a count of the conversions."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(ov_backend.CACHE_ENV, str(folder))
    calls: list[str] = []
    real = ov_backend._convert_to

    def counting(target, *args, **kwargs):
        calls.append(target.name)
        return real(target, *args, **kwargs)

    monkeypatch.setattr(ov_backend, "_convert_to", counting)
    return calls


def _embed(path, **kwargs):
    return FlagAutoModel.from_finetuned(str(path), **{"devices": "cpu", **kwargs})


@pytest.mark.parametrize(("role", "pooling"), [("tiny-bert", "cls"), ("minilm", "mean"), ("tiny-xlmr", "cls")])
def test_fp32_embeddings_equal_the_torch_path(tiny_models, role, pooling):
    torch_out = _embed(tiny_models[role], pooling_method=pooling).encode(TEXTS)
    model = _embed(tiny_models[role], pooling_method=pooling, backend="openvino")
    assert "backend='openvino'" in repr(model)
    np.testing.assert_allclose(model.encode(TEXTS), torch_out, atol=1e-5)
    assert isinstance(model.model, ov_backend.OpenVINOBackbone) and model.model.precision == "f32"
    single = model.encode(TEXTS[1])  # another batch shape through the same compiled model
    np.testing.assert_allclose(single, torch_out[1], atol=1e-5)


@pytest.mark.parametrize("role", ["tiny-bert-reranker", "tiny-xlmr-reranker"])
def test_fp32_reranker_scores_equal_the_torch_path(tiny_models, role):
    expected = FlagAutoReranker.from_finetuned(str(tiny_models[role]), devices="cpu").compute_score(PAIRS)
    reranker = FlagAutoReranker.from_finetuned(str(tiny_models[role]), devices="cpu", backend="openvino")
    np.testing.assert_allclose(reranker.compute_score(PAIRS), expected, atol=1e-5)


def test_m3_outputs_equal_the_torch_path_with_heads_in_torch(tiny_models):
    modes = {"return_dense": True, "return_sparse": True, "return_colbert_vecs": True}
    expected = _embed(tiny_models["tiny-m3"]).encode(TEXTS, **modes)
    model = _embed(tiny_models["tiny-m3"], backend="openvino")
    out = model.encode(TEXTS, **modes)
    assert isinstance(model.model.backbone, ov_backend.OpenVINOBackbone)
    assert isinstance(model.model.colbert_linear, torch.nn.Linear)
    np.testing.assert_allclose(out["dense_vecs"], expected["dense_vecs"], atol=1e-5)
    for got, want in zip(out["colbert_vecs"], expected["colbert_vecs"], strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    for got, want in zip(out["lexical_weights"], expected["lexical_weights"], strict=True):
        assert set(got) == set(want)
        np.testing.assert_allclose([got[k] for k in want], [want[k] for k in want], atol=1e-5)


def test_the_conversion_is_cached_and_rebuilt_when_the_weights_change(tiny_models, tmp_path, cache):
    first = _embed(tiny_models["tiny-bert"], backend="openvino")
    reference = first.encode(TEXTS)
    assert len(cache) == 1
    ir = first.model.ir_path
    assert ir.exists() and ir.parent.parent == tmp_path / "cache" / "openvino"
    again = _embed(tiny_models["tiny-bert"], backend="openvino")
    np.testing.assert_array_equal(again.encode(TEXTS), reference)
    copy = shutil.copytree(tiny_models["tiny-bert"], tmp_path / "same-weights-elsewhere")
    _embed(copy, backend="openvino").encode(TEXTS)
    assert len(cache) == 1, "the same weights in another folder reuse the conversion"

    from safetensors.torch import load_file, save_file

    changed = shutil.copytree(tiny_models["tiny-bert"], tmp_path / "changed")
    tensors = load_file(changed / "model.safetensors")
    name = next(k for k in tensors if "layer.0.attention.self.query.weight" in k)
    tensors[name] = tensors[name] * 1.5
    save_file(tensors, str(changed / "model.safetensors"), metadata={"format": "pt"})
    rebuilt = _embed(changed, backend="openvino")
    np.testing.assert_allclose(rebuilt.encode(TEXTS), _embed(changed).encode(TEXTS), atol=1e-5)
    assert len(cache) == 2 and rebuilt.model.ir_path != ir


def test_use_bf16_compiles_for_bf16_where_the_cpu_has_it(tiny_models, monkeypatch):
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    model = _embed(tiny_models["minilm"], pooling_method="mean", backend="openvino", use_bf16=True)
    out = model.encode(TEXTS)
    assert model.model.precision == "bf16" and out.dtype == np.float32
    reference = _embed(tiny_models["minilm"], pooling_method="mean").encode(TEXTS)
    assert ((out * reference).sum(axis=1) > 0.999).all()
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    with pytest.warns(UserWarning, match="no native bf16"):
        fallback = _embed(tiny_models["minilm"], pooling_method="mean", backend="openvino", use_bf16=True)
    np.testing.assert_allclose(fallback.encode(TEXTS), reference, atol=1e-5)
    assert fallback.model.precision == "f32"


def test_two_cpu_workers_share_the_cached_conversion(tiny_models, cache, hang_deadline):
    expected = _embed(tiny_models["tiny-bert"]).encode(TEXTS * 40, batch_size=8)
    model = _embed(tiny_models["tiny-bert"], backend="openvino", devices=["cpu", "cpu"])
    try:
        np.testing.assert_allclose(model.encode(TEXTS * 40, batch_size=8, show_progress_bar=False), expected,
                                   atol=1e-5)
    finally:
        model.close()


@pytest.fixture(scope="module")
def decoders(tmp_path_factory):
    from parity.tiny_decoders import build

    return build(tmp_path_factory.mktemp("tiny-decoders"))


@pytest.fixture(scope="module")
def decoder_path(decoders):
    return decoders["tiny-llama"]


@pytest.mark.parametrize("role", ["tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3", "tiny-gemma",
                                  "tiny-gemma2"])
def test_decoder_embedders_equal_the_torch_path(decoders, role):
    """Left padding included (a batch of unequal texts): the conversion traces eager attention, whose masked rows
    stay finite; under SDPA's -inf mask Mistral and Qwen3 gave NaN. (No empty text: with a tokenizer that adds no
    special tokens it has no token to pool, and its vector is whatever the padding gives, backend by backend.)"""
    texts = ["what is a panda?", "The giant panda is a bear species endemic to China. " * 5, "x", "tides"]
    expected = _embed(decoders[role]).encode(texts)
    model = _embed(decoders[role], backend="openvino")
    np.testing.assert_allclose(model.encode(texts), expected, atol=1e-5)
    np.testing.assert_allclose(model.encode(texts[:2]), expected[:2], atol=1e-5)
    assert isinstance(model.model, ov_backend.OpenVINOBackbone)


def test_the_icl_embedder_with_examples_equals_the_torch_path(decoders):
    examples = [{"instruct": "Given a question, find the answer.", "query": "what is a panda?",
                 "response": "The giant panda is a bear."}]
    kwargs = {"model_class": "decoder-only-icl", "examples_for_task": examples,
              "query_instruction_for_retrieval": "Given a question, find the answer."}
    expected = _embed(decoders["tiny-mistral"], **kwargs).encode_queries(["tides?", "a longer question " * 9])
    model = _embed(decoders["tiny-mistral"], backend="openvino", **kwargs)
    np.testing.assert_allclose(model.encode_queries(["tides?", "a longer question " * 9]), expected, atol=1e-5)


def test_refusals_name_what_to_do(tiny_models, decoder_path, monkeypatch):
    with pytest.raises(ValueError, match="backend must be one of 'torch', 'openvino', got 'onnx'"):
        _embed(tiny_models["tiny-bert"], backend="onnx")
    with pytest.raises(ValueError, match="quantize='int8' is a torch path"):
        _embed(tiny_models["tiny-bert"], backend="openvino", quantize="int8")
    with pytest.raises(ValueError, match="backend='openvino' runs on the CPU, but devices include cuda:0"):
        ov_backend.check_backend("openvino", ["cuda:0"], ("torch", "openvino"), "EncoderEmbedder")
    with pytest.raises(ValueError, match="backend='openvino' is not available for LLMReranker, which supports "
                                         "'torch'; OpenVINO serves the encoder-only, M3 and decoder-only"):
        FlagAutoReranker.from_finetuned(str(decoder_path), devices="cpu", backend="openvino",
                                        model_class="decoder-only-base")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "openvino" else real_find_spec(name, *a))
    with pytest.raises(ImportError, match=r"pip install 'flagcore\[openvino\]'"):
        _embed(tiny_models["tiny-bert"], backend="openvino")


def test_the_cli_takes_the_backend(tiny_models, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS[:4]) + "\n", encoding="utf-8")
    for name, extra in (("torch.npy", []), ("openvino.npy", ["--backend", "openvino"])):
        assert main(["encode", str(tiny_models["tiny-bert"]), "-i", str(source), "-o", str(tmp_path / name),
                     *extra]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "openvino.npy"), np.load(tmp_path / "torch.npy"), atol=1e-5)


@pytest.mark.parametrize("role", ["minilm", "tiny-xlmr", "tiny-m3"])
def test_a_first_batch_at_the_position_limit_converts_and_equals_torch(tiny_models, role):
    """Batches go longest first and passages are cut at 512 tokens, so the first batch often fills the position
    table: the conversion must not trace a wider one."""
    texts = ["word " * 1000, "short"]
    model = _embed(tiny_models[role], backend="openvino")
    limit = model.position_limit
    assert len(model.tokenize(texts[:1], limit)["input_ids"][0]) == limit == 512
    expected = _embed(tiny_models[role]).encode_corpus(texts, max_length=limit)
    got = model.encode_corpus(texts, max_length=limit)
    if isinstance(expected, dict):  # M3: its dense vectors
        expected, got = expected["dense_vecs"], got["dense_vecs"]
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("role", ["tiny-bert-reranker", "tiny-xlmr-reranker"])
def test_a_first_pair_batch_at_the_position_limit_converts_and_equals_torch(tiny_models, role):
    pairs = [("query " * 300, "passage " * 600), ("a", "b")]
    expected = FlagAutoReranker.from_finetuned(str(tiny_models[role]), devices="cpu").compute_score(pairs)
    reranker = FlagAutoReranker.from_finetuned(str(tiny_models[role]), devices="cpu", backend="openvino")
    np.testing.assert_allclose(reranker.compute_score(pairs), expected, atol=1e-5)
