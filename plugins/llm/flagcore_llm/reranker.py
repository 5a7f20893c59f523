"""LLMReranker (``decoder-only-base`` reranker): FlagEmbedding's FlagLLMReranker on the shared machinery.

Each pair becomes ``[BOS] + "A: query" + "\\n" + "B: passage" + "\\n" + prompt`` in token ids (BOS only when the
tokenizer has one that is not its pad token; query truncated to ``query_max_length``, passage to ``max_length``,
then the passage part trimmed so the first two parts fit ``max_length + len("\\n") + len(prompt)``), and the score
is the raw logit of the token "Yes" at the last position. Batches are padded on the left to a multiple of 8 with
position ids counted over the real tokens, so only the last position's logits are computed.
"""

from __future__ import annotations

import inspect
from typing import Any

from flagcore.family import AbsReranker

from .loading import load_decoder

DEFAULT_PROMPT = ("Given a query A and a passage B, determine whether the passage contains an answer to the query by "
                  "providing a prediction of either 'Yes' or 'No'.")
SEPARATOR = "\n"


class LLMReranker(AbsReranker):
    """A causal LM asked whether passage B answers query A; the score is its "Yes" logit."""

    call_options = frozenset({"prompt"})
    default_pad_to_multiple_of = 8
    #: prepend the BOS token even when it is the tokenizer's pad token (the layer-wise rerankers do)
    always_bos = False
    #: the prompt when neither the constructor nor the call gives one
    default_prompt = DEFAULT_PROMPT

    def __init__(self, model_name_or_path: str, peft_path: str | None = None,
                 query_instruction_for_rerank: str | None = "A: ", passage_instruction_for_rerank: str | None = "B: ",
                 prompt: str | None = None, **kwargs: Any) -> None:
        super().__init__(model_name_or_path, query_instruction_for_rerank=query_instruction_for_rerank,
                         passage_instruction_for_rerank=passage_instruction_for_rerank, **kwargs)
        self.prompt = _check_prompt(prompt)
        self.peft_path = peft_path
        self.tokenizer, self.model = self.load_model(peft_path)
        yes = self._ids("Yes")
        if not yes:
            raise ValueError(f"the tokenizer of {self.model_name_or_path} gives no token for 'Yes'; the LLM reranker "
                             "scores by the logit of that token")
        self.yes_token_id = yes[0]
        self._separator = self._ids(SEPARATOR)
        self._last_logits_only = "logits_to_keep" in inspect.signature(self.model.forward).parameters

    def load_model(self, peft_path: str | None) -> tuple[Any, Any]:
        """``(tokenizer, causal LM)``; families with their own model classes override this."""
        return load_decoder(self, "AutoModelForCausalLM", peft_path)

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def padding_side(self) -> str:
        return "left"  # the last position of every row is then the last column

    def tokenize_pairs(self, pairs: list[tuple[str, str]], query_max_length: int, max_length: int,
                       prompt: str | None = None, **options: Any) -> dict[str, list[list[int]]]:
        rows = [first + second + tail for first, second, tail in
                self.pair_parts(pairs, query_max_length, max_length, prompt)]
        return {"input_ids": rows, "attention_mask": [[1] * len(row) for row in rows]}

    def pair_parts(self, pairs: list[tuple[str, str]], query_max_length: int, max_length: int,
                   prompt: str | None = None) -> list[tuple[list[int], list[int], list[int]]]:
        """Each pair's ``([BOS] + query, separator + passage, separator + prompt)`` token ids, truncated."""
        chosen = next((p for p in (_check_prompt(prompt), self.prompt) if p is not None), self.default_prompt)
        tail = self._separator + self._ids(chosen)
        queries = self.tokenizer([q for q, _ in pairs], add_special_tokens=False, truncation=True,
                                 max_length=query_max_length)["input_ids"]
        passages = self.tokenizer([p for _, p in pairs], add_special_tokens=False, truncation=True,
                                  max_length=max_length)["input_ids"]
        bos, pad = self.tokenizer.bos_token_id, self.tokenizer.pad_token_id
        prefix = [bos] if bos is not None and (bos != pad or self.always_bos) else []
        limit = max_length + len(tail)
        from_left = getattr(self.tokenizer, "truncation_side", "right") == "left"
        parts = []
        for query, passage in zip(queries, passages, strict=True):
            first, second = prefix + list(query), self._separator + list(passage)
            excess = len(first) + len(second) - limit
            # only the second part is trimmed; like transformers' "only_second", a second part too short to absorb
            # the excess is left whole
            if 0 < excess < len(second):
                second = second[excess:] if from_left else second[:-excess]
            parts.append((first, second, tail))
        return parts

    def score_batch(self, batch: dict[str, Any], **options: Any) -> Any:
        forward: dict[str, Any] = {"position_ids": real_positions(batch["attention_mask"]), "use_cache": False,
                                   "return_dict": True}
        if self._last_logits_only:
            forward["logits_to_keep"] = 1
        logits = self.model(**batch, **forward).logits
        return logits[:, -1, self.yes_token_id]


def real_positions(attention_mask: Any) -> Any:
    """Position ids counted over the real tokens of a left-padded batch (those of the unpadded sequences)."""
    return (attention_mask.cumsum(dim=1) - 1).clamp(min=0)


def _check_prompt(prompt: Any) -> str | None:
    if prompt is not None and not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string or None, not {type(prompt).__name__}")
    return prompt
