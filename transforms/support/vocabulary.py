"""Distinct strings in order of first use, and each occurrence's place among them: what
dedup's word hashes and stories' term arrays both build from a list of tokens."""

from __future__ import annotations

import itertools

import numpy as np


def first_use(items: list[str]) -> tuple[list[str], np.ndarray]:
    """The distinct items in order of first use, and each item's place among them (int64):
    one dict step per item, in C (each gets the position where it first occurred; sorted,
    those positions are the order of first use)."""
    first: dict[str, int] = {}
    seen_at = np.fromiter(
        map(first.setdefault, items, itertools.count()), dtype=np.int64, count=len(items)
    )
    return list(first), np.unique(seen_at, return_inverse=True)[1].astype(np.int64)
