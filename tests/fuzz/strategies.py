"""Hypothesis strategies shared by the fuzz tests.

Texts come from every Unicode plane (no lone surrogates unless asked for), with combining marks, right-to-left
scripts and bidi controls, control characters and NUL, strings that look like special tokens or format fields,
empty and whitespace-only strings and very long strings. Inputs come as single strings, lists, tuples, generators,
numpy string arrays and huge batches of tiny texts, or as something invalid: ints, None, bytes, floats or nested
lists inside a list, and so on. Arguments are drawn per call from a table of valid and invalid values.

Every drawn input carries what the test needs to check the answer: how many texts or pairs it holds, whether it was
a single item, and whether it is valid (True: must be accepted, False: must be refused, None: either is right).
"""

from __future__ import annotations

import json
import math
import string
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

# -- characters ---------------------------------------------------------------------------------------------------
WHITESPACE = (" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2007\u2008\u2009\u200a"
              "\u2028\u2029\u202f\u205f\u3000")
# NUL and other C0/C1 controls, zero-width and bidi controls, BOM, replacement and non-characters, astral extremes
SPECIAL_CHARS = ("\x00\x01\x07\x08\x1b\x7f\x80\x9f\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                 "\u2066\u2067\u2068\u2069\u061c\ufeff\ufffc\ufffd\ufffe\uffff\U0001f600\U000e0001\U000e007f"
                 "\U000f0000\U0010fffd\U0010ffff")
# right-to-left blocks: Hebrew, Arabic, Syriac, Thaana, NKo, Arabic presentation forms, astral RTL scripts
RTL_RANGES = ((0x0590, 0x05FF), (0x0600, 0x06FF), (0x0700, 0x074F), (0x0780, 0x07BF), (0x07C0, 0x07FF),
              (0xFB1D, 0xFDFF), (0xFE70, 0xFEFF), (0x10800, 0x10FFF), (0x1E800, 0x1EFFF))
TOKEN_LIKE = ("<s>", "</s>", "<pad>", "<unk>", "<mask>", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "<bos>", "<eos>",
              "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<instruct>", "<query>", "<response>", "\n<response>",
              "Yes", "No", "A: ", "B: ", "\u2581", "##ing", "\u0120")
FORMAT_LIKE = ("{}", "{0}", "{1}", "{", "}", "{{", "}}", "%s", "\\n", "\\", "{!r}", "{:>9}", "{0.real}", "{0[x]}")
WORDS = ("the", "capital", "paris", "hello", "world", "panda", "\u5317\u4eac", "\u9996\u90fd", "\U0001f642",
         "\U0001f468\u200d\U0001f469\u200d\U0001f467", "e\u0301", "\u05e9\u05dc\u05d5\u05dd",
         "\u0645\u0631\u062d\u0628\u0627", "\u0395\u03bb\u03bb\u03ac\u03b4\u03b1", "\U0001d518\U0001d52b",
         "\ufdfa", "\ua66c", "\uff48\uff45\uff4c\uff4c\uff4f", "\u0915\u094d\u0937", "Z\u0351\u036b\u0343\u036a")


def _not_surrogate(codepoint: int) -> bool:
    return not 0xD800 <= codepoint <= 0xDFFF


#: any code point of any of the 17 planes (unassigned, private-use and non-characters included), no surrogates
any_plane_char = st.integers(0, 16).flatmap(
    lambda plane: st.integers(plane << 16, (plane << 16) | 0xFFFF)).filter(_not_surrogate).map(chr)
combining_char = st.characters(categories=("Mn", "Mc", "Me"))
rtl_char = st.sampled_from(RTL_RANGES).flatmap(lambda r: st.integers(*r)).map(chr)
control_char = st.characters(categories=("Cc", "Cf"), codec="utf-8")
lone_surrogate = st.integers(0xD800, 0xDFFF).map(chr)
chars = st.one_of(st.characters(codec="utf-8"), any_plane_char, combining_char, rtl_char, control_char,
                  st.sampled_from(SPECIAL_CHARS))

# -- texts --------------------------------------------------------------------------------------------------------
pieces = st.one_of(chars, st.sampled_from(WORDS), st.sampled_from(TOKEN_LIKE), st.sampled_from(FORMAT_LIKE),
                   st.text(WHITESPACE, min_size=1, max_size=3))
short_texts = st.lists(pieces, max_size=12).map("".join)
tiny_texts = st.lists(pieces, max_size=2).map("".join)
whitespace_only = st.text(WHITESPACE, min_size=1, max_size=40)
#: up to ~60k characters: a short unit repeated
long_texts = st.builds(lambda unit, n: unit * n, st.lists(pieces, min_size=1, max_size=6).map("".join),
                       st.integers(64, 2500))
texts = st.one_of(st.just(""), whitespace_only, short_texts, st.text(max_size=40), long_texts)
#: a text with a lone surrogate somewhere: not valid Unicode text (cannot be encoded as UTF-8)
surrogate_texts = st.builds(lambda a, s, b: a + s + b, short_texts, lone_surrogate, short_texts)


@dataclass(frozen=True)
class Inputs:
    """A drawn ``sentences`` / ``sentence_pairs`` argument: the value, how many items it holds, whether it was a
    single item, whether it is valid, and how it was built (for the figures and failure reports)."""

    value: Any
    count: int
    single: bool
    valid: bool | None
    shape: str

    def __repr__(self) -> str:  # hypothesis prints this for a falsifying example
        text = repr(self.value)
        shown = text if len(text) <= 600 else f"{text[:300]} ... {text[-200:]} ({len(text)} chars)"
        return f"Inputs({self.shape}, count={self.count}, single={self.single}, valid={self.valid}, value={shown})"


def _huge(base: list, n: int) -> list:
    return [base[i % len(base)] for i in range(n)]


#: lists of texts: a few texts of any kind, or a huge batch (100-1500) of tiny ones
text_lists = st.one_of(
    st.lists(texts, max_size=8),
    st.builds(_huge, st.lists(tiny_texts, min_size=1, max_size=4), st.integers(100, 1500)),
)

#: items that are not strings, to hide inside a list of texts
bad_items = st.one_of(
    st.none(), st.integers(), st.floats(allow_nan=True), st.booleans(), st.binary(max_size=8),
    st.binary(max_size=8).map(bytearray), st.lists(texts, max_size=2), st.tuples(texts, texts),
    st.dictionaries(texts, texts, max_size=2), st.just(np.float32(1.5)), st.just(np.bytes_(b"x")),
    st.just(np.int64(3)), st.complex_numbers(max_magnitude=10), st.just(object()),
)
#: whole arguments that are neither a string nor an iterable of strings
bad_wholes = st.one_of(
    st.none(), st.integers(), st.floats(allow_nan=True), st.booleans(), st.binary(max_size=8),
    st.binary(max_size=8).map(bytearray), st.binary(max_size=8).map(memoryview),
    st.dictionaries(texts, texts, max_size=2), st.just(np.array("abc")), st.just(object()),
    st.just(np.array([b"a", b"b"])), st.just(np.array([["a", "b"], ["c", "d"]])),
)


@st.composite
def sentences(draw: Callable, allow_surrogates: bool = True) -> Inputs:
    """A ``sentences`` argument for ``encode`` and friends."""
    kind = draw(st.sampled_from(["str", "list", "str", "list", "tuple", "numpy", "numpy-object", "generator",
                                 "np.str_", "mixed", "nested", "whole", "surrogate"]))
    if kind == "str":
        return Inputs(draw(texts), 1, True, True, "str")
    if kind == "np.str_":
        return Inputs(np.str_(draw(short_texts)), 1, True, True, "np.str_")
    if kind in ("list", "tuple", "generator", "numpy", "numpy-object"):
        items = draw(text_lists)
        if kind == "list":
            return Inputs(items, len(items), False, True, f"list[{len(items)}]")
        if kind == "tuple":
            return Inputs(tuple(items), len(items), False, True, f"tuple[{len(items)}]")
        if kind == "generator":
            return Inputs(_Iterable(items), len(items), False, True, f"iterator[{len(items)}]")
        if kind == "numpy":  # numpy's fixed-width strings drop trailing NULs: still valid texts
            return Inputs(np.array(items, dtype=str), len(items), False, True, f"np.str_ array[{len(items)}]")
        array = np.empty(len(items), dtype=object)
        array[:] = items
        return Inputs(array, len(items), False, True, f"object array[{len(items)}]")
    if kind == "mixed":
        items = draw(st.lists(texts, max_size=4))
        bad = draw(bad_items)
        position = draw(st.integers(0, len(items)))
        items.insert(position, bad)
        return Inputs(items, len(items), False, False, f"list with {type(bad).__name__} at {position}")
    if kind == "nested":
        items = draw(st.lists(st.lists(texts, max_size=3), min_size=1, max_size=3))
        return Inputs(items, len(items), False, False, "nested lists")
    if kind == "surrogate" and allow_surrogates:
        text = draw(surrogate_texts)
        if draw(st.booleans()):
            return Inputs(text, 1, True, False, "str with a lone surrogate")
        items = draw(st.lists(texts, max_size=3)) + [text]
        return Inputs(items, len(items), False, False, "list with a lone surrogate")
    value = draw(bad_wholes)
    return Inputs(value, 0, False, False, f"whole {type(value).__name__}")


class _Iterable:
    """A plain iterable (not a list): what a generator gives, but it can be replayed by hypothesis."""

    def __init__(self, items: list) -> None:
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __repr__(self) -> str:
        return f"iter({self.items!r})"


#: a valid (query, passage) pair, as a tuple or a list
pairs_ = st.tuples(texts, texts)
bad_pairs = st.one_of(
    st.tuples(texts), st.tuples(texts, texts, texts), st.tuples(texts, bad_items), st.tuples(bad_items, texts),
    st.just(()), bad_items.filter(lambda x: not isinstance(x, (list, tuple)) or len(x) != 2),
    texts.map(lambda t: t or "x"),
)


@st.composite
def sentence_pairs(draw: Callable, allow_surrogates: bool = True) -> Inputs:
    """A ``sentence_pairs`` argument for ``compute_score``."""
    kind = draw(st.sampled_from(["pair", "list", "pair", "list", "lists", "tuple", "numpy", "generator", "huge",
                                 "empty", "bad pair", "mixed", "whole", "surrogate"]))
    if kind == "pair":
        pair = draw(pairs_)
        return Inputs(pair if draw(st.booleans()) else list(pair), 1, True, True, "one pair")
    if kind in ("list", "lists", "tuple", "numpy", "generator"):
        items = draw(st.lists(pairs_, max_size=8))
        if kind == "lists":
            items = [list(p) for p in items]
        value: Any = items
        if kind == "tuple":
            value = tuple(items)
        elif kind == "generator":
            value = _Iterable(items)
        elif kind == "numpy":  # shape (n, 2); fixed-width strings drop trailing NULs
            value = np.array(items, dtype=str).reshape(len(items), 2)
        return Inputs(value, len(items), False, True, f"{kind}[{len(items)}]")
    if kind == "huge":
        items = _huge(draw(st.lists(st.tuples(tiny_texts, tiny_texts), min_size=1, max_size=3)),
                      draw(st.integers(100, 2000)))
        return Inputs(items, len(items), False, True, f"huge[{len(items)}]")
    if kind == "empty":
        return Inputs(draw(st.sampled_from([[], ()])), 0, False, True, "empty")
    if kind == "bad pair":  # (an empty list or tuple is an empty list of pairs: valid)
        value = draw(bad_pairs.filter(lambda v: not (isinstance(v, (list, tuple)) and len(v) == 0)))
        return Inputs(value, 1, True, False, "bad pair")
    if kind == "mixed":
        items = draw(st.lists(pairs_, max_size=3))
        position = draw(st.integers(0, len(items)))
        items.insert(position, draw(bad_pairs))
        return Inputs(items, len(items), False, False, f"list with a bad pair at {position}")
    if kind == "surrogate" and allow_surrogates:
        bad = draw(surrogate_texts)
        pair = (bad, draw(texts)) if draw(st.booleans()) else (draw(texts), bad)
        return Inputs([pair], 1, False, False, "pair with a lone surrogate")
    value = draw(st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=4), texts,
                           st.dictionaries(texts, texts, max_size=2)))
    return Inputs(value, 0, False, False, f"whole {type(value).__name__}")


# -- arguments ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Args:
    """Keyword arguments and whether they are valid (True: all valid, False: one is invalid, None: one may be)."""

    kwargs: dict
    valid: bool | None
    invalid: tuple[str, ...] = ()


@dataclass(frozen=True)
class Arg:
    """How to draw one keyword argument: valid values, invalid values, values either way (validity depends on the
    model or the input; the test decides), and whether it may be left out."""

    good: Any = None
    bad: Any = None
    either: Any = None
    optional: bool = True


def join_validity(*values: bool | None) -> bool | None:
    if any(v is False for v in values):
        return False
    return True if all(v is True for v in values) else None


@st.composite
def arguments(draw: Callable, table: dict[str, Arg]) -> Args:
    """Keyword arguments drawn from ``table``: each left out (often), valid, invalid or either way."""
    kwargs, invalid, unsure = {}, [], False
    for name, arg in table.items():
        choices = (["absent"] * 4 if arg.optional else []) + ["good"] * 4 * (arg.good is not None) + \
                  ["bad"] * (arg.bad is not None) + ["either"] * (arg.either is not None)
        choice = draw(st.sampled_from(choices))
        if choice == "absent":
            continue
        kwargs[name] = draw({"good": arg.good, "bad": arg.bad, "either": arg.either}[choice])
        if choice == "bad":
            invalid.append(name)
        elif choice == "either":
            unsure = True
    valid = False if invalid else (None if unsure else True)
    return Args(kwargs, valid, tuple(invalid))


def ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


#: not a positive int: zero, negatives, bools, floats, strings, None where None is not the default
NOT_POSITIVE_INT = st.one_of(st.integers(-1000, 0), st.booleans(), st.floats(allow_nan=True), st.text(max_size=3),
                             st.just([4]))
#: not a flag: the strings and numbers that would read as true or false
NOT_A_FLAG = st.one_of(st.sampled_from(["no", "yes", "", "False", 0, 1, 0.0, [], [True]]), st.integers())
FLAGS = st.one_of(st.booleans(), st.just(np.bool_(True)), st.just(np.bool_(False)))

def _escape_braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


#: formats with two fields (instruction, then text) and formats that are not
GOOD_FORMATS = st.one_of(
    st.sampled_from(["{}{}", "{}\n{}", "{} {}", "Instruct: {}\nQuery: {}", "Instruct: {}\\nQuery: {}",
                     "<instruct>{}\n<query>{}", "{0}{1}", "{1}", "{1}{0}", "{!r}{}", "{:>3}{}", "{{}}{}{}",
                     "\u05e9{}\u200f{}\x00", "{:\\n<3}{}"]),
    st.builds(lambda a, b, c: f"{a}{{}}{b}{{}}{c}", *[short_texts.map(_escape_braces)] * 3),
)
BAD_FORMATS = st.one_of(
    st.sampled_from(["{}", "plain", "{", "}", "{2}", "{x}", "{}{}{}", "{0}", "{:d}{}", "{0!z}{1}", "{0[0]}{1}",
                     "{0.real}{1}", "{0[x]}{1}", "{:{}}{}", ""]),
    st.just(None).map(lambda _: 5), st.just(b"{}{}"),
)
#: built from format-like pieces: any mix of valid and invalid formats (attribute and index fields included)
FORMAT_SOUP = st.lists(st.one_of(st.sampled_from(["{", "}", "0", "1", "2", ":", "!r", "!s", "!a", "\\n", ".", "[",
                                                  "]", "x", "real", "<", ">", "5", "d", "s", "{}", "{0}", "{1}"]),
                                 st.sampled_from(string.ascii_letters)), max_size=8).map("".join)
#: instructions are short: one joins every text of a batch (a 10,000-character one on 2,000 texts is 1M tokens)
INSTRUCTIONS = st.one_of(st.none(), short_texts, whitespace_only)
#: a few instructions for constructors (each distinct constructor call loads a model)
CTOR_INSTRUCTIONS = st.sampled_from([None, "", "Represent this sentence for searching relevant passages: ",
                                     "Instruct: {}", "\u5317\u4eac \U0001f642", "\x00", "a" * 300, "<s>", "{}",
                                     "\u200f"])

BATCH_SIZE = Arg(good=st.one_of(ints(1, 300), st.none(), ints(1, 300).map(np.int64)), bad=NOT_POSITIVE_INT)
PAD_TO_MULTIPLE_OF = Arg(good=st.one_of(ints(1, 64), st.just(False)), bad=st.one_of(st.integers(-5, 0), st.just(True)))
#: the smallest max_length of the encoders (BERT and XLM-R add 2 special tokens); a smaller one is refused
ENCODER_MIN_LENGTH = 2
SHOW_PROGRESS_BAR = Arg(good=st.just(False))
CONVERT_TO_NUMPY = Arg(good=st.one_of(FLAGS, st.none()), bad=NOT_A_FLAG)


def max_length_arg(limit: int, low: int = 1) -> Arg:
    """Token limits from ``low`` up to ``limit`` (those below ``low`` are refused); ``None`` means the model's
    default."""
    bad = NOT_POSITIVE_INT if low == 1 else st.one_of(NOT_POSITIVE_INT, ints(1, low - 1))
    return Arg(good=st.one_of(ints(low, limit), st.none(), ints(low, limit).map(np.int32)), bad=bad)


def encode_table(limit: int, *, instruction: bool = True, pad: Arg = PAD_TO_MULTIPLE_OF, low: int = 1
                 ) -> dict[str, Arg]:
    table = {
        "batch_size": BATCH_SIZE, "max_length": max_length_arg(limit, low), "convert_to_numpy": CONVERT_TO_NUMPY,
        "pad_to_multiple_of": pad, "show_progress_bar": SHOW_PROGRESS_BAR,
    }
    if instruction:
        table["instruction"] = Arg(good=INSTRUCTIONS)
        table["instruction_format"] = Arg(good=GOOD_FORMATS, bad=BAD_FORMATS, either=FORMAT_SOUP)
    return table


def embedder_ctor_table(hidden: int, limit: int, pooling: tuple[str, ...], bad_pooling: tuple[str, ...],
                        low: int = 1) -> dict:
    """``from_finetuned`` arguments of an embedder, from small sets (every distinct set loads a model); token limits
    from ``low`` up (those below are refused)."""
    below = list(range(1, low))
    return {
        "pooling_method": Arg(good=st.sampled_from(pooling), bad=st.sampled_from(bad_pooling)),
        "normalize_embeddings": Arg(good=st.booleans(), bad=st.sampled_from(["no", 1])),
        "truncate_dim": Arg(good=st.sampled_from([1, 2, 7, hidden // 2, hidden]), bad=st.sampled_from([0, -1, 2.5]),
                            either=st.sampled_from([hidden + 1, 4 * hidden])),
        "query_instruction_for_retrieval": Arg(good=CTOR_INSTRUCTIONS),
        "query_instruction_format": Arg(good=st.sampled_from(["{}{}", "{}\n{}", "Instruct: {}\\nQuery: {}", "{1}"]),
                                        bad=st.sampled_from(["{}", "{0.real}{1}", "{0[x]}{1}", "{}{}{}"])),
        "passage_instruction_for_retrieval": Arg(good=CTOR_INSTRUCTIONS),
        "query_max_length": Arg(good=st.sampled_from([low, 3, 16, limit]), bad=st.sampled_from([0, -2, "8", *below])),
        "passage_max_length": Arg(good=st.sampled_from([low, 3, 16, limit]), bad=st.sampled_from([0, 8.0, *below])),
        "batch_size": Arg(good=st.sampled_from([1, 3, 256]), bad=st.sampled_from([0, None])),
        "max_batch_tokens": Arg(good=st.sampled_from([1, 64, 4096]), bad=st.sampled_from([0, -8])),
    }


# -- M3 helpers ---------------------------------------------------------------------------------------------------
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
#: NaN, an infinity, an int too large for a float, or finite weights whose sums overflow (every mixed score NaN)
NON_FINITE_WEIGHTS = st.one_of(
    st.tuples(st.floats(0, 1e3), st.floats(0, 1e3), st.sampled_from([math.nan, math.inf, -math.inf, 10**400])
              ).flatmap(lambda w: st.permutations(w)),
    st.sampled_from([[1e308, 1e308, 1], [1, 1e308, 1e308], (1.7e308, 0, 1.7e308)]),
)
M3_WEIGHTS = Arg(
    good=st.one_of(st.tuples(*[st.floats(0, 1e3)] * 3).filter(lambda w: w[0] + w[1] > 0),
                   st.lists(st.integers(0, 5), min_size=3, max_size=3).filter(lambda w: w[0] + w[1] > 0),
                   st.just(np.array([0.4, 0.2, 0.4])), st.just([1e300, 1e300, 1e300])),
    bad=st.one_of(st.lists(finite, max_size=2), st.lists(finite, min_size=4, max_size=5), st.just([0, 0, 1]),
                  st.just([-1, 0, 5]), st.just(["a", "b", "c"]), st.just(5), st.just({"dense": 1}),
                  NON_FINITE_WEIGHTS),
)
lexical_keys = st.one_of(st.integers(0, 300).map(str), texts)
lexical_dicts = st.dictionaries(lexical_keys, st.floats(0, 10), max_size=8)
lexical_lists = st.lists(lexical_dicts, max_size=5)


# -- model directories for explain() --------------------------------------------------------------------------------
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children,
                                                                                   max_size=3)),
    max_leaves=8,
)
MODEL_TYPES = ("bert", "xlm-roberta", "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "minicpm",
               "cost_wise_gemma", "t5", "", "BERT")
ARCHITECTURES = ("BertModel", "BertForSequenceClassification", "XLMRobertaModel",
                 "XLMRobertaForSequenceClassification", "LlamaForCausalLM", "MistralModel", "Qwen2ForCausalLM",
                 "LayerWiseMiniCPMForCausalLM", "CostWiseGemmaForCausalLM", "Gemma2ForCausalLM", "T5Model", "")
KNOWN_NAMES = ("bge-m3", "bge-en-icl", "bge-small-en-v1.5", "e5-base-v2", "multilingual-e5-large-instruct",
               "gte-base-en-v1.5", "e5-mistral-7b-instruct", "bge-multilingual-gemma2", "gte-Qwen2-7B-instruct",
               "bge-reranker-v2-m3", "bge-reranker-base", "bge-reranker-v2-gemma", "bge-reranker-v2-minicpm-layerwise",
               "bge-reranker-v2.5-gemma2-lightweight", "checkpoint-500", "bge-m3-finetuned")
config_dicts = st.fixed_dictionaries({}, optional={
    "model_type": st.one_of(st.sampled_from(MODEL_TYPES), json_values),
    "architectures": st.one_of(st.lists(st.sampled_from(ARCHITECTURES), max_size=2), json_values),
    "id2label": st.one_of(st.dictionaries(st.sampled_from(["0", "1", "x"]), st.text(max_size=4), max_size=2),
                          json_values),
    "num_labels": st.one_of(st.integers(-1, 3), json_values),
    "auto_map": st.one_of(st.dictionaries(st.sampled_from(["AutoModel", "AutoConfig"]), st.text(max_size=8),
                                          max_size=2), json_values),
    "hidden_size": st.one_of(st.integers(-1, 64), json_values),
})
json_files = st.one_of(
    config_dicts.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=16), st.sampled_from([b"", b"{", b"\xff\xfe{}", b"null", b"[]", b"{\"model_type\": NaN}"]),
)


#: JSON that is not an object (`true`, `[1]`) is read as no config at all
config_files = st.one_of(json_files, st.sampled_from([b"true", b"1", b'"x"', b"[1]", b"[{}]"]))
pooling_files = st.one_of(
    st.dictionaries(st.sampled_from(["pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_lasttoken",
                                     "pooling_mode_max_tokens", "word_embedding_dimension"]), json_values, max_size=3
                    ).map(lambda d: json.dumps(d).encode()),
    config_files,
)
modules_files = st.one_of(
    st.lists(st.fixed_dictionaries({}, optional={"type": st.sampled_from(
        ["sentence_transformers.models.Pooling", "Pooling", "Transformer", ""]) | json_values,
        "path": st.sampled_from(["1_Pooling", "1_Pooling/", "/1_Pooling", "", "x"]) | json_values}), max_size=3
    ).map(lambda v: json.dumps(v).encode()),
    json_files,
)
#: replaced by the test with a path: "<parent>" the materialised directory's parent, "<self>" the directory itself,
#: "<sibling>" a folder beside it whose adapter_config.json names the directory back (base model chains that loop)
ADAPTER_BASES = ("<parent>", "<self>", "<sibling>", "BAAI/bge-m3", "bge-en-icl", "", "   ", "/nonexistent/model",
                 "Qwen/Qwen3-Embedding-0.6B")
adapter_files = st.one_of(
    st.fixed_dictionaries({"base_model_name_or_path": st.one_of(st.sampled_from(ADAPTER_BASES), json_values)},
                          optional={"task_type": st.sampled_from(["CAUSAL_LM", "FEATURE_EXTRACTION", ""])}
                          ).map(lambda d: json.dumps(d).encode()),
    json_files,
)
model_dir_files = st.fixed_dictionaries({}, optional={
    "config.json": config_files, "model.safetensors": st.just(b""), "tokenizer.json": st.just(b"{}"),
    "colbert_linear.pt": st.just(b""), "sparse_linear.safetensors": st.just(b""), "sparse_linear.pt": st.just(b""),
    "modules.json": modules_files, "1_Pooling/config.json": pooling_files, "adapter_config.json": adapter_files,
    "x/1_Pooling/config.json": pooling_files,
})
#: directory names: FlagEmbedding's table names (which decide the class) and arbitrary file-system-safe names
dir_names = st.one_of(st.sampled_from(KNOWN_NAMES),
                      st.text(string.ascii_letters + string.digits + "-_. \u00e9\u5317", min_size=1, max_size=20
                              ).filter(lambda n: n not in (".", "..")))


@dataclass(frozen=True)
class ModelDir:
    """A model directory to write: its name, its sibling's name (for adapters) and its files."""

    name: str
    files: dict
    nested: bool  # passed as <dir>/checkpoint-1 (FlagEmbedding's checkpoint naming rule)


model_dirs = st.builds(ModelDir, dir_names, model_dir_files, st.booleans())
