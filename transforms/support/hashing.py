"""Stable 64-bit hashes of words and their mixing, shared by dedup's shingles and the fact
windows (support/facts.py): both are kept in the state, so the values must be the same in
every process and every release (blake2b, no per-process seed). Pure functions."""

from __future__ import annotations

import hashlib

import numpy as np

from newsbeam.transforms.support.vocabulary import first_use


def word_hashes(words: list[str]) -> np.ndarray:
    """A stable 64-bit hash per word (its blake2b digest read little-endian); each distinct
    word hashed once, the digests read as one buffer."""
    distinct, place = first_use(words)
    digests = b"".join(
        [hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest() for word in distinct]
    )
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)[place]


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output (vectorised)."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))
