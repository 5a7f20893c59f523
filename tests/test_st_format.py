"""Models saved by sentence-transformers 6.3.0 itself (tests/st_format/models, made with its references by
tests/st_format/make_models.py in its own virtualenv: ``nox -s st_references``), loaded with no options: flagcore
gives what sentence-transformers gives (fp32, within 1e-5), or refuses the model naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from flagcore import FlagAutoModel, FlagAutoReranker
from flagcore.family import SentenceTransformersFormatError

HERE = Path(__file__).parent / "st_format"
REFERENCES = json.loads((HERE / "references.json").read_text())
CASES = REFERENCES["cases"]
EMBEDDERS = sorted(name for name, case in CASES.items() if case["kind"] == "embedder")
RERANKERS = sorted(name for name, case in CASES.items() if case["kind"] != "embedder")
TOLERANCE = 1e-5


def close(got, expected, tolerance=TOLERANCE):
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               atol=tolerance, rtol=0)


@pytest.fixture(scope="module")
def embedders():
    return {}


def embedder(cache, name):
    if name not in cache:
        cache[name] = FlagAutoModel.from_finetuned(str(HERE / "models" / name), devices="cpu")
    return cache[name]


def test_every_shape_the_issue_names_is_covered():
    assert {"bert-mean", "bert-cls", "bert-max", "bert-weightedmean", "bert-mean-sqrt-len", "bert-lasttoken",
            "bert-cls-mean", "bert-dense", "bert-dense-layernorm", "bert-prompts", "bert-prompts-exclude",
            "bert-maxlen", "bert-router", "bert-legacy", "bert-legacy-multi", "xlmr-mean", "mpnet-mean",
            "modernbert-cls", "distilbert-mean-dense", "qwen3-lasttoken"} <= set(EMBEDDERS)
    assert REFERENCES["sentence_transformers"] == "6.3.0"


@pytest.mark.parametrize("name", EMBEDDERS)
@pytest.mark.parametrize("call", ["encode", "encode_query", "encode_document"])
def test_vectors_match_sentence_transformers(embedders, name, call):
    case = CASES[name]
    model = embedder(embedders, name)
    method = {"encode": model.encode, "encode_query": model.encode_queries, "encode_document": model.encode_corpus}
    if name == "bert-legacy" and call == "encode_document":
        # deliberate: an older save declares only a "passage" prompt; sentence-transformers 6.3 now looks for
        # "document" first and, finding its own empty default, applies none; flagcore applies the passage prompt
        got = method[call](case["texts"])
        close(got, model.encode(["passage: " + text for text in case["texts"]]))
        assert not np.allclose(got, case[call], atol=1e-3)
        return
    got = method[call](case["texts"])
    assert got.dtype == np.float32 and got.shape == (len(case["texts"]), case["dimension"])
    close(got, case[call])


@pytest.mark.parametrize("name", EMBEDDERS)
def test_settings_match_sentence_transformers(embedders, name):
    case = CASES[name]
    model = embedder(embedders, name)
    assert model.get_sentence_embedding_dimension() == case["dimension"]
    assert model.max_seq_length == case["max_seq_length"]
    assert model.similarity_fn_name == case["similarity_fn_name"]
    queries, documents = np.asarray(case["encode_query"], np.float32), np.asarray(case["encode_document"], np.float32)
    close(model.similarity(queries, documents), case["similarity"], 1e-4)


def test_the_caller_wins_over_the_files(embedders):
    case = CASES["bert-prompts"]
    model = FlagAutoModel.from_finetuned(str(HERE / "models" / "bert-prompts"), devices="cpu",
                                         query_instruction_for_retrieval="", normalize_embeddings=False)
    plain = model.encode(case["texts"], instruction="")
    close(model.encode_queries(case["texts"]), plain)  # the given (empty) instruction, not the file's "query: "
    assert not np.allclose(np.linalg.norm(plain, axis=1), 1.0)
    assert model.encode(["x"], instruction="query: ").shape == (1, case["dimension"])


@pytest.mark.parametrize("name", RERANKERS)
def test_cross_encoder_scores_match_sentence_transformers(name):
    case = CASES[name]
    model = FlagAutoReranker.from_finetuned(str(HERE / "models" / name), devices="cpu")
    pairs = [tuple(pair) for pair in case["pairs"]]
    close(model.compute_score(pairs, normalize=True), case["predict"])
    close(model.compute_score(pairs), case["predict_raw"])
    ranked = model.rank(case["rank_query"], case["rank_documents"])
    expected = case["rank"]
    assert [r.index for r in ranked] == [int(item[0]) for item in expected]
    close([r.score for r in ranked], [item[1] for item in expected])


def test_minilm_resaved_by_current_sentence_transformers_gives_the_shipped_vectors(tiny_models, tmp_path):
    shipped = Path(tiny_models["minilm"])
    resaved = shutil.copytree(shipped, tmp_path / "all-MiniLM-L6-v2-resaved")
    for old in ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling",
                "2_Normalize"):
        target = resaved / old
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    shutil.copytree(HERE / "minilm-resaved", resaved, dirs_exist_ok=True)
    texts = ["hello world", "A man is eating food.", "The quick brown fox jumps over the lazy dog. " * 30]
    before = FlagAutoModel.from_finetuned(str(shipped), devices="cpu")
    after = FlagAutoModel.from_finetuned(str(resaved), devices="cpu")
    assert (before.pooling_method, after.pooling_method) == ("mean", "mean")
    assert before.max_seq_length == after.max_seq_length == 256
    close(after.encode(texts), before.encode(texts))
    close(before.encode(["hello world"])[0][:3], [-0.03447726, 0.03102326, 0.00673502], 1e-6)


def _copy(name, tmp_path):
    return shutil.copytree(HERE / "models" / name, tmp_path / name)


def test_an_unknown_module_type_is_refused_with_its_name_and_path(tmp_path):
    folder = _copy("bert-dense", tmp_path)
    modules = json.loads((folder / "modules.json").read_text())
    modules[2]["type"] = "sentence_transformers.models.WordWeights"
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(SentenceTransformersFormatError, match=r"modules.json: module 'sentence_transformers.models."
                                                              r"WordWeights' at '2_Dense' is not one flagcore"):
        FlagAutoModel.from_finetuned(str(folder), devices="cpu")


def test_a_dense_whose_sizes_disagree_with_the_model_is_refused(tmp_path):
    folder = _copy("bert-dense", tmp_path)
    config = json.loads((folder / "2_Dense" / "config.json").read_text())
    config["in_features"] = 48
    (folder / "2_Dense" / "config.json").write_text(json.dumps(config))
    with pytest.raises(SentenceTransformersFormatError, match=r"2_Dense/config.json: in_features is 48, but the "
                                                              r"module before it gives 32-dimensional vectors"):
        FlagAutoModel.from_finetuned(str(folder), devices="cpu")


@pytest.mark.parametrize("file, content, message", [
    ("1_Pooling/config.json", "{not json", r"1_Pooling/config.json is not valid JSON"),
    ("1_Pooling/config.json", '{"pooling_mode": "median"}', r"1_Pooling/config.json: pooling_mode \"median\""),
    ("1_Pooling/config.json", '{"pooling_mode": "mean", "colour": 1}', r"1_Pooling/config.json: Pooling setting\(s\) "
                                                                      r"\['colour'\] are not implemented"),
    ("modules.json", '{"type": "x"}', r"modules.json holds dict"),
    ("config_sentence_transformers.json", '{"model_type": "SparseEncoder"}', r"model_type 'SparseEncoder'"),
    ("config_sentence_transformers.json", '{"prompts": {"query": "q: "}, "default_prompt_name": "doc"}',
     r"default_prompt_name 'doc' is not one of its prompts"),
    ("2_Dense/config.json", '{"in_features": 32, "out_features": 16, "activation_function": "evil.Act"}',
     r"activation_function 'evil.Act' is not a torch.nn activation class"),
])
def test_malformed_module_configs_are_refused_naming_the_file(tmp_path, file, content, message):
    folder = _copy("bert-dense", tmp_path)
    (folder / file).write_text(content)
    with pytest.raises(SentenceTransformersFormatError, match=message):
        FlagAutoModel.from_finetuned(str(folder), devices="cpu", model_class="encoder-only-base")


def test_dense_weights_that_do_not_fit_are_refused(tmp_path):
    import torch
    from safetensors.torch import save_file

    folder = _copy("bert-dense", tmp_path)
    save_file({"linear.weight": torch.zeros(16, 31), "linear.bias": torch.zeros(16)},
              str(folder / "2_Dense" / "model.safetensors"))
    with pytest.raises(SentenceTransformersFormatError, match=r"2_Dense/model.safetensors does not fit .*"
                                                              r"linear.weight: shape \(16, 31\), expected \(16, 32\)"):
        FlagAutoModel.from_finetuned(str(folder), devices="cpu")


def test_explain_says_what_was_read_and_where(capsys):
    from flagcore.cli import main

    assert main(["explain", str(HERE / "models" / "bert-prompts")]) == 0
    out = capsys.readouterr().out
    assert "Pooling (1_Pooling): mean pooling (1_Pooling/config.json)" in out
    assert "prompt of encode_queries: 'query: ' (config_sentence_transformers.json prompts['query'])" in out
    assert "prompt of encode: 'classify: '" in out and "similarity: dot" in out


def test_a_flagembedding_name_keeps_flagembeddings_behaviour(tmp_path):
    folder = shutil.copytree(HERE / "models" / "bert-prompts", tmp_path / "bge-small-en-v1.5")
    model = FlagAutoModel.from_finetuned(str(folder), devices="cpu")
    assert model.sentence_head is None and model.pooling_method == "cls" and model.query_max_length == 512
    assert model.similarity_fn_name == "cosine" and model.declared.not_applied is not None


@pytest.mark.parametrize("name", ["bert-prompts-exclude", "bert-router", "qwen3-lasttoken"])
def test_the_stages_give_the_library_vectors_when_works_are_joined(embedders, name):
    texts = CASES[name]["texts"]
    model = embedder(embedders, name)
    for query, library in ((True, model.encode_queries), (False, model.encode_corpus)):
        first, rest = (model.prepare_side(part, query=query) for part in (texts[:1], texts[1:]))
        close(model.infer(first.joined([rest])).dense, library(texts))
