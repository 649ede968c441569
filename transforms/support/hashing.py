"""Stable 64-bit hashes of words and their mixing, shared by dedup's shingles and the fact
windows (support/facts.py): both are kept in the state, so the values must be the same in
every process and every release (blake2b, no per-process seed). Pure functions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from itertools import filterfalse

import numpy as np

# Words a process remembers per table (then it starts again): ~85 bytes a word, ~1.4 MB a
# table. The 439 distinct pages of the speed benchmark hold 56k distinct words in 25
# languages; 4k, 16k and 64k took the same CPU there (what repeats is a language's common
# words).
_REMEMBERED = 1 << 14


def word_hash(word: str) -> int:
    """The stable 64-bit hash of one word: its blake2b digest read little-endian."""
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class Remembered(dict[str, int]):
    """word -> a pure function of it (`compute`), each word computed once per process:
    texts share most of their words ("the", "said", a story's names), and a word seen
    before costs one dict lookup in C where its blake2b took ~1 us. At most `most` words,
    then it starts again (a process that runs for days meets new names every day). Bundles
    in threads of one process share it: a word two of them miss at once is computed twice,
    to the same value."""

    def __init__(self, compute: Callable[[str], int], most: int = _REMEMBERED) -> None:
        super().__init__()
        self._compute = compute
        self._most = most

    def __missing__(self, word: str) -> int:
        if len(self) >= self._most:
            self.clear()
        value = self[word] = self._compute(word)
        return value

    def values_of(self, words: Iterable[str]) -> Iterable[int]:
        """The value of each word, in order: the words not remembered yet computed first, in
        one loop. A word missed one at a time went through `__missing__` (a Python call from
        C's lookup) and, for the folded hashes, a second table: 1.6 us a new word against
        0.6 us for its blake2b; this loop takes ~0.8 us. Another thread starting the table
        again in between costs only `__missing__` for what it dropped."""
        words = words if isinstance(words, list) else list(words)
        compute, most = self._compute, self._most
        for word in filterfalse(self.__contains__, words):
            if word not in self:  # a word new to the table twice in one text
                if len(self) >= most:
                    self.clear()
                self[word] = compute(word)
        return map(self.__getitem__, words)


_WORD_HASHES = Remembered(word_hash)


def word_hashes(words: list[str]) -> np.ndarray:
    """A stable 64-bit hash per word (`word_hash`), each distinct word hashed once per
    process (`Remembered`)."""
    return np.fromiter(_WORD_HASHES.values_of(words), dtype=np.uint64, count=len(words))


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output (vectorised)."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))
