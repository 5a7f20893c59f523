"""A first batch that fills the learned position table (batches go longest first; passages are cut at 512 tokens)
runs on every CPU path of every family that has such a table: torch fp32, torch bf16, int8, OpenVINO. The decoder
families compute positions (rotary) and have no table to overrun."""

from __future__ import annotations

import numpy as np
import pytest

from flagcore import FlagAutoModel, FlagAutoReranker
from flagcore.engine import openvino as ov_backend
from flagcore.engine.cpu import CPU_BF16_ENV

pytestmark = pytest.mark.slow  # int8 kernels compile and OpenVINO converts (seconds each)

TEXTS = ["word " * 1000, "short"]
PAIRS = [("query " * 300, "passage " * 600), ("a", "b")]
PATHS = {
    "fp32": {},
    "bf16": {"use_bf16": True},
    "int8": {"quantize": "int8"},
    "openvino": {"backend": "openvino"},
}
# what each path may move an output by, against fp32 torch
TOLERANCE = {"fp32": 1e-6, "bf16": 5e-2, "int8": 1e-1, "openvino": 1e-5}


@pytest.fixture(autouse=True)
def bf16_cpu_and_fresh_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(CPU_BF16_ENV, "1")  # the bf16 path as on a CPU with native bf16
    monkeypatch.setenv(ov_backend.CACHE_ENV, str(tmp_path / "openvino"))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("role", ["tiny-bert", "tiny-xlmr", "tiny-m3"])
def test_an_embedder_first_batch_at_the_limit(tiny_models, role, path):
    model = FlagAutoModel.from_finetuned(str(tiny_models[role]), devices="cpu", **PATHS[path])
    assert len(model.tokenize(TEXTS[:1], model.passage_max_length)["input_ids"][0]) == model.position_limit == 512
    got = model.encode_corpus(TEXTS, return_sparse=False) if role == "tiny-m3" else model.encode_corpus(TEXTS)
    reference = FlagAutoModel.from_finetuned(str(tiny_models[role]), devices="cpu").encode_corpus(TEXTS)
    if isinstance(got, dict):
        got, reference = got["dense_vecs"], reference["dense_vecs"]
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, reference, atol=TOLERANCE[path])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("role", ["tiny-bert-reranker", "tiny-xlmr-reranker"])
def test_a_reranker_first_batch_at_the_limit(tiny_models, role, path):
    reranker = FlagAutoReranker.from_finetuned(str(tiny_models[role]), devices="cpu", **PATHS[path])
    got = reranker.compute_score(PAIRS)
    reference = FlagAutoReranker.from_finetuned(str(tiny_models[role]), devices="cpu").compute_score(PAIRS)
    np.testing.assert_allclose(got, reference, atol=TOLERANCE[path])
