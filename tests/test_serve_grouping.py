"""Splitting a merged server run into forwards of similar lengths (flagcore_serve.grouping)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("flagcore_serve")

from flagcore_serve.grouping import length_groups, reassemble  # noqa: E402


def test_every_row_lands_in_exactly_one_group_within_the_budget():
    lengths = [5, 300, 7, 290, 6, 8, 310, 4]
    groups = length_groups(lengths, overhead=50, budget=1024, max_rows=64)
    rows = np.sort(np.concatenate(groups))
    assert rows.tolist() == list(range(len(lengths)))
    for group in groups:
        assert max(lengths[i] for i in group) * len(group) <= 1024


def test_short_and_long_rows_run_apart_when_padding_costs_more_than_a_forward():
    lengths = [4, 5, 6, 300, 310]
    groups = length_groups(lengths, overhead=50, budget=4096, max_rows=64)
    assert sorted(sorted(int(i) for i in g) for g in groups) == [[0, 1, 2], [3, 4]]


def test_a_large_forward_cost_keeps_one_group():
    assert len(length_groups([4, 5, 300], overhead=10_000, budget=4096, max_rows=64)) == 1


def test_reassemble_restores_the_rows_order():
    groups = [np.array([2, 0]), np.array([1])]
    outputs = [np.array([[2.0], [0.0]]), np.array([[1.0]])]
    np.testing.assert_array_equal(reassemble(outputs, groups), [[0.0], [1.0], [2.0]])
    assert reassemble([["c", "a"], ["b"]], groups) == ["a", "b", "c"]
