"""Bad references and limits get a plain answer: limits past a model's position table, paths that are files or
missing, uncached hub ids offline, models whose pooling no class implements, an embedder forced as a reranker, and
the command line's one-line errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from flagcore import FlagAutoModel, FlagAutoReranker, UnknownModelError
from flagcore.cli import main

LONG = "word " * 700


@pytest.fixture(scope="module")
def bert_models(tmp_path_factory):
    from parity.tiny_models import build

    return build(tmp_path_factory.mktemp("bad-inputs"))


@pytest.mark.parametrize(("role", "limit"), [("tiny-bert", 512), ("tiny-xlmr", 512)])
def test_a_max_length_past_the_position_table_is_clamped_with_one_warning(only_bge, bert_models, role, limit):
    model = FlagAutoModel.from_finetuned(bert_models[role], devices="cpu")
    expected = model.encode([LONG, "short"], max_length=limit)
    with pytest.warns(UserWarning, match=rf"max_length=1024 is more than .* {limit} tokens") as caught:
        got = model.encode([LONG, "short"], max_length=1024)
        model.encode([LONG], max_length=1024)  # the same value again: no second warning
    assert len([w for w in caught if "max_length=1024" in str(w.message)]) == 1
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_a_constructor_limit_past_the_table_is_clamped_too(only_bge, bert_models):
    model = FlagAutoModel.from_finetuned(bert_models["tiny-xlmr"], devices="cpu", passage_max_length=4096)
    with pytest.warns(UserWarning, match="max_length=4096"):
        got = model.encode_corpus([LONG])
    np.testing.assert_allclose(got, model.encode_corpus([LONG], max_length=512), atol=1e-6)


def test_a_reranker_max_length_past_the_table_is_clamped(only_bge, bert_models):
    model = FlagAutoReranker.from_finetuned(bert_models["tiny-xlmr-reranker"], devices="cpu")
    pairs = [(LONG, LONG), ("q", "p")]
    with pytest.warns(UserWarning, match="max_length=2048 is more than"):
        got = model.compute_score(pairs, max_length=2048)
    np.testing.assert_allclose(got, model.compute_score(pairs, max_length=512), atol=1e-6)


def test_rotary_models_have_no_position_table():
    from flagcore.limits import position_limit

    torch = pytest.importorskip("torch")
    assert position_limit(torch.nn.Linear(2, 2)) is None


def test_a_path_to_a_file_says_so_and_names_the_folder(bert_models, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"is a file, not a model directory.*pass its folder"):
        FlagAutoModel.from_finetuned(bert_models["tiny-bert"] / "config.json")
    other = tmp_path / "notes.txt"
    other.write_text("x")
    with pytest.raises(FileNotFoundError, match="is a file, not a model directory") as info:
        FlagAutoModel.from_finetuned(str(other))
    assert "pass its folder" not in str(info.value)


def test_a_missing_relative_path_shows_where_it_was_looked_for(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=rf"'./models/mine' does not exist \(looked for '{tmp_path}"):
        FlagAutoModel.from_finetuned("./models/mine")
    with pytest.raises(UnknownModelError, match=rf"no directory 'my-model' in the current directory \('{tmp_path}'"):
        FlagAutoModel.from_finetuned("my-model")


def test_an_uncached_hub_id_offline_is_a_plain_error(only_bge, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"'BAAI/bge-small-en-v1.5' is not in the Hugging Face cache .* "
                                                r"HF_HUB_OFFLINE is set"):
        FlagAutoModel.from_finetuned("BAAI/bge-small-en-v1.5")


def test_a_download_that_cannot_connect_is_a_plain_error(fake_family, monkeypatch, tmp_path):
    from fakes import FakeEmbedder

    def no_network(self, *args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(FakeEmbedder, "__init__", no_network)
    with pytest.raises(FileNotFoundError, match=r"'org/fake-thing' is not in the Hugging Face cache .* could not be "
                                                r"downloaded \(OSError: We couldn't connect") as info:
        FlagAutoModel.from_finetuned("org/fake-thing")
    assert isinstance(info.value.__cause__, OSError)


def _max_pooled(source, folder):
    shutil.copytree(source, folder)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False,
         "pooling_mode_max_tokens": True}))
    return folder


def test_a_model_pooled_by_max_is_served_as_its_files_declare(only_bge, bert_models, tmp_path):
    folder = _max_pooled(bert_models["tiny-bert"], tmp_path / "max-pooled")
    model = FlagAutoModel.from_finetuned(folder, devices="cpu")
    assert model.pooling_method == "max"
    # the caller's pooling_method wins over the file's
    mean = FlagAutoModel.from_finetuned(folder, model_class="encoder-only-base", pooling_method="mean", devices="cpu")
    assert mean.pooling_method == "mean"
    assert not np.allclose(model.encode(["a b c"]), mean.encode(["a b c"]))


def test_an_embedder_forced_as_a_reranker_is_refused(only_bge, bert_models):
    with pytest.raises(ValueError, match=r"is a BertModel .* no classification head: it is not a cross-encoder"):
        FlagAutoReranker.from_finetuned(bert_models["tiny-bert"], model_class="encoder-only-base", devices="cpu")


def test_unknown_reranker_message_reads_well(only_bge, bert_models):
    with pytest.raises(UnknownModelError, match="as a reranker"):
        FlagAutoReranker.from_finetuned(bert_models["tiny-bert"])


def test_cli_errors_are_one_line_and_exit_1(only_bge, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("a\n")
    assert main(["encode", str(tmp_path / "nowhere"), "-i", str(texts)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("flagcore: error: FileNotFoundError: ")
    assert "--debug shows the traceback" in err
    with pytest.raises(FileNotFoundError):
        main(["encode", "--debug", str(tmp_path / "nowhere"), "-i", str(texts)])
    with pytest.raises(FileNotFoundError):
        main(["--debug", "encode", str(tmp_path / "nowhere"), "-i", str(texts)])
    assert main(["encode", str(tmp_path / "nowhere"), "-i", str(tmp_path / "missing.txt")]) == 1
    assert "No such file or directory" in capsys.readouterr().err


def test_cli_max_length_past_the_table_works(only_bge, bert_models, tmp_path, monkeypatch, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text(LONG + "\nshort\n")
    out = tmp_path / "out.npy"
    with pytest.warns(UserWarning, match="max_length=1024"):
        assert main(["encode", str(bert_models["tiny-bert"]), "-i", str(texts), "-o", str(out), "--max-length",
                     "1024", "--devices", "cpu"]) == 0
    assert np.load(out).shape == (2, 32)


def test_cli_offers_only_the_pooling_methods_installed_classes_have(monkeypatch, capsys):
    from flagcore.plugins import LOAD_PLUGINS_ENV, host

    monkeypatch.setenv(LOAD_PLUGINS_ENV, "bge")
    host.reset()
    with pytest.raises(SystemExit) as info:
        main(["encode", "model", "--pooling-method", "last_token"])
    assert info.value.code == 2 and "invalid choice: 'last_token'" in capsys.readouterr().err
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "bge,llm")
    host.reset()
    from flagcore.cli import build_parser

    assert build_parser().parse_args(["encode", "m", "--pooling-method", "last_token"]).pooling_method == "last_token"


def test_registered_pooling_methods_are_checked():
    from flagcore.registry import ModelClassRegistrar

    registrar = ModelClassRegistrar("p")
    with pytest.raises(TypeError, match="pooling_methods must be strings"):
        registrar.add_embedder("x", "m:C", pooling_methods=[1])
