"""flagcore-m3 against FlagEmbedding 1.4.2's BGEM3FlagModel (tests/parity/references/m3.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from parity import cases

from flagcore import FlagAutoModel

REFERENCES = json.loads((Path(__file__).parent / "parity" / "references" / "m3.json").read_text())
EMBEDDING_TOLERANCE, SCORE_TOLERANCE = 1e-5, 1e-4


def build(tiny_models, init):
    return FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), model_class="encoder-only-m3", use_fp16=False,
                                        devices="cpu", **init)


def assert_lexical_equal(got, expected):
    assert list(got) == list(expected)  # same token ids, same (first-occurrence) order
    assert all(type(v) is float for v in got.values())
    np.testing.assert_allclose(list(got.values()), list(expected.values()), atol=EMBEDDING_TOLERANCE, rtol=0)


@pytest.mark.parametrize("case", cases.M3_ENCODE_CASES, ids=[c[0] for c in cases.M3_ENCODE_CASES])
def test_m3_outputs_match_flagembedding(tiny_models, case):
    case_id, role, init, method, input_name, call = case
    got = getattr(build(tiny_models, init), method)(cases.INPUTS[input_name], **call)
    expected = REFERENCES["cases"][case_id]
    assert set(got) == {"dense_vecs", "lexical_weights", "colbert_vecs"}
    for key in got:
        assert (got[key] is None) == (expected[key] is None), key
    single = isinstance(cases.INPUTS[input_name], str)
    if expected["dense_vecs"] is not None:
        np.testing.assert_allclose(got["dense_vecs"], expected["dense_vecs"], atol=EMBEDDING_TOLERANCE, rtol=0)
    if expected["lexical_weights"] is not None:
        pairs = [(got["lexical_weights"], expected["lexical_weights"])] if single else zip(
            got["lexical_weights"], expected["lexical_weights"], strict=True)
        for g, e in pairs:
            assert_lexical_equal(g, e)
    if expected["colbert_vecs"] is not None:
        pairs = [(got["colbert_vecs"], expected["colbert_vecs"])] if single else zip(
            got["colbert_vecs"], expected["colbert_vecs"], strict=True)
        for g, e in pairs:
            assert g.shape == np.asarray(e).reshape(g.shape).shape
            np.testing.assert_allclose(g, np.asarray(e).reshape(g.shape), atol=EMBEDDING_TOLERANCE, rtol=0)


@pytest.mark.parametrize("case", cases.M3_SCORE_CASES, ids=[c[0] for c in cases.M3_SCORE_CASES])
def test_m3_scores_match_flagembedding(tiny_models, case):
    case_id, role, init, method, input_name, call = case
    got = getattr(build(tiny_models, init), method)(cases.INPUTS[input_name], **call)
    expected = REFERENCES["cases"][case_id]
    assert set(got) == set(expected) == {"colbert", "sparse", "dense", "sparse+dense", "colbert+sparse+dense"}
    for key in expected:
        if isinstance(cases.INPUTS[input_name][0], str):
            assert type(got[key]) is float
        np.testing.assert_allclose(got[key], expected[key], atol=SCORE_TOLERANCE, rtol=0, err_msg=key)
