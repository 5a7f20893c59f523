"""Splitting a merged run into forwards of similar lengths.

The batcher merges requests as they come, so a run of short requests holds texts of every length; the model pads
each forward to its longest row. The library's own batching (longest rows first, as many as fit the token budget)
puts a run of 16 mixed texts into one forward padded to the longest of the 16: 2.5 times their real tokens on the
benchmark corpus of docs/serving.md, where ``encode_corpus`` over its 1024 texts pads 6 %.
:func:`length_groups` cuts the run, sorted by length, into the groups that cost least: every forward costs a fixed
``overhead`` (in tokens' worth, measured per model at warm-up) plus its padded tokens.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from flagcore.family import Work


def length_groups(lengths: Sequence[int], overhead: float, budget: int, max_rows: int) -> list[np.ndarray]:
    """Row indices in groups (shortest rows first) minimizing ``overhead`` per group plus padded tokens, each group
    within ``budget`` padded tokens and ``max_rows`` rows (a single row always fits): dynamic programming over the
    rows sorted by length, a group being a run of neighbours."""
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    ordered = np.maximum(np.asarray(lengths, dtype=np.int64)[order], 1)
    n = len(ordered)
    best = np.zeros(n + 1)
    start = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):
        longest = int(ordered[end - 1])  # the group ending here is padded to its last (longest) row
        first = max(0, end - max(1, min(max_rows, budget // longest)))
        firsts = np.arange(first, end)
        cost = best[first:end] + overhead + longest * (end - firsts)
        pick = int(np.argmin(cost))
        best[end], start[end] = cost[pick], first + pick
    groups, end = [], n
    while end > 0:
        groups.append(order[start[end]:end])
        end = int(start[end])
    return groups[::-1]


def subset(work: Work, indices: np.ndarray) -> Work:
    """The rows ``indices`` of ``work``, as a work of their own."""
    columns = {name: [column[i] for i in indices] for name, column in work.columns.items()}
    return replace(work, columns=columns, single=False)


def reassemble(outputs: list[Any], groups: list[np.ndarray]) -> Any:
    """The outputs of the groups' runs back in the rows' order: an array when every group gave one, else a list."""
    order = np.concatenate(groups)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    if all(isinstance(output, np.ndarray) for output in outputs):
        return np.concatenate(outputs)[inverse]
    rows = [row for output in outputs for row in output]
    return [rows[i] for i in inverse]
