"""ICLEmbedder (``decoder-only-icl``): FlagEmbedding's FlagICLModel on the shared machinery.

A query becomes ``prefix + body + suffix``: the prefix holds the few-shot examples, each written with
``examples_instruction_format`` (instruction, query, response) and joined by blank lines; the body is the
instruction-formatted query truncated in tokens to ``max_length`` minus the lengths of ``"<s>"`` and
``suffix + "</s>"`` and decoded back to text; the whole is tokenised with the tokenizer's special tokens, truncated
to ``(len(prefix) + len(suffix) + max_length + 8) // 8 * 8 + 8`` tokens (Mistral's ``<s>``/``</s>`` in the length
arithmetic, as the model card and FlagEmbedding do). Passages and ``encode`` use the plain last-token path with no
examples; unlike FlagEmbedding, ``encode_corpus`` never moves the model off its device.
"""

from __future__ import annotations

from typing import Any

from flagcore_llm.embedder import LLMEmbedder

from flagcore.family import EmbedWork, as_texts, format_instruction, positive_int_or

from .claims import QUERY_FORMAT

EXAMPLES_FORMAT = "<instruct>{}\n<query>{}\n<response>{}"
SUFFIX = "\n<response>"


class ICLEmbedder(LLMEmbedder):
    """An LLM embedder whose queries carry in-context examples (``examples_for_task``, :meth:`set_examples`)."""

    def __init__(self, model_name_or_path: str, query_instruction_format: str = QUERY_FORMAT, suffix: str = SUFFIX,
                 examples_for_task: list[dict] | None = None, examples_instruction_format: str = EXAMPLES_FORMAT,
                 **kwargs: Any) -> None:
        super().__init__(model_name_or_path, query_instruction_format=query_instruction_format.replace("\\n", "\n"),
                         **kwargs)
        if not isinstance(suffix, str):
            raise TypeError(f"suffix must be a string such as {SUFFIX!r}, not {type(suffix).__name__}")
        self.suffix = suffix
        self.examples_instruction_format = _check_examples_format(examples_instruction_format.replace("\\n", "\n"))
        self.examples_for_task = None if examples_for_task is None else self._check_examples(examples_for_task)
        self.prefix = ""
        self.set_examples()

    # -- examples --------------------------------------------------------------------------
    def set_examples(self, examples_for_task: list[dict] | None = None) -> None:
        """Use these examples (not stored) for the next queries; None: the constructor's ``examples_for_task``,
        if any, else no examples. ``[]`` gives an empty example block (a blank line), as in FlagEmbedding."""
        examples = self.examples_for_task if examples_for_task is None else self._check_examples(examples_for_task)
        if examples is None:
            self.prefix = ""
            return
        written = [self.examples_instruction_format.format(e.get("instruct", self.query_instruction_for_retrieval),
                                                          e["query"], e["response"]) for e in examples]
        self.prefix = "\n\n".join(written) + "\n\n"

    def _check_examples(self, examples: Any) -> list[dict]:
        if isinstance(examples, (str, dict)) or not isinstance(examples, (list, tuple)):
            raise TypeError("examples_for_task must be a list of dicts with 'instruct', 'query' and 'response', "
                            f"not {type(examples).__name__}")
        for i, example in enumerate(examples):
            if not isinstance(example, dict):
                raise TypeError(f"examples_for_task[{i}] is {type(example).__name__}; each example is a dict with "
                                "'instruct', 'query' and 'response'")
            required = ["query", "response"] + (["instruct"] if self.query_instruction_for_retrieval is None else [])
            missing = [key for key in required if key not in example]
            if missing:
                hint = (" ('instruct' may be left out only when query_instruction_for_retrieval is set)"
                        if "instruct" in missing else "")
                raise ValueError(f"examples_for_task[{i}] has no {', '.join(map(repr, missing))} key{hint}; "
                                 f"it has {sorted(example)}")
            wrong = [key for key in ("instruct", "query", "response") if key in example
                     and not isinstance(example[key], str)]
            if wrong:
                raise TypeError(f"examples_for_task[{i}][{wrong[0]!r}] must be a string, not "
                                f"{type(example[wrong[0]]).__name__}")
        return list(examples)

    # -- queries ---------------------------------------------------------------------------
    def prepare_queries(self, queries: str | list[str], batch_size: int | None = None, max_length: int | None = None,
                        convert_to_numpy: bool | None = None, **kwargs: Any) -> EmbedWork:
        """Queries with the instruction and the in-context examples, tokenized (what ``encode_queries`` runs)."""
        texts, single = as_texts(queries, "queries")
        if self.query_instruction_for_retrieval is not None:
            texts = [format_instruction(self.query_instruction_format, self.query_instruction_for_retrieval, text)
                     for text in texts]
        return self.prepare_texts(texts, single, self.tokenize_with_examples,
                                  max_length=positive_int_or(max_length, self.query_max_length, "max_length"),
                                  batch_size=batch_size, convert_to_numpy=convert_to_numpy, options=kwargs,
                                  caller=self.encode_queries)

    def tokenize_with_examples(self, texts: list[str], max_length: int) -> dict[str, list[list[int]]]:
        """Token ids of ``prefix + truncated query + suffix`` (the text construction of the module docstring)."""
        def count(text: str) -> int:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

        room = max_length - count("<s>") - count(f"{self.suffix}</s>")
        if room < 1:
            raise ValueError(f"max_length={max_length} leaves no room for the query once the suffix {self.suffix!r} "
                             "and the special tokens are counted; pass a larger max_length")
        bodies = self.tokenizer(texts, truncation=True, max_length=room, add_special_tokens=False)["input_ids"]
        decoded = self.tokenizer.batch_decode(bodies)
        total = (count(self.prefix) + count(self.suffix) + max_length + 8) // 8 * 8 + 8
        return self.tokenize([self.prefix + body + self.suffix for body in decoded], total)


def _check_examples_format(examples_format: str) -> str:
    if not isinstance(examples_format, str):
        raise TypeError(f"examples_instruction_format must be a string like {EXAMPLES_FORMAT!r}")
    try:
        written = examples_format.format("\x00i", "\x01q", "\x02r")
    except (IndexError, KeyError, ValueError) as exc:
        raise ValueError(f"examples_instruction_format={examples_format!r} is not a format with three '{{}}' fields "
                         f"(instruction, query, response): {exc}") from None
    if "\x01q" not in written or "\x02r" not in written:
        raise ValueError(f"examples_instruction_format={examples_format!r} drops the example's query or response")
    return examples_format


