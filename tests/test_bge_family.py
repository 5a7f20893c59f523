"""flagcore-bge: what it claims, how it loads, and its answers to bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from flagcore import (
    Evidence,
    FlagAutoModel,
    FlagAutoReranker,
    PluginNotInstalledError,
    UnknownModelError,
    explain,
    plugin_registered,
)
from flagcore.known_models import names_for


def named(tmp_path, source, *parts):
    """A link to ``source`` at tmp_path/parts..., so the model gets the name under test."""
    target = tmp_path.joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source, target_is_directory=True)
    return str(target)


def test_known_embedder_name_resolves_to_this_family(tiny_models, tmp_path):
    from flagcore_bge.embedder import EncoderEmbedder

    model = FlagAutoModel.from_finetuned(named(tmp_path, tiny_models["tiny-bert"], "bge-small-en-v1.5"), devices="cpu")
    assert type(model) is EncoderEmbedder and model.pooling_method == "cls"
    assert model.query_instruction_format == "{}{}" and model.compute_dtype == "float32"
    e5 = FlagAutoModel.from_finetuned(named(tmp_path, tiny_models["tiny-bert"], "e5-base-v2"), devices="cpu")
    assert e5.pooling_method == "mean"
    instruct = FlagAutoModel.from_finetuned(
        named(tmp_path, tiny_models["tiny-xlmr"], "multilingual-e5-large-instruct"), devices="cpu")
    assert (instruct.pooling_method, instruct.query_instruction_format) == ("mean", "Instruct: {}\nQuery: {}")


def test_known_reranker_name_resolves_to_this_family(tiny_models, tmp_path):
    from flagcore_bge.reranker import CrossEncoderReranker

    model = FlagAutoReranker.from_finetuned(named(tmp_path, tiny_models["tiny-bert-reranker"], "bge-reranker-base"),
                                            devices="cpu")
    assert type(model) is CrossEncoderReranker
    assert len(model.compute_score([("q", "p"), ("q2", "p2")])) == 2


def test_checkpoint_folder_inherits_the_parent_name(tiny_models, tmp_path):
    path = named(tmp_path, tiny_models["tiny-bert"], "gte-base", "checkpoint-500")
    claims = explain(path)
    assert claims[0].evidence == "name" and claims[0].defaults["pooling_method"] == "mean"
    assert FlagAutoModel.from_finetuned(path + "/", devices="cpu").pooling_method == "mean"


def test_minilm_resolves_to_mean_pooling_from_its_sentence_transformers_files(tiny_models):
    claims = explain(str(tiny_models["minilm"]))
    assert claims[0].model_class == "encoder-only-base" and claims[0].evidence == "architecture"
    assert "sentence-transformers modules Transformer (.) -> Pooling (1_Pooling) -> Normalize" in claims[0].reason
    model = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu")
    assert model.pooling_method == "mean"


def test_unnamed_encoder_directory_is_detected_from_config(tiny_models, tmp_path):
    path = named(tmp_path, tiny_models["tiny-xlmr"], "my-finetuned-encoder")
    claim = explain(path)[0]
    assert claim.evidence == "architecture" and "cls pooling (no sentence-transformers files" in claim.reason
    assert FlagAutoModel.from_finetuned(path, devices="cpu").pooling_method == "cls"
    assert explain(path, kind="reranker") == []  # no classification head: not a reranker
    reranker_path = named(tmp_path, tiny_models["tiny-xlmr-reranker"], "my-finetuned-reranker")
    assert explain(reranker_path) == []  # a classifier is not an embedder
    assert explain(reranker_path, kind="reranker")[0].evidence == "architecture"


def copy_with_config(source, target, **changes):
    shutil.copytree(source, target)
    config = json.loads((target / "config.json").read_text())
    config.update(changes)
    (target / "config.json").write_text(json.dumps(config))
    return target


def test_classifier_with_several_labels_is_not_a_reranker(tiny_models, tmp_path):
    path = copy_with_config(tiny_models["tiny-bert-reranker"], tmp_path / "sentiment",
                            id2label={"0": "neg", "1": "pos"})
    assert explain(str(path), kind="reranker") == []
    with pytest.raises(UnknownModelError):
        FlagAutoReranker.from_finetuned(str(path), devices="cpu")
    with pytest.raises(ValueError, match="2 output labels"):
        FlagAutoReranker.from_finetuned(str(path), model_class="encoder-only-base", devices="cpu")


def test_st_pooling_beyond_the_family_is_applied_by_the_core(tiny_models, tmp_path):
    path = shutil.copytree(tiny_models["tiny-bert"], tmp_path / "max-pooled")
    (path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (path / "1_Pooling").mkdir()
    (path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    assert "Pooling (1_Pooling)" in explain(str(path))[0].reason
    model = FlagAutoModel.from_finetuned(str(path), devices="cpu")
    assert model.pooling_method == "max" and model.normalize_embeddings is False  # no Normalize module


def test_m3_head_files_are_left_to_the_m3_family(only_bge, tiny_models, tmp_path):
    path = shutil.copytree(tiny_models["tiny-xlmr"], tmp_path / "some-m3-finetune")
    for head in ("colbert_linear.pt", "sparse_linear.pt"):
        (path / head).write_bytes(b"")
    ours = explain(str(path))[0]
    assert ours.score == Evidence.ARCHITECTURE and "M3 head files" in ours.reason

    from fakes import OneClassPlugin

    m3_like = OneClassPlugin("m3-like", "encoder-only-m3", Evidence.ARCHITECTURE + 50,
                             when=lambda probe: probe.has_file("colbert_linear.pt", "sparse_linear.pt"))
    with plugin_registered(m3_like):
        assert [c.model_class for c in explain(str(path))] == ["encoder-only-m3", "encoder-only-base"]


def test_bge_m3_name_without_the_m3_family_asks_for_it(only_bge, tiny_models, tmp_path):
    path = named(tmp_path, tiny_models["tiny-xlmr"], "bge-m3")
    with pytest.raises(PluginNotInstalledError, match=r"flagcore\[m3\]"):
        FlagAutoModel.from_finetuned(path, devices="cpu")


def test_bge_reranker_v2_m3_stays_a_cross_encoder(tiny_models, tmp_path):
    path = named(tmp_path, tiny_models["tiny-xlmr-reranker"], "bge-reranker-v2-m3")
    claim = explain(path, kind="reranker")[0]
    assert (claim.model_class, claim.evidence) == ("encoder-only-base", "name")


# FlagEmbedding 1.4.2's AUTO_EMBEDDER_MAPPING rows for encoder-only-base (reference §3.3)
FLAG_EMBEDDING_TABLE = {
    **{n: ("cls", False, "{}{}") for n in (
        "bge-large-en-v1.5", "bge-base-en-v1.5", "bge-small-en-v1.5", "bge-large-zh-v1.5", "bge-base-zh-v1.5",
        "bge-small-zh-v1.5", "bge-large-en", "bge-base-en", "bge-small-en", "bge-large-zh", "bge-base-zh",
        "bge-small-zh", "gte-large-zh", "gte-base-zh", "gte-small-zh", "bce-embedding-base_v1")},
    **{n: ("mean", False, "{}{}") for n in (
        "e5-large-v2", "e5-base-v2", "e5-small-v2", "multilingual-e5-large", "multilingual-e5-base",
        "multilingual-e5-small", "e5-large", "e5-base", "e5-small", "gte-large", "gte-base", "gte-small")},
    "multilingual-e5-large-instruct": ("mean", False, "Instruct: {}\nQuery: {}"),
    **{n: ("cls", True, "{}{}") for n in ("gte-multilingual-base", "gte-large-en-v1.5", "gte-base-en-v1.5")},
}


def test_every_flagembedding_encoder_name_is_claimed_with_its_defaults():
    assert set(names_for("embedder", "encoder-only-base")) == set(FLAG_EMBEDDING_TABLE)
    for name, (pooling, remote, fmt) in FLAG_EMBEDDING_TABLE.items():
        claims = explain(f"BAAI/{name}")
        assert len(claims) == 1 and claims[0].evidence == "name", name
        defaults = claims[0].defaults
        assert (defaults["pooling_method"], defaults.get("trust_remote_code", False),
                defaults["query_instruction_format"]) == (pooling, remote, fmt), name


def test_every_flagembedding_cross_encoder_name_is_claimed():
    names = ("bge-reranker-base", "bge-reranker-large", "bge-reranker-v2-m3", "jina-reranker-v2-base-multilingual",
             "gte-multilingual-reranker-base", "bce-reranker-base_v1", "jina-reranker-v1-turbo-en")
    assert set(names_for("reranker", "encoder-only-base")) == set(names)
    for name in names:
        assert explain(name, kind="reranker")[0].evidence == "name"
    assert explain("jina-reranker-v2-base-multilingual", kind="reranker")[0].defaults == {"trust_remote_code": True}


def test_names_are_case_sensitive_like_flagembedding():
    assert explain("BAAI/BGE-SMALL-EN-V1.5") == []


# -- bad input through this family ------------------------------------------------------------

@pytest.fixture(scope="module")
def embedder(tiny_models):
    return FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), model_class="encoder-only-base", devices="cpu")


@pytest.fixture(scope="module")
def reranker(tiny_models):
    return FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu")


def test_empty_none_and_non_strings(embedder, reranker):
    assert embedder.encode([]).shape == (0, 32)
    assert embedder.encode_corpus([]).shape == (0, 32)
    assert reranker.compute_score([]) == []
    with pytest.raises(TypeError, match="None"):
        embedder.encode_queries(None)
    with pytest.raises(TypeError, match=r"sentences\[1\]"):
        embedder.encode(["fine", 3.5])
    with pytest.raises(ValueError, match="1 element"):
        reranker.compute_score([("only the query",)])


def test_over_long_texts_are_truncated_never_an_error(embedder, reranker):
    huge = "word " * 5000
    assert embedder.encode(huge).shape == (32,)
    np.testing.assert_allclose(embedder.encode(huge), embedder.encode(huge, max_length=512), atol=1e-6)
    assert len(reranker.compute_score((huge, huge))) == 1
    # a query that alone exceeds max_length still scores
    assert len(reranker.compute_score((huge, "p"), query_max_length=600, max_length=64)) == 1


def test_missing_model_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FlagAutoModel.from_finetuned(str(tmp_path / "nope" / "bge-small-en-v1.5"))


@pytest.mark.parametrize(("remove", "message"), [
    (("model.safetensors",), "no weights"),
    (("tokenizer.json", "vocab.txt"), "no tokenizer files"),
    (("config.json",), "no config.json"),
])
def test_incomplete_model_directory_names_what_is_missing(tiny_models, tmp_path, remove, message):
    path = shutil.copytree(tiny_models["tiny-bert"], tmp_path / "bge-small-en-v1.5")
    for name in remove:
        (path / name).unlink()
    with pytest.raises(FileNotFoundError, match=message):
        FlagAutoModel.from_finetuned(str(path), devices="cpu")


def test_unsupported_pooling_is_rejected(tiny_models):
    with pytest.raises(ValueError, match="pooling_method='last_token'"):
        FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), model_class="encoder-only-base",
                                     pooling_method="last_token", devices="cpu")


def test_half_precision_checkpoint_runs_in_fp32_on_cpu(tiny_models, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    path = copy_with_config(tiny_models["tiny-bert-reranker"], tmp_path / "fp16-reranker", torch_dtype="float16")
    weights = {k: v.half() for k, v in load_file(str(path / "model.safetensors")).items()}
    save_file(weights, str(path / "model.safetensors"), metadata={"format": "pt"})
    model = FlagAutoReranker.from_finetuned(str(path), devices="cpu", use_fp16=True)
    assert next(model.model.parameters()).dtype == torch.float32
    full = FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu")
    pairs = [("a question", "an answer"), ("hello", "world")]
    np.testing.assert_allclose(model.compute_score(pairs), full.compute_score(pairs), atol=5e-3)


def test_a_cached_hub_model_is_detected_and_loaded_without_network(tiny_models, tmp_path):
    repo = tmp_path / "models--someorg--my-encoder"
    shutil.copytree(tiny_models["tiny-bert"], repo / "snapshots" / "rev1")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("rev1")
    from flagcore import ModelProbe
    from flagcore.resolve import resolve

    probe = ModelProbe.from_reference("someorg/my-encoder", cache_dir=tmp_path)
    assert probe.from_hub_cache and resolve(probe, "embedder").claim.evidence == "architecture"
    model = FlagAutoModel.from_finetuned("someorg/my-encoder", cache_dir=str(tmp_path), devices="cpu")
    direct = FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), devices="cpu")
    np.testing.assert_allclose(model.encode(["cached hub model"]), direct.encode(["cached hub model"]), atol=1e-7)
