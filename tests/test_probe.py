from __future__ import annotations

import json

import pytest

from flagcore import ModelProbe
from flagcore.probe import model_name_from_reference


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("/models/bge-small-en-v1.5", "bge-small-en-v1.5"),
        ("/models/bge-small-en-v1.5/", "bge-small-en-v1.5"),
        ("/models/bge-small-en-v1.5//", "bge-small-en-v1.5"),
        ("BAAI/bge-m3", "bge-m3"),
        ("bge-m3", "bge-m3"),
        ("/runs/bge-base-en-v1.5/checkpoint-100", "bge-base-en-v1.5"),
        ("/runs/bge-base-en-v1.5/checkpoint-100/", "bge-base-en-v1.5"),
        ("/runs/myrun/checkpoint-500", "myrun"),
        ("checkpoint-7", "checkpoint-7"),
        ("C:\\models\\bge-m3", "bge-m3"),
        ("/models/BGE-M3", "BGE-M3"),
    ],
)
def test_name_rules(reference, name):
    assert model_name_from_reference(reference) == name
    assert ModelProbe.from_reference(reference).name == name


def test_hub_ids_and_missing_paths():
    for reference in ("BAAI/bge-m3", "bge-m3"):
        hub = ModelProbe.from_reference(reference)
        assert not hub.is_local and not hub.is_missing_path
    for reference in ("/no/such/dir/bge-m3", "./missing/bge-m3", "a/b/c"):
        assert ModelProbe.from_reference(reference).is_missing_path


@pytest.mark.parametrize("bad", ["", "   "])
def test_empty_reference_is_rejected(bad):
    with pytest.raises(ValueError, match="empty"):
        ModelProbe.from_reference(bad)


def test_non_string_reference_is_rejected():
    with pytest.raises(TypeError, match="string or a path"):
        ModelProbe.from_reference(42)  # type: ignore[arg-type]


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def test_local_directory_config_and_files(tmp_path):
    model = tmp_path / "bge-reranker-v2-m3"
    write(model / "config.json", {
        "model_type": "xlm-roberta",
        "architectures": ["XLMRobertaForSequenceClassification"],
        "id2label": {"0": "LABEL_0"},
        "auto_map": {"AutoModel": "modeling.Custom"},
    })
    write(model / "colbert_linear.pt", "x")
    write(model / "1_Pooling" / "config.json", {"pooling_mode_mean_tokens": True})
    write(model / "a" / "b" / "too_deep.txt", "x")
    probe = ModelProbe.from_reference(model)
    assert probe.is_local and probe.local_dir == model
    assert probe.name == "bge-reranker-v2-m3"
    assert probe.model_type == "xlm-roberta"
    assert probe.architectures == ("XLMRobertaForSequenceClassification",)
    assert probe.num_labels == 1
    assert probe.auto_map == {"AutoModel": "modeling.Custom"}
    assert probe.has_file("colbert_linear.pt") and not probe.has_file("colbert_linear.pt", "sparse_linear.pt")
    assert "1_Pooling/config.json" in probe.files
    assert "a/b/too_deep.txt" not in probe.files  # the listing stops two levels down
    assert probe.sentence_transformers_pooling == "mean"
    assert probe.is_sequence_classifier and not probe.has_m3_heads()
    assert probe.has_any_file("sparse_linear.safetensors", "colbert_linear.pt")
    write(model / "sparse_linear.safetensors", "x")
    assert ModelProbe.from_reference(model).has_m3_heads()  # either file format counts
    assert "xlm-roberta" in probe.describe()


def test_checkpoint_directory_takes_parent_name(tmp_path):
    ckpt = tmp_path / "bge-base-en-v1.5" / "checkpoint-100"
    write(ckpt / "config.json", {"model_type": "bert"})
    probe = ModelProbe.from_reference(str(ckpt) + "/")
    assert probe.name == "bge-base-en-v1.5" and probe.model_type == "bert"


def test_num_labels_from_plain_field_and_broken_config(tmp_path):
    write(tmp_path / "m" / "config.json", {"num_labels": 3})
    assert ModelProbe.from_reference(tmp_path / "m").num_labels == 3
    write(tmp_path / "broken" / "config.json", "{not json")
    probe = ModelProbe.from_reference(tmp_path / "broken")
    assert probe.config is None and probe.model_type is None and probe.architectures == ()
    assert "its config.json cannot be read as JSON" in probe.describe()


def test_pooling_module_found_through_modules_json(tmp_path):
    model = tmp_path / "st-model"
    write(model / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "pool", "type": "sentence_transformers.models.Pooling"},
    ])
    write(model / "pool" / "config.json", {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    assert ModelProbe.from_reference(model).sentence_transformers_pooling == "cls"
    write(model / "pool" / "config.json", {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True})
    assert ModelProbe.from_reference(model).sentence_transformers_pooling is None  # ambiguous


def fake_hub_cache(root, repo_id, revision="abc123", with_ref=True):
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    write(snapshot / "config.json", {"model_type": "bert", "architectures": ["BertModel"]})
    write(snapshot / "1_Pooling" / "config.json", {"pooling_mode_mean_tokens": True})
    if with_ref:
        write(repo / "refs" / "main", revision)
    return snapshot


def test_hub_ids_are_looked_up_in_the_local_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    snapshot = fake_hub_cache(tmp_path, "org/some-encoder")
    probe = ModelProbe.from_reference("org/some-encoder")
    assert probe.from_hub_cache and probe.local_dir == snapshot and probe.is_local
    assert probe.model_type == "bert"
    assert probe.sentence_transformers_pooling == "mean"
    assert "Hugging Face cache" in probe.describe()
    # without refs/main the newest snapshot is used; an id that is not cached stays name-only
    fake_hub_cache(tmp_path, "org/no-ref", with_ref=False)
    assert ModelProbe.from_reference("org/no-ref").from_hub_cache
    missing = ModelProbe.from_reference("org/not-cached")
    assert missing.local_dir is None and not missing.is_missing_path
    assert "not in the Hugging Face cache" in missing.describe()


def test_hf_home_is_honoured(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    fake_hub_cache(tmp_path / "hub", "org/m")
    assert ModelProbe.from_reference("org/m").from_hub_cache
