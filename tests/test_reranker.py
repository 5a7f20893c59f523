from __future__ import annotations

import math

import pytest
from fakes import FakeReranker, reference_score

PAIRS = [
    ("what is a panda", "the giant panda is a bear native to china"),
    ("q", ""),
    ("a much longer query with many many words in it", "short"),
    ("hello", "world of words"),
    ("", "empty query"),
]


@pytest.fixture
def reranker():
    return FakeReranker("fake-model", devices="cpu", batch_size=2)


def test_scores_in_input_order(reranker):
    scores = reranker.compute_score(PAIRS)
    assert isinstance(scores, list) and all(type(s) is float for s in scores)
    assert scores == pytest.approx([reference_score(q, p) for q, p in PAIRS], abs=1e-5)
    assert reranker.model.forward_calls == 3


def test_one_pair_still_gives_a_list(reranker):
    for pair in (PAIRS[0], list(PAIRS[0])):
        scores = reranker.compute_score(pair)
        assert scores == pytest.approx([reference_score(*PAIRS[0])], abs=1e-5)


def test_normalize_applies_a_sigmoid(reranker):
    raw = reranker.compute_score(PAIRS)
    squashed = reranker.compute_score(PAIRS, normalize=True)
    assert squashed == pytest.approx([1 / (1 + math.exp(-x)) for x in raw], abs=1e-12)
    model = FakeReranker("fake-model", devices="cpu", normalize=True)
    assert model.compute_score(PAIRS) == pytest.approx(squashed, abs=1e-6)


def test_instructions_are_applied_before_tokenising():
    model = FakeReranker("fake-model", devices="cpu", query_instruction_for_rerank="A:",
                         query_instruction_format="{} {}", passage_instruction_for_rerank="B:",
                         passage_instruction_format="{} {}")
    assert model.compute_score(PAIRS[:1]) == pytest.approx(
        [reference_score("A: what is a panda", "B: the giant panda is a bear native to china")], abs=1e-5)


def test_max_lengths(reranker):
    long_query = " ".join(f"q{i}" for i in range(40))
    long_passage = " ".join(f"p{i}" for i in range(40))
    got = reranker.compute_score((long_query, long_passage), max_length=16)
    assert got == pytest.approx([reference_score(long_query, long_passage, max_length=16)], abs=1e-5)
    # query_max_length defaults to max_length * 3 // 4 and can be set
    ids = reranker.tokenize_pairs([(long_query, long_passage)], query_max_length=4, max_length=16)["input_ids"][0]
    assert len(ids) == 16


def test_empty_list_gives_an_empty_list(reranker):
    assert reranker.compute_score([]) == []
    assert reranker.model.forward_calls == 0


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (None, TypeError, "None"),
        ("just a string", TypeError, "pair"),
        ([("q", "p"), ("only one",)], ValueError, r"sentence_pairs\[1\] has 1 element"),
        ([("q", "p", "x")], ValueError, "3 element"),
        ([("q", None)], TypeError, r"sentence_pairs\[0\] passage is None"),
        ([(1, "p")], TypeError, r"sentence_pairs\[0\] query"),
        (["q", 2], TypeError, "passage"),
        ([("q", "p"), "qp"], TypeError, r"sentence_pairs\[1\]"),
        (42, TypeError, "pair"),
    ],
)
def test_bad_pairs(reranker, bad, error, match):
    with pytest.raises(error, match=match):
        reranker.compute_score(bad)


def test_unknown_arguments(reranker):
    with pytest.raises(TypeError, match="query_max_len"):
        FakeReranker("fake-model", devices="cpu", query_max_len=512)
    # FlagEmbedding's reranker README passes passage_max_length, which its rerankers ignore: accepted, with a warning
    with pytest.warns(UserWarning, match="passage_max_length=512 has no effect on a reranker"):
        FakeReranker("fake-model", devices="cpu", passage_max_length=512)
    with pytest.raises(TypeError, match="Accepted: .*max_length"):
        reranker.compute_score(PAIRS, max_len=3)


def test_cpu_runs_fp32(reranker):
    assert FakeReranker("fake-model", devices="cpu", use_fp16=True).compute_dtype == "float32"
