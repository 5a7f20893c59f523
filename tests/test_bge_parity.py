"""flagcore-bge against FlagEmbedding 1.4.2's outputs (tests/parity/references, made by make_references.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from parity import cases
from parity.tiny_models import digest

from flagcore import FlagAutoModel, FlagAutoReranker

REFERENCES = json.loads((Path(__file__).parent / "parity" / "references" / "encoder_only.json").read_text())
EMBEDDING_TOLERANCE, SCORE_TOLERANCE = 1e-5, 1e-4


def test_models_are_the_ones_the_references_were_made_from(tiny_models):
    assert set(REFERENCES["meta"]["model_digests"]) == {r for r in tiny_models if r != "minilm"}
    for role, expected in REFERENCES["meta"]["model_digests"].items():
        assert digest(tiny_models[role]) == expected, f"{role} differs from the model the references were made from"


@pytest.mark.parametrize("case", cases.EMBEDDER_CASES, ids=[c[0] for c in cases.EMBEDDER_CASES])
def test_embeddings_match_flagembedding(tiny_models, case):
    case_id, role, init, method, input_name, call = case
    if role == "minilm":  # FlagEmbedding reads none of its sentence-transformers files: 512 tokens, not its 256
        init = {"query_max_length": 512, "passage_max_length": 512, **init}
    model = FlagAutoModel.from_finetuned(str(tiny_models[role]), model_class="encoder-only-base",
                                         use_fp16=False, devices="cpu", **init)
    got = getattr(model, method)(cases.INPUTS[input_name], **call)
    expected = np.asarray(REFERENCES["cases"][case_id]["values"])
    assert got.shape == tuple(REFERENCES["cases"][case_id]["shape"])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=EMBEDDING_TOLERANCE, rtol=0)


@pytest.mark.parametrize("case", cases.RERANKER_CASES, ids=[c[0] for c in cases.RERANKER_CASES])
def test_scores_match_flagembedding(tiny_models, case):
    case_id, role, init, method, input_name, call = case
    model = FlagAutoReranker.from_finetuned(str(tiny_models[role]), model_class="encoder-only-base",
                                            devices="cpu", **init)
    got = getattr(model, method)(cases.INPUTS[input_name], **call)
    assert isinstance(got, list) and all(type(s) is float for s in got)
    np.testing.assert_allclose(got, REFERENCES["cases"][case_id]["values"], atol=SCORE_TOLERANCE, rtol=0)
