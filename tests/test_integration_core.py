"""flagcore.integration: the one place the framework adapters get their models, vectors and rankings from."""

from __future__ import annotations

import numpy as np
import pytest

from flagcore.integration import SparseVector, dense_lists, embedder_from, ranked, reranker_from, sparse_vectors

TEXTS = ["The cat sits on the mat.", "Paris is the capital of France.", "A dog runs."]


@pytest.fixture(scope="module")
def minilm():
    from parity.tiny_models import minilm_dir

    return embedder_from(str(minilm_dir()))


def test_dense_lists_equal_the_library_per_side(minilm):
    for query, library in ((True, minilm.encode_queries), (False, minilm.encode_corpus)):
        vectors = dense_lists(minilm, TEXTS, query=query)
        assert isinstance(vectors, list) and all(isinstance(v, list) and isinstance(v[0], float) for v in vectors)
        np.testing.assert_array_equal(np.asarray(vectors, dtype=np.float32), library(TEXTS))
    assert dense_lists(minilm, [], query=True) == []


def test_the_query_side_gets_the_query_instruction(tiny_models):
    model = embedder_from(str(tiny_models["tiny-bert"]), query_instruction_for_retrieval="Represent: ")
    queries, passages = (np.asarray(dense_lists(model, TEXTS, query=q)) for q in (True, False))
    assert not np.allclose(queries, passages)
    np.testing.assert_allclose(queries, model.encode(["Represent: " + t for t in TEXTS]), atol=1e-6)


def test_a_loaded_model_is_used_as_it_is_and_options_with_it_are_refused(minilm):
    assert embedder_from(minilm) is minilm
    with pytest.raises(TypeError, match="already-loaded"):
        embedder_from(minilm, batch_size=4)
    with pytest.raises(TypeError, match="model name or path"):
        embedder_from(3)


def test_sparse_vectors_of_m3_match_its_lexical_weights(tiny_models):
    model = embedder_from(str(tiny_models["tiny-m3"]))
    vectors = sparse_vectors(model, TEXTS, query=False)
    weights = model.encode_corpus(TEXTS, return_dense=False, return_sparse=True)["lexical_weights"]
    for vector, expected in zip(vectors, weights, strict=True):
        assert isinstance(vector, SparseVector) and vector.indices == sorted(vector.indices)
        assert {str(i): v for i, v in zip(vector.indices, vector.values, strict=True)} == pytest.approx(dict(expected))


def test_sparse_vectors_of_a_dense_model_are_refused_naming_its_outputs(minilm):
    with pytest.raises(ValueError, match=r"gives no sparse vectors .*\['dense'"):
        sparse_vectors(minilm, TEXTS, query=True)


def test_ranked_orders_by_the_library_scores_and_keeps_top_n(tiny_models):
    model = reranker_from(str(tiny_models["tiny-bert-reranker"]))
    scores = model.compute_score([("cats", t) for t in TEXTS])
    best = ranked(model, "cats", TEXTS, top_n=2)
    assert [r.index for r in best] == list(np.argsort(-np.asarray(scores), kind="stable")[:2])
    assert [r.score for r in best] == pytest.approx(sorted(scores, reverse=True)[:2])
    normalized = ranked(model, "cats", TEXTS, normalize=True)
    assert all(0 < r.score < 1 for r in normalized)
    assert ranked(model, "cats", []) == []


def test_one_string_is_refused_rather_than_split_into_characters(minilm, tiny_models):
    with pytest.raises(TypeError, match=r"not one string: pass \[text\]"):
        dense_lists(minilm, "a text", query=True)
    with pytest.raises(TypeError, match=r"documents must be a list of strings"):
        ranked(reranker_from(str(tiny_models["tiny-bert-reranker"])), "q", "a document")
