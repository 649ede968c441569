"""Lookups into the earlier state's dedup and stories tables, held in memory per file.

A run needs of the earlier state only the rows that share a key with its own articles:
for dedup the earlier articles with the same text, the same URL or an LSH bucket in
common; for stories the earlier articles sharing a term (cluster_stories drops the others
before clustering). Streaming every retained row through the run's shuffles made a
one-page run over an index of 8,000 articles cost 12.6 s where a run without state costs
3.8 s. Here each state file becomes a `Segment`: its rows as an Arrow table and a sorted
array of 64-bit key hashes pointing at them; a stage hashes its own keys and takes the
matching rows. A hash collision only adds an earlier row that then shares no real key
with anything (it takes part in nothing), so the hash need not be perfect.

Segments are loaded once per process and file (support/loaded.py `load_parts`, by file
name and size: state files are never changed in place, and a state version carries a file
it keeps unchanged under the same name). Follow mode, one process running batch after
batch, thus reads only the files the previous batch added. What is retained is decided at
lookup (`keep_since`), so a cached segment serves every later retention cut-off.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from newsbeam.transforms.support import files
from newsbeam.transforms.support.loaded import load_parts
from newsbeam.transforms.support.state import StateTable, read_arrow
from newsbeam.transforms.support.times import micros_of

# Keys of one row -> (key hashes, the row of each): built per file, vectorised.
KeysOf = Callable[[pa.Table], tuple[np.ndarray, np.ndarray]]


def stable_hashes(values: Iterable[str], kind: bytes) -> np.ndarray:
    """64-bit hashes of strings, the same in every process (Python's hash() is salted);
    `kind` keeps texts, URLs and terms apart."""
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(kind + value.encode(), digest_size=8).digest(), "big")
            for value in values
        ),
        dtype=np.uint64,
    )


_BAND_SEED = np.uint64(0x9E3779B97F4A7C15)
_BAND_PRIME = np.uint64(0x100000001B3)


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands * rows) MinHash signatures -> (n, bands) hashes of their LSH band keys
    (the band's number and its rows' values, as dedup.band_keys)."""
    signatures = np.asarray(signatures, dtype=np.uint64).reshape(len(signatures), bands, rows)
    hashes = np.broadcast_to(
        np.arange(1, bands + 1, dtype=np.uint64) * _BAND_SEED, signatures.shape[:2]
    ).copy()
    with np.errstate(over="ignore"):
        for row in range(rows):
            hashes = (hashes ^ signatures[:, :, row]) * _BAND_PRIME
    return hashes


@dataclasses.dataclass(frozen=True)
class Segment:
    """One state file in memory: its rows (the table's schema), its key hashes sorted with
    the row each points at, and each row's first-seen time (microseconds)."""

    table: pa.Table
    keys: np.ndarray
    positions: np.ndarray
    first_seen: np.ndarray
    # What a stage builds of the file besides its keys, once (None: nothing).
    extra: Any = None

    def retained(self, keep_since: dt.datetime | None) -> np.ndarray:
        """A mask of the rows first seen at or after `keep_since` (None: every row)."""
        if keep_since is None:
            return np.ones(len(self.first_seen), dtype=bool)
        return self.first_seen >= micros_of(keep_since)

    def rows_at(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """The rows at `positions`, as dicts in the table's columns."""
        if not len(positions):
            return []
        return self.table.take(pa.array(positions)).to_pylist()

    def matching(self, wanted: np.ndarray, keep_since: int | None) -> np.ndarray:
        """The rows (sorted positions) holding one of the `wanted` key hashes (sorted,
        unique), first seen at or after `keep_since` (None: any)."""
        low = np.searchsorted(self.keys, wanted, side="left")
        high = np.searchsorted(self.keys, wanted, side="right")
        counts = high - low
        total = int(counts.sum())
        if not total:
            return np.zeros(0, dtype=np.int64)
        starts = np.repeat(low, counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = np.unique(self.positions[starts + offsets])
        if keep_since is not None:
            rows = rows[self.first_seen[rows] >= keep_since]
        return rows


def no_keys(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """For a stage that scans its segments rather than looking keys up."""
    return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)


def build_segment(
    path: str, table: StateTable, keys_of: KeysOf, extra_of: Callable[[pa.Table], Any] | None = None
) -> Segment:
    """Read one state file and index it by `keys_of` (and `extra_of`, when given)."""
    import pyarrow.compute as pc  # state files only: a run without --state never loads it

    arrow = read_arrow(path, table)
    keys, positions = keys_of(arrow)
    order = np.argsort(keys, kind="stable")
    first_seen = (
        pc.cast(arrow.column("first_seen_at"), pa.int64()).to_numpy(zero_copy_only=False)
        if arrow.num_rows
        else np.zeros(0, dtype=np.int64)
    )
    extra = extra_of(arrow) if extra_of is not None else None
    return Segment(arrow, keys[order], positions[order].astype(np.int64), first_seen, extra)


@dataclasses.dataclass(frozen=True)
class StateIndex:
    """The segments of one state table (its files, in order)."""

    segments: tuple[Segment, ...]

    @property
    def rows_held(self) -> int:
        return sum(segment.table.num_rows for segment in self.segments)

    def rows(
        self, wanted: Iterable[int], keep_since: dt.datetime | None, id_column: str
    ) -> list[dict[str, Any]]:
        """The retained rows holding one of the `wanted` key hashes, once each (by
        `id_column`, the first file's row), sorted by it."""
        keys = np.unique(np.fromiter(wanted, dtype=np.uint64))
        cut = None if keep_since is None else micros_of(keep_since)
        found: dict[str, dict[str, Any]] = {}
        for segment in self.segments:
            for row in segment.rows_at(segment.matching(keys, cut)):
                found.setdefault(row[id_column], row)
        return [found[key] for key in sorted(found)]


def open_index(
    name: str,
    paths: Sequence[str],
    table: StateTable,
    keys_of: KeysOf,
    extra_of: Callable[[pa.Table], Any] | None = None,
) -> StateIndex:
    """The index of one state table's files, each file loaded once per process (by name and
    size). `name` must name the key function too: indexes built differently are kept apart."""
    parts = [(path.rsplit("/", 1)[-1], files.file_size(path), path) for path in paths]
    by_part = {(base, size): path for base, size, path in parts}
    segments = load_parts(
        name,
        [(base, size) for base, size, _ in parts],
        lambda part: build_segment(by_part[part], table, keys_of, extra_of),
    )
    return StateIndex(tuple(segments))
