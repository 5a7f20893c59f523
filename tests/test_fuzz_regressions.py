"""Input-validation bugs the property-based tests (tests/test_fuzz.py) found, fixed in flagcore/inputs.py: each
input is now refused (or accepted) with a message that says what was wrong and what is accepted."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import FakeEmbedder, FakeReranker

from flagcore import FlagAutoModel, FlagAutoReranker
from flagcore.inputs import as_pairs, as_texts, check_instruction_format, format_instruction


# -- instruction formats: an attribute or index field raised AttributeError / TypeError, or passed the check and then
# failed with IndexError on an empty instruction ---------------------------------------------------------------------
@pytest.mark.parametrize("instruction_format", ["{0.real}{1}", "{0[x]}{1}", "{0[0]}{1}", "{1.upper}", "{0:{1}}{1}"])
def test_formats_with_attribute_index_or_nested_fields_are_refused(embedder, instruction_format):
    with pytest.raises(ValueError, match=r"instruction_format=.* is not a format with two '\{\}' fields "
                                         r"\(instruction, then text\): the field"):
        embedder.encode(["text"], instruction="", instruction_format=instruction_format)
    with pytest.raises(ValueError, match="query_instruction_format=.* is not a format with two"):
        FakeEmbedder("fake-model", devices="cpu", query_instruction_format=instruction_format)
    with pytest.raises(ValueError, match="passage_instruction_format=.* is not a format with two"):
        FakeReranker("fake-model", devices="cpu", passage_instruction_format=instruction_format)


@pytest.mark.parametrize("instruction_format", ["{}{}", "{0}{1}", "{1}", "{!r}{}", "{:>3}{}", "{{}}{}{}",
                                                "Instruct: {}\\nQuery: {}"])
def test_formats_with_plain_fields_still_work(instruction_format):
    assert check_instruction_format(instruction_format, "f") == instruction_format
    assert "text" in format_instruction(instruction_format, "", "text")


def test_get_detailed_instruct_refuses_a_format_it_cannot_apply(embedder):
    # it formats without the check: AttributeError / IndexError escaped from str.format
    with pytest.raises(ValueError, match=r"instruction_format='\{0\[0\]\}\{1\}' cannot format the instruction str '' "
                                         r"and the text: IndexError: .*; use two '\{\}' fields"):
        embedder.get_detailed_instruct("{0[0]}{1}", "", "text")
    with pytest.raises(ValueError, match="AttributeError: 'str' object has no attribute 'real'"):
        embedder.get_detailed_instruct("{0.real}{1}", "q", "text")
    with pytest.raises(TypeError, match="instruction_format must be a string"):
        embedder.get_detailed_instruct(None, "q", "text")
    assert embedder.get_detailed_instruct("Instruct: {}\\nQuery: {}", "q", "t") == "Instruct: q\nQuery: t"


def test_a_format_is_checked_as_it_is_used_with_a_literal_backslash_n():
    # "\\n" becomes a newline before formatting: here the newline is the fill character of a valid spec
    assert format_instruction(check_instruction_format("{:\\n<3}{}", "f"), "a", "b") == "a\n\nb"


# -- bytes-like inputs: bytearray / memoryview iterated as ints (an empty one gave an empty result) -----------------
@pytest.mark.parametrize("value", [bytearray(b""), bytearray(b"hi"), memoryview(b""), memoryview(b"hi")])
def test_bytes_like_texts_are_refused_as_a_whole(embedder, reranker, value):
    with pytest.raises(TypeError, match=f"sentences must be a string or a list of strings, not {type(value).__name__}"):
        embedder.encode(value)
    with pytest.raises(TypeError, match="sentence_pairs must be a .query, passage. pair or a list of pairs"):
        reranker.compute_score(value)
    with pytest.raises(TypeError, match=r"sentence_pairs\[0\] is bytearray .*; a pair is a \(query, passage\)"):
        as_pairs([bytearray(b"qp")])


# -- lone surrogates: the tokenizers failed with "TextEncodeInput must be Union[...]" --------------------------------
@pytest.mark.parametrize("value", ["caf\udce9", ["ok", "a\ud800b"]])
def test_texts_with_a_lone_surrogate_are_refused_with_the_position(value):
    with pytest.raises(ValueError, match=r"(sentences|sentences\[1\]) holds a lone surrogate '\\ud[c8]\w\w' at "
                                         r"position [13], which is not valid Unicode text"):
        as_texts(value)


def test_pairs_with_a_lone_surrogate_name_the_side():
    with pytest.raises(ValueError, match=r"sentence_pairs\[1\] passage holds a lone surrogate"):
        as_pairs([("q", "p"), ("q", "p\udcff")])
    with pytest.raises(ValueError, match=r"sentence_pairs query holds a lone surrogate"):
        as_pairs(("\udcffq", "p"))


def test_a_lone_surrogate_is_refused_before_the_tokenizer(tiny_models):
    embedder = FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), devices="cpu")
    with pytest.raises(ValueError, match=r"sentences\[0\] holds a lone surrogate"):
        embedder.encode(["caf\udce9"])
    reranker = FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu")
    with pytest.raises(ValueError, match=r"sentence_pairs query holds a lone surrogate"):
        reranker.compute_score(("caf\udce9", "p"))
    assert embedder.encode(["caf\u00e9 \U0001f642 \u05e9"]).shape == (1, 32)  # astral and RTL text is fine


# -- numpy integers: "batch_size must be a positive integer, got np.int64(4)" ----------------------------------------
@pytest.mark.parametrize("number", [np.int64(4), np.int32(4), np.uint8(4)])
def test_numpy_integers_are_positive_integers(embedder, reranker, number):
    assert embedder.encode(["a", "b c"], batch_size=number, max_length=number).shape == (2, 8)
    assert len(reranker.compute_score([("q", "p")], batch_size=number, max_length=number)) == 1
    model = FakeEmbedder("fake-model", devices="cpu", batch_size=number, truncate_dim=number)
    assert type(model.batch_size) is int and model.encode("a").shape == (4,)


@pytest.mark.parametrize("value", [np.int64(0), np.bool_(True), 4.0, "4"])
def test_numpy_zero_bools_floats_and_strings_are_still_refused(embedder, value):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        embedder.encode(["a"], batch_size=value)
