"""How a tokenizer lays out a (query, passage) pair: the special tokens around and between the two
parts, and the token type of each part. Read once from the tokenizer's own post-processor, so that
pairs can be assembled from already-truncated ids without a text round trip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PairTemplate:
    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    first_type: int = 0
    second_type: int = 0
    prefix_types: tuple[int, ...] = ()
    middle_types: tuple[int, ...] = ()
    suffix_types: tuple[int, ...] = ()

    @property
    def num_special(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)

    @classmethod
    def of(cls, tokenizer: Any) -> PairTemplate:
        first = tokenizer("a", add_special_tokens=False)["input_ids"]
        second = tokenizer("b", add_special_tokens=False)["input_ids"]
        both = tokenizer("a", "b", add_special_tokens=True, return_token_type_ids=True)
        ids, types = list(both["input_ids"]), list(both.get("token_type_ids") or [0] * len(both["input_ids"]))
        for i in range(len(ids) - len(first) + 1):
            if ids[i:i + len(first)] != first:
                continue
            start_second = i + len(first)
            for j in range(start_second, len(ids) - len(second) + 1):
                if ids[j:j + len(second)] == second:
                    end = j + len(second)
                    return cls(
                        prefix=tuple(ids[:i]), middle=tuple(ids[start_second:j]), suffix=tuple(ids[end:]),
                        first_type=types[i], second_type=types[j],
                        prefix_types=tuple(types[:i]), middle_types=tuple(types[start_second:j]),
                        suffix_types=tuple(types[end:]),
                    )
        raise ValueError(f"cannot read the pair layout of {type(tokenizer).__name__}: {ids}")

    def build(self, query: list[int], passage: list[int], max_length: int,
              truncation_side: str = "right") -> tuple[list[int], list[int]]:
        """Ids and token types of the pair, the passage trimmed so the whole fits ``max_length``.

        If the query alone does not fit, it is trimmed too and the passage dropped (never an error).
        """
        room = max_length - self.num_special - len(query)
        if room < 0:
            query, room = query[: max(max_length - self.num_special, 0)], 0
        if len(passage) > room:
            passage = passage[len(passage) - room:] if truncation_side == "left" else passage[:room]
        ids = [*self.prefix, *query, *self.middle, *passage, *self.suffix]
        types = [*self.prefix_types, *[self.first_type] * len(query), *self.middle_types,
                 *[self.second_type] * len(passage), *self.suffix_types]
        return ids, types
