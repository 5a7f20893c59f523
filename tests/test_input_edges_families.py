"""Input bugs of the model families that the property-based tests (tests/test_fuzz.py) found, now fixed in the
plugins: each input is refused with a message that names the argument and what is accepted (or, for ``None`` and
empty lists, gives the documented answer)."""

from __future__ import annotations

import json
import math
import re
import warnings

import numpy as np
import pytest
import torch
from parity.tiny_layerwise import COMMITTED

from flagcore import FlagAutoModel, FlagAutoReranker, explain
from flagcore.errors import UnknownModelError

PAIRS = [("what is the capital", "Paris is the capital of France."), ("a", "b")]


@pytest.fixture(scope="module")
def m3(tiny_models):
    return FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices="cpu")


# -- BGE-M3 ---------------------------------------------------------------------------------------------------------
# NaN / inf weights (or finite ones whose sums overflow) gave NaN mixed scores in silence
@pytest.mark.parametrize("weights", [[math.nan, 1, 1], [1, math.inf, 1], (1, 1, -math.inf), [1e308, 1e308, 1],
                                     [1, 1e308, 1e308], [10**400, 1, 1], np.array([0.4, np.nan, 0.4])])
def test_m3_non_finite_mode_weights_are_refused(m3, weights):
    with pytest.raises(ValueError, match=r"weights_for_different_modes must be finite numbers \[dense, sparse, "
                                         r"colbert\] with finite sums, got "):
        m3.compute_score(("q", "p"), weights_for_different_modes=weights)


def test_m3_large_finite_mode_weights_still_mix(m3):
    scores = m3.compute_score(PAIRS, weights_for_different_modes=[1e300, 1e300, 1e300])
    assert all(math.isfinite(x) for x in scores["colbert+sparse+dense"])
    np.testing.assert_allclose(scores["colbert+sparse+dense"], m3.compute_score(PAIRS)["colbert+sparse+dense"],
                               rtol=1e-6)


# max_query_length / max_passage_length of 0 (or False) meant the default through an `or`
@pytest.mark.parametrize(("argument", "value"), [("max_query_length", 0), ("max_query_length", False),
                                                 ("max_passage_length", 0), ("max_passage_length", -3)])
def test_m3_score_limits_of_zero_are_refused(m3, argument, value):
    with pytest.raises(ValueError, match=f"{argument} must be a positive integer, got {value!r}"):
        m3.compute_score(PAIRS, **{argument: value})


def test_m3_score_limits_of_none_are_the_model_defaults(m3):
    assert m3.compute_score(PAIRS, max_query_length=None, max_passage_length=None) == m3.compute_score(PAIRS)


# ids below 0 or at or above 2**32 raised OverflowError from the tokenizer, ids at or above the vocabulary size
# decoded to "" in silence
@pytest.mark.parametrize("key", ["-1", str(2**32), str(2**64), "270", 270, "abc"])
def test_m3_convert_id_to_token_refuses_ids_outside_the_vocabulary(m3, key):
    vocabulary = len(m3.tokenizer)
    assert vocabulary == 270
    with pytest.raises(ValueError, match=f"convert_id_to_token: {key!r} is not a token id of the vocabulary: keys "
                                         f"must be token ids from 0 to {vocabulary - 1}"):
        m3.convert_id_to_token({"5": 1.0, key: 2.0})
    with pytest.raises(ValueError, match="is not a token id of the vocabulary"):
        m3.convert_id_to_token([{"5": 1.0}, {key: 2.0}])


def test_m3_convert_id_to_token_takes_the_whole_vocabulary(m3):
    last = len(m3.tokenizer) - 1
    assert m3.convert_id_to_token({"0": 1.0, str(last): 2.0}) == {
        m3.tokenizer.decode([0]): 1.0, m3.tokenizer.decode([last]): 2.0}


# an empty first list gave shape (0,) instead of (0, len(second))
@pytest.mark.parametrize(("first", "second", "shape"), [([], [{"1": 1.0}, {}], (0, 2)), ((), [], (0, 0)),
                                                        ([{"1": 1.0}], [], (1, 0))])
def test_m3_lexical_matching_scores_of_empty_lists_have_two_dimensions(m3, first, second, shape):
    scores = m3.compute_lexical_matching_score(first, second)
    assert isinstance(scores, np.ndarray) and scores.shape == shape and scores.dtype == np.float64


# 10**400 raised OverflowError from numpy; 10**40 (past float32's range) gave a score of inf
@pytest.mark.parametrize("vectors", [[[10**400, 0.0]], [[10**40, 0.0]], [[-1e39, 0.0]], np.array([[math.inf, 0.0]]),
                                     torch.tensor([[math.nan, 0.0]]), np.array([[1e300, 0.0]])])
def test_m3_colbert_score_refuses_vectors_that_are_not_finite_as_float32(m3, vectors):
    message = r"query_vectors must hold finite numbers within float32's range \(magnitudes up to 3.4e38\)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from numpy's cast either
        with pytest.raises(ValueError, match=message):
            m3.colbert_score(vectors, [[1.0, 0.0]])
        with pytest.raises(ValueError, match=message.replace("query", "passage")):
            m3.colbert_score([[1.0, 0.0]], vectors)


# -- layer-wise and lightweight rerankers ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def layerwise():
    return FlagAutoReranker.from_finetuned(COMMITTED / "tiny-minicpm-layerwise", devices="cpu", cutoff_layers=[2, 3])


@pytest.fixture(scope="module")
def lightweight():
    return FlagAutoReranker.from_finetuned(COMMITTED / "tiny-gemma2-lightweight", devices="cpu")


# cutoff_layers=None in a call scored at the last layer instead of the constructor's cutoff_layers
def test_layerwise_cutoff_layers_none_in_a_call_means_the_constructors(layerwise):
    assert layerwise.cutoff_layers == [2, 3]
    scores = layerwise.compute_score(PAIRS, cutoff_layers=None)
    assert len(scores) == 2 and all(len(layer) == len(PAIRS) for layer in scores)  # one list per layer
    assert scores == layerwise.compute_score(PAIRS) == layerwise.compute_score(PAIRS, cutoff_layers=[2, 3])
    assert scores != layerwise.compute_score(PAIRS, cutoff_layers=[3, 4])


def test_lightweight_cutoff_layers_none_in_a_call_means_the_constructors(lightweight):
    assert lightweight.compute_score(PAIRS, cutoff_layers=None) == lightweight.compute_score(PAIRS)


# the deprecated compress_layer= silently replaced compress_layers= (which then went unchecked)
@pytest.mark.parametrize("compress_layers", [[1], [5], 2])
def test_lightweight_compress_layer_beside_compress_layers_is_refused(lightweight, compress_layers):
    message = (f"compress_layer=1 and compress_layers={compress_layers!r} are both given: pass only compress_layers "
               "(compress_layer is its deprecated spelling)")
    with pytest.warns(FutureWarning, match="compress_layer= is deprecated"), pytest.raises(
            ValueError, match=re.escape(message)):
        lightweight.compute_score(PAIRS, compress_ratio=2, compress_layer=1, compress_layers=compress_layers)


@pytest.mark.parametrize(("value", "error", "message"), [
    (9, ValueError, r"compress_layer \[9\] are outside \[0, 3\]"), ([1, -1], ValueError, r"compress_layer \[-1\]"),
    ("1", TypeError, "compress_layer must be an int or a list of ints, not '1'")])
def test_lightweight_compress_layer_goes_through_the_range_checks(lightweight, value, error, message):
    with pytest.warns(FutureWarning), pytest.raises(error, match=message):
        lightweight.compute_score(PAIRS, compress_ratio=2, compress_layer=value)


def test_lightweight_compress_layer_alone_or_beside_none_still_works(lightweight):
    expected = lightweight.compute_score(PAIRS, compress_ratio=2, compress_layers=[1])
    with pytest.warns(FutureWarning):
        assert lightweight.compute_score(PAIRS, compress_ratio=2, compress_layer=[1]) == expected
    with pytest.warns(FutureWarning):
        assert lightweight.compute_score(PAIRS, compress_ratio=2, compress_layer=None, compress_layers=[1]) == expected


# -- adapter folders (flagcore-llm) --------------------------------------------------------------------------------
def _adapter(folder, base):
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base),
                                                            "task_type": "CAUSAL_LM"}))
    return folder


# an adapter over its own folder, or two adapters naming each other, sent the llm family's claims into infinite
# recursion (RecursionError, reported as a PluginWarning)
@pytest.mark.parametrize("kind", ["embedder", "reranker"])
def test_an_adapter_over_its_own_folder_is_not_claimed_and_says_why(tmp_path, kind):
    adapter = _adapter(tmp_path / "self-lora", tmp_path / "self-lora")
    message = re.escape(f"the adapter_config.json base model chain loops back to {adapter} ")
    with pytest.warns(UserWarning, match=message):
        assert explain(adapter, kind=kind) == []


def test_adapters_naming_each_other_are_not_claimed_and_say_why(tmp_path):
    first = _adapter(tmp_path / "first", tmp_path / "second")
    _adapter(tmp_path / "second", f"{first}/")
    with pytest.warns(UserWarning, match=re.escape(f"base model chain loops back to {first} ")):
        assert explain(first) == []
    with pytest.warns(UserWarning, match="base model chain loops back"), pytest.raises(UnknownModelError):
        FlagAutoModel.from_finetuned(str(first), devices="cpu")


def test_a_looping_adapter_forced_with_model_class_is_a_value_error(tmp_path):
    adapter = _adapter(tmp_path / "self-lora", tmp_path / "self-lora")
    message = re.escape(f"the adapter_config.json base model chain loops back to {adapter} ")
    with pytest.warns(UserWarning, match=message), pytest.raises(ValueError, match=message):
        FlagAutoModel.from_finetuned(str(adapter), devices="cpu", model_class="decoder-only-base")
