"""The stages of a call (prepare → run → finish → present), the typed results and the declared outputs: what every
front end relies on, on the weight-free fake family and on tiny real models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder, FakeReranker

from flagcore import FlagAutoModel, FlagAutoReranker
from flagcore.embedding_precision import quantize_embeddings
from flagcore.outputs import (
    DENSE,
    MULTI_VECTOR,
    SPARSE,
    TOKEN_EMBEDDINGS,
    Embeddings,
    EmbedWork,
    PairScores,
    PairWork,
)

TEXTS = ["a panda eats bamboo", "short", "the quick brown fox jumps over the lazy dog again and again", "red"]
PAIRS = [("what is a panda?", text) for text in TEXTS]


@pytest.fixture
def embedder():
    return FakeEmbedder("fake-model", devices="cpu", pooling_method="mean")


def test_prepare_tokenizes_and_runs_nothing(embedder):
    work = embedder.prepare_corpus(TEXTS)
    assert isinstance(work, EmbedWork) and work.rows == len(TEXTS) and not work.single
    assert work.columns["input_ids"][1] == embedder.tokenizer(["short"])["input_ids"][0]
    assert work.tokens == sum(len(ids) for ids in work.columns["input_ids"])
    assert embedder.model.forward_calls == 0


def test_a_public_call_is_its_stages(embedder):
    work = embedder.prepare_queries("a panda eats bamboo")
    ran = embedder.run(work)
    result = embedder.finish(work, ran)
    assert isinstance(result, Embeddings) and result.dense.shape == (1, 8) and result.sparse is None
    np.testing.assert_array_equal(embedder.present(work, result), result.dense[0])
    np.testing.assert_array_equal(embedder.present(work, result), embedder.encode_queries("a panda eats bamboo"))


def test_joined_works_give_the_rows_of_one_call_in_order(embedder):
    first, second = embedder.prepare_corpus(TEXTS[:3]), embedder.prepare_corpus(TEXTS[3:])
    joined = first.joined([second])
    assert joined.rows == len(TEXTS)
    result = embedder.infer(joined)
    np.testing.assert_allclose(result.dense, embedder.encode_corpus(TEXTS), atol=1e-6)
    np.testing.assert_allclose(result.rows(1, 3).dense, result.dense[1:3])
    assert len(result) == len(TEXTS)


def test_works_prepared_differently_are_not_joined(embedder):
    with pytest.raises(ValueError, match="same options"):
        embedder.prepare_corpus(TEXTS, convert_to_numpy=False).joined([embedder.prepare_corpus(TEXTS)])


def test_an_embedder_declares_its_outputs_and_refuses_others(embedder):
    assert embedder.available_outputs == frozenset({DENSE})
    assert embedder.infer(embedder.prepare_corpus(TEXTS, outputs={DENSE})).dense.shape == (4, 8)
    with pytest.raises(ValueError, match=r"FakeEmbedder gives \['dense'\] outputs, not \['sparse'\]"):
        embedder.prepare_corpus(TEXTS, outputs={SPARSE})
    with pytest.raises(ValueError, match="ask for some of"):
        embedder.prepare_corpus(TEXTS, outputs={"colbert"})


def test_an_empty_call_gives_typed_empty_rows(embedder):
    result = embedder.infer(embedder.prepare_corpus([]))
    assert result.dense.shape == (0, 8) and result.sparse is None and embedder.model.forward_calls == 0


def test_a_reranker_call_is_its_stages():
    reranker = FakeReranker("fake-model", devices="cpu")
    work = reranker.prepare_pairs(PAIRS, normalize=True)
    assert isinstance(work, PairWork) and work.rows == len(PAIRS) and reranker.model.forward_calls == 0
    scores = reranker.infer(work)
    assert isinstance(scores, PairScores) and scores.activated and len(scores) == len(PAIRS)
    assert scores.final == reranker.compute_score(PAIRS, normalize=True)
    assert all(0 < score < 1 for score in scores.final)
    raw = reranker.infer(reranker.prepare_pairs(PAIRS))
    assert [reranker.activate(score) for score in raw.final] == pytest.approx(scores.final)


def test_pair_scores_final_is_the_highest_layer():
    assert PairScores([[0.1, 0.9], [0.2, 0.3]]).final == [0.9, 0.3]


def test_the_engine_holds_devices_precision_and_budget(embedder):
    assert (embedder.device, embedder.compute_dtype) == (embedder.engine.device, "float32")
    embedder.max_batch_tokens = 64
    assert embedder.engine.batch_token_budget == embedder.batch_token_budget == 64


def test_m3_declares_sparse_and_multi_vector_and_front_ends_ask_by_name(tiny_models):
    m3 = FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices="cpu")
    assert m3.available_outputs == frozenset({DENSE, SPARSE, MULTI_VECTOR})
    library = m3.encode_corpus(TEXTS, return_dense=True, return_sparse=True, return_colbert_vecs=True)
    sparse = m3.infer(m3.prepare_corpus(TEXTS, outputs={SPARSE}))
    assert sparse.dense is None and sparse.multi_vector is None and sparse.sparse == library["lexical_weights"]
    both = m3.infer(m3.prepare_corpus(TEXTS, outputs={DENSE, MULTI_VECTOR}))
    np.testing.assert_allclose(both.dense, library["dense_vecs"], atol=1e-6)
    for mine, theirs in zip(both.multi_vector, library["colbert_vecs"], strict=True):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)
    assert m3.outputs_for_options({"return_sparse": True}) == frozenset({DENSE, SPARSE})


def test_m3_without_its_heads_declares_dense_only(tiny_models, tmp_path):
    path = tmp_path / "m3-without-heads"
    shutil.copytree(tiny_models["tiny-m3"], path)
    for head in ("colbert_linear.pt", "sparse_linear.pt"):
        (path / head).unlink()
    m3 = FlagAutoModel.from_finetuned(str(path), devices="cpu", model_class="encoder-only-m3")
    assert m3.available_outputs == frozenset({DENSE})
    with pytest.raises(ValueError, match=r"not \['sparse'\]"):
        m3.prepare_corpus(TEXTS, outputs={SPARSE})


def test_streams_prepare_ahead_and_complete_each_chunk(embedder):
    chunks = list(embedder.encode_corpus_stream(iter(TEXTS), chunk_size=3))
    assert [len(chunk) for chunk in chunks] == [3, 1]
    np.testing.assert_allclose(np.concatenate(chunks), embedder.encode_corpus(TEXTS), atol=1e-6)


def test_a_cross_encoder_reranker_scores_through_the_stages(tiny_models):
    reranker = FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu")
    scores = reranker.infer(reranker.prepare_pairs(PAIRS))
    assert scores.final == pytest.approx(reranker.compute_score(PAIRS), abs=1e-6)


QUANTIZED = Path(__file__).parent / "st_format" / "quantized.npz"


@pytest.mark.parametrize("case", ["int8", "uint8", "binary", "ubinary", "int8-calibration", "uint8-calibration",
                                  "int8-ranges", "uint8-ranges"])
def test_quantized_embeddings_match_sentence_transformers(case):
    reference = np.load(QUANTIZED)
    precision, _, source = case.partition("-")
    given = {"calibration": {"calibration": reference["calibration"]}, "ranges": {"ranges": reference["ranges"]},
             "": {}}[source]
    mine = quantize_embeddings(reference["embeddings"], precision, **given)
    assert mine.dtype == reference[case].dtype
    np.testing.assert_array_equal(mine, reference[case])


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_encode_precision_quantizes_the_calls_own_vectors(embedder, precision):
    floats = embedder.encode_corpus(TEXTS)
    quantized = embedder.encode_corpus(TEXTS, precision=precision)
    np.testing.assert_array_equal(quantized, quantize_embeddings(floats, precision))
    width = 1 if precision.endswith("binary") else 8  # 8 dimensions: one packed byte
    assert quantized.shape == (len(TEXTS), width)


def test_encode_precision_with_given_ranges_and_bad_values(embedder):
    ranges = np.vstack((np.full(8, -1.0), np.full(8, 1.0)))
    quantized = embedder.encode_corpus(TEXTS, precision="uint8", ranges=ranges)
    np.testing.assert_array_equal(quantized, quantize_embeddings(embedder.encode_corpus(TEXTS), "uint8", ranges))
    with pytest.raises(ValueError, match="precision must be one of"):
        embedder.encode_corpus(TEXTS, precision="int4")
    with pytest.raises(ValueError, match=r"ranges must have shape \(2, 8\)"):
        embedder.encode_corpus(TEXTS, precision="int8", ranges=np.zeros((2, 3)))


def test_prompt_name_picks_a_declared_prompt_and_refuses_others(tmp_path):
    folder = Path(__file__).parent / "st_format" / "models"
    with_prompts = next(path for path in sorted(folder.iterdir())
                        if '"prompts"' in (path / "config_sentence_transformers.json").read_text()
                        and json.loads((path / "config_sentence_transformers.json").read_text())["prompts"])
    model = FlagAutoModel.from_finetuned(str(with_prompts), devices="cpu")
    name, prompt = next(iter(model.prompts.items()))
    np.testing.assert_allclose(model.encode(TEXTS, prompt_name=name),
                               model.encode(TEXTS, instruction=prompt), atol=1e-6)
    with pytest.raises(ValueError, match=r"has no prompt of that name \(its prompts are \["):
        model.encode(TEXTS, prompt_name="no-such-prompt")


def test_token_embeddings_are_the_transformers_vectors_of_every_real_token(tiny_models):
    model = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu")
    assert TOKEN_EMBEDDINGS in model.available_outputs and MULTI_VECTOR not in model.available_outputs
    result = model.infer(model.prepare_corpus(TEXTS, outputs={DENSE, TOKEN_EMBEDDINGS}))
    np.testing.assert_allclose(result.dense, model.encode_corpus(TEXTS), atol=1e-6)
    ids = model.tokenizer(TEXTS)["input_ids"]
    assert [len(vectors) for vectors in result.token_embeddings] == [len(row) for row in ids]
    import torch

    with torch.inference_mode():
        states = model.model(input_ids=torch.tensor([ids[1]])).last_hidden_state[0].numpy()
    np.testing.assert_allclose(result.token_embeddings[1], states, atol=1e-5)


def test_quantizing_nothing_gives_an_empty_array_of_the_packed_width(embedder):
    assert embedder.encode_corpus([], precision="int8").shape == (0, 8)
    packed = embedder.encode_corpus([], precision="ubinary")
    assert packed.shape == (0, 1) and packed.dtype == np.uint8
    with pytest.raises(ValueError, match="one embedding does not give"):
        embedder.encode_corpus(["one text"], precision="int8")


def test_side_texts_are_what_the_tokenizer_gets():
    model = FakeEmbedder("fake-model", devices="cpu", query_instruction_for_retrieval="Q: ",
                         passage_instruction_for_retrieval="P: ", passage_instruction_format="{}<{}>")
    assert model.side_texts(["a", "b"], query=True) == ["Q: a", "Q: b"]
    assert model.side_texts(["a"], query=False) == ["P: <a>"]
    work = model.prepare_corpus(["a"])
    assert work.columns["input_ids"][0] == model.tokenizer(["P: <a>"])["input_ids"][0]


def test_quantized_rows_come_back_as_tensors_when_tensors_are_asked_for(embedder):
    import torch

    quantized = embedder.encode_corpus(TEXTS, precision="uint8", convert_to_numpy=False)
    assert isinstance(quantized, torch.Tensor) and quantized.dtype == torch.uint8
    np.testing.assert_array_equal(quantized.numpy(), embedder.encode_corpus(TEXTS, precision="uint8"))


def test_a_model_of_the_other_kind_is_named_with_its_factory(tiny_models):
    from flagcore import UnknownModelError

    with pytest.raises(UnknownModelError, match=r"It is an embedder \(encoder-only-base.*FlagAutoModel.from_finetuned"):
        FlagAutoReranker.from_finetuned(str(tiny_models["minilm"]), devices="cpu")
    with pytest.raises(UnknownModelError, match=r"It is a reranker .*FlagAutoReranker.from_finetuned.*--kind reranker"):
        FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu")
