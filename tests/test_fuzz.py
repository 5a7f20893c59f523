"""Property-based tests (hypothesis) of every public call on tiny models: the embedders' ``encode`` /
``encode_queries`` / ``encode_corpus`` (encoder, BGE-M3, LLM, ICL) with random constructor arguments, ``similarity``
and ``get_detailed_instruct``, BGE-M3's ``compute_score`` and helpers (``compute_lexical_matching_score``,
``colbert_score``, ``convert_id_to_token``), every reranker's ``compute_score`` and ``rank``, the ICL embedder's
``set_examples``, ``flagcore.explain`` (on generated model directories too) and the CLI's ``encode``.

No input is left out for a known bug: those the fuzzing found are fixed, each with a regression test in
``tests/test_input_edges_core.py`` or ``tests/test_input_edges_families.py``.

The property (``tests/fuzz/harness.py``): a documented result, or a documented exception with a message; valid input
is never refused and invalid input never accepted. The default suite runs a few examples per call, the same ones every
time; ``FLAGCORE_FUZZ_EXAMPLES=N`` runs N random examples per call and ``nox -s fuzz`` runs 10,000 and writes the
figures to docs/reliability.md. Models are built once per session and constructor variants are cached.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import numbers
import os
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fuzz import strategies as s
from fuzz.harness import FIGURES_ENV, Figures, Raised, exercise, is_documented, run
from hypothesis import strategies as st

from flagcore import Claim, FlagAutoModel, FlagAutoReranker, PoolingMethod, explain
from flagcore.claims import MAX_SCORE

CACHED_MODELS = 48  # constructor variants kept loaded (the tiny models take ~4 MB each)


# -- models -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def fuzz_paths(tiny_models, tmp_path_factory):
    from parity.tiny_decoders import build
    from parity.tiny_layerwise import COMMITTED

    decoders = build(tmp_path_factory.mktemp("fuzz-decoders"), ("tiny-llama", "tiny-mistral", "tiny-qwen3",
                                                                 "tiny-gemma"))
    layerwise = {role: COMMITTED / role for role in ("tiny-minicpm-layerwise", "tiny-gemma2-lightweight")}
    return {**tiny_models, **decoders, **layerwise}


class ModelCache:
    """``from_finetuned`` once per distinct set of arguments (the last CACHED_MODELS kept); failures are not cached,
    they are raised again on every call (most fail before any weights are read)."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths
        self.models: OrderedDict[tuple, Any] = OrderedDict()
        # the factories as they are now (the CLI test replaces FlagAutoModel.from_finetuned with this cache)
        self.builders = {FlagAutoModel: FlagAutoModel.from_finetuned, FlagAutoReranker: FlagAutoReranker.from_finetuned}

    def get(self, factory: Any, role: str, **kwargs: Any) -> Any:
        key = (factory.__name__, role, repr(sorted(kwargs.items(), key=lambda kv: kv[0])))
        if key in self.models:
            self.models.move_to_end(key)
            return self.models[key]
        # one CPU device: several would start a worker process per device for every variant
        model = self.builders[factory](str(self.paths[role]), devices="cpu", **kwargs)
        self.models[key] = model
        while len(self.models) > CACHED_MODELS:
            self.models.popitem(last=False)
        return model


@pytest.fixture(scope="session")
def models(fuzz_paths):
    return ModelCache(fuzz_paths)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and on a busy machine threads waiting on each other made a
    3,000-text batch take seconds: each example runs on one thread (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def figures():
    recorded = Figures()
    yield recorded
    path = os.environ.get(FIGURES_ENV, "").strip()
    if path:
        recorded.write(path)


# -- result checks ------------------------------------------------------------------------------------------------
def check_dense(result: Any, *, count: int, single: bool, dim: int, to_numpy: bool, normalized: bool) -> None:
    if to_numpy:
        assert isinstance(result, np.ndarray), f"expected a numpy array, got {type(result).__name__}"
        array = result
    else:
        assert isinstance(result, torch.Tensor), f"expected a tensor, got {type(result).__name__}"
        array = result.detach().cpu().numpy()
    assert array.dtype == np.float32, array.dtype
    expected = (dim,) if single else (count, dim)
    assert array.shape == expected, f"shape {array.shape}, expected {expected}"
    assert np.isfinite(array).all(), "non-finite values in the embeddings"
    if normalized and array.size:
        norms = np.linalg.norm(array.reshape(-1, dim).astype(np.float64), axis=1)
        assert np.all((np.abs(norms - 1) < 1e-3) | (norms == 0)), f"not unit vectors: {norms}"


def check_m3_output(result: Any, *, count: int, single: bool, dim: int, colbert_dim: int, modes: dict[str, bool],
                    to_numpy: bool, normalized: bool) -> None:
    assert isinstance(result, dict), f"expected a dict, got {type(result).__name__}"
    assert set(result) == {"dense_vecs", "lexical_weights", "colbert_vecs"}, sorted(result)
    if modes["return_dense"]:
        check_dense(result["dense_vecs"], count=count, single=single, dim=dim, to_numpy=to_numpy,
                    normalized=normalized)
    else:
        assert result["dense_vecs"] is None
    lexical, colbert = result["lexical_weights"], result["colbert_vecs"]
    if modes["return_sparse"]:
        items = [lexical] if single else lexical
        assert isinstance(items, list) and len(items) == count, f"lexical weights: {type(items).__name__}"
        for weights in items:
            assert isinstance(weights, dict)
            for key, value in weights.items():
                assert isinstance(key, str) and key.isdigit(), repr(key)
                assert type(value) is float and math.isfinite(value) and value > 0, repr(value)
    else:
        assert lexical is None
    if modes["return_colbert_vecs"]:
        items = [colbert] if single else colbert
        assert isinstance(items, list) and len(items) == count, f"ColBERT vectors: {type(items).__name__}"
        for vectors in items:
            assert isinstance(vectors, np.ndarray) and vectors.dtype == np.float32, type(vectors)
            assert vectors.ndim == 2 and vectors.shape[1] == colbert_dim, vectors.shape
            assert np.isfinite(vectors).all(), "non-finite ColBERT vectors"
            if normalized and vectors.size:
                norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
                assert np.all(np.abs(norms - 1) < 1e-3), norms
    else:
        assert colbert is None


def check_scores(result: Any, *, count: int, normalize: bool, layers: int = 1) -> None:
    assert isinstance(result, list), f"expected a list, got {type(result).__name__}"
    if count == 0:
        assert result == [], result
        return
    rows = [result] if layers == 1 else result
    assert len(rows) == layers, f"{len(rows)} score lists for {layers} cutoff layers"
    for row in rows:
        assert isinstance(row, list) and len(row) == count, f"{type(row).__name__} of {len(row)} for {count} pairs"
        for score in row:
            assert type(score) is float and math.isfinite(score), repr(score)
            if normalize:
                assert 0.0 <= score <= 1.0, score


def inputs_validity(inputs: s.Inputs, args: s.Args, *ctor: bool | None) -> bool | None:
    """Invalid call arguments must be refused, except with no input at all: an empty call returns before reading
    batch_size or pad_to_multiple_of (only the texts and flags are checked then)."""
    call = args.valid
    if inputs.count == 0 and inputs.valid and call is False:
        call = None
    return s.join_validity(inputs.valid, call, *ctor)


def maybe(strategy: Any, every: int = 4) -> Any:
    """``strategy`` once in ``every`` draws, otherwise no arguments at all (shrinks to no arguments)."""
    return st.integers(0, every - 1).flatmap(lambda k: strategy if k == every - 1 else st.just(s.Args({}, True)))


# -- embedders ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EmbedderFamily:
    roles: tuple[str, ...]
    hidden: int
    limit: int  # the largest max_length drawn
    pooling: tuple[Any, ...]
    bad_pooling: tuple[Any, ...]
    pad: s.Arg = s.PAD_TO_MULTIPLE_OF
    low: int = 1  # the smallest token limit drawn
    fixed: dict = field(default_factory=dict)  # always passed to from_finetuned
    ctor_extra: dict = field(default_factory=dict)
    call_extra: dict = field(default_factory=dict)


M3_MODES = {"return_dense": s.Arg(good=st.one_of(st.booleans(), st.none())),
            "return_sparse": s.Arg(good=st.one_of(st.booleans(), st.none())),
            "return_colbert_vecs": s.Arg(good=st.one_of(st.booleans(), st.none()))}
ICL_EXAMPLES = [None, [], [{"instruct": "Given a question", "query": "what is 北京", "response": "the capital"}],
                [{"query": "q", "response": "r"}] * 3]
EMBEDDERS = {
    "bge": EmbedderFamily(("tiny-bert", "tiny-xlmr"), 32, 600, ("cls", "mean", PoolingMethod.CLS),
                          ("last_token", "max", "CLS", 5), low=s.ENCODER_MIN_LENGTH),
    # XLM-R numbers the positions of padding apart: any pad_to_multiple_of runs
    "m3": EmbedderFamily(("tiny-m3",), 32, 600, ("cls", "mean", "last_token"), ("max", ""), low=s.ENCODER_MIN_LENGTH,
                         ctor_extra={"return_sparse": s.Arg(good=st.booleans()),
                                     "return_colbert_vecs": s.Arg(good=st.booleans()),
                                     "colbert_dim": s.Arg(good=st.sampled_from([-1, 0, 32]),
                                                          bad=st.sampled_from([16, 64]))},
                         call_extra=M3_MODES),
    # rotary positions: any length runs; 1024 keeps the attention cost of one example in milliseconds
    "llm": EmbedderFamily(("tiny-llama", "tiny-qwen3"), 64, 1024, ("last_token",), ("cls", "mean")),
    "icl": EmbedderFamily(("tiny-mistral",), 64, 1024, ("last_token",), ("cls",),
                          fixed={"model_class": "decoder-only-icl"},
                          ctor_extra={"suffix": s.Arg(good=st.sampled_from(["\n<response>", "", " \u05e9 "]),
                                                      bad=st.just(5)),
                                      "examples_for_task": s.Arg(good=st.sampled_from(ICL_EXAMPLES),
                                                                 bad=st.sampled_from(["q", {"query": "q"}])),
                                      "examples_instruction_format": s.Arg(
                                          good=st.sampled_from(["<instruct>{}\n<query>{}\n<response>{}", "{}{}{}"]),
                                          bad=st.sampled_from(["{}{}", "{}", "{0}{0}{1}"]))}),
}
METHODS = ("encode", "encode_queries", "encode_corpus")


def embedder_case(family: EmbedderFamily, method: str) -> Any:
    ctor_table = {**s.embedder_ctor_table(family.hidden, min(family.limit, 512), family.pooling, family.bad_pooling,
                                          family.low),
                  "convert_to_numpy": s.Arg(good=st.booleans()), **family.ctor_extra}
    call_table = {**s.encode_table(family.limit, instruction=method == "encode", pad=family.pad, low=family.low),
                  **family.call_extra}
    if method != "encode":  # the instruction is the model's: passing one is a TypeError
        call_table["instruction"] = s.Arg(bad=s.INSTRUCTIONS)
    return st.tuples(st.sampled_from(family.roles), maybe(s.arguments(ctor_table)), s.sentences(),
                     s.arguments(call_table))


def _ctor_valid(family_name: str, ctor: s.Args) -> bool | None:
    valid = ctor.valid
    if family_name == "icl" and "examples_for_task" in ctor.kwargs and ctor.kwargs["examples_for_task"] not in (
            None, []):
        # examples without 'instruct' need query_instruction_for_retrieval
        examples = ctor.kwargs["examples_for_task"]
        if isinstance(examples, list) and any("instruct" not in e for e in examples) and \
                ctor.kwargs.get("query_instruction_for_retrieval") is None:
            valid = False
    return valid


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family_name", list(EMBEDDERS))
def test_embedder_calls(family_name, method, models, figures):
    family = EMBEDDERS[family_name]
    call = figures.call(f"{family_name}.{method}")

    def body(case: tuple) -> None:
        role, ctor, inputs, args = case
        kwargs = dict(args.kwargs)

        def fn() -> tuple[Any, Any]:
            model = models.get(FlagAutoModel, role, **family.fixed, **ctor.kwargs)
            return model, getattr(model, method)(inputs.value, **kwargs)

        ctor_valid = _ctor_valid(family_name, ctor)
        call_valid = inputs_validity(inputs, args, ctor_valid)
        if "instruction_format" in args.invalid and kwargs.get("instruction") is None:
            call_valid = s.join_validity(inputs.valid, ctor_valid, None)  # the format is only read with an instruction
        truncate_dim = ctor.kwargs.get("truncate_dim")
        modes = None
        if family_name == "m3":
            modes = {name: bool(kwargs[name]) if kwargs.get(name) is not None else bool(
                ctor.kwargs.get(name, name == "return_dense")) for name in M3_MODES}
            if not any(modes.values()):
                call_valid = s.join_validity(call_valid, False)
        if family_name == "icl" and method == "encode_queries" and inputs.valid and inputs.count and \
                isinstance(kwargs.get("max_length"), numbers.Integral) and kwargs["max_length"] < 16:
            call_valid = s.join_validity(call_valid, None)  # no room left for the query once the suffix is counted
        if family_name == "icl" and "query_max_length" in ctor.kwargs and method == "encode_queries":
            call_valid = s.join_validity(call_valid, None)
        outcome = exercise(call, fn, valid=call_valid)
        if isinstance(outcome, Raised):
            return
        model, result = outcome
        dim = min(family.hidden, truncate_dim) if isinstance(truncate_dim, int) else family.hidden
        to_numpy = kwargs.get("convert_to_numpy")
        to_numpy = model.convert_to_numpy if to_numpy is None else bool(to_numpy)
        if family_name == "m3":
            check_m3_output(result, count=inputs.count, single=inputs.single, dim=dim, colbert_dim=dim, modes=modes,
                            to_numpy=to_numpy, normalized=model.normalize_embeddings)
        else:
            check_dense(result, count=inputs.count, single=inputs.single, dim=dim, to_numpy=to_numpy,
                        normalized=model.normalize_embeddings)

    run(call, embedder_case(family, method), body)


# -- ICL examples -------------------------------------------------------------------------------------------------
well_formed = st.fixed_dictionaries({"query": s.short_texts, "response": s.short_texts},
                                    optional={"instruct": s.short_texts, "extra": s.short_texts})
examples_items = st.fixed_dictionaries({}, optional={
    "instruct": st.one_of(s.short_texts, st.integers(), st.none()), "query": st.one_of(s.short_texts, st.none()),
    "response": st.one_of(s.short_texts, st.binary(max_size=3)), "extra": s.short_texts})
icl_examples = st.one_of(
    st.none(), st.lists(well_formed, max_size=4), st.lists(well_formed, max_size=4).map(tuple),
    st.lists(examples_items, max_size=4), st.lists(st.one_of(well_formed, s.bad_items), min_size=1, max_size=3),
    s.short_texts, examples_items, st.integers(),
)


def examples_validity(examples: Any, has_instruction: bool) -> bool:
    if examples is None:
        return True
    if isinstance(examples, (str, dict)) or not isinstance(examples, (list, tuple)):
        return False
    for example in examples:
        if not isinstance(example, dict):
            return False
        required = ["query", "response"] + ([] if has_instruction else ["instruct"])
        if any(key not in example for key in required):
            return False
        if any(key in example and not isinstance(example[key], str) for key in ("instruct", "query", "response")):
            return False
    return True


def test_icl_set_examples(models, figures):
    call = figures.call("icl.set_examples")
    instructions = st.sampled_from([None, "Given a web search query, retrieve relevant passages"])

    def body(case: tuple) -> None:
        instruction, examples, query = case
        model = models.get(FlagAutoModel, "tiny-mistral", model_class="decoder-only-icl",
                           query_instruction_for_retrieval=instruction)
        try:
            # the query after the examples: the prefix they make must tokenise and run
            outcome = exercise(call, lambda: (model.set_examples(examples), model.encode_queries(query))[1],
                               valid=examples_validity(examples, instruction is not None))
        finally:
            model.set_examples(None)
        if not isinstance(outcome, Raised):
            check_dense(outcome, count=1, single=True, dim=64, to_numpy=True, normalized=True)

    run(call, st.tuples(instructions, icl_examples, s.short_texts), body)


# -- BGE-M3 scores and helpers ------------------------------------------------------------------------------------
M3_SCORE_KEYS = {"colbert", "sparse", "dense", "sparse+dense", "colbert+sparse+dense"}


def test_m3_compute_score(models, figures):
    call = figures.call("m3.compute_score")
    table = {"batch_size": s.BATCH_SIZE,
             "max_query_length": s.Arg(good=st.one_of(s.ints(s.ENCODER_MIN_LENGTH, 600), st.none()),
                                       bad=s.NOT_POSITIVE_INT),
             "max_passage_length": s.Arg(good=st.one_of(s.ints(s.ENCODER_MIN_LENGTH, 600), st.none()),
                                         bad=s.NOT_POSITIVE_INT),
             "weights_for_different_modes": s.M3_WEIGHTS,
             "pad_to_multiple_of": s.PAD_TO_MULTIPLE_OF,
             "return_dense": s.Arg(bad=st.booleans())}  # compute_score asks for every output itself

    def body(case: tuple) -> None:
        pairs, args = case
        model = models.get(FlagAutoModel, "tiny-m3")
        valid = inputs_validity(pairs, args)
        if "weights_for_different_modes" in args.invalid:
            valid = False  # checked before the empty answer
        result = exercise(call, lambda: model.compute_score(pairs.value, **args.kwargs), valid=valid)
        if isinstance(result, Raised):
            return
        assert isinstance(result, dict) and set(result) == M3_SCORE_KEYS, result
        for key, value in result.items():
            values = [value] if pairs.single else value
            assert isinstance(values, list) and len(values) == pairs.count, (key, value)
            for score in values:
                assert isinstance(score, float) and math.isfinite(score), (key, score)
                if key in ("dense", "colbert"):
                    assert -1.001 <= score <= 1.001, (key, score)
                if key == "sparse":
                    assert score >= 0, score

    run(call, st.tuples(s.sentence_pairs(), s.arguments(table)), body)


def test_m3_compute_lexical_matching_score(models, figures):
    call = figures.call("m3.compute_lexical_matching_score")
    odd_values = st.dictionaries(s.lexical_keys, st.one_of(st.floats(allow_nan=True), st.text(max_size=2),
                                                           st.none()), min_size=1, max_size=3)
    sides = st.one_of(
        s.lexical_dicts.map(lambda d: ("dict", d)), s.lexical_lists.map(lambda d: ("list", d)),
        s.lexical_lists.map(lambda d: ("list", tuple(d))), odd_values.map(lambda d: ("odd", d)),
        st.one_of(st.none(), s.texts, st.integers(), st.lists(st.integers(), min_size=1, max_size=2),
                  s.lexical_lists.map(iter)).map(lambda d: ("bad", d)),
    )

    def body(case: tuple) -> None:
        (kind_a, a), (kind_b, b) = case
        model = models.get(FlagAutoModel, "tiny-m3")
        kinds = {kind_a, kind_b}
        if "bad" in kinds or kinds == {"dict", "list"} or kinds == {"odd", "list"}:
            valid: bool | None = False
        elif "odd" in kinds:
            valid = None
        else:
            valid = True
        result = exercise(call, lambda: model.compute_lexical_matching_score(a, b), valid=valid)
        if isinstance(result, Raised):
            return
        if kind_a == "list":
            assert isinstance(result, np.ndarray), type(result)
            assert result.shape == (len(a), len(b)), f"shape {result.shape} for {len(a)} x {len(b)} weights"
            assert np.isfinite(result).all()
        elif valid:
            assert isinstance(result, float) and math.isfinite(result), result

    dicts = s.lexical_dicts.map(lambda d: ("dict", d))
    lists = st.one_of(s.lexical_lists.map(lambda d: ("list", d)), s.lexical_lists.map(lambda d: ("list", tuple(d))))
    cases = st.one_of(st.tuples(dicts, dicts), st.tuples(lists, lists), st.tuples(sides, sides))
    run(call, cases, body)


def _colbert_reference(q: np.ndarray, p: np.ndarray) -> float:
    if len(q) == 0 or len(p) == 0:
        return 0.0
    return float((q.astype(np.float64) @ p.astype(np.float64).T).max(axis=1).mean())


def test_m3_colbert_score(models, figures):
    call = figures.call("m3.colbert_score")
    element = st.floats(-100, 100, width=32)
    matrices = st.tuples(st.integers(0, 6), st.integers(1, 6)).flatmap(
        lambda shape: st.lists(st.lists(element, min_size=shape[1], max_size=shape[1]), min_size=shape[0],
                               max_size=shape[0]).map(lambda rows: np.array(rows, dtype=np.float32).reshape(shape)))
    as_type = st.sampled_from(["numpy", "float64", "tensor", "list"])
    # not finite as float32: too large for any float (10**400), past float32's range, an infinity or NaN
    huge = st.sampled_from([10**400, -10**400, 10**40, -10**40, 2**128, 1e39, math.inf, -math.inf, math.nan])
    one_huge_row = st.tuples(st.lists(element, max_size=3), huge, st.integers(0, 3)).map(
        lambda t: [t[0][:t[2]] + [t[1]] + t[0][t[2]:]])
    odd = st.one_of(
        st.lists(element, max_size=4).map(np.array), st.just(np.zeros((2, 2, 2))), st.none(), s.texts, st.integers(),
        st.just([[1.0], [1.0, 2.0]]), st.just([["a", "b"]]), st.just([[{}]]),
        one_huge_row, st.sampled_from([np.array([[1e39, 0.0]]), np.array([[np.nan]], dtype=np.float32)]),
        st.just(None).map(lambda _: torch.tensor([[math.inf, 1.0]])),
    )

    def convert(matrix: np.ndarray, how: str) -> Any:
        return {"numpy": matrix, "float64": matrix.astype(np.float64), "tensor": torch.from_numpy(matrix),
                "list": matrix.tolist()}[how]

    def body(case: tuple) -> None:
        (q, p), (q_how, p_how), odd_side = case
        model = models.get(FlagAutoModel, "tiny-m3")
        a, b = convert(q, q_how), convert(p, p_how)
        valid: bool | None = q.shape[1] == p.shape[1]
        if (q_how == "list" and q.shape[0] == 0) or (p_how == "list" and p.shape[0] == 0):
            valid = None  # [] has no width: refused as not 2-D
        if odd_side is not None:
            which, value = odd_side
            a, b = (value, b) if which == 0 else (a, value)
            valid = False
        result = exercise(call, lambda: model.colbert_score(a, b), valid=valid)
        if isinstance(result, Raised):
            return
        assert isinstance(result, float) and math.isfinite(result), result
        assert math.isclose(result, _colbert_reference(q, p), rel_tol=1e-4, abs_tol=1e-2), (
            result, _colbert_reference(q, p))

    def same_width(width: int) -> Any:
        return st.integers(0, 6).flatmap(lambda n: st.lists(st.lists(element, min_size=width, max_size=width),
                                                            min_size=n, max_size=n).map(
            lambda rows: np.array(rows, dtype=np.float32).reshape(n, width)))

    pairs = st.one_of(st.integers(1, 8).flatmap(lambda w: st.tuples(same_width(w), same_width(w))),
                      st.tuples(matrices, matrices))
    run(call, st.tuples(pairs, st.tuples(as_type, as_type), st.one_of(st.none(), st.none(), st.tuples(
        st.integers(0, 1), odd))), body)


def test_m3_convert_id_to_token(models, figures):
    call = figures.call("m3.convert_id_to_token")
    model = models.get(FlagAutoModel, "tiny-m3")
    vocab = len(model.tokenizer)
    ids = st.integers(0, vocab - 1).map(str)
    good_dicts = st.dictionaries(ids, st.floats(0, 10), max_size=8)
    odd_keys = st.one_of(st.sampled_from([" 5 ", "\u0665", "+3", "1_0"]), s.short_texts)
    odd_dicts = st.dictionaries(odd_keys, st.floats(0, 10), min_size=1, max_size=3)
    # ids outside the vocabulary (below 0, at or above its size, past 2**32 and 2**64): refused
    outside = st.one_of(st.integers(max_value=-1), st.integers(min_value=vocab), st.sampled_from([2**32, 2**64]))
    outside_dicts = st.tuples(good_dicts, outside.map(str), st.floats(0, 10)).map(lambda t: {**t[0], t[1]: t[2]})
    weights = st.one_of(
        good_dicts.map(lambda d: (True, d)), st.lists(good_dicts, max_size=4).map(lambda d: (True, d)),
        odd_dicts.map(lambda d: (None, d)), outside_dicts.map(lambda d: (False, d)),
        st.tuples(st.lists(good_dicts, max_size=2), outside_dicts).map(lambda t: (False, [*t[0], t[1]])),
        st.one_of(st.none(), s.texts, st.integers(), st.tuples(good_dicts), st.lists(st.integers(), min_size=1,
                                                                                      max_size=2)
                  ).map(lambda d: (False, d)),
    )

    def body(case: tuple) -> None:
        valid, value = case
        result = exercise(call, lambda: model.convert_id_to_token(value), valid=valid)
        if isinstance(result, Raised):
            return
        # a dict for a dict, and (as FlagEmbedding returns it) for a list of one dict
        one = isinstance(value, dict) or len(value) == 1
        items = [result] if one else result
        sources = [value] if isinstance(value, dict) else value
        assert isinstance(items, list) and len(items) == len(sources)
        for decoded, source in zip(items, sources, strict=True):
            assert isinstance(decoded, dict) and len(decoded) <= len(source)
            assert all(isinstance(k, str) for k in decoded)
            if source:
                assert max(decoded.values()) == max(source.values())

    run(call, weights, body)


# -- rerankers ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RerankerFamily:
    roles: tuple[str, ...]
    limit: int
    ctor_extra: dict = field(default_factory=dict)
    call_extra: dict = field(default_factory=dict)
    cutoff_choices: tuple[int, ...] = ()
    pad: s.Arg = s.PAD_TO_MULTIPLE_OF


# the prompt is never truncated (as in FlagEmbedding): a 7,000-character prompt is a 15,000-token sequence, seconds
# of attention on a CPU; prompts are short here
PROMPTS = s.Arg(good=st.one_of(st.none(), s.short_texts, s.whitespace_only),
                bad=st.one_of(st.integers(), st.binary(max_size=3)))
# None: the constructor's cutoff_layers
CUTOFF_GOOD = st.one_of(st.integers(2, 4), st.lists(st.integers(0, 6), min_size=1, max_size=4).filter(
    lambda c: any(2 <= x <= 4 for x in c)), st.tuples(st.integers(2, 4), st.integers(2, 4)), st.none())
CUTOFF_BAD = st.one_of(st.just([]), st.lists(st.integers(5, 40), min_size=1, max_size=2), st.integers(-3, 1),
                       st.sampled_from(["2", [True], 2.0, [2.0], None if False else {"layers": 2}, [[2]]]))
COMPRESS_LAYERS = s.Arg(good=st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), max_size=3)),
                        bad=st.one_of(st.integers(4, 9), st.just(-1), st.lists(st.integers(4, 9), min_size=1,
                                                                                 max_size=2), st.just("1")))
COMPRESS_RATIO = s.Arg(good=st.one_of(st.integers(1, 8), st.sampled_from([1.0, 2.0])),
                       bad=st.one_of(st.integers(-3, 0), st.sampled_from([1.5, "2", True, float("nan")])))
RERANKERS = {
    "cross_encoder": RerankerFamily(("tiny-bert-reranker", "tiny-xlmr-reranker"), 600,
                                    call_extra={"prompt": s.Arg(bad=s.texts)}),
    "llm_reranker": RerankerFamily(("tiny-llama", "tiny-gemma"), 1024,
                                   ctor_extra={"prompt": s.Arg(good=st.sampled_from([None, "", "Yes?", "\u05e9 {}"]),
                                                               bad=st.just(5))},
                                   call_extra={"prompt": PROMPTS}),
    "layerwise": RerankerFamily(("tiny-minicpm-layerwise",), 1024,
                                ctor_extra={"cutoff_layers": s.Arg(good=st.sampled_from([2, [3, 4], (2, 3, 4), [1, 4]]),
                                                                   bad=st.sampled_from([[], 9, "2"]))},
                                call_extra={"prompt": PROMPTS, "cutoff_layers": s.Arg(good=CUTOFF_GOOD,
                                                                                      bad=CUTOFF_BAD)},
                                cutoff_choices=(2, 3, 4)),
    "lightweight": RerankerFamily(("tiny-gemma2-lightweight",), 1024,
                                  ctor_extra={"cutoff_layers": s.Arg(good=st.sampled_from([3, [2, 4]]),
                                                                     bad=st.just([])),
                                              "compress_ratio": s.Arg(good=st.sampled_from([1, 2, 4]),
                                                                      bad=st.just(0)),
                                              "compress_layers": s.Arg(good=st.sampled_from([1, [1, 2]]),
                                                                       bad=st.just([5]))},
                                  call_extra={"prompt": PROMPTS,
                                              "cutoff_layers": s.Arg(good=CUTOFF_GOOD, bad=CUTOFF_BAD),
                                              "compress_ratio": COMPRESS_RATIO, "compress_layers": COMPRESS_LAYERS,
                                              # the deprecated spelling: the same values and checks
                                              "compress_layer": s.Arg(good=st.one_of(COMPRESS_LAYERS.good, st.none()),
                                                                      bad=COMPRESS_LAYERS.bad)},
                                  cutoff_choices=(2, 3, 4)),
}


def reranker_case(family: RerankerFamily) -> Any:
    formats = s.Arg(good=st.sampled_from(["{}{}", "{}: {}", "{1}"]), bad=st.sampled_from(["{}", "{0.real}{1}"]))
    ctor_table = {
        "normalize": s.Arg(good=st.booleans(), bad=st.sampled_from(["yes", 1])),
        "query_instruction_for_rerank": s.Arg(good=s.CTOR_INSTRUCTIONS),
        "passage_instruction_for_rerank": s.Arg(good=s.CTOR_INSTRUCTIONS),
        "query_instruction_format": formats, "passage_instruction_format": formats,
        "max_length": s.Arg(good=st.sampled_from([1, 8, 64, 512]), bad=st.sampled_from([0, -4, "8"])),
        "query_max_length": s.Arg(good=st.sampled_from([1, 8]), bad=st.sampled_from([0, 2.5])),
        "batch_size": s.Arg(good=st.sampled_from([1, 4, 128]), bad=st.just(0)),
        **family.ctor_extra,
    }
    call_table = {
        "batch_size": s.BATCH_SIZE, "query_max_length": s.max_length_arg(family.limit),
        "max_length": s.max_length_arg(family.limit), "normalize": s.Arg(good=st.one_of(s.FLAGS, st.none()),
                                                                         bad=s.NOT_A_FLAG),
        "pad_to_multiple_of": family.pad, "show_progress_bar": s.SHOW_PROGRESS_BAR, **family.call_extra,
    }
    return st.tuples(st.sampled_from(family.roles), maybe(s.arguments(ctor_table)), s.sentence_pairs(),
                     s.arguments(call_table))


def kept_layers(cutoff: Any, choices: tuple[int, ...]) -> int:
    items = [cutoff] if isinstance(cutoff, int) else list(cutoff)
    return len({c for c in items if c in choices})


@pytest.mark.parametrize("family_name", list(RERANKERS))
def test_reranker_compute_score(family_name, models, figures):
    family = RERANKERS[family_name]
    call = figures.call(f"{family_name}.compute_score")

    def body(case: tuple) -> None:
        role, ctor, pairs, args = case
        kwargs = dict(args.kwargs)

        def fn() -> tuple[Any, Any]:
            model = models.get(FlagAutoReranker, role, **ctor.kwargs)
            return model, model.compute_score(pairs.value, **kwargs)

        valid = inputs_validity(pairs, args, ctor.valid)
        if family.cutoff_choices and "cutoff_layers" in args.invalid and pairs.count == 0 and pairs.valid:
            valid = s.join_validity(ctor.valid, False)  # checked before the empty answer
        if kwargs.get("compress_layer") is not None and kwargs.get("compress_layers") is not None:
            valid = False  # the deprecated compress_layer= beside compress_layers=: refused before the empty answer
        outcome = exercise(call, fn, valid=valid)
        if isinstance(outcome, Raised):
            return
        model, result = outcome
        layers = 1
        if family.cutoff_choices:
            cutoff = model.cutoff_layers if kwargs.get("cutoff_layers") is None else kwargs["cutoff_layers"]
            layers = kept_layers(cutoff, family.cutoff_choices)
        normalize = kwargs.get("normalize")
        check_scores(result, count=pairs.count, normalize=model.normalize if normalize is None else bool(normalize),
                     layers=layers)

    run(call, reranker_case(family), body)


@pytest.mark.parametrize("family_name", ["cross_encoder", "llm_reranker", "layerwise"])
def test_reranker_rank(family_name, models, figures):
    family = RERANKERS[family_name]
    call = figures.call(f"{family_name}.rank")
    # the query is tokenised again for every document: short queries keep a 1,500-document example in milliseconds
    good_queries = st.one_of(s.short_texts, s.whitespace_only).map(lambda q: (True, q))
    bad_queries = st.one_of(st.none(), st.integers(), st.binary(max_size=3), st.lists(s.texts, max_size=2)).map(
        lambda q: (False, q))
    queries = st.one_of(good_queries, good_queries, good_queries, bad_queries)
    documents = st.one_of(
        s.text_lists.map(lambda d: (True, d)), s.text_lists.map(lambda d: (True, tuple(d))),
        st.one_of(s.texts.map(lambda t: t or "x"), st.none(), st.just(iter(["a"])), st.lists(
            st.one_of(s.texts, s.bad_items), min_size=1, max_size=3).filter(
            lambda d: not all(isinstance(x, str) for x in d))).map(lambda d: (False, d)),
    )
    top_k = s.Arg(good=st.one_of(st.none(), st.integers(1, 20)), bad=st.one_of(st.integers(-3, 0), st.just(2.0)))
    extra = {"cutoff_layers": s.Arg(good=st.one_of(st.integers(2, 4), st.none()), bad=st.just([2, 3]))
             } if family.cutoff_choices else {}
    table = {"top_k": top_k, "batch_size": s.BATCH_SIZE, "normalize": s.Arg(good=s.FLAGS), **extra}

    def body(case: tuple) -> None:
        role, (query_ok, query), (documents_ok, docs), args = case
        model = models.get(FlagAutoReranker, role)
        valid = s.join_validity(query_ok, documents_ok, args.valid)
        if valid is False and query_ok and documents_ok and len(docs) == 0 and "top_k" not in args.invalid:
            valid = None  # nothing to score: batch_size is not read
        result = exercise(call, lambda: model.rank(query, docs, **args.kwargs), valid=valid)
        if isinstance(result, Raised):
            return
        top = args.kwargs.get("top_k")
        assert isinstance(result, list) and len(result) == min(len(docs), top or len(docs)), result
        scores = [r.score for r in result]
        assert scores == sorted(scores, reverse=True), scores
        assert len({r.index for r in result}) == len(result) and all(0 <= r.index < len(docs) for r in result)
        assert all(isinstance(x, float) and math.isfinite(x) for x in scores)

    run(call, st.tuples(st.sampled_from(family.roles), queries, documents, s.arguments(table)), body)


def test_embedder_similarity(models, figures):
    call = figures.call("embedder.similarity")
    model = models.get(FlagAutoModel, "tiny-bert")
    element = st.floats(-1e3, 1e3, width=32)

    def vectors(width: int) -> Any:
        return st.one_of(
            st.lists(element, min_size=width, max_size=width).map(lambda v: np.array(v, dtype=np.float32)),
            st.integers(0, 5).flatmap(lambda n: st.lists(st.lists(element, min_size=width, max_size=width),
                                                         min_size=n, max_size=n).map(
                lambda rows: np.array(rows, dtype=np.float32).reshape(n, width))))

    same = st.integers(1, 8).flatmap(lambda w: st.tuples(vectors(w), vectors(w)))
    how = st.sampled_from(["numpy", "tensor", "list", "float64"])
    odd = st.one_of(st.none(), s.texts, st.just(np.zeros((2, 2, 2))), st.just([[1.0], [1.0, 2.0]]),
                    st.integers(1, 8).flatmap(vectors), st.just({"dense_vecs": [1.0]}), st.just([[None, 1.0]]))

    def convert(array: np.ndarray, kind: str) -> Any:
        return {"numpy": array, "tensor": torch.from_numpy(array), "list": array.tolist(),
                "float64": array.astype(np.float64)}[kind]

    def body(case: tuple) -> None:
        (a, b), (how_a, how_b), odd_side = case
        x, y = convert(a, how_a), convert(b, how_b)
        valid: bool | None = True
        if (how_a == "list" and a.size == 0) or (how_b == "list" and b.size == 0):
            valid = None  # [] has no width
        if odd_side is not None:
            which, value = odd_side
            x, y = (value, y) if which == 0 else (x, value)
            valid = None  # another width, or not vectors at all
        result = exercise(call, lambda: model.similarity(x, y), valid=valid)
        if isinstance(result, Raised):
            return
        rows = 1 if np.ndim(x) == 1 else len(x)
        columns = 1 if np.ndim(y) == 1 else len(y)
        array = result.numpy() if isinstance(result, torch.Tensor) else result
        assert isinstance(array, np.ndarray) and array.shape == (rows, columns), (type(result), array.shape)
        assert np.isfinite(array).all() and np.all(np.abs(array) <= 1 + 1e-4), array

    run(call, st.tuples(same, st.tuples(how, how), st.one_of(st.none(), st.none(), st.tuples(st.integers(0, 1),
                                                                                             odd))), body)


def test_embedder_get_detailed_instruct(models, figures):
    call = figures.call("embedder.get_detailed_instruct")
    model = models.get(FlagAutoModel, "tiny-bert")
    formats = st.one_of(s.GOOD_FORMATS.map(lambda f: (True, f)), s.BAD_FORMATS.map(lambda f: (None, f)),
                        s.FORMAT_SOUP.map(lambda f: (None, f)))

    def body(case: tuple) -> None:
        (valid, instruction_format), instruction, sentence = case
        result = exercise(call, lambda: model.get_detailed_instruct(instruction_format, instruction, sentence),
                          valid=valid)
        if isinstance(result, Raised):
            return
        assert isinstance(result, str)
        if valid:
            assert sentence in result or "!r" in instruction_format or ":" in instruction_format

    run(call, st.tuples(formats, s.texts, s.texts), body)


# -- explain ------------------------------------------------------------------------------------------------------
def _write_model_dir(root: Path, spec: s.ModelDir) -> Path:
    folder = root / spec.name
    folder.mkdir(parents=True)
    for relative, content in spec.files.items():
        if relative == "adapter_config.json":
            # an adapter over the folder above (which holds no model), over itself, or over a sibling adapter that
            # names it back (a name dir_names cannot draw)
            sibling = root / "sibling+adapter"
            if b"<sibling>" in content and not sibling.exists():
                sibling.mkdir()
                (sibling / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(folder)}))
            for marker, path in ((b"<parent>", root), (b"<self>", folder), (b"<sibling>", sibling)):
                content = content.replace(marker, json.dumps(str(path))[1:-1].encode())
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    if spec.nested:
        (folder / "checkpoint-1").mkdir()
        return folder / "checkpoint-1"
    return folder


def fits_a_file_name(reference: str) -> bool:
    """Within Linux's limits: 255 bytes per path component, 4,095 in all (as the probe reads it: stripped, ``~``
    expanded); a longer reference is refused."""
    encoded = str(Path(os.path.expanduser(reference.strip()))).encode("utf-8", "surrogatepass")
    return len(encoded) < 4096 and all(len(part) <= 255 for part in encoded.split(b"/"))


def test_explain(fuzz_paths, figures, tmp_path):
    call = figures.call("explain")
    roles = sorted(fuzz_paths)
    references = st.one_of(
        s.model_dirs.map(lambda d: ("dir", d)),
        st.sampled_from(roles).map(lambda r: ("role", r)),
        st.sampled_from(s.KNOWN_NAMES).flatmap(lambda n: st.sampled_from([n, f"BAAI/{n}", f"./{n}", f"{n}/"])).map(
            lambda r: ("text", r)),
        s.texts.filter(str.strip).map(lambda r: ("text", r)),
        st.one_of(st.none(), st.integers(), st.binary(max_size=4), st.floats(), st.lists(s.texts, max_size=1)).map(
            lambda r: ("bad", r)),
    )
    good_kinds = st.sampled_from(["embedder", "reranker"]).map(lambda k: (True, k))
    bad_kinds = st.one_of(s.short_texts.filter(lambda k: k not in ("embedder", "reranker")), st.none(),
                          st.integers()).map(lambda k: (False, k))
    kinds = st.one_of(good_kinds, good_kinds, good_kinds, bad_kinds)
    as_path = st.booleans()

    def body(case: tuple) -> None:
        (how, reference), (kind_ok, kind), path_object = case
        root = Path(tempfile.mkdtemp(dir=tmp_path))
        try:
            if how == "dir":
                reference = _write_model_dir(root, reference)
            elif how == "role":
                reference = fuzz_paths[reference]
            if isinstance(reference, Path) and not path_object:
                reference = str(reference)
            ref_ok = how != "bad" and (not isinstance(reference, str) or (bool(reference.strip()) and
                                                                          fits_a_file_name(reference)))
            result = exercise(call, lambda: explain(reference, kind=kind), valid=kind_ok and ref_ok)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        if isinstance(result, Raised):
            return
        assert isinstance(result, list), type(result)
        for claim in result:
            assert isinstance(claim, Claim) and isinstance(claim.plugin, str) and claim.plugin
            assert 0 <= claim.score < MAX_SCORE and claim.model_class and claim.reason.strip()
        scores = [claim.score for claim in result]
        assert scores == sorted(scores, reverse=True), scores

    run(call, st.tuples(references, kinds, as_path), body)


# -- the CLI ------------------------------------------------------------------------------------------------------
# the models the CLI may load: their width and the pooling methods their class takes
CLI_MODELS = {"tiny-bert": (32, ("cls", "mean")), "tiny-xlmr": (32, ("cls", "mean")),
              "tiny-llama": (64, ("last_token",)), "tiny-m3": (32, ("cls", "mean", "last_token"))}
CLI_OPTIONS = {
    "--queries": st.just(None),
    "--instruction": st.sampled_from(["Represent: ", "", "\u05e9 {}", "-x", "a" * 200]),
    "--model-class": st.sampled_from(["encoder-only-base", "encoder-only-m3", "decoder-only-base", "no-such-class",
                                      ""]),
    "--pooling-method": st.sampled_from(["cls", "mean", "last_token", "max"]),
    "--batch-size": st.sampled_from(["1", "3", "64", "0", "-2", "x", "1.5"]),
    "--max-length": st.sampled_from(["2", "8", "512", "600", "0", "-1", "ten"]),
    # several devices start a worker process per device; int8 recompiles its kernels for every new input shape
    # (seconds; tests/test_int8.py covers it): neither is drawn
    "--devices": st.sampled_from(["cpu", "cpu:0", " cpu ", "cuda", "1", "tpu", "", "cpu,cpu"]),
    "--quantize": st.sampled_from(["int4", ""]),
    "--no-such-option": st.just("1"),
}
CLI_GOOD = {"--queries": {None}, "--devices": {"cpu", "cpu:0", " cpu "}, "--batch-size": {"1", "3", "64"},
            "--max-length": {"2", "8", "512", "600"}}


def cli_case() -> Any:
    options = st.lists(st.sampled_from(sorted(CLI_OPTIONS)), unique=True, max_size=4).flatmap(
        lambda names: st.tuples(*[st.tuples(st.just(n), CLI_OPTIONS[n]) for n in names]))
    lines = st.lists(st.one_of(s.short_texts, s.tiny_texts, s.whitespace_only), max_size=12)
    source = st.sampled_from(["file", "file", "stdin", "missing", "latin-1", "directory"])
    sink = st.sampled_from(["jsonl", "npy", "stdout", "missing-dir"])
    return st.tuples(st.sampled_from(sorted(CLI_MODELS) + ["missing-model"]), lines, source, sink, options,
                     st.booleans())


def cli_validity(role: str, source: str, sink: str, options: tuple) -> bool | None:
    """False: `flagcore encode` must fail (usage error, or a documented exception); True: it must write the
    embeddings; None: a --model-class that may or may not load this checkpoint."""
    if role not in CLI_MODELS or source in ("missing", "latin-1", "directory") or sink == "missing-dir":
        return False
    valid: bool | None = True
    forced_class = any(name == "--model-class" for name, _ in options)
    for name, value in options:
        if name == "--instruction":
            continue
        if name == "--pooling-method":
            if value == "max" or (value not in CLI_MODELS[role][1] and not forced_class):
                return False  # (another class's pooling methods apply with --model-class)
        elif name == "--model-class":
            if value in ("no-such-class", ""):
                return False
            valid = None
        elif value not in CLI_GOOD.get(name, ()):
            return False
    return valid


def _subclass_names(classes: tuple[type, ...]) -> set[str]:
    names, stack = set(), list(classes)
    while stack:
        cls = stack.pop()
        names.add(cls.__name__)
        stack.extend(cls.__subclasses__())
    return names


def cli_documented(exc: BaseException) -> bool:
    """With --debug the CLI raises what the call raised; argparse's usage error (exit 2) and the device check's
    RuntimeError are documented too."""
    if isinstance(exc, SystemExit):
        return exc.code == 2
    if isinstance(exc, RuntimeError) and str(exc).startswith("Device error"):
        return True
    return is_documented(exc)


def check_cli_error_line(stderr: str) -> None:
    """Without --debug an error is one line, ``flagcore: error: Type: message``, of a documented type."""
    from fuzz.harness import DOCUMENTED

    lines = [line for line in stderr.splitlines() if line.startswith("flagcore: error: ")]
    assert len(lines) == 1, stderr[-2000:]
    name, _, message = lines[0][len("flagcore: error: "):].partition(": ")
    assert message.strip(), lines[0]
    if name == "RuntimeError":
        assert message.startswith("Device error"), lines[0]
    else:
        assert name in _subclass_names(DOCUMENTED), f"undocumented exception in {lines[0]!r}"


def test_cli_encode(models, fuzz_paths, figures, tmp_path, monkeypatch):
    from flagcore.cli import main

    call = figures.call("cli encode")

    def from_finetuned(model_name_or_path: str, **kwargs: Any) -> Any:
        role = next((r for r, p in fuzz_paths.items() if str(p) == model_name_or_path), None)
        if role is None:  # not a model of the fixture: no cache
            return original(model_name_or_path, **kwargs)
        devices = kwargs.pop("devices", None)
        if devices is not None:  # the check itself, without a model per spelling of "cpu"
            from flagcore.engine.devices import resolve_devices

            if resolve_devices(devices) != ["cpu"]:
                return original(model_name_or_path, devices=devices, **kwargs)
        return models.get(FlagAutoModel, role, **kwargs)

    original = FlagAutoModel.from_finetuned
    monkeypatch.setattr(FlagAutoModel, "from_finetuned", staticmethod(from_finetuned))

    def body(case: tuple) -> None:
        role, lines, source, sink, options, debug = case
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        model = str(fuzz_paths[role]) if role in fuzz_paths else str(work / "no-model")
        content = "\n".join(lines)
        argv = ["encode", model] + (["--debug"] if debug else [])
        if source == "file":
            (work / "in.txt").write_text(content, encoding="utf-8")
            argv += ["-i", str(work / "in.txt")]
        elif source == "latin-1":
            (work / "in.txt").write_bytes(content.encode("utf-8") + b"\xff\xfe caf\xe9\n")
            argv += ["-i", str(work / "in.txt")]
        elif source == "missing":
            argv += ["-i", str(work / "none.txt")]
        elif source == "directory":
            argv += ["-i", str(work)]
        output = {"jsonl": work / "out.jsonl", "npy": work / "out.npy", "missing-dir": work / "no" / "out.jsonl",
                  "stdout": "-"}[sink]
        argv += ["-o", str(output)]
        for name, value in options:
            argv += [name] if value is None else [f"{name}={value}"]
        valid = cli_validity(role, source, sink, options)
        stdout, stderr, stdin = io.StringIO(), io.StringIO(), io.StringIO(content)
        try:
            monkeypatch.setattr("sys.stdin", stdin)
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                outcome = exercise(call, lambda: main(argv), valid=valid if debug else None,
                                   documented=cli_documented)
            # an in-process call leaves the process's streams usable
            assert not (stdin.closed or stdout.closed or stderr.closed), "the command closed stdin or stdout"
            if isinstance(outcome, Raised):
                if isinstance(outcome.error, SystemExit):
                    assert "usage:" in stderr.getvalue(), stderr.getvalue()
                else:
                    assert debug, f"raised without --debug: {outcome.error!r}"
                return
            if outcome == 1 and not debug:
                assert valid is not True, f"a valid command failed: {stderr.getvalue()[-2000:]}"
                check_cli_error_line(stderr.getvalue())
                return
            assert outcome == 0, (outcome, stderr.getvalue()[-2000:])
            assert valid is not False, f"an invalid command succeeded: {argv}"
            texts = content.splitlines()
            dim = CLI_MODELS[role][0]
            if sink == "npy":
                array = np.load(output)
                assert array.shape == (len(texts), dim) and array.dtype == np.float32, array.shape
                assert np.isfinite(array).all()
            else:
                written = stdout.getvalue() if sink == "stdout" else output.read_text(encoding="utf-8")
                rows = [json.loads(line) for line in written.splitlines()]
                assert [row["text"] for row in rows] == texts
                for row in rows:
                    assert len(row["embedding"]) == dim and all(math.isfinite(x) for x in row["embedding"])
        finally:
            shutil.rmtree(work, ignore_errors=True)

    run(call, cli_case(), body)
