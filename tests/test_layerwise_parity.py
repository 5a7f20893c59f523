"""flagcore-layerwise against FlagEmbedding 1.4.2's LayerWiseFlagLLMReranker (bge-reranker-v2-minicpm-layerwise) and
LightWeightFlagLLMReranker (bge-reranker-v2.5-gemma2-lightweight) on the committed tiny checkpoints of
tests/parity/tiny_layerwise.py (tests/parity/references/layerwise.json, made on transformers 4.44.2 by
make_layerwise_references.py: ``nox -s layerwise_references``).

The checkpoints carry the hub's ``auto_map`` (remote-code module names) but no code: flagcore loads them natively."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from parity import cases
from parity.tiny_layerwise import ALL_ROLES, COMMITTED, ROLES, model_dirs
from parity.tiny_models import digest

from flagcore import FlagAutoReranker

REFERENCES = json.loads((Path(__file__).parent / "parity" / "references" / "layerwise.json").read_text())
SCORE_TOLERANCE = 1e-4

CASES = ([("decoder-only-layerwise", case) for case in cases.LAYERWISE_RERANKER_CASES]
         + [("decoder-only-lightweight", case) for case in cases.LIGHTWEIGHT_RERANKER_CASES])


@pytest.fixture(scope="session")
def layerwise_models(tmp_path_factory):
    """The committed tiny MiniCPM / Gemma2 checkpoints, plus their variants (left padding, short sliding window)."""
    return model_dirs(COMMITTED, tmp_path_factory.mktemp("tiny-layerwise"))


def test_models_are_the_ones_the_references_were_made_from(layerwise_models):
    assert set(REFERENCES["meta"]["model_digests"]) == set(ALL_ROLES) == set(layerwise_models)
    for role, expected in REFERENCES["meta"]["model_digests"].items():
        assert digest(layerwise_models[role]) == expected, f"{role} is not the model the references were made from"


def test_committed_checkpoints_are_small_and_carry_no_code():
    for role in ROLES:
        files = {p.name: p.stat().st_size for p in (COMMITTED / role).iterdir()}
        assert set(files) == {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                              "special_tokens_map.json"}, role
        assert sum(files.values()) < 800_000, role
        assert "auto_map" in json.loads((COMMITTED / role / "config.json").read_text()), role


def test_every_case_has_a_reference():
    ids = [case[0] for case in cases.LAYERWISE_RERANKER_CASES + cases.LIGHTWEIGHT_RERANKER_CASES]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(REFERENCES["cases"])


# A deliberate difference: given unsorted cutoff layers, FlagEmbedding's MiniCPM pairs the states (in ascending layer
# order) with the heads in the caller's order, so a layer is scored by another layer's head; flagcore sorts the
# layers and scores each with its own head, which is FlagEmbedding's answer for the sorted list.
SORTED_EQUIVALENT = {"minicpm-layerwise-unsorted-cutoffs": "minicpm-layerwise-cutoffs-at-call"}


def test_unsorted_cutoffs_are_a_flagembedding_defect_that_flagcore_fixes():
    for unsorted, equivalent in SORTED_EQUIVALENT.items():
        mixed, right = (np.asarray(REFERENCES["cases"][c]["values"]) for c in (unsorted, equivalent))
        assert np.abs(mixed - right).max() > 1e-3  # FlagEmbedding's heads really were swapped


@pytest.mark.parametrize(("model_class", "case"), CASES, ids=[c[0] for _, c in CASES])
def test_scores_match_flagembedding(layerwise_models, model_class, case):
    case_id, role, init, method, input_name, call = case
    model = FlagAutoReranker.from_finetuned(str(layerwise_models[role]), model_class=model_class, devices="cpu",
                                            **init)
    got = getattr(model, method)(cases.INPUTS[input_name], **call)
    expected = REFERENCES["cases"][SORTED_EQUIVALENT.get(case_id, case_id)]
    assert isinstance(got, list)
    if len(expected["shape"]) == 1:  # one cutoff layer: a flat list of floats
        assert all(type(s) is float for s in got)
        assert len(got) == expected["shape"][0]
    else:  # several: one list per layer, ascending
        assert all(isinstance(layer, list) and all(type(s) is float for s in layer) for layer in got)
        assert [len(got), *{len(layer) for layer in got}] == expected["shape"]
    np.testing.assert_allclose(got, expected["values"], atol=SCORE_TOLERANCE, rtol=0)
