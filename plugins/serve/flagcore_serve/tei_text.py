"""The tokenizer side of TEI's API: the texts as a model's passage side tokenizes them, TEI's length rule (an input over
the max length is refused unless ``truncate``) and its left truncation, ``/tokenize``'s tokens and ``/decode``. These
run on the model's tokenizer thread: a fast tokenizer's truncation settings are state shared with the model's own
prepare stage."""

from __future__ import annotations

from typing import Any, Callable

from .models import ServedModel
from .tei_requests import TEIError, validation

#: a max_length that truncates nothing, to count an input's tokens
NO_LIMIT = 1 << 30


def max_input_length(item: ServedModel) -> int:
    """Tokens the model reads of one input (a reranker: of one pair), as TEI's ``max_input_length``."""
    return int(item.model.input_limit())


def passage_texts(model: Any, texts: list[str], prompt_name: str | None) -> list[str]:
    """``texts`` as the model's passage side hands them to its tokenizer (its instruction or prompt applied)."""
    return model.side_texts(texts, query=False, prompt_name=prompt_name)


def too_long(length: int, limit: int) -> TEIError:
    return validation(f"`inputs` must have less than {limit} tokens. Given: {length}")


def fit_texts(item: ServedModel, texts: list[str], prompt_name: str | None, truncate: bool, left: bool) -> list[str]:
    """``texts`` for an embedder's passage side under TEI's length rule: refused when one is over the max length and
    ``truncate`` is off; cut at the start when ``left`` (the model itself truncates at the end)."""
    if truncate and not left:
        return texts
    model, limit = item.model, max_input_length(item)
    try:
        prefixed = passage_texts(model, texts, prompt_name)
    except ValueError as exc:
        raise validation(str(exc)) from None

    def measure(text: str) -> int:
        return len(model.tokenize(passage_texts(model, [text], prompt_name), NO_LIMIT)["input_ids"][0])

    lengths = [len(ids) for ids in model.tokenize(prefixed, NO_LIMIT)["input_ids"]]
    return _fitted(texts, lengths, limit, truncate, lambda text: _keep_end(model.tokenizer, text, measure, limit))


def fit_pairs(item: ServedModel, query: str, texts: list[str], truncate: bool, left: bool) -> list[str]:
    """A reranker's ``texts`` under TEI's length rule, each counted with ``query`` as the tokenizer pairs them."""
    if truncate and not left:
        return texts
    tokenizer, limit = item.model.tokenizer, max_input_length(item)

    def measure(text: str) -> int:
        return len(tokenizer(query, text)["input_ids"])

    lengths = [len(ids) for ids in tokenizer([query] * len(texts), texts)["input_ids"]]
    return _fitted(texts, lengths, limit, truncate, lambda text: _keep_end(tokenizer, text, measure, limit))


def _fitted(texts: list[str], lengths: list[int], limit: int, truncate: bool,
            keep_end: Callable[[str], str]) -> list[str]:
    out = []
    for text, length in zip(texts, lengths, strict=True):
        if length > limit and not truncate:
            raise too_long(length, limit)
        out.append(keep_end(text) if length > limit else text)
    return out


def _keep_end(tokenizer: Any, text: str, measure: Callable[[str], int], limit: int) -> str:
    """``text`` cut where a token starts so that what is left fits ``limit`` as ``measure`` counts it."""
    if not getattr(tokenizer, "is_fast", False):
        raise validation("`truncation_direction` Left needs a fast tokenizer (token offsets); this model has none")
    for _ in range(4):  # the cut text may tokenize into a few more tokens than before: measure again
        excess = measure(text) - limit
        if excess <= 0:
            break
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        text = text[offsets[excess][0]:] if excess < len(offsets) else ""
    return text


def tokens(item: ServedModel, text: str, add_special_tokens: bool, prompt_name: str | None) -> list[dict[str, Any]]:
    """TEI's tokens of ``text`` (after the prompt, as the passage side has it): id, text and special, and for a
    non-special token its UTF-8 byte ``start`` and ``stop`` in the text (TEI gives byte offsets)."""
    tokenizer = item.model.tokenizer
    if item.kind == "embedder":
        try:
            text = passage_texts(item.model, [text], prompt_name)[0]
        except ValueError as exc:
            raise validation(str(exc)) from None
    elif prompt_name is not None:
        raise validation(f"`prompt_name` is {prompt_name!r}; the reranker {item.name!r} has no prompts")
    fast = bool(getattr(tokenizer, "is_fast", False))
    encoded = tokenizer(text, add_special_tokens=add_special_tokens, return_special_tokens_mask=True,
                        return_offsets_mapping=fast)
    ids = list(encoded["input_ids"])
    pieces = tokenizer.convert_ids_to_tokens(ids)
    offsets = encoded["offset_mapping"] if fast else [None] * len(ids)
    byte_at = _byte_offsets(text)
    out = []
    for token_id, piece, special, span in zip(ids, pieces, encoded["special_tokens_mask"], offsets, strict=True):
        if special or span is None:
            out.append({"id": token_id, "text": piece, "special": bool(special), "start": None, "stop": None})
        else:
            start, stop = span
            out.append({"id": token_id, "text": text[start:stop], "special": False, "start": byte_at[start],
                        "stop": byte_at[stop]})
    return out


def _byte_offsets(text: str) -> list[int]:
    """The UTF-8 byte offset of every character position of ``text`` (one more than its length)."""
    offsets = [0]
    for char in text:
        offsets.append(offsets[-1] + len(char.encode("utf-8", "surrogatepass")))
    return offsets


def decode(item: ServedModel, ids: list[list[int]], skip_special_tokens: bool) -> list[str]:
    tokenizer = item.model.tokenizer
    try:
        return [tokenizer.decode(row, skip_special_tokens=skip_special_tokens) for row in ids]
    except Exception as exc:  # the tokenizer's own refusal (an id past its vocabulary, ...)
        raise TEIError("Tokenizer", f"tokenizer error {type(exc).__name__}: {exc}") from None
