"""Distinct strings in order of first use, and each occurrence's place among them: what
dedup's word hashes and stories' term arrays both build from a list of tokens."""

from __future__ import annotations

import itertools

import numpy as np


def first_use(items: list[str]) -> tuple[list[str], np.ndarray]:
    """The distinct items in order of first use, and each item's place among them (int64):
    one dict step per item, in C (each gets the position where it first occurred). The
    dict keeps its items in order of first use, so their first positions, in its order, are
    increasing: numbering those positions 0, 1, ... in that order gives each place without
    sorting (np.unique sorted all of them: most of the time for a run's 150,000 terms)."""
    first: dict[str, int] = {}
    seen_at = np.fromiter(
        map(first.setdefault, items, itertools.count()), dtype=np.int64, count=len(items)
    )
    place = np.zeros(len(items), dtype=np.int64)
    place[np.fromiter(first.values(), dtype=np.int64, count=len(first))] = np.arange(len(first))
    return list(first), place[seen_at]
