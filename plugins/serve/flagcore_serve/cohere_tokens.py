"""Token budgets of Cohere's requests, worked out on the model's tokenizer thread before the request is queued:
``/v2/embed``'s ``truncate`` and ``max_tokens`` (an over-long text refused, or cut at its start or its end) and
``/v2/rerank``'s ``max_tokens_per_doc``. Texts are cut as text, at a token's offset, so the model's own
``prepare_*`` stage (prompts, instructions, special tokens) still makes the token ids."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from .errors import APIError
from .models import EmbedKey, ServedModel

TRUNCATE = ("NONE", "START", "END")


async def on_tokenizer_thread(item: ServedModel, work: Callable[..., Any], *args: Any) -> Any:
    """``work(*args)`` on the model's tokenizer thread (the tokenizer is not shared across threads); the model's
    TypeError and ValueError are the request's fault (400)."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(item.tokenizer_thread, work, *args)
    except (TypeError, ValueError) as exc:
        raise APIError(400, str(exc)) from None


def fit_texts(model: Any, texts: list[str], key: EmbedKey, truncate: str, max_tokens: int | None) -> list[str]:
    """``texts`` within the tokens the model reads for ``key`` (its side's max length, or ``max_tokens`` when
    smaller; the prompt and special tokens count): refused past it (``NONE``), else cut at the start or end."""
    if truncate == "END" and max_tokens is None:
        return texts  # the model's own truncation
    limit = _side_limit(model, key.query)
    if max_tokens is not None and max_tokens < limit:
        limit, what = max_tokens, f"'max_tokens' is {max_tokens}"
    else:
        what = f"the model reads at most {limit} tokens"
    overhead = _overhead(model, key)
    room = limit - overhead
    if room < 1:
        raise APIError(400, f"{what}, and the prompt and special tokens take {overhead} of them", param="max_tokens")
    lengths = token_counts(model.tokenizer, texts)
    over = [i for i, n in enumerate(lengths) if n > room]
    if truncate == "NONE" and over:
        i = over[0]
        raise APIError(400, f"texts[{i}] has {lengths[i] + overhead} tokens with the prompt and special tokens, and "
                            f"{what} ({len(over)} of the {len(texts)} texts are too long; 'truncate' is 'NONE'): send "
                            f"shorter texts, or 'truncate': 'END' or 'START'", param="texts")
    fitted = list(texts)
    for i in over:
        fitted[i] = cut_text(model.tokenizer, texts[i], room, keep_end=truncate == "START")
    return fitted


def cut_documents(tokenizer: Any, documents: list[str], max_tokens: int) -> list[str]:
    """Each document's first ``max_tokens`` tokens (as text; special tokens not counted)."""
    lengths = token_counts(tokenizer, documents)
    return [cut_text(tokenizer, d, max_tokens, keep_end=False) if n > max_tokens else d
            for d, n in zip(documents, lengths, strict=True)]


def token_counts(tokenizer: Any, texts: list[str]) -> list[int]:
    """Tokens of each text on its own (no special tokens, nothing truncated)."""
    if not texts:
        return []
    ids = tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    return [len(row) for row in ids]


def cut_text(tokenizer: Any, text: str, keep: int, keep_end: bool) -> str:
    """The part of ``text`` that its first (or, ``keep_end``, last) ``keep`` tokens cover."""
    if getattr(tokenizer, "is_fast", False):
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                            verbose=False)["offset_mapping"]
        return text[offsets[-keep][0]:] if keep_end else text[:offsets[keep - 1][1]]
    # a slow tokenizer has no offsets: its own decoding of the kept tokens
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    return str(tokenizer.decode(ids[-keep:] if keep_end else ids[:keep]))


def _side_limit(model: Any, query: bool) -> int:
    """The tokens the model reads of one text on this side: its max length, within its position table."""
    return int(model.input_limit(query=query))


def _overhead(model: Any, key: EmbedKey) -> int:
    """Tokens the model adds to every text for ``key``: its prompt or instruction and its special tokens."""
    work = model.prepare_side([""], query=key.query, prompt_name=key.prompt_name, convert_to_numpy=True,
                              show_progress_bar=False)
    return len(work.columns["input_ids"][0])
