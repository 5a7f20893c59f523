"""The layer-wise family (flagcore-layerwise): the MiniCPM layer-wise reranker implemented natively, checked against
transformers' Llama (which it equals when its MiniCPM scale factors are neutral), cutoff layers, early exit, claims."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from flagcore import FlagAutoReranker, explain, resolve
from flagcore.plugins import LOAD_PLUGINS_ENV, host

LAYERS, START = 4, 2
PAIRS = [("what is the capital", "Paris is the capital of France."),
         ("fox", "the quick brown fox jumps over the lazy dog " * 3), ("a", "b")]


def write_layerwise_checkpoint(folder, tokenizer_source, vocab_size, *, scale_emb=1.0, dim_model_base=64,
                               scale_depth=2.0):
    """A seeded random LayerWiseMiniCPMForCausalLM checkpoint (hidden 64, 4 layers, heads for layers 2..4)."""
    from flagcore_layerwise.minicpm import LayerWiseMiniCPM
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tokenizer_source / name).exists():
            shutil.copy(tokenizer_source / name, folder / name)
    config = {
        "architectures": ["LayerWiseMiniCPMForCausalLM"], "model_type": "minicpm",
        "auto_map": {"AutoConfig": "configuration_minicpm_reranker.LayerWiseMiniCPMConfig",
                     "AutoModelForCausalLM": "modeling_minicpm_reranker.LayerWiseMiniCPMForCausalLM"},
        "vocab_size": vocab_size, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": LAYERS,
        "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "silu", "max_position_embeddings": 512,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "scale_emb": scale_emb, "dim_model_base": dim_model_base,
        "scale_depth": scale_depth, "start_layer": START, "head_multi": True, "head_type": "simple",
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2,
    }
    (folder / "config.json").write_text(json.dumps(config))
    generator = torch.Generator().manual_seed(0)
    state = {name: (1 + 0.1 * torch.randn(value.shape, generator=generator)) if "norm" in name
             else 0.1 * torch.randn(value.shape, generator=generator)
             for name, value in sorted(LayerWiseMiniCPM(config).state_dict().items())}
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    return folder


@pytest.fixture(scope="session")
def layerwise(tmp_path_factory):
    from parity.tiny_decoders import build

    root = tmp_path_factory.mktemp("layerwise")
    llama = build(root / "src", ("tiny-llama",))["tiny-llama"]
    vocab = json.loads((llama / "config.json").read_text())["vocab_size"]
    return {"neutral": write_layerwise_checkpoint(root / "neutral", llama, vocab),
            "scaled": write_layerwise_checkpoint(root / "bge-reranker-v2-minicpm-layerwise", llama, vocab,
                                                 scale_emb=12.0, dim_model_base=256, scale_depth=1.4)}


@pytest.fixture
def only_layerwise(monkeypatch):
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "llm,layerwise")
    host.reset()


def llama_reference(path, model, pairs):
    """Scores at layers 2..4 from transformers' LlamaModel with the same weights (neutral MiniCPM scales)."""
    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaModel

    config = json.loads((path / "config.json").read_text())
    keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "hidden_act", "max_position_embeddings", "rms_norm_eps", "rope_theta")
    llama = LlamaModel(LlamaConfig(**{k: config[k] for k in keys})).eval()
    state = load_file(path / "model.safetensors")
    llama.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
    scores = {layer: [] for layer in range(START, LAYERS + 1)}
    for query, passage in pairs:
        ids = model.tokenize_pairs([("A: " + query, "B: " + passage)], 384, 512)["input_ids"][0]
        with torch.no_grad():
            out = llama(input_ids=torch.tensor([ids]), output_hidden_states=True)
            for layer in scores:
                last = out.last_hidden_state[0, -1] if layer == LAYERS else llama.norm(out.hidden_states[layer][0, -1])
                scores[layer].append(float(state[f"lm_head.{layer - START}.linear_head.weight"][0] @ last))
    return scores


def test_scores_per_layer_equal_transformers_llama(only_layerwise, layerwise):
    model = FlagAutoReranker.from_finetuned(layerwise["neutral"], devices="cpu", batch_size=2, cutoff_layers=[2, 3, 4])
    got = model.compute_score(PAIRS)
    expected = llama_reference(layerwise["neutral"], model, PAIRS)
    assert isinstance(got, list) and len(got) == 3 and all(len(layer) == len(PAIRS) for layer in got)
    np.testing.assert_allclose(got, [expected[2], expected[3], expected[4]], atol=1e-5)
    one = model.compute_score(PAIRS, cutoff_layers=3)
    assert all(type(s) is float for s in one)
    np.testing.assert_allclose(one, expected[3], atol=1e-5)


def test_bos_is_always_prepended(only_layerwise, layerwise):
    model = FlagAutoReranker.from_finetuned(layerwise["neutral"], devices="cpu")
    assert model.tokenizer.bos_token_id is not None
    assert model.tokenize_pairs([("A: q", "B: p")], 10, 20)["input_ids"][0][0] == model.tokenizer.bos_token_id


def test_no_layer_above_the_highest_cutoff_runs(only_layerwise, layerwise):
    model = FlagAutoReranker.from_finetuned(layerwise["scaled"], devices="cpu", cutoff_layers=2)
    calls = []
    for index, layer in enumerate(model.model.model.layers):
        layer.register_forward_hook(lambda *args, index=index: calls.append(index))
    model.compute_score(PAIRS[:1])
    assert calls == [0, 1]
    calls.clear()
    model.compute_score(PAIRS[:1], cutoff_layers=[3, 2])
    assert calls == [0, 1, 2]


def test_cutoff_layers_are_checked(only_layerwise, layerwise):
    model = FlagAutoReranker.from_finetuned(layerwise["scaled"], devices="cpu")
    assert model.cutoff_layers == [LAYERS]  # FlagEmbedding's default: the last layer
    with pytest.warns(UserWarning, match=r"cutoff_layers \[1, 9\] are outside \[2, 4\].*dropped"):
        scores = model.compute_score(PAIRS, cutoff_layers=[1, 3, 9])
    assert len(scores) == len(PAIRS) and all(type(s) is float for s in scores)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match=r"no cutoff layer left: .* \[2, 4\]"):
        model.compute_score(PAIRS, cutoff_layers=[0, 5])
    with pytest.raises(TypeError, match="an int or a list of ints"):
        model.compute_score(PAIRS, cutoff_layers="3")
    with pytest.warns(UserWarning), pytest.raises(ValueError):
        FlagAutoReranker.from_finetuned(layerwise["scaled"], devices="cpu", cutoff_layers=[7])


def test_the_scale_factors_change_the_scores(only_layerwise, layerwise):
    neutral = FlagAutoReranker.from_finetuned(layerwise["neutral"], devices="cpu").compute_score(PAIRS)
    scaled = FlagAutoReranker.from_finetuned(layerwise["scaled"], devices="cpu").compute_score(PAIRS)
    assert np.abs(np.array(neutral) - np.array(scaled)).max() > 1e-3
    assert np.isfinite(scaled).all()


def test_claims_by_name_and_by_architecture_without_remote_code(only_layerwise, layerwise, tmp_path):
    by_name = resolve("BAAI/bge-reranker-v2-minicpm-layerwise", "reranker")
    assert (by_name.model_class, by_name.entry.plugin, by_name.rule) == ("decoder-only-layerwise", "layerwise",
                                                                         "name table")
    local = tmp_path / "my-finetune"
    shutil.copytree(layerwise["neutral"], local)
    claims = explain(local, kind="reranker")
    assert [(c.model_class, c.plugin) for c in claims] == [("decoder-only-layerwise", "layerwise"),
                                                           ("decoder-only-base", "llm")]
    assert "no remote code" in claims[0].reason
    model = FlagAutoReranker.from_finetuned(local, devices="cpu")
    assert model.trust_remote_code is False and type(model).__name__ == "LayerWiseReranker"


@pytest.mark.slow
def test_two_cpu_devices_give_the_single_device_scores(only_layerwise, layerwise):
    for cutoff in (3, [2, 4]):
        single = FlagAutoReranker.from_finetuned(layerwise["scaled"], devices="cpu", batch_size=1,
                                                 cutoff_layers=cutoff).compute_score(PAIRS)
        double = FlagAutoReranker.from_finetuned(layerwise["scaled"], devices=["cpu", "cpu"], batch_size=1,
                                                 cutoff_layers=cutoff)
        try:
            np.testing.assert_allclose(double.compute_score(PAIRS), single, atol=1e-5)
        finally:
            double.close()


def test_a_hub_id_loads_from_the_local_cache(only_layerwise, layerwise, tmp_path, monkeypatch):
    snapshot = tmp_path / "models--BAAI--bge-reranker-v2-minicpm-layerwise" / "snapshots" / "abc123"
    shutil.copytree(layerwise["scaled"], snapshot)
    (tmp_path / "models--BAAI--bge-reranker-v2-minicpm-layerwise" / "refs").mkdir()
    (tmp_path / "models--BAAI--bge-reranker-v2-minicpm-layerwise" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from_cache = FlagAutoReranker.from_finetuned("BAAI/bge-reranker-v2-minicpm-layerwise", devices="cpu")
    local = FlagAutoReranker.from_finetuned(layerwise["scaled"], devices="cpu")
    np.testing.assert_allclose(from_cache.compute_score(PAIRS), local.compute_score(PAIRS), atol=1e-6)


def test_peft_path_merges_a_lora_adapter(only_layerwise, layerwise, tmp_path):
    from lora_check import check_peft_path_merges_a_lora_adapter

    check_peft_path_merges_a_lora_adapter(
        lambda **extra: FlagAutoReranker.from_finetuned(layerwise["scaled"], devices="cpu", **extra), PAIRS,
        tmp_path / "lora")
