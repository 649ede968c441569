"""The facts of a text where two texts could disagree on them: what tells two templated
briefs apart when they share most of their words.

Price tickers, results, weather and earthquake bulletins, obituaries and court listings are
cut from one template: "Acme Group shares rose 2.1 per cent to 45.10 pounds on Friday ...",
"Globex Corp shares fell 0.4 per cent to 12.80 pounds on Monday ...". Two of them share
most of their 5-word shingles, and a boilerplate paragraph lifts their containment to where
copies sit, though they are different news. What differs is where the template's slots
are: a name or a number in the same words around it.

A *fact window* is a run of `width` words holding a fact (a word with a digit, or one that
starts with a capital letter) and at least two other words. Its *slot* is the same window
with every fact replaced by a placeholder (one for numbers, one for names): two texts that
have a slot in common say something in the same words there. A slot the two fill with no
window in common is a *conflict*: the same words around other names or numbers. A copy
(trimmed, retitled, re-wrapped, lightly edited, combined with another text) repeats its
original's windows, so its slots agree but where an edit changed a fact (a weekday, a
figure): on syndicated-dev at most 15% of the shared slots conflict. Two templated briefs
conflict in every slot around what they report: 34% or more on generated tickers, weather,
earthquake, obituary, court and appointment briefs (review 60).

Each window is kept as one 64-bit value, its slot's hash in the high 32 bits and its own
hash in the low 32: half the size of the two hashes kept apart, for the dedup state keeps
them for every article (a chance collision between two texts' slots or windows, about one
in 10^4 pairs of 500-window texts, moves a share by one slot).

Words are those `words.casefolded_words` gives, in the text's own case. Texts in scripts
without capitals still have their numbers as facts.
"""

from __future__ import annotations

import re

import numpy as np

from newsbeam.transforms.support.hashing import Remembered, mix64, word_hash
from newsbeam.transforms.support.vocabulary import sorted_unique
from newsbeam.transforms.support.words import _script_word, compared_form, needs_script_words

_PLAIN_WORD = re.compile(r"\w+")
# Fixed multipliers per position in a window (the values are kept in the dedup state).
_POSITION_MULTIPLIERS = np.random.default_rng(20261205).integers(
    1, 2**63, size=16, dtype=np.uint64
) * np.uint64(2) + np.uint64(1)
# The placeholders a slot has for a number and for a name: hashes no word takes.
_NUMBER = np.uint64(0x9E3779B97F4A7C15)
_NAME = np.uint64(0xC2B2AE3D27D4EB4F)
# Words in a fact window that are no fact: fewer, and the slot says too little about where
# in the text it is ("N N N # N" matches any list of names).
_LEAST_OTHER_WORDS = 2
# No fact windows (a text too short to compare, or one from before they were kept); shared,
# so never written to.
NO_FACTS = np.zeros(0, dtype=np.uint64)
NO_FACTS.setflags(write=False)


def text_words(text: str) -> tuple[list[str], bool]:
    """The words of `text` in its own case (where `words.casefolded_words` finds them), and
    whether casefolding them one by one gives `casefolded_words(text)`, so that dedup
    tokenises a text once for its shingles and its facts. It does but where casefolding
    makes a character a word character or stops it being one: where it adds a combining mark
    ("İ" is "i̇": those texts take the script path below) and U+0345 (a mark that folds to
    "ι"), every code point checked (tests/test_facts.py)."""
    compared = compared_form(text)
    if needs_script_words(compared.casefold()):
        return list(_script_word().findall(compared)), False
    return _PLAIN_WORD.findall(compared), "\u0345" not in compared


_IS_NUMBER, _IS_NAME = 1, 2


def word_kind(word: str) -> int:
    """_IS_NUMBER for a word with a digit, _IS_NAME for one that starts with a capital
    letter, else 0: what a fact window's facts are."""
    # No letter is a digit (every code point checked): most words need no loop.
    if not word.isalpha() and any(c.isdigit() for c in word):
        return _IS_NUMBER
    return _IS_NAME if word[:1].isupper() else 0


# Each word's kind and the hash of its casefolded form, per word as the text writes it,
# answered once per process (support/hashing.py `Remembered`): the per-character tests and
# casefolding of every word of every text were most of dedup's fingerprint.
_KINDS = Remembered(word_kind)


def _folded_hash(word: str) -> int:
    # Its own blake2b, not `word_hashes`' table: a second table's lookup and miss cost more
    # than the hash of a case variant ("The" beside "the") computed again.
    return word_hash(word.casefold())


_OWN_HASHES = Remembered(_folded_hash)


def _windows(hashes: np.ndarray, width: int) -> np.ndarray:
    count = len(hashes) - width + 1
    combined = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for position in range(width):
            combined += hashes[position : position + count] * _POSITION_MULTIPLIERS[position]
        return mix64(combined)


def folded_hashes(words: list[str]) -> np.ndarray:
    """`hashing.word_hashes` of the words casefolded, each word answered once per process."""
    return np.fromiter(_OWN_HASHES.values_of(words), np.uint64, len(words))


def fact_windows(text: str, width: int = 5) -> np.ndarray:
    """The text's fact windows as one sorted uint64 array, a value a distinct window: its
    slot's hash in the high 32 bits, its own hash in the low 32. Empty when it has none."""
    words = text_words(text)[0]
    return word_fact_windows(words, folded_hashes(words), width)


def word_fact_windows(words: list[str], own: np.ndarray, width: int = 5) -> np.ndarray:
    """`fact_windows` of a text's `text_words`, given their `folded_hashes` (`own`)."""
    if len(words) < width:
        return NO_FACTS
    kinds = np.fromiter(map(_KINDS.__getitem__, words), np.int8, len(words))
    numbers, names = kinds == _IS_NUMBER, kinds == _IS_NAME
    facts = numbers | names
    if not facts.any():
        return NO_FACTS
    slotted = np.where(numbers, _NUMBER, np.where(names, _NAME, own))
    in_window = np.convolve(facts.astype(np.int64), np.ones(width, dtype=np.int64), "valid")
    kept = (in_window > 0) & (width - in_window >= _LEAST_OTHER_WORDS)
    slots, windows = _windows(slotted, width)[kept], _windows(own, width)[kept]
    return sorted_unique((slots & _HIGH) | (windows & _LOW))


_HIGH = np.uint64(0xFFFFFFFF00000000)
_LOW = np.uint64(0x00000000FFFFFFFF)
_SLOT_SHIFT = np.uint64(32)


def fact_conflicts(first: np.ndarray, second: np.ndarray) -> tuple[int, int]:
    """(slots the two texts fill differently, slots they share) of two `fact_windows`."""
    if len(first) == 0 or len(second) == 0:
        return 0, 0
    shared = np.intersect1d(first >> _SLOT_SHIFT, second >> _SLOT_SHIFT)
    # A slot agrees when some window of it is in both texts (a window fixes its slot).
    agreeing = sorted_unique(np.intersect1d(first, second) >> _SLOT_SHIFT)
    return len(shared) - len(agreeing), len(shared)


def conflicting_share(first: np.ndarray, second: np.ndarray) -> float:
    """The share of their shared slots two texts fill with different facts (0.0 when they
    share none)."""
    conflicts, shared = fact_conflicts(first, second)
    return conflicts / shared if shared else 0.0
