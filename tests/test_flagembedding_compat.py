"""FlagEmbedding's names and methods from flagcore, and the sentence-transformers conveniences flagcore adds."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import flagcore
from flagcore import AUTO_EMBEDDER_MAPPING, AUTO_RERANKER_MAPPING, FlagAutoModel, FlagAutoReranker, RankedDocument
from flagcore.flagembedding_names import FLAGEMBEDDING_CLASSES


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from parity.tiny_models import build

    return build(tmp_path_factory.mktemp("compat"))


def test_every_flagembedding_class_name_is_the_family_class():
    expected = {
        "FlagModel": "EncoderEmbedder", "BGEM3FlagModel": "M3Embedder", "FlagLLMModel": "LLMEmbedder",
        "FlagICLModel": "ICLEmbedder", "FlagPseudoMoEModel": "PseudoMoEEmbedder",
        "FlagReranker": "CrossEncoderReranker", "FlagLLMReranker": "LLMReranker",
        "LayerWiseFlagLLMReranker": "LayerWiseReranker", "LightWeightFlagLLMReranker": "LightweightReranker",
    }
    assert set(FLAGEMBEDDING_CLASSES) == set(expected)
    for name, class_name in expected.items():
        assert getattr(flagcore, name).__name__ == class_name
    assert set(expected) <= set(dir(flagcore))


def test_importing_flagcore_and_a_class_name_stays_light_until_used():
    code = ("import sys, flagcore; from flagcore import FlagModel, FlagReranker; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # the family's class modules import torch, but importing flagcore alone does not
    assert subprocess.run([sys.executable, "-c", "import sys, flagcore; print('torch' in sys.modules)"],
                          capture_output=True, text=True, check=True).stdout.strip() == "False"
    assert out.stdout.split()[1] == "False"  # transformers waits for a model to be built


def test_a_class_of_a_missing_family_fails_with_the_install_command(monkeypatch):
    from flagcore.plugins import LOAD_PLUGINS_ENV, host

    monkeypatch.setenv(LOAD_PLUGINS_ENV, "bge")
    host.reset()
    with pytest.raises(ImportError, match=r"FlagLLMReranker is served by the flagcore-llm family .* pip install "
                                          r"'flagcore\[llm\]'"):
        from flagcore import FlagLLMReranker  # noqa: F401
    with pytest.raises(AttributeError, match="no attribute 'FlagModle'"):
        flagcore.FlagModle  # noqa: B018


def test_flagembedding_constructor_calls_work_unchanged(only_bge, models):
    from flagcore import FlagModel, FlagReranker

    model = FlagModel(str(models["tiny-bert"]), query_instruction_for_retrieval="Represent this: ", use_fp16=True,
                      devices="cpu")
    auto = FlagAutoModel.from_finetuned(str(models["tiny-bert"]), query_instruction_for_retrieval="Represent this: ",
                                        devices="cpu")
    np.testing.assert_allclose(model.encode_queries(["a b"]), auto.encode_queries(["a b"]), atol=1e-6)
    reranker = FlagReranker(str(models["tiny-bert-reranker"]), use_fp16=True, devices="cpu")
    assert len(reranker.compute_score([["q", "p"], ["q", "r"]])) == 2


def test_the_name_tables_are_flagembeddings():
    assert len(AUTO_EMBEDDER_MAPPING) == 47 and len(AUTO_RERANKER_MAPPING) == 10
    m3 = AUTO_EMBEDDER_MAPPING["bge-m3"]
    assert (m3.model_class.value, m3.pooling_method.value, m3.trust_remote_code, m3.query_instruction_format) == (
        "encoder-only-m3", "cls", False, "{}{}")
    qwen = AUTO_EMBEDDER_MAPPING["Qwen3-Embedding-0.6B"]
    assert (qwen.pooling_method.value, qwen.query_instruction_format) == ("last_token", "Instruct: {}\nQuery:{}")
    assert AUTO_EMBEDDER_MAPPING["e5-large-v2"].pooling_method.value == "mean"
    assert AUTO_EMBEDDER_MAPPING["gte-large-zh"].pooling_method.value == "cls"
    assert AUTO_EMBEDDER_MAPPING["gte-base-en-v1.5"].trust_remote_code is True
    assert all(not row.trust_remote_code for row in AUTO_RERANKER_MAPPING.values())
    assert AUTO_RERANKER_MAPPING["bge-reranker-v2-gemma"].model_class.value == "decoder-only-base"
    with pytest.raises(TypeError):
        AUTO_EMBEDDER_MAPPING["mine"] = m3  # read-only


def test_sentence_transformers_conveniences(only_bge, models):
    model = FlagAutoModel.from_finetuned(models["tiny-bert"], devices="cpu")
    assert model.get_sentence_embedding_dimension() == 32
    assert model.max_seq_length == 512
    model.max_seq_length = 8
    assert (model.query_max_length, model.passage_max_length) == (8, 8)
    with pytest.raises(ValueError, match="max_seq_length must be a positive integer"):
        model.max_seq_length = 0
    texts = ["the cat", "a dog", "the cat"]
    vectors = model.encode(texts)
    as_tensor = model.encode(texts, convert_to_tensor=True)
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_allclose(as_tensor.numpy(), vectors, atol=1e-6)
    assert isinstance(model.encode_queries(texts, convert_to_tensor=True, convert_to_numpy=True), torch.Tensor)
    similarity = model.similarity(vectors, vectors[:2])
    assert similarity.shape == (3, 2)
    np.testing.assert_allclose(similarity[2, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(similarity, vectors @ vectors[:2].T, atol=1e-6)  # normalised vectors: cosine = dot
    assert isinstance(model.similarity(as_tensor, as_tensor), torch.Tensor)
    assert model.similarity(vectors[0], vectors).shape == (1, 3)
    with pytest.raises(ValueError, match="same width"):
        model.similarity(vectors, vectors[:, :5])
    with pytest.raises(TypeError, match="convert_to_tensor must be True or False"):
        model.encode(texts, convert_to_tensor="yes")
    assert model.get_detailed_instruct("Instruct: {}\\nQuery: {}", "find", "cats") == "Instruct: find\nQuery: cats"


def test_rank_orders_documents_by_score(only_bge, models):
    reranker = FlagAutoReranker.from_finetuned(models["tiny-bert-reranker"], devices="cpu")
    documents = ["alpha beta", "gamma", "delta epsilon zeta", "eta"]
    scores = reranker.compute_score([("what", d) for d in documents])
    ranked = reranker.rank("what", documents)
    assert [r.index for r in ranked] == sorted(range(4), key=lambda i: -scores[i])
    assert all(isinstance(r, RankedDocument) for r in ranked)
    index, score = ranked[0]
    assert score == max(scores) and documents[index]
    assert reranker.rank("what", documents, top_k=2) == ranked[:2]
    assert reranker.rank("what", []) == []
    with pytest.raises(TypeError, match="documents must be a list of strings"):
        reranker.rank("what", "one document")
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        reranker.rank("what", documents, top_k=0)


def test_rank_with_several_cutoff_layers_asks_for_one(monkeypatch):
    from parity.tiny_layerwise import COMMITTED

    monkeypatch.setenv("FLAGCORE_LOAD_PLUGINS", "llm,layerwise")
    reranker = FlagAutoReranker.from_finetuned(COMMITTED / "tiny-minicpm-layerwise", devices="cpu",
                                               cutoff_layers=[2, 4])
    with pytest.raises(ValueError, match="one score per document.*cutoff_layers=28"):
        reranker.rank("q", ["a", "b"])
    assert [r.index for r in reranker.rank("q", ["a", "b"], cutoff_layers=4)] in ([0, 1], [1, 0])


def test_single_device_methods(only_bge, models):
    from flagcore import FlagModel, FlagReranker

    model = FlagModel(str(models["tiny-bert"]), devices="cpu")
    np.testing.assert_allclose(model.encode_single_device(["a b", "c"], device="cpu"), model.encode(["a b", "c"]),
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"device='cuda:1': this model runs on 'cpu'"):
        model.encode_single_device(["a"], device="cuda:1")
    reranker = FlagReranker(str(models["tiny-bert-reranker"]), devices="cpu")
    assert reranker.compute_score_single_gpu([("q", "p")]) == reranker.compute_score([("q", "p")])


def test_m3_single_device_score(monkeypatch, models):
    monkeypatch.setenv("FLAGCORE_LOAD_PLUGINS", "bge,m3")
    from flagcore import BGEM3FlagModel

    model = BGEM3FlagModel(str(models["tiny-m3"]), devices="cpu")
    pairs = [("what", "a b c"), ("who", "d e")]
    assert model.compute_score_single_device(pairs, device="cpu") == model.compute_score(pairs)


@pytest.mark.slow
def test_pool_methods_start_and_stop_the_workers(only_bge, models):
    from flagcore import FlagModel

    model = FlagModel(str(models["tiny-bert"]), devices=["cpu", "cpu"], batch_size=2)
    try:
        assert model.start_multi_process_pool() is model.device_pool is not None
        processes = model.device_pool.processes
        assert all(p.is_alive() for p in processes)
        texts = [f"text {i} " * (i + 1) for i in range(6)]
        with_pool = model.encode(texts)
        single = model.encode_single_device(texts)
        np.testing.assert_allclose(with_pool, single, atol=1e-6)
        model.stop_self_pool()
        assert model.device_pool is None
        for process in processes:
            process.join(5)
        assert not any(p.is_alive() for p in processes)
        pool = model.start_multi_process_pool(lambda *args: None)
        model.stop_multi_process_pool(pool)
        assert not pool.alive
    finally:
        model.close()
    assert FlagModel(str(models["tiny-bert"]), devices="cpu").start_multi_process_pool() is None
