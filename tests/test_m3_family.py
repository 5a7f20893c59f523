"""flagcore-m3: claims, heads, output shapes, scoring helpers, bad input, and where it fixes FlagEmbedding."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from flagcore import Evidence, FlagAutoModel, FlagAutoReranker, explain

ALL = {"return_dense": True, "return_sparse": True, "return_colbert_vecs": True}


@pytest.fixture(scope="module")
def m3(tiny_models):
    return FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices="cpu")


def test_heads_directory_resolves_to_m3_above_the_encoder_family(tiny_models):
    from flagcore_m3.embedder import M3Embedder

    claims = explain(str(tiny_models["tiny-m3"]))
    assert [c.model_class for c in claims] == ["encoder-only-m3", "encoder-only-base"]
    assert claims[0].score == Evidence.ARCHITECTURE + 50
    assert type(FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices="cpu")) is M3Embedder


def test_bge_m3_name_with_heads_and_without(tiny_models, tmp_path):
    with_heads = tmp_path / "with" / "bge-m3"
    shutil.copytree(tiny_models["tiny-m3"], with_heads)
    assert explain(str(with_heads))[0].model_class == "encoder-only-m3"
    assert type(FlagAutoModel.from_finetuned(str(with_heads), devices="cpu")).__name__ == "M3Embedder"
    # the same name, no heads, a classification head: the reranker factory gives the cross-encoder
    classifier = tmp_path / "without" / "bge-m3"
    shutil.copytree(tiny_models["tiny-xlmr-reranker"], classifier)
    reranker = FlagAutoReranker.from_finetuned(str(classifier), devices="cpu")
    assert type(reranker).__name__ == "CrossEncoderReranker"


def test_bge_reranker_v2_m3_stays_with_the_cross_encoder(tiny_models, tmp_path):
    path = tmp_path / "bge-reranker-v2-m3"
    shutil.copytree(tiny_models["tiny-xlmr-reranker"], path)
    assert [c.model_class for c in explain(str(path), kind="reranker")] == ["encoder-only-base"]
    assert explain(str(path)) == []  # not an embedder, and the M3 family does not claim it
    assert type(FlagAutoReranker.from_finetuned(str(path), devices="cpu")).__name__ == "CrossEncoderReranker"


def test_output_dict_shapes_and_types(m3):
    one = m3.encode("the the dog", **ALL)
    assert one["dense_vecs"].shape == (32,)
    assert isinstance(one["lexical_weights"], dict) and one["colbert_vecs"].ndim == 2
    json.dumps(one["lexical_weights"])  # plain floats: JSON-serialisable
    many = m3.encode(["the the dog", "a"], **ALL)
    assert many["dense_vecs"].shape == (2, 32) and len(many["lexical_weights"]) == len(many["colbert_vecs"]) == 2
    default = m3.encode(["x"])
    assert default["lexical_weights"] is None and default["colbert_vecs"] is None
    empty = m3.encode([], **ALL)
    assert empty["dense_vecs"].shape == (0, 32) and empty["lexical_weights"] == [] and empty["colbert_vecs"] == []


def test_lexical_weights_drop_specials_zeros_and_keep_the_max(m3):
    text = "the the the dog dog cat"
    weights = m3.encode(text, return_dense=False, return_sparse=True)["lexical_weights"]
    ids = m3.tokenizer(text)["input_ids"]
    with torch.inference_mode():
        hidden = m3.model.backbone(input_ids=torch.tensor([ids])).last_hidden_state
        per_token = torch.relu(m3.model.sparse_linear(hidden)).squeeze(-1)[0].tolist()
    expected = {}
    for token, w in zip(ids, per_token, strict=True):
        if token not in (0, 1, 2, 3) and w > 0:
            expected[str(token)] = max(w, expected.get(str(token), 0.0))
    assert weights.keys() == expected.keys() and all(abs(weights[k] - expected[k]) < 1e-6 for k in expected)
    assert not {"0", "1", "2", "3"} & weights.keys()


def test_colbert_vectors_drop_cls_and_padding_and_are_normalised(m3):
    texts = ["a much longer text with many words in it", "short"]
    out = m3.encode(texts, return_dense=False, return_colbert_vecs=True)
    for text, vectors in zip(texts, out["colbert_vecs"], strict=True):
        assert len(vectors) == len(m3.tokenizer(text)["input_ids"]) - 1
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    alone = m3.encode("short", return_dense=False, return_colbert_vecs=True)["colbert_vecs"]
    np.testing.assert_allclose(out["colbert_vecs"][1], alone, atol=1e-5)


def test_all_outputs_off_is_a_value_error(m3):
    with pytest.raises(ValueError, match="at least one output"):
        m3.encode(["x"], return_dense=False)


def test_missing_heads_fail_for_sparse_and_colbert_but_dense_works(tiny_models, tmp_path):
    path = shutil.copytree(tiny_models["tiny-m3"], tmp_path / "m3-no-sparse")
    (path / "sparse_linear.pt").unlink()
    model = FlagAutoModel.from_finetuned(str(path), model_class="encoder-only-m3", devices="cpu")
    assert model.encode(["x"])["dense_vecs"].shape == (1, 32)
    assert model.encode(["x"], return_colbert_vecs=True)["colbert_vecs"][0].shape[1] == 32
    with pytest.raises(FileNotFoundError, match=r"sparse_linear\.safetensors or sparse_linear\.pt"):
        model.encode(["x"], return_sparse=True)
    with pytest.raises(FileNotFoundError, match="sparse_linear"):
        model.compute_score(("q", "p"))
    with pytest.raises(FileNotFoundError, match="sparse_linear"):  # a constructor default that cannot work fails now
        FlagAutoModel.from_finetuned(str(path), model_class="encoder-only-m3", devices="cpu", return_sparse=True)


def test_safetensors_heads_give_the_same_outputs(tiny_models, tmp_path, m3):
    from safetensors.torch import save_file

    path = shutil.copytree(tiny_models["tiny-m3"], tmp_path / "m3-safetensors")
    for head in ("colbert_linear", "sparse_linear"):
        state = torch.load(path / f"{head}.pt", weights_only=True)
        save_file(state, str(path / f"{head}.safetensors"))
        (path / f"{head}.pt").unlink()
    other = FlagAutoModel.from_finetuned(str(path), devices="cpu")
    a, b = other.encode(["hello world"], **ALL), m3.encode(["hello world"], **ALL)
    np.testing.assert_allclose(a["colbert_vecs"][0], b["colbert_vecs"][0], atol=1e-7)
    assert a["lexical_weights"] == b["lexical_weights"]


def test_heads_are_never_unpickled_as_arbitrary_objects(tiny_models, tmp_path):
    path = shutil.copytree(tiny_models["tiny-m3"], tmp_path / "m3-evil")

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"weight": torch.zeros(1, 32), "bias": torch.zeros(1), "x": Payload()}, path / "sparse_linear.pt")
    with pytest.raises(Exception, match="(?i)weights only|unsupported|not allowed"):
        FlagAutoModel.from_finetuned(str(path), devices="cpu")


def test_head_shape_is_checked(tiny_models, tmp_path):
    path = shutil.copytree(tiny_models["tiny-m3"], tmp_path / "m3-wrong")
    torch.save({"weight": torch.zeros(1, 16), "bias": torch.zeros(1)}, path / "sparse_linear.pt")
    with pytest.raises(ValueError, match=r"expected \(out, 32\)"):
        FlagAutoModel.from_finetuned(str(path), devices="cpu")


# -- scoring ------------------------------------------------------------------------------------

def test_compute_score_is_consistent_with_encode_and_the_helpers(m3):
    pairs = [("what is a panda", "giant pandas eat bamboo"), ("capital of france", "paris is the capital")]
    scores = m3.compute_score(pairs, weights_for_different_modes=[0.4, 0.2, 0.4])
    q = m3.encode([p[0] for p in pairs], **ALL)
    p = m3.encode([p[1] for p in pairs], **ALL)
    for i in range(2):
        assert scores["dense"][i] == pytest.approx(float(q["dense_vecs"][i] @ p["dense_vecs"][i]), abs=1e-6)
        assert scores["sparse"][i] == pytest.approx(
            m3.compute_lexical_matching_score(q["lexical_weights"][i], p["lexical_weights"][i]), abs=1e-6)
        assert scores["colbert"][i] == pytest.approx(m3.colbert_score(q["colbert_vecs"][i], p["colbert_vecs"][i]),
                                                     abs=1e-6)
        d, s, c = scores["dense"][i], scores["sparse"][i], scores["colbert"][i]
        assert scores["sparse+dense"][i] == pytest.approx((s * 0.2 + d * 0.4) / 0.6)
        assert scores["colbert+sparse+dense"][i] == pytest.approx((c * 0.4 + s * 0.2 + d * 0.4) / 1.0)
    matrix = m3.compute_lexical_matching_score(q["lexical_weights"], p["lexical_weights"])
    assert matrix.shape == (2, 2) and matrix[1, 1] == pytest.approx(scores["sparse"][1])


def test_colbert_score_ignores_padding_unlike_flagembedding(m3):
    """FlagEmbedding's batched ColBERT score takes the max over zero-padded passage rows too, so a query token
    whose similarities are all negative scores 0 instead of its true best, and the result depends on which
    passages share the batch. Ours is the same alone or batched."""
    queries = ["what is the capital of france", "how do pandas eat", "emoji test", "dog cat", "hello world"]
    passages = ["a", "short", "Paris", "bamboo", "world of words"]
    pairs = [(q, p) for q in queries for p in passages] + [("x", "a much longer passage " * 20)]
    batched = m3.compute_score(pairs, batch_size=64)["colbert"]
    alone = [m3.compute_score(pair)["colbert"] for pair in pairs[:-1]]
    np.testing.assert_allclose(batched[:-1], alone, atol=1e-6)
    # where every similarity is negative, a zero padding row would win the max: the true score is -1, not 0
    query, passage = np.array([[1.0, 0.0]]), np.array([[-1.0, 0.0], [0.0, -1.0]])
    assert m3.colbert_score(query, passage) == pytest.approx(0.0)  # [0, -1] is a real row: its 0 counts
    assert m3.colbert_score(np.array([[1.0, 0.0]]), np.array([[-1.0, 0.0]])) == pytest.approx(-1.0)
    padded = np.vstack([[-1.0, 0.0], np.zeros((3, 2))])
    assert m3.colbert_score(np.array([[1.0, 0.0]]), padded) == pytest.approx(0.0)  # FlagEmbedding's batched value


def test_one_pair_gives_floats_and_works_on_several_devices(tiny_models):
    model = FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices=["cpu", "cpu"])
    scores = model.compute_score(("a query", "a passage"))
    assert set(scores) == {"colbert", "sparse", "dense", "sparse+dense", "colbert+sparse+dense"}
    assert all(type(v) is float for v in scores.values())
    assert model.compute_score([]) == {k: [] for k in scores}


def test_tokenizer_without_an_eos_token_works(tiny_models, tmp_path):
    path = shutil.copytree(tiny_models["tiny-bert"], tmp_path / "bert-m3")
    for name in ("colbert_linear.pt", "sparse_linear.pt"):
        shutil.copyfile(tiny_models["tiny-m3"] / name, path / name)
    model = FlagAutoModel.from_finetuned(str(path), devices="cpu")
    assert type(model).__name__ == "M3Embedder"
    scores = model.compute_score([("what is a panda", "pandas eat bamboo")])
    assert np.isfinite(scores["colbert+sparse+dense"][0])
    weights = model.encode("what is a panda", return_sparse=True)["lexical_weights"]
    assert str(model.tokenizer.cls_token_id) not in weights and str(model.tokenizer.pad_token_id) not in weights


@pytest.mark.parametrize(("a", "b"), [({"1": 1.0}, [{"1": 1.0}]), ("x", "y"), ([{"1": 1}], [1, 2]), (None, {})])
def test_malformed_lexical_weights_are_a_value_error(m3, a, b):
    with pytest.raises(ValueError, match="expects two dicts"):
        m3.compute_lexical_matching_score(a, b)


@pytest.mark.parametrize("weights", [[1, 1], "abc", [0, 0, 0], [1, -1, 0]])
def test_bad_mode_weights(m3, weights):
    with pytest.raises(ValueError, match="weights_for_different_modes"):
        m3.compute_score(("q", "p"), weights_for_different_modes=weights)


def test_bad_pairs_and_inputs(m3):
    with pytest.raises(ValueError, match="1 element"):
        m3.compute_score([("only",)])
    with pytest.raises(TypeError, match=r"sentences\[0\]"):
        m3.encode([None], return_sparse=True)
    with pytest.raises(ValueError, match="2-D"):
        m3.colbert_score(np.zeros(3), np.zeros((2, 3)))


def test_convert_id_to_token(m3):
    weights = m3.encode(["the dog", "cat"], return_dense=False, return_sparse=True)["lexical_weights"]
    tokens = m3.convert_id_to_token(weights)
    assert isinstance(tokens, list) and len(tokens) == 2
    assert set(tokens[0]) <= {m3.tokenizer.decode([int(k)]) for k in weights[0]}
    assert isinstance(m3.convert_id_to_token(weights[0]), dict)
    assert m3.convert_id_to_token(weights[:1]) == tokens[0]  # FlagEmbedding returns the dict for a one-item list
    with pytest.raises(ValueError):
        m3.convert_id_to_token("nope")


@pytest.mark.slow
def test_dict_outputs_through_the_device_pool_equal_the_single_device_ones(tiny_models, m3):
    texts = [" ".join(["the dog", "paris is", "capital"][i % 3] for _ in range(i % 7 + 1)) for i in range(30)]
    model = FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices=["cpu", "cpu"], max_batch_tokens=48)
    try:
        got = model.encode(texts, **ALL)
        assert model.device_pool is not None
        expected = m3.encode(texts, **ALL)
        np.testing.assert_allclose(got["dense_vecs"], expected["dense_vecs"], atol=1e-6)
        assert [w.keys() for w in got["lexical_weights"]] == [w.keys() for w in expected["lexical_weights"]]
        for a, b in zip(got["colbert_vecs"], expected["colbert_vecs"], strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)
        scores = model.compute_score([(t, texts[-1]) for t in texts])
        np.testing.assert_allclose(scores["colbert+sparse+dense"],
                                   m3.compute_score([(t, texts[-1]) for t in texts])["colbert+sparse+dense"], atol=1e-5)
    finally:
        model.close()
