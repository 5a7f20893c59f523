"""Length-sorted batching under a token budget, with out-of-memory back-off and order restoration.

Texts are ordered longest first (by token count). A batch takes the next texts while its padded size
(texts × the longest one) stays within ``max_tokens`` and its count within ``batch_size``, so short texts run
in wide batches and long ones in narrow batches. When a batch runs out of memory (and only then), the budget
is halved and that batch is tried again, smaller (the halved budget holds for the rest of the call); a batch of one
item that runs out of memory re-raises the error, with a note saying so. Every other error propagates unchanged.
No batch is computed twice on success. Batches planned in advance (multi-device shares) are split in halves instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence, TypeVar

if TYPE_CHECKING:
    import numpy as np

    from .padding import Columns

T = TypeVar("T")


class Batcher:
    """Hands out batches of item indices, longest items first, under a padded-token budget."""

    def __init__(self, lengths: Sequence[int], batch_size: int, max_tokens: int | None = None) -> None:
        import numpy as np

        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"max_batch_tokens must be a positive integer or None, got {max_tokens!r}")
        self.lengths = np.maximum(np.asarray(lengths, dtype=np.int64), 1)
        self.order = np.argsort(-self.lengths, kind="stable")
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.position = 0

    def __len__(self) -> int:
        return len(self.order)

    @property
    def done(self) -> bool:
        return self.position >= len(self.order)

    def peek(self) -> np.ndarray:
        """The next batch under the current budget (at least one item)."""
        longest = int(self.lengths[self.order[self.position]])
        count = self.batch_size if self.max_tokens is None else max(1, min(self.batch_size, self.max_tokens // longest))
        return self.order[self.position:self.position + count]

    def advance(self, count: int) -> None:
        self.position += count

    def shrink(self, failed: np.ndarray) -> bool:
        """Halve the budget below the padded size of a batch that ran out of memory. False if it was one item."""
        if len(failed) <= 1:
            return False
        padded = len(failed) * int(self.lengths[failed[0]])
        self.max_tokens = max(int(self.lengths[failed[0]]), padded // 2)
        return True

    def all_batches(self) -> list[np.ndarray]:
        """Every batch of the plan, without running anything (for splitting work between devices)."""
        batches, start = [], self.position
        while not self.done:
            batch = self.peek()
            batches.append(batch)
            self.advance(len(batch))
        self.position = start
        return batches

    @property
    def restore(self) -> np.ndarray:
        """Positions that map run order back to input order: ``ran[restore]``."""
        import numpy as np

        inverse = np.empty_like(self.order)
        inverse[self.order] = np.arange(len(self.order))
        return inverse


def out_of_memory_errors() -> tuple[type[BaseException], ...]:
    import torch

    found = {getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None)}
    return tuple(e for e in found if e is not None)


def _explain_single_item(exc: BaseException, tokens: int) -> None:
    if hasattr(exc, "add_note"):
        exc.add_note(f"flagcore: out of memory on a batch of one input ({tokens} tokens), which cannot be split "
                     "further; pass a smaller max_length, or use a device with more memory")


def run_batches(
    batcher: Batcher,
    step: Callable[[np.ndarray], T],
    *,
    desc: str,
    show_progress: bool,
    on_out_of_memory: Callable[[], None] | None = None,
    unit: str = "text",
) -> list[T]:
    """Run ``step`` on each batch in order, halving the budget and retrying a batch that runs out of memory.

    ``on_out_of_memory`` runs after the failed batch's exception is released, so its tensors can be freed.
    """
    from tqdm.auto import tqdm

    oom = out_of_memory_errors()
    results: list[T] = []
    with tqdm(total=len(batcher), desc=desc, unit=unit, disable=not show_progress, leave=False) as bar:
        while not batcher.done:
            batch = batcher.peek()
            try:
                results.append(step(batch))
            except oom as exc:
                if len(batch) <= 1:
                    _explain_single_item(exc, int(batcher.lengths[batch[0]]))
                    raise
            else:
                batcher.advance(len(batch))
                bar.update(len(batch))
                continue
            if on_out_of_memory is not None:
                on_out_of_memory()
            batcher.shrink(batch)
    return results


def split_on_out_of_memory(run: Callable[[Columns], T], columns: Columns,
                           on_out_of_memory: Callable[[], None] | None = None) -> list[T]:
    """``[run(columns)]``; when that runs out of memory, the outputs of its two halves in turn (halved again as
    needed). A batch planned in advance (one device's share of a multi-device call) backs off this way."""
    rows = len(columns["input_ids"])
    try:
        return [run(columns)]
    except out_of_memory_errors() as exc:
        if rows <= 1:
            _explain_single_item(exc, len(columns["input_ids"][0]))
            raise
    if on_out_of_memory is not None:
        on_out_of_memory()
    half = (rows + 1) // 2
    return [output for part in ({key: column[:half] for key, column in columns.items()},
                                {key: column[half:] for key, column in columns.items()})
            for output in split_on_out_of_memory(run, part, on_out_of_memory)]
