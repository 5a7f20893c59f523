"""Security gates: repository code runs only when the caller turns trust_remote_code on; pickled weights are read
only with torch.load(weights_only=True), so a crafted file runs nothing and gets a clear error; a local model is
loaded and run without any network connection."""

from __future__ import annotations

import json
import pathlib
import shutil
import socket

import pytest
import torch

from flagcore import FlagAutoModel, FlagAutoReranker, explain


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from parity.tiny_models import build

    return build(tmp_path_factory.mktemp("security"))


class _TouchOnUnpickle:
    """Unpickling this object creates a file: the proof that a pickle ran code."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_a_crafted_m3_head_runs_nothing_and_is_refused_clearly(monkeypatch, models, tmp_path):
    monkeypatch.setenv("FLAGCORE_LOAD_PLUGINS", "bge,m3")
    folder = tmp_path / "bge-m3-crafted"
    shutil.copytree(models["tiny-m3"], folder)
    marker = tmp_path / "ran"
    # the shipped heads hold plain tensors: weights_only=True reads them, and the ColBERT head is used
    output = FlagAutoModel.from_finetuned(folder, devices="cpu").encode(["a"], return_colbert_vecs=True)
    colbert = output["colbert_vecs"]
    assert [vectors.shape for vectors in colbert] == [(2, 32)]  # <s> a </s>: a vector for each token but <s>
    (folder / "colbert_linear.pt").unlink()
    torch.save({"weight": _TouchOnUnpickle(marker)}, folder / "colbert_linear.pt")
    with pytest.raises(ValueError, match=r"colbert_linear.pt holds more than plain tensors.*weights_only=True.*"
                                         r"Nothing in it was run"):
        FlagAutoModel.from_finetuned(folder, devices="cpu")
    assert not marker.exists()


def test_a_crafted_pytorch_model_bin_runs_nothing_and_is_refused_clearly(only_bge, models, tmp_path):
    folder = tmp_path / "crafted-bin"
    shutil.copytree(models["tiny-bert"], folder)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "ran"
    torch.save({"embeddings.word_embeddings.weight": _TouchOnUnpickle(marker)}, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"pytorch_model.bin holds more than plain tensors"):
        FlagAutoModel.from_finetuned(folder, devices="cpu")
    assert not marker.exists()


def _with_repository_code(source: pathlib.Path, folder: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    """A copy of a BERT checkpoint whose config.json points AutoModel at code in the folder that, when imported,
    creates ``marker``."""
    shutil.copytree(source, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "custom_code.CustomConfig", "AutoModel": "custom_code.CustomModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom_code.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).touch()\n"
        "from transformers import BertConfig, BertModel\n"
        "class CustomConfig(BertConfig):\n    pass\n"
        "class CustomModel(BertModel):\n    config_class = CustomConfig\n")
    return folder


def test_repository_code_runs_only_when_the_caller_allows_it(only_bge, models, tmp_path):
    marker = tmp_path / "ran"
    folder = _with_repository_code(models["tiny-bert"], tmp_path / "with-code", marker)
    claim = explain(folder)[0]
    assert claim.defaults.get("trust_remote_code") is True  # the claim says the model wants its code ...
    model = FlagAutoModel.from_finetuned(folder, devices="cpu")
    assert model.trust_remote_code is False  # ... but it stays off
    assert model.encode(["a"]).shape == (1, 32)
    assert not marker.exists()
    try:
        FlagAutoModel.from_finetuned(folder, devices="cpu", trust_remote_code=True)
    except Exception:  # noqa: BLE001 - whether the custom class works is not the point, only that it was imported
        pass
    assert marker.exists()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a host name fails (and is recorded)."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # the offline switch is not what keeps a local path off the network
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    return attempts


def test_local_models_never_touch_the_network(no_network, models, monkeypatch, tmp_path):
    from parity.tiny_layerwise import COMMITTED

    monkeypatch.setenv("FLAGCORE_LOAD_PLUGINS", "bge,m3,llm,layerwise")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    assert FlagAutoModel.from_finetuned(models["tiny-bert"], devices="cpu").encode(["a", "b"]).shape == (2, 32)
    assert len(FlagAutoReranker.from_finetuned(models["tiny-bert-reranker"], devices="cpu").compute_score(
        [("q", "p")])) == 1
    assert "dense_vecs" in FlagAutoModel.from_finetuned(models["tiny-m3"], devices="cpu").encode(["a"])
    assert len(FlagAutoReranker.from_finetuned(COMMITTED / "tiny-gemma2-lightweight", devices="cpu").compute_score(
        [("q", "p")])) == 1
    assert [(claim.plugin, claim.model_class, claim.evidence) for claim in explain(models["tiny-xlmr"])] == [
        ("bge", "encoder-only-base", "architecture")]  # claimed from the local config.json
    assert no_network == []
