"""The lightweight Gemma2 reranker of flagcore-layerwise (``decoder-only-lightweight``): token compression checked
against a plain per-row computation, compression and cutoff arguments, right padding whatever the tokenizer says,
early exit, claims, precision on a CPU, two CPU devices. Parity with FlagEmbedding: test_layerwise_parity.py."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from parity.tiny_layerwise import COMMITTED

from flagcore import FlagAutoReranker, explain, resolve
from flagcore.plugins import LOAD_PLUGINS_ENV, host

CHECKPOINT = COMMITTED / "tiny-gemma2-lightweight"
PAIRS = [("what is the capital", "Paris is the capital of France."),
         ("fox", "the quick brown fox jumps over the lazy dog " * 3), ("a", "b"), ("empty passage", "")]


@pytest.fixture
def only_layerwise(monkeypatch):
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "llm,layerwise")
    host.reset()


@pytest.fixture
def model(only_layerwise):
    return FlagAutoReranker.from_finetuned(CHECKPOINT, devices="cpu")


def naive_compress(hidden, start, passage, length, ratio):
    """One row: the query part as it is, the passage averaged in groups of ``ratio``, then the rest."""
    groups = [hidden[start + g: start + min(g + ratio, passage)].mean(dim=0) for g in range(0, passage, ratio)]
    parts = [hidden[:start], *(g[None] for g in groups), hidden[start + passage:length]]
    return torch.cat(parts)


@pytest.mark.parametrize("ratio", [1, 2, 3, 4, 8])
def test_compression_pools_each_passage_span(ratio):
    from flagcore_layerwise.costwise_gemma import compress_passages

    generator = torch.Generator().manual_seed(ratio)
    rows = [(3, 7, 12), (2, 0, 6), (4, 9, 16), (1, 1, 4)]  # (query part, passage, real length): right padded to 16
    hidden = torch.randn(len(rows), 16, 8, generator=generator)
    mask = torch.zeros(len(rows), 16, dtype=torch.long)
    passage_mask = torch.zeros_like(mask)
    for j, (start, passage, length) in enumerate(rows):
        mask[j, :length] = 1
        passage_mask[j, start:start + passage] = 1
    new_hidden, new_mask, new_passage = compress_passages(hidden, mask, passage_mask, ratio)
    expected = [naive_compress(hidden[j], *row, ratio) for j, row in enumerate(rows)]
    assert new_hidden.shape[1] == max(e.shape[0] for e in expected)
    for j, (start, passage, length) in enumerate(rows):
        n = expected[j].shape[0]
        assert n == length - passage + math.ceil(passage / ratio)
        torch.testing.assert_close(new_hidden[j, :n], expected[j])
        assert new_hidden[j, n:].abs().sum() == 0
        assert new_mask[j].tolist() == [1] * n + [0] * (new_hidden.shape[1] - n)
        groups = math.ceil(passage / ratio)
        assert new_passage[j].tolist() == [0] * start + [1] * groups + [0] * (new_hidden.shape[1] - start - groups)


def test_compression_shortens_the_layers_above_and_no_layer_above_the_cutoff_runs(model):
    lengths = {}

    def record(index):
        def hook(module, args):
            lengths[index] = args[0].shape[1]
        return hook

    for index, layer in enumerate(model.model.model.layers):
        layer.register_forward_pre_hook(record(index))
    model.compute_score(PAIRS[1:2], cutoff_layers=[3], compress_ratio=4, compress_layers=[2], batch_size=1)
    assert sorted(lengths) == [0, 1, 2]  # layer 3 is above the cutoff: never run
    tokens = model.tokenize_pairs([("A: " + PAIRS[1][0], "B: " + PAIRS[1][1])], 384, 512)
    passage = sum(tokens["passage_mask"][0])
    assert passage > 20
    assert lengths[0] == lengths[1] >= len(tokens["input_ids"][0])  # padded to a multiple of 8
    assert lengths[2] == len(tokens["input_ids"][0]) - passage + math.ceil(passage / 4)


def test_compression_changes_the_scores_and_ratio_one_does_not(only_layerwise):
    # without a passage instruction the empty passage has no token, so nothing to compress
    model = FlagAutoReranker.from_finetuned(CHECKPOINT, devices="cpu", passage_instruction_for_rerank=None)
    plain = model.compute_score(PAIRS, cutoff_layers=[2, 4])
    np.testing.assert_allclose(model.compute_score(PAIRS, cutoff_layers=[2, 4], compress_ratio=1,
                                                   compress_layers=[1]), plain, atol=1e-6)
    pooled = model.compute_score(PAIRS, cutoff_layers=[2, 4], compress_ratio=2, compress_layers=[1])
    changed = np.abs(np.array(pooled) - np.array(plain)).max(axis=0)
    assert changed[:2].min() > 1e-4 and changed[2:].max() < 1e-5  # one-token and empty passages stay as they are


def test_the_tokenizers_left_padding_is_overridden(model):
    assert model.tokenizer.padding_side == "left" and model.padding_side == "right"
    batched = model.compute_score(PAIRS, compress_ratio=2, compress_layers=[1], batch_size=4)
    alone = [model.compute_score([pair], compress_ratio=2, compress_layers=[1])[0] for pair in PAIRS]
    np.testing.assert_allclose(batched, alone, atol=1e-5)


def test_layout_and_passage_span(model):
    tokens = model.tokenize_pairs([("A: q", "B: p")], 10, 20)
    ids, span = tokens["input_ids"][0], tokens["passage_mask"][0]
    separator = model._ids("\n")
    prompt = model._ids("Predict whether passage B contains an answer to query A.")
    assert ids[0] == model.tokenizer.bos_token_id
    assert ids[-len(prompt) - len(separator):] == separator + prompt
    start = span.index(1)
    assert ids[start - len(separator):start] == separator
    assert ids[start:start + sum(span)] == model._ids("B: p")


def test_compression_arguments_are_checked(model):
    with pytest.raises(ValueError, match=r"compress_ratio must be >= 1"):
        model.compute_score(PAIRS, compress_ratio=0)
    for bad in (1.5, "2", True):
        with pytest.raises(TypeError, match="compress_ratio must be a whole number"):
            model.compute_score(PAIRS, compress_ratio=bad)
    with pytest.raises(ValueError, match=r"compress_layers \[4, -1\] are outside \[0, 3\]"):
        model.compute_score(PAIRS, compress_ratio=2, compress_layers=[1, 4, -1])
    with pytest.raises(TypeError, match="compress_layers must be an int or a list of ints"):
        model.compute_score(PAIRS, compress_ratio=2, compress_layers="1")
    with pytest.raises(ValueError, match=r"compress_layers \[9\]"):
        FlagAutoReranker.from_finetuned(CHECKPOINT, devices="cpu", compress_ratio=2, compress_layers=9)
    with pytest.warns(UserWarning, match="compress layer 0 is ignored"):
        model.compute_score(PAIRS, compress_ratio=2, compress_layers=[0, 2])
    with pytest.warns(UserWarning, match=r"compress_ratio=2 has no effect: the default compress_layers \[8\]"):
        FlagAutoReranker.from_finetuned(CHECKPOINT, devices="cpu", compress_ratio=2)


def test_the_deprecated_compress_layer_still_works(model):
    expected = model.compute_score(PAIRS, compress_ratio=2, compress_layers=[1])
    with pytest.warns(FutureWarning, match="compress_layer= is deprecated"):
        got = model.compute_score(PAIRS, compress_ratio=2, compress_layer=[1])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # beside compress_layers= it no longer wins in silence (tests/test_input_edges_families.py)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="pass only compress_layers"):
        model.compute_score(PAIRS, compress_ratio=2, compress_layer=[1], compress_layers=[3])


def test_cutoff_layers_follow_layer_sep(only_layerwise, tmp_path):
    folder = tmp_path / "sep2"
    shutil.copytree(CHECKPOINT, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(start_layer=0, layer_sep=2)  # heads for layers 0, 2, 4: the committed three
    (folder / "config.json").write_text(json.dumps(config))
    model = FlagAutoReranker.from_finetuned(folder, devices="cpu")
    assert model.cutoff_layers == [4]
    with pytest.warns(UserWarning, match=r"cutoff_layers \[3\] are outside \[0, 2, 4\]"):
        scores = model.compute_score(PAIRS, cutoff_layers=[2, 3])
    assert len(scores) == len(PAIRS)


def test_a_checkpoint_without_layer_wise_heads_is_refused(only_layerwise, tmp_path):
    folder = tmp_path / "not-layer-wise"
    shutil.copytree(CHECKPOINT, folder)
    config = json.loads((folder / "config.json").read_text())
    config["layer_wise"] = False
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="layer_wise=false"):
        FlagAutoReranker.from_finetuned(folder, devices="cpu")


def test_full_precision_on_a_cpu_whatever_use_fp16_says(only_layerwise):
    for arguments in ({}, {"use_fp16": True}):
        model = FlagAutoReranker.from_finetuned(CHECKPOINT, devices="cpu", **arguments)
        model.compute_score(PAIRS[:1])
        assert next(model.model.parameters()).dtype == torch.float32


def test_claims_by_name_and_by_architecture_without_remote_code(only_layerwise, tmp_path):
    for name in ("BAAI/bge-reranker-v2.5-gemma2-lightweight", "bge-reranker-v2.5-gemma2-lightweight"):
        by_name = resolve(name, "reranker")
        assert (by_name.model_class, by_name.entry.plugin, by_name.rule) == ("decoder-only-lightweight",
                                                                             "layerwise", "name table")
    finetune = tmp_path / "bge-reranker-v2.5-gemma2-lightweight" / "checkpoint-500"
    shutil.copytree(CHECKPOINT, finetune)
    assert resolve(str(finetune), "reranker").model_class == "decoder-only-lightweight"
    local = tmp_path / "my-finetune"
    shutil.copytree(CHECKPOINT, local)
    claims = explain(local, kind="reranker")
    assert [(c.model_class, c.plugin) for c in claims][0] == ("decoder-only-lightweight", "layerwise")
    assert "no remote code" in claims[0].reason
    model = FlagAutoReranker.from_finetuned(local, devices="cpu")
    assert model.trust_remote_code is False and type(model).__name__ == "LightweightReranker"


@pytest.mark.slow
def test_two_cpu_devices_give_the_single_device_scores(only_layerwise):
    for cutoff in (3, [2, 4]):
        options = {"cutoff_layers": cutoff, "compress_ratio": 2, "compress_layers": [1]}
        single = FlagAutoReranker.from_finetuned(CHECKPOINT, devices="cpu", batch_size=1,
                                                 **options).compute_score(PAIRS)
        double = FlagAutoReranker.from_finetuned(CHECKPOINT, devices=["cpu", "cpu"], batch_size=1, **options)
        try:
            got = double.compute_score(PAIRS)
            assert np.array(got).shape == np.array(single).shape
            np.testing.assert_allclose(got, single, atol=1e-5)
        finally:
            double.close()


def test_peft_path_merges_a_lora_adapter(only_layerwise, tmp_path):
    from lora_check import check_peft_path_merges_a_lora_adapter

    check_peft_path_merges_a_lora_adapter(
        lambda **extra: FlagAutoReranker.from_finetuned(CHECKPOINT, devices="cpu", compress_ratio=2,
                                                        compress_layers=[1], **extra), PAIRS, tmp_path / "lora")
