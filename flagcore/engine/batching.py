"""Length-sorted batching: plan the batches, run them with progress, put results back in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence, TypeVar

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class BatchPlan:
    """Batches of item indices, longest items first. ``order`` lists every index in run order."""

    order: np.ndarray
    batches: list[np.ndarray]

    @property
    def restore(self) -> np.ndarray:
        """Positions that map run order back to input order: ``ran[plan.restore]``."""
        import numpy as np

        inverse = np.empty_like(self.order)
        inverse[self.order] = np.arange(len(self.order))
        return inverse


def plan_batches(lengths: Sequence[int], batch_size: int) -> BatchPlan:
    import numpy as np

    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return BatchPlan(order=order, batches=batches)


def run_batches(
    plan: BatchPlan,
    step: Callable[[np.ndarray], T],
    *,
    desc: str,
    show_progress: bool,
) -> list[T]:
    """Run ``step`` on each batch of indices, in plan order, with a tqdm bar when asked."""
    from tqdm.auto import tqdm

    results: list[T] = []
    with tqdm(total=len(plan.order), desc=desc, unit="text", disable=not show_progress, leave=False) as bar:
        for batch in plan.batches:
            results.append(step(batch))
            bar.update(len(batch))
    return results
