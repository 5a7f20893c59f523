"""Input bugs the property-based tests (tests/test_fuzz.py) found in flagcore's core, each fixed: padding past a
learned position table, a max_length below the special tokens, an empty per-call instruction format, None beside a
tensor in similarity, a reference too long for the file system, a config.json that is not a JSON object, and a
directory as the CLI's input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from fakes import FakeEmbedder

from flagcore import FlagAutoModel, FlagAutoReranker, ModelProbe, explain
from flagcore.cli import main
from flagcore.engine.padding import pad_features
from flagcore.errors import PluginWarning

LONG = "word " * 700


@pytest.fixture(scope="module")
def bert_models(tmp_path_factory):
    from parity.tiny_models import build

    return build(tmp_path_factory.mktemp("input-edges"))


@pytest.fixture(scope="module")
def bert(bert_models):
    return FlagAutoModel.from_finetuned(bert_models["tiny-bert"], devices="cpu")


# -- A: pad_to_multiple_of rounding past a learned position table (BERT: 512) raised RuntimeError from torch --------
def test_pad_to_multiple_of_never_pads_past_the_position_table(bert):
    expected = bert.encode([LONG, "short"])  # LONG is truncated to the 512 positions
    np.testing.assert_allclose(bert.encode([LONG, "short"], pad_to_multiple_of=3), expected, atol=1e-5)
    np.testing.assert_allclose(bert.encode(["short"], pad_to_multiple_of=1000), expected[1:], atol=1e-5)


def test_a_reranker_batch_is_not_padded_past_the_table_either(bert_models):
    reranker = FlagAutoReranker.from_finetuned(bert_models["tiny-bert-reranker"], devices="cpu")
    pairs = [("query", LONG), ("query", "short")]
    np.testing.assert_allclose(reranker.compute_score(pairs, pad_to_multiple_of=1000), reranker.compute_score(pairs),
                               atol=1e-5)


def test_pad_features_caps_the_rounded_width_but_never_cuts_a_row():
    columns = {"input_ids": [[1] * 10, [2] * 3]}
    assert pad_features(columns, {}, pad_to_multiple_of=8, max_width=12)["input_ids"].shape == (2, 12)
    assert pad_features(columns, {}, pad_to_multiple_of=8, max_width=100)["input_ids"].shape == (2, 16)
    assert pad_features(columns, {}, pad_to_multiple_of=8, max_width=4)["input_ids"].shape == (2, 10)
    assert pad_features(columns, {}, max_width=4)["input_ids"].shape == (2, 10)


# -- B: a max_length below the tokenizer's special tokens truncated nothing (past 512 tokens: RuntimeError) ---------
def test_a_max_length_below_the_special_tokens_is_refused_per_call(bert):
    with pytest.raises(ValueError, match=r"max_length=1 leaves no room for the 2 special tokens the tokenizer of .* "
                                         r"adds to every text; pass a max_length of at least 2"):
        bert.encode([LONG], max_length=1)
    with pytest.raises(ValueError, match="max_length=1 leaves no room"):
        bert.encode_queries([], max_length=1)  # checked as max_length=0 is, also with nothing to embed
    assert bert.encode([LONG, "x"], max_length=2).shape == (2, 32)  # [CLS] [SEP]: the smallest that truncates


@pytest.mark.parametrize("argument", ["query_max_length", "passage_max_length"])
def test_a_constructor_limit_below_the_special_tokens_is_refused_too(bert_models, argument):
    with pytest.raises(ValueError, match=rf"{argument}=1 leaves no room for the 2 special tokens .* pass a "
                                         rf"{argument} of at least 2"):
        FlagAutoModel.from_finetuned(bert_models["tiny-xlmr"], devices="cpu", **{argument: 1})


def test_max_seq_length_follows_the_same_rule(bert_models):
    model = FlagAutoModel.from_finetuned(bert_models["tiny-bert"], devices="cpu")
    with pytest.raises(ValueError, match="max_seq_length=1 leaves no room for the 2 special tokens"):
        model.max_seq_length = 1
    assert model.query_max_length == model.passage_max_length == 512


# -- O: encode(instruction=..., instruction_format="") took "" for the default "{}{}" ---------------------------------
def test_an_empty_per_call_instruction_format_is_refused_as_in_the_constructor():
    model = FakeEmbedder("fake-model", devices="cpu", pooling_method="mean")
    with pytest.raises(ValueError, match=r"instruction_format='' is not a format with two '\{\}' fields "
                                         r"\(instruction, then text\): it drops the text"):
        model.encode(["text"], instruction="q: ", instruction_format="")
    with pytest.raises(ValueError, match="query_instruction_format='' is not a format"):
        FakeEmbedder("fake-model", devices="cpu", query_instruction_format="")
    np.testing.assert_allclose(model.encode(["text"], instruction="q: ", instruction_format=None),
                               model.encode(["q: text"]))


# -- N: similarity(None, tensor) raised RuntimeError from torch.as_tensor ------------------------------------------
@pytest.mark.parametrize("odd", [None, {"dense_vecs": [1.0, 2.0]}, "text", 3.0])
def test_similarity_refuses_what_is_not_vectors_naming_the_argument(odd):
    tensor = torch.ones(2, 3)
    with pytest.raises(TypeError, match=rf"embeddings_1 must be a numpy array, a torch tensor or a list of vectors "
                                        rf"\(lists of numbers\), not {type(odd).__name__}"):
        FakeEmbedder("fake-model", devices="cpu").similarity(odd, tensor)
    with pytest.raises(TypeError, match="embeddings_2 must be a numpy array"):
        FakeEmbedder("fake-model", devices="cpu").similarity(np.ones((2, 3)), odd)


def test_similarity_refuses_none_inside_a_list():
    with pytest.raises(TypeError, match="embeddings_2 must be a numpy array, .*: Could not infer dtype of NoneType"):
        FakeEmbedder("fake-model", devices="cpu").similarity(torch.ones(1, 2), [[None, 1.0]])
    # numpy would read the None as NaN
    with pytest.raises(TypeError, match="embeddings_2 must be .*: it holds values of dtype object, not numbers"):
        FakeEmbedder("fake-model", devices="cpu").similarity(np.ones((1, 2)), [[None, 1.0]])
    assert FakeEmbedder("fake-model", devices="cpu").similarity(torch.ones(1, 2), [[1, 1]]).shape == (1, 1)


# -- J: a reference longer than the file system allows raised OSError (File name too long) -------------------------
@pytest.mark.parametrize(("reference", "what"), [("a" * 256, "a name of 256 bytes"), ("ab/" * 1400, "4,199 bytes"),
                                                 ("\u5317" * 90, "a name of 270 bytes")])
def test_a_reference_too_long_for_the_file_system_is_refused(reference, what):
    message = (rf"model_name_or_path is too long to be a model directory or a hub id: it has {what}.*the file system "
               r"allows 255 bytes per file or folder name and 4,095 in all; pass a model directory or a hub id")
    with pytest.raises(ValueError, match=message):
        explain(reference)
    with pytest.raises(ValueError, match=message):
        FlagAutoModel.from_finetuned(reference)


def test_a_reference_at_the_limit_is_still_looked_up():
    assert ModelProbe.from_reference("a" * 255).local_dir is None


# -- K: a config.json holding JSON that is not an object reached every plugin's claim (AttributeError) -------------
@pytest.mark.parametrize("content", ["true", "1", '"x"', "[1]", "null"])
def test_a_config_that_is_not_a_json_object_is_no_config(tmp_path, content):
    (tmp_path / "m" / "1_Pooling").mkdir(parents=True)
    (tmp_path / "m" / "config.json").write_text(content)
    (tmp_path / "m" / "1_Pooling" / "config.json").write_text(content)
    probe = ModelProbe.from_reference(tmp_path / "m")
    assert probe.config is None and probe.model_type is None
    assert probe.read_json("1_Pooling/config.json") is None and probe.sentence_transformers_pooling is None
    assert f"its config.json is not a JSON object (it holds {content})" in probe.describe()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)  # no plugin's claim hook fails on it
        for kind in ("embedder", "reranker"):
            assert explain(tmp_path / "m", kind=kind) == []  # claimed like a folder without config.json
    (tmp_path / "m" / "config.json").write_text('{"model_type": "bert"}')  # the same folder with a config is claimed
    assert [claim.model_class for claim in explain(tmp_path / "m")] == ["encoder-only-base"]


def test_a_pooling_config_that_is_not_an_object_is_ignored(tmp_path):
    (tmp_path / "m" / "1_Pooling").mkdir(parents=True)
    (tmp_path / "m" / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "m" / "modules.json").write_text('[{"type": "sentence_transformers.models.Pooling", '
                                                 '"path": "1_Pooling"}]')
    (tmp_path / "m" / "1_Pooling" / "config.json").write_text("[true]")
    probe = ModelProbe.from_reference(tmp_path / "m")
    assert probe.model_type == "bert" and probe.sentence_transformers_pooling is None
    (tmp_path / "m" / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    assert ModelProbe.from_reference(tmp_path / "m").sentence_transformers_pooling == "mean"


# -- M: `flagcore encode MODEL -i DIR` failed with IsADirectoryError -----------------------------------------------
@pytest.mark.parametrize("command", ["encode", "rerank"])
def test_cli_refuses_a_directory_as_input_in_one_line(bert_models, tmp_path, capsys, command):
    argv = [command, str(bert_models["tiny-bert"]), "-i", str(tmp_path)] + (["-q", "query"] if command == "rerank"
                                                                              else ["-o", str(tmp_path / "o.jsonl")])
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"flagcore: error: FileNotFoundError: --input '{tmp_path}' is a directory, not a file: "
                             "pass a file with one text per line")
    with pytest.raises(FileNotFoundError, match="is a directory, not a file"):
        main(argv + ["--debug"])


def test_a_batch_of_only_empty_rows_is_one_padding_column_wide():
    padded = pad_features({"input_ids": [[], []], "attention_mask": [[], []]}, {"input_ids": 7}, padding_side="left")
    assert padded["input_ids"].tolist() == [[7], [7]] and padded["attention_mask"].tolist() == [[0], [0]]
    assert pad_features({"input_ids": []}, {})["input_ids"].shape == (0, 0)


def test_an_empty_text_alone_embeds_with_a_tokenizer_that_adds_no_special_tokens(tmp_path_factory):
    """Qwen2's tokenizer adds no BOS: "" is zero tokens, and alone in its batch it crashed attention's reshape."""
    from parity.tiny_decoders import build

    folder = build(tmp_path_factory.mktemp("decoders"))["tiny-qwen2"]
    model = FlagAutoModel.from_finetuned(str(folder), devices="cpu")
    assert model.tokenize([""], 8)["input_ids"] == [[]]
    alone = model.encode([""])
    assert alone.shape == (1, model.embedding_dim) and np.isfinite(alone).all()
