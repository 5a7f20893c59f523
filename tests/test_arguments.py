"""Arguments are checked the same way in the constructor and per call, with messages naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import FakeEmbedder, FakeReranker

from flagcore import PoolingMethod


@pytest.mark.parametrize("argument", ["normalize_embeddings", "convert_to_numpy", "use_fp16", "use_bf16",
                                      "trust_remote_code"])
@pytest.mark.filterwarnings("ignore:use_bf16=True:UserWarning")  # a CPU without native bf16 says so
def test_flags_must_be_booleans_in_the_constructor(argument):
    with pytest.raises(TypeError, match=rf"{argument} must be True or False, not str 'no'"):
        FakeEmbedder("fake-model", devices="cpu", **{argument: "no"})
    for value in (False, True):  # numpy's bools are taken, and kept as Python bools
        assert getattr(FakeEmbedder("fake-model", devices="cpu", **{argument: np.bool_(value)}), argument) is value


def test_flags_must_be_booleans_per_call(embedder, reranker):
    with pytest.raises(TypeError, match="convert_to_numpy must be True or False"):
        embedder.encode(["a"], convert_to_numpy="no")
    with pytest.raises(TypeError, match="normalize must be True or False, not str 'no'"):
        reranker.compute_score([("q", "p")], normalize="no")
    with pytest.raises(TypeError, match="normalize must be True or False"):
        FakeReranker("fake-model", devices="cpu", normalize="yes")


@pytest.mark.parametrize("call", [
    lambda e, r: e.encode(["a"], batch_size=0), lambda e, r: e.encode(["a"], max_length=0),
    lambda e, r: e.encode_queries(["a"], max_length=0), lambda e, r: e.encode_corpus(["a"], batch_size=-1),
    lambda e, r: r.compute_score([("q", "p")], batch_size=0), lambda e, r: r.compute_score([("q", "p")], max_length=0),
])
def test_zero_limits_per_call_are_errors_not_the_default(embedder, reranker, call):
    with pytest.raises(ValueError, match=r"(batch_size|max_length) must be a positive integer, got -?\d"):
        call(embedder, reranker)


def test_a_tiny_max_length_leaves_the_query_one_token(reranker):
    assert len(reranker.compute_score([("a long query here", "p")], max_length=1)) == 1


def test_truncate_dim_wider_than_the_model_is_an_error():
    model = FakeEmbedder("fake-model", devices="cpu", truncate_dim=64)
    with pytest.raises(ValueError, match="truncate_dim=64 is wider than the model's 8-dimensional embeddings"):
        model.encode(["a"])


def test_pooling_methods_may_be_given_as_the_enum():
    from flagcore.family import check_pooling

    assert check_pooling(PoolingMethod.CLS, ("cls", "mean"), "x") == "cls"
    with pytest.raises(ValueError, match="pooling_method='last_token' is not supported by x"):
        check_pooling(PoolingMethod.LAST_TOKEN, ("cls", "mean"), "x")


def test_encode_queries_refuses_an_instruction_argument_clearly(embedder):
    with pytest.raises(TypeError, match=r"encode_queries\(\) takes no instruction: it applies "
                                        r"query_instruction_for_retrieval.*encode\(texts, instruction=\.\.\.\)"):
        embedder.encode_queries(["a"], instruction="q: ")
    with pytest.raises(TypeError, match=r"encode_corpus\(\) takes no instruction_format"):
        embedder.encode_corpus(["a"], instruction_format="{}{}")


def test_a_config_that_is_not_json_is_named_as_such(tmp_path):
    from flagcore import ModelProbe

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{not json")
    text = ModelProbe.from_reference(tmp_path / "m").describe()
    assert "its config.json cannot be read as JSON (JSONDecodeError: " in text
    (tmp_path / "n").mkdir()
    assert "has no config.json" in ModelProbe.from_reference(tmp_path / "n").describe()


@pytest.mark.parametrize("content", [b"", b"\x00" * 7, b"random bytes that are not a safetensors header"])
def test_damaged_weights_name_the_file(tiny_models, tmp_path, content):
    import shutil

    from flagcore import FlagAutoModel

    model_dir = tmp_path / "damaged"
    shutil.copytree(tiny_models["tiny-bert"], model_dir)
    (model_dir / "model.safetensors").write_bytes(content)
    with pytest.raises(ValueError, match=r"the weights in .*damaged/model.safetensors cannot be read .* damaged or "
                                         r"incomplete"):
        FlagAutoModel.from_finetuned(model_dir, model_class="encoder-only-base", devices="cpu")
