from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import HIDDEN, FakeEmbedder, reference_embedding

from flagcore import AbsEmbedder

TEXTS = [
    "a short one",
    "",
    "this text is quite a bit longer than the others in the list",
    "mid length text here",
    "x",
    "another mid length text",
]


@pytest.fixture
def embedder():
    return FakeEmbedder("fake-model", pooling_method="mean", devices="cpu", batch_size=2)


def expected(texts, **kwargs):
    return np.stack([reference_embedding(t, **kwargs).numpy() for t in texts])


def test_list_in_input_order_across_batches(embedder):
    out = embedder.encode(TEXTS)
    assert isinstance(out, np.ndarray) and out.shape == (len(TEXTS), HIDDEN) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected(TEXTS), atol=1e-6)
    # several batches really ran, longest first
    assert embedder.model.forward_calls == 3


def test_results_do_not_depend_on_batch_size(embedder):
    one = embedder.encode(TEXTS, batch_size=1)
    many = embedder.encode(TEXTS, batch_size=64)
    np.testing.assert_allclose(one, many, atol=1e-6)


def test_single_string_gives_a_vector(embedder):
    out = embedder.encode("a short one")
    assert out.shape == (HIDDEN,)
    np.testing.assert_allclose(out, expected(["a short one"])[0], atol=1e-6)
    assert embedder.encode(["a short one"]).shape == (1, HIDDEN)


def test_tensor_output(embedder):
    out = embedder.encode(TEXTS, convert_to_numpy=False)
    assert isinstance(out, torch.Tensor) and out.shape == (len(TEXTS), HIDDEN)
    np.testing.assert_allclose(out.numpy(), expected(TEXTS), atol=1e-6)
    assert embedder.encode("x", convert_to_numpy=False).shape == (HIDDEN,)


def test_truncation_by_max_length(embedder):
    long_text = " ".join(f"w{i}" for i in range(50))
    out = embedder.encode(long_text, max_length=6)
    np.testing.assert_allclose(out, reference_embedding(long_text, max_length=6).numpy(), atol=1e-6)
    assert not np.allclose(out, reference_embedding(long_text).numpy(), atol=1e-3)


def test_queries_get_the_instruction_and_corpus_the_passage_instruction():
    model = FakeEmbedder(
        "fake-model", pooling_method="mean", devices="cpu",
        query_instruction_for_retrieval="Represent:", query_instruction_format="{} {}",
        passage_instruction_for_retrieval="passage:", passage_instruction_format="{}\\n{}",
        query_max_length=4, passage_max_length=5,
    )
    np.testing.assert_allclose(model.encode_queries("what is this query"),
                               reference_embedding("Represent: what is this query", max_length=4), atol=1e-6)
    np.testing.assert_allclose(model.encode_corpus(["body of the passage"]),
                               expected(["passage:\nbody of the passage"], max_length=5), atol=1e-6)
    # encode never adds an instruction and uses passage_max_length
    np.testing.assert_allclose(model.encode("what is this query"),
                               reference_embedding("what is this query", max_length=5), atol=1e-6)
    np.testing.assert_allclose(model.encode("q", instruction="I:", instruction_format="{}{}"),
                               reference_embedding("I:q", max_length=5), atol=1e-6)


def test_truncate_dim_is_applied_before_normalising():
    model = FakeEmbedder("fake-model", pooling_method="mean", devices="cpu", truncate_dim=3)
    out = model.encode(TEXTS)
    assert out.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    assert model.encode([]).shape == (0, 3)


def test_without_normalisation():
    model = FakeEmbedder("fake-model", pooling_method="cls", devices="cpu", normalize_embeddings=False)
    out = model.encode(["a b c"])
    hidden = model.model.embed(torch.tensor([1])).detach().numpy()  # CLS id 1
    np.testing.assert_allclose(out, hidden, atol=1e-6)


def test_cpu_computes_in_fp32_whatever_use_fp16_says(monkeypatch):
    monkeypatch.setenv("FLAGCORE_CPU_BF16", "0")  # a CPU without native bf16: use_bf16 stays fp32 too
    with pytest.warns(UserWarning, match="no native bf16"):
        model = FakeEmbedder("fake-model", devices="cpu", use_fp16=True, use_bf16=True)
    assert model.compute_dtype == "float32"
    model.model.half()  # as if a family had loaded half-precision weights
    out = model.encode(TEXTS)
    assert out.dtype == np.float32
    assert next(model.model.parameters()).dtype == torch.float32


def test_model_is_placed_once(embedder, monkeypatch):
    calls = []
    real_to = embedder.model.to
    monkeypatch.setattr(embedder.model, "to", lambda *a, **k: calls.append(1) or real_to(*a, **k))
    embedder.encode(TEXTS)
    embedder.encode(TEXTS)
    assert len(calls) == 1 and not embedder.model.training


# -- bad input ---------------------------------------------------------------------------------

def test_empty_list_gives_an_empty_matrix(embedder):
    out = embedder.encode([])
    assert out.shape == (0, HIDDEN) and out.dtype == np.float32
    assert embedder.encode_queries([]).shape == (0, HIDDEN)
    assert embedder.encode([], convert_to_numpy=False).shape == (0, HIDDEN)
    assert embedder.model.forward_calls == 0


def test_none_is_a_type_error(embedder):
    with pytest.raises(TypeError, match="None"):
        embedder.encode(None)


@pytest.mark.parametrize(("bad", "position"), [(["ok", None], 1), (["ok", "ok", 3], 2), ([b"bytes"], 0)])
def test_non_string_items_name_their_position(embedder, bad, position):
    with pytest.raises(TypeError, match=rf"sentences\[{position}\]"):
        embedder.encode(bad)
    with pytest.raises(TypeError, match=rf"queries\[{position}\]|sentences\[{position}\]"):
        embedder.encode_queries(bad)


@pytest.mark.parametrize("bad", [42, {"a": "b"}, b"bytes"])
def test_wrong_container_type(embedder, bad):
    with pytest.raises(TypeError, match="string or a list of strings"):
        embedder.encode(bad)


def test_tuples_and_generators_are_accepted(embedder):
    np.testing.assert_allclose(embedder.encode(tuple(TEXTS)), embedder.encode(TEXTS), atol=1e-7)
    np.testing.assert_allclose(embedder.encode(t for t in TEXTS), embedder.encode(TEXTS), atol=1e-7)


def test_unknown_constructor_argument_lists_the_accepted_ones():
    with pytest.raises(TypeError) as info:
        FakeEmbedder("fake-model", devices="cpu", query_max_lenght=10)
    message = str(info.value)
    assert "'query_max_lenght'" in message and "did you mean 'query_max_length'" in message
    for accepted in ("pooling_method", "query_max_length", "normalize_embeddings", "devices", "truncate_dim"):
        assert accepted in message


def test_unknown_call_argument_is_rejected(embedder):
    with pytest.raises(TypeError, match=r"encode\(\) got unexpected keyword argument\(s\) 'normalise'"):
        embedder.encode(["x"], normalise=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"query_max_length": -1}, "query_max_length"),
        ({"truncate_dim": 0}, "truncate_dim"),
        ({"query_instruction_format": "{}"}, "query_instruction_format"),
        ({"passage_instruction_format": 5}, "passage_instruction_format"),
    ],
)
def test_bad_constructor_values(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        FakeEmbedder("fake-model", devices="cpu", **kwargs)


def test_bad_call_values(embedder):
    with pytest.raises(ValueError, match="batch_size"):
        embedder.encode(["x"], batch_size=-2)
    with pytest.raises(ValueError, match="max_length"):
        embedder.encode(["x"], max_length=0.5)


def test_pad_to_multiple_of_keeps_results(embedder):
    np.testing.assert_allclose(embedder.encode(TEXTS, pad_to_multiple_of=8), expected(TEXTS), atol=1e-6)


def test_progress_bar_on_long_inputs(embedder, capsys):
    embedder.encode(TEXTS * 3, show_progress_bar=True)
    assert "Encoding" in capsys.readouterr().err
    embedder.encode(TEXTS, show_progress_bar=False)
    assert capsys.readouterr().err == ""


def test_abstract_base_cannot_be_built_without_embed_batch():
    with pytest.raises(TypeError, match="abstract: .*token_embeddings or embed_batch"):
        AbsEmbedder("x", devices="cpu")  # type: ignore[abstract]


def test_device_error_at_construction(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="Device error"):
        FakeEmbedder("fake-model", devices=["invalid:0"])
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        FakeEmbedder("fake-model", devices="cuda:0")
