"""The decoder-only families (flagcore-llm, flagcore-icl): claims, loading, embeddings and scores against plain
transformers computed here, argument checks, adapters and the pseudo-MoE embedder's remote code."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch

from flagcore import FlagAutoModel, FlagAutoReranker, PluginNotInstalledError, explain, resolve
from flagcore.family import known_model, names_for
from flagcore.plugins import LOAD_PLUGINS_ENV, host

TEXTS = ["hello world", "What is the capital of France? Paris is the capital.", "a", "北京 🙂 emoji",
         "the quick brown fox jumps over the lazy dog " * 6]
PAIRS = [("what is the capital of france", "Paris is the capital of France."),
         ("how do pandas eat", "Giant pandas eat bamboo. " * 20), ("", "empty query"), ("short", "")]


@pytest.fixture(scope="session")
def decoders(tmp_path_factory):
    from parity.tiny_decoders import build

    return build(tmp_path_factory.mktemp("tiny-decoders"))


@pytest.fixture
def only_decoder_families(monkeypatch):
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "llm,icl")
    host.reset()


def reference_embeddings(path, texts, max_length=512, eos=False):
    """Last-token embeddings one text at a time (no padding at all) with plain transformers."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
    rows = []
    for text in texts:
        ids = tokenizer(text, truncation=True, max_length=max_length - eos)["input_ids"] + (
            [tokenizer.eos_token_id] if eos else [])
        with torch.no_grad():
            hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]
        rows.append(torch.nn.functional.normalize(hidden, dim=-1).numpy())
    return np.stack(rows)


def reference_scores(path, pairs, prompt=None, max_length=512):
    """FlagLLMReranker's sequence, one pair at a time, scored with plain transformers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()

    def ids(text, limit=None):
        return tokenizer(text, add_special_tokens=False, truncation=limit is not None, max_length=limit)["input_ids"]

    prompt = prompt or ("Given a query A and a passage B, determine whether the passage contains an answer to the "
                        "query by providing a prediction of either 'Yes' or 'No'.")
    bos = tokenizer.bos_token_id
    prefix = [bos] if bos is not None and bos != tokenizer.pad_token_id else []
    scores = []
    for query, passage in pairs:
        first = prefix + ids("A: " + query, max_length * 3 // 4)
        second = ids("\n") + ids("B: " + passage, max_length)
        room = max_length + len(ids("\n")) + len(ids(prompt)) - len(first)
        second = second[:room] if 0 < len(first) + len(second) - (room + len(first)) < len(second) else second
        sequence = first + second + ids("\n") + ids(prompt)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([sequence])).logits[0, -1]
        scores.append(float(logits[ids("Yes")[0]]))
    return scores


# -- claims ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", names_for("embedder", "decoder-only-base"))
def test_every_llm_embedder_name_resolves_as_flagembedding_does(only_decoder_families, name):
    for reference in (name, f"BAAI/{name}", f"/ckpts/{name}/checkpoint-500"):
        chosen = resolve(reference, "embedder") if not reference.startswith("/") else None
        if chosen is None:  # a missing checkpoint folder: only the name can be used, as FlagEmbedding does
            claims = explain(reference)
            assert claims[0].model_class == "decoder-only-base"
            continue
        assert (chosen.model_class, chosen.entry.plugin, chosen.rule) == ("decoder-only-base", "llm", "name table")
        assert chosen.defaults["pooling_method"] == "last_token"
    formats = {"Qwen3-Embedding-0.6B": "Instruct: {}\nQuery:{}", "bge-code-v1": "<instruct>{}\n<query>{}",
               "e5-mistral-7b-instruct": "Instruct: {}\nQuery: {}"}
    if name in formats:
        assert resolve(name, "embedder").defaults["query_instruction_format"] == formats[name]
    remote = {"bge-code-v1", "gte-Qwen2-7B-instruct", "gte-Qwen2-1.5B-instruct", "gte-Qwen1.5-7B-instruct"}
    assert resolve(name, "embedder").defaults.get("trust_remote_code", False) == (name in remote)


def test_icl_and_gemma_reranker_names(only_decoder_families):
    icl = resolve("BAAI/bge-en-icl", "embedder")
    assert (icl.model_class, icl.entry.plugin) == ("decoder-only-icl", "icl")
    assert icl.defaults == {"pooling_method": "last_token", "query_instruction_format": "<instruct>{}\n<query>{}"}
    gemma = resolve("BAAI/bge-reranker-v2-gemma", "reranker")
    assert (gemma.model_class, gemma.entry.plugin) == ("decoder-only-base", "llm")
    assert known_model("bge-en-icl", "embedder").extra == "icl"


def test_icl_without_its_family_is_an_install_hint(monkeypatch):
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "llm")
    host.reset()
    with pytest.raises(PluginNotInstalledError, match=r"flagcore\[icl\]"):
        resolve("BAAI/bge-en-icl", "embedder")


def test_a_local_causal_lm_folder_is_an_llm_embedder_and_reranker_with_reasons(only_decoder_families, decoders):
    chosen = resolve(decoders["tiny-qwen2"], "embedder")
    assert (chosen.model_class, chosen.claim.evidence) == ("decoder-only-base", "fallback")
    assert "causal-LM config (qwen2" in chosen.claim.reason and "last-token pooling assumed" in chosen.claim.reason
    reranker = resolve(decoders["tiny-gemma"], "reranker")
    assert reranker.model_class == "decoder-only-base" and "'Yes'" in reranker.claim.reason


def test_sentence_transformers_pooling_decides_the_strength(only_decoder_families, decoders, tmp_path):
    model = tmp_path / "my-decoder"
    shutil.copytree(decoders["tiny-llama"], model)
    (model / "modules.json").write_text(json.dumps([
        {"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (model / "1_Pooling").mkdir()
    (model / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_lasttoken": True}))
    assert explain(model)[0].evidence == "architecture"
    assert explain(model)[0].score > explain(decoders["tiny-llama"])[0].score  # files: stronger than a guess
    (model / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    assert explain(model)[0].evidence == "architecture"  # the core applies the model's mean pooling
    assert FlagAutoModel.from_finetuned(str(model), devices="cpu").pooling_method == "mean"


def test_an_adapter_folder_resolves_through_its_base_model(only_decoder_families, decoders, tmp_path):
    adapter = tmp_path / "my-lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": str(decoders["tiny-mistral"]), "task_type": "CAUSAL_LM"}))
    claim = explain(adapter)[0]
    assert claim.model_class == "decoder-only-base" and claim.reason.startswith("LoRA adapter over ")


# -- the LLM embedder -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3", "tiny-gemma"])
def test_embeddings_equal_unpadded_last_token_states(only_decoder_families, decoders, role):
    model = FlagAutoModel.from_finetuned(decoders[role], devices="cpu", batch_size=2)
    got = model.encode(TEXTS, max_length=24)
    assert got.shape == (len(TEXTS), 64) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference_embeddings(decoders[role], TEXTS, 24), atol=1e-5)
    assert model.padding_side in ("left", "right")


def test_padding_side_and_pad_multiple_do_not_change_the_vectors(only_decoder_families, decoders):
    model = FlagAutoModel.from_finetuned(decoders["tiny-llama"], devices="cpu", batch_size=3)
    right = model.encode(TEXTS)
    model.tokenizer.padding_side = "left"
    np.testing.assert_allclose(model.encode(TEXTS, pad_to_multiple_of=8), right, atol=1e-5)


def test_decoders_batch_fewer_tokens_on_a_cpu(only_decoder_families, decoders):
    model = FlagAutoModel.from_finetuned(decoders["tiny-llama"], devices="cpu")
    assert model.batch_token_budget == 512  # encoders: 2048
    budget = 64
    narrow = FlagAutoModel.from_finetuned(decoders["tiny-llama"], devices="cpu", max_batch_tokens=budget)
    assert narrow.batch_token_budget == budget
    np.testing.assert_allclose(narrow.encode(TEXTS), model.encode(TEXTS), atol=1e-5)


def test_truncate_dim_unnormalized_and_query_format(only_decoder_families, decoders):
    path = decoders["tiny-qwen3"]
    model = FlagAutoModel.from_finetuned(path, devices="cpu", truncate_dim=16, normalize_embeddings=False,
                                         query_instruction_for_retrieval="Find the passage")
    assert model.query_instruction_format == "Instruct: {}\nQuery: {}"
    plain = FlagAutoModel.from_finetuned(path, devices="cpu", normalize_embeddings=False)
    query = plain.encode("Instruct: Find the passage\nQuery: hello world")
    np.testing.assert_allclose(model.encode_queries("hello world"), query[:16], atol=1e-5)
    assert np.linalg.norm(query) != pytest.approx(1.0)


def test_pooling_other_than_last_token_is_refused(only_decoder_families, decoders):
    with pytest.raises(ValueError, match="pooling_method='mean' is not supported by LLMEmbedder.*last_token"):
        FlagAutoModel.from_finetuned(decoders["tiny-llama"], devices="cpu", pooling_method="mean")


def test_a_declared_eos_that_transformers_5_drops_is_appended(only_decoder_families, decoders, tmp_path):
    model_dir = tmp_path / "eos-mistral"
    shutil.copytree(decoders["tiny-mistral"], model_dir)
    config = json.loads((model_dir / "tokenizer_config.json").read_text())
    (model_dir / "tokenizer_config.json").write_text(json.dumps({**config, "add_eos_token": True}))
    model = FlagAutoModel.from_finetuned(model_dir, devices="cpu")
    columns = model.tokenize(["hello world"], 512)
    assert columns["input_ids"][0][-1] == model.tokenizer.eos_token_id
    assert len(model.tokenize(["hello world " * 50], 10)["input_ids"][0]) == 10
    np.testing.assert_allclose(model.encode(TEXTS[:3], max_length=12),
                               reference_embeddings(model_dir, TEXTS[:3], 12, eos=True), atol=1e-5)
    unchanged = FlagAutoModel.from_finetuned(decoders["tiny-mistral"], devices="cpu")
    assert not unchanged.append_eos


# -- the LLM reranker -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["tiny-gemma", "tiny-qwen2", "tiny-mistral"])
def test_scores_equal_the_yes_logit_of_flagembeddings_sequence(only_decoder_families, decoders, role):
    model = FlagAutoReranker.from_finetuned(decoders[role], devices="cpu", batch_size=3)
    got = model.compute_score(PAIRS, max_length=40)
    assert isinstance(got, list) and all(type(s) is float for s in got)
    np.testing.assert_allclose(got, reference_scores(decoders[role], PAIRS, max_length=40), atol=1e-4)
    prompt = "Does B answer A?"
    np.testing.assert_allclose(model.compute_score(PAIRS[:2], prompt=prompt),
                               reference_scores(decoders[role], PAIRS[:2], prompt=prompt), atol=1e-4)
    sigmoid = model.compute_score(PAIRS[:1], normalize=True)[0]
    assert sigmoid == pytest.approx(1 / (1 + np.exp(-model.compute_score(PAIRS[:1])[0])))


def test_reranker_batches_are_left_padded_to_a_multiple_of_eight(only_decoder_families, decoders):
    model = FlagAutoReranker.from_finetuned(decoders["tiny-llama"], devices="cpu")
    seen = []
    original = model.score_batch
    model.score_batch = lambda batch, **options: seen.append(batch["attention_mask"].clone()) or original(batch)
    model.compute_score(PAIRS)
    mask = seen[0]
    assert mask.shape[1] % 8 == 0 and bool((mask[:, -1] == 1).all())


def test_reranker_arguments_are_checked(only_decoder_families, decoders):
    with pytest.raises(TypeError, match="prompt must be a string or None"):
        FlagAutoReranker.from_finetuned(decoders["tiny-llama"], devices="cpu", prompt=3)


# -- ICL ------------------------------------------------------------------------------------------------------------

TASK = "Given a question, retrieve passages"
EXAMPLES = [{"instruct": TASK, "query": "what is a fox", "response": "A fox is an animal."},
            {"instruct": TASK, "query": "capital of france", "response": "Paris."}]


def icl(decoders, **options):
    return FlagAutoModel.from_finetuned(decoders["tiny-mistral"], model_class="decoder-only-icl", devices="cpu",
                                        **options)


def test_icl_query_text_is_prefix_truncated_query_and_suffix(only_decoder_families, decoders):
    model = icl(decoders, examples_for_task=EXAMPLES, query_instruction_for_retrieval="Retrieve")
    assert model.prefix == ("<instruct>Given a question, retrieve passages\n<query>what is a fox\n<response>A fox is "
                            "an animal.\n\n<instruct>Given a question, retrieve passages\n<query>capital of france\n"
                            "<response>Paris.\n\n")
    ids = model.tokenize_with_examples(["<instruct>Retrieve\n<query>" + "word " * 200], 48)["input_ids"][0]
    text = model.tokenizer.decode(ids)
    assert text.startswith("<s>" + model.prefix + "<instruct>Retrieve\n<query>word") and text.endswith("\n<response>")
    encoded = model.encode_queries(["word " * 200, "fox"], max_length=48)
    plain = FlagAutoModel.from_finetuned(decoders["tiny-mistral"], devices="cpu")
    np.testing.assert_allclose(encoded[1], plain.encode(model.tokenizer.decode(
        model.tokenize_with_examples(["<instruct>Retrieve\n<query>fox"], 48)["input_ids"][0][1:])), atol=1e-5)


def test_icl_set_examples_and_the_corpus_path(only_decoder_families, decoders):
    model = icl(decoders, examples_for_task=EXAMPLES)
    stored = model.prefix
    model.set_examples([])
    assert model.prefix == "\n\n"
    model.set_examples()
    assert model.prefix == stored  # None means the stored examples, as in FlagEmbedding
    assert icl(decoders).prefix == ""
    plain = FlagAutoModel.from_finetuned(decoders["tiny-mistral"], devices="cpu")
    np.testing.assert_allclose(model.encode_corpus(TEXTS), plain.encode_corpus(TEXTS), atol=1e-6)
    assert next(model.model.parameters()).device.type == "cpu"


@pytest.mark.parametrize("examples, error, match", [
    ([{"instruct": "i", "query": "q"}], ValueError, r"examples_for_task\[0\] has no 'response' key; it has"),
    ([{"query": "q", "response": "r"}], ValueError, r"no 'instruct' key \('instruct' may be left out only when"),
    ("not a list", TypeError, "must be a list of dicts"),
    ([{"instruct": "i", "query": 3, "response": "r"}], TypeError, r"\['query'\] must be a string"),
])
def test_icl_examples_are_checked(only_decoder_families, decoders, examples, error, match):
    with pytest.raises(error, match=match):
        icl(decoders, examples_for_task=examples)


def test_icl_instruct_may_default_to_the_query_instruction(only_decoder_families, decoders):
    model = icl(decoders, examples_for_task=[{"query": "q", "response": "r"}], query_instruction_for_retrieval="Find")
    assert model.prefix == "<instruct>Find\n<query>q\n<response>r\n\n"


def test_icl_formats_are_checked(only_decoder_families, decoders):
    with pytest.raises(ValueError, match="three '{}' fields"):
        icl(decoders, examples_instruction_format="{}{}{}{}")
    with pytest.raises(ValueError, match="leaves no room for the query"):
        icl(decoders).encode_queries("hello", max_length=4)


# -- pseudo-MoE: the repository's own code ---------------------------------------------------------------------------

MOE_MODELING = '''
import torch
from transformers import LlamaConfig, LlamaModel


class MoeConfig(LlamaConfig):
    model_type = "tiny_pseudo_moe"


class MoeModel(LlamaModel):
    config_class = MoeConfig
    domains = {"general": 0.0, "coding": 1.0, "broken": float("nan")}

    def __init__(self, config):
        super().__init__(config)
        self.domain = "general"

    def set_domain(self, domain):
        self.domain = domain

    def forward(self, *args, domain=None, **kwargs):
        out = super().forward(*args, **kwargs)
        out.last_hidden_state = out.last_hidden_state + self.domains[domain or self.domain]
        return out
'''


@pytest.fixture(scope="session")
def pseudo_moe(decoders, tmp_path_factory):
    folder = tmp_path_factory.mktemp("moe") / "tiny-pseudo-moe"
    shutil.copytree(decoders["tiny-llama"], folder)
    (folder / "modeling_moe.py").write_text(MOE_MODELING)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="tiny_pseudo_moe", architectures=["MoeModel"],
                  auto_map={"AutoConfig": "modeling_moe.MoeConfig", "AutoModel": "modeling_moe.MoeModel"})
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_pseudo_moe_needs_remote_code_from_the_caller(only_decoder_families, pseudo_moe):
    with pytest.raises(ValueError, match="runs the model repository's own code.*trust_remote_code=True"):
        FlagAutoModel.from_finetuned(pseudo_moe, model_class="decoder-only-pseudo_moe", devices="cpu")


def test_pseudo_moe_routes_domains_and_cleans_nan(only_decoder_families, pseudo_moe, decoders):
    model = FlagAutoModel.from_finetuned(pseudo_moe, model_class="decoder-only-pseudo_moe", devices="cpu",
                                         trust_remote_code=True, normalize_embeddings=False)
    assert (model.use_fp16, model.use_bf16, model.compute_dtype) == (False, False, "float32")  # bf16 off the CPU only
    plain = FlagAutoModel.from_finetuned(decoders["tiny-llama"], devices="cpu", normalize_embeddings=False)
    general = model.encode(TEXTS[:2])
    np.testing.assert_allclose(general, plain.encode(TEXTS[:2]), atol=1e-5)
    np.testing.assert_allclose(model.encode(TEXTS[:2], domain="coding"), general + 1.0, atol=1e-5)
    np.testing.assert_allclose(model.encode(TEXTS[:2], domain_for_pseudo_moe="coding", domain="general"),
                               general + 1.0, atol=1e-5)
    assert model.model.domain == "coding"  # set_domain was called
    assert not np.isnan(model.encode(TEXTS[:2], domain="broken")).any()
    assert np.all(model.encode(TEXTS[:2], domain="broken") == 0.0)
    with pytest.raises(TypeError, match="unexpected keyword argument.*'domian'.*did you mean 'domain'"):
        model.encode(TEXTS[:2], domian="coding")


# -- adapters ------------------------------------------------------------------------------------------------------

def test_peft_path_without_peft_is_a_clear_error(only_decoder_families, decoders, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(ImportError, match=r"needs the optional dependency peft: pip install 'flagcore-llm\[peft\]'"):
        FlagAutoReranker.from_finetuned(decoders["tiny-llama"], devices="cpu", peft_path=str(tmp_path))


def lora_adapter(base, out, task_type):
    """A seeded LoRA adapter over ``base`` with non-zero B matrices (so that merging changes the outputs)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoModelForCausalLM

    torch.manual_seed(0)
    auto = AutoModelForCausalLM if task_type == "CAUSAL_LM" else AutoModel
    model = get_peft_model(auto.from_pretrained(base, dtype=torch.float32),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type=task_type))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.2)
    model.save_pretrained(out)
    return model.merge_and_unload().eval()


@pytest.mark.parametrize("task_type", ["CAUSAL_LM", "FEATURE_EXTRACTION"])
def test_an_adapter_folder_loads_over_its_base_and_is_merged(only_decoder_families, decoders, tmp_path, task_type):
    merged = lora_adapter(decoders["tiny-qwen2"], tmp_path / "lora", task_type)
    model = FlagAutoModel.from_finetuned(tmp_path / "lora", devices="cpu")
    tokenizer = model.tokenizer
    with torch.no_grad():
        out = merged(input_ids=torch.tensor([tokenizer("hello world")["input_ids"]]), output_hidden_states=True)
    expected = torch.nn.functional.normalize(out.hidden_states[-1][0, -1], dim=-1).numpy()
    got = model.encode("hello world")
    np.testing.assert_allclose(got, expected, atol=1e-5)
    base = FlagAutoModel.from_finetuned(decoders["tiny-qwen2"], devices="cpu").encode("hello world")
    assert np.abs(got - base).max() > 1e-3  # the adapter did change the model


def test_peft_path_merges_an_adapter_into_the_reranker(only_decoder_families, decoders, tmp_path):
    merged = lora_adapter(decoders["tiny-gemma"], tmp_path / "lora", "CAUSAL_LM")
    model = FlagAutoReranker.from_finetuned(decoders["tiny-gemma"], devices="cpu", peft_path=str(tmp_path / "lora"))
    plain = FlagAutoReranker.from_finetuned(decoders["tiny-gemma"], devices="cpu")
    columns = model.tokenize_pairs([("A: q", "B: p")], 384, 512)
    with torch.no_grad():
        expected = float(merged(input_ids=torch.tensor(columns["input_ids"])).logits[0, -1, model.yes_token_id])
    assert model.compute_score([("q", "p")])[0] == pytest.approx(expected, abs=1e-4)
    assert abs(plain.compute_score([("q", "p")])[0] - expected) > 1e-3
    with pytest.raises(ValueError, match="a reranker needs one trained on a causal LM"):
        lora_adapter(decoders["tiny-gemma"], tmp_path / "fe", "FEATURE_EXTRACTION")
        FlagAutoReranker.from_finetuned(tmp_path / "fe", model_class="decoder-only-base", devices="cpu")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["embedder", "icl", "reranker"])
def test_two_cpu_devices_give_the_single_device_outputs(only_decoder_families, decoders, kind):
    options = {"batch_size": 2}
    if kind == "reranker":
        build = FlagAutoReranker.from_finetuned
        call = lambda model: model.compute_score(PAIRS)  # noqa: E731
    else:
        build = FlagAutoModel.from_finetuned
        if kind == "icl":
            options.update(model_class="decoder-only-icl", examples_for_task=EXAMPLES)
        call = lambda model: model.encode_queries(TEXTS)  # noqa: E731
    single = call(build(decoders["tiny-mistral"], devices="cpu", **options))
    double = build(decoders["tiny-mistral"], devices=["cpu", "cpu"], **options)
    try:
        np.testing.assert_allclose(call(double), single, atol=1e-5)
        assert double.device_pool is not None
    finally:
        double.close()


def test_loading_reports_missing_weights_and_not_the_unused_lm_head(only_decoder_families, decoders, tmp_path,
                                                                    capfd):
    from safetensors.torch import load_file, save_file

    FlagAutoModel.from_finetuned(decoders["tiny-gemma"], devices="cpu")
    assert "LOAD REPORT" not in capfd.readouterr().err  # AutoModel leaves the causal LM's head unused, as intended
    broken = tmp_path / "broken"
    shutil.copytree(decoders["tiny-llama"], broken)
    weights = load_file(broken / "model.safetensors")
    del weights["model.norm.weight"]
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.warns(RuntimeWarning, match=r"1 weight\(s\) the LlamaModel needs are not in the checkpoint and were "
                                            r"initialised randomly \(norm.weight\)"):
        FlagAutoModel.from_finetuned(broken, devices="cpu")


@pytest.mark.slow
def test_pseudo_moe_on_two_cpu_devices_gives_the_single_device_vectors(only_decoder_families, pseudo_moe):
    options = {"model_class": "decoder-only-pseudo_moe", "trust_remote_code": True, "batch_size": 2}
    single = FlagAutoModel.from_finetuned(pseudo_moe, devices="cpu", **options).encode(TEXTS, domain="coding")
    double = FlagAutoModel.from_finetuned(pseudo_moe, devices=["cpu", "cpu"], **options)
    try:
        np.testing.assert_allclose(double.encode(TEXTS, domain="coding"), single, atol=1e-5)
        assert double.device_pool is not None
    finally:
        double.close()
