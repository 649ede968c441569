"""Word features shared by the topic model's training script and the tagger at run time.

Kept in one place so that a model trained by `benchmarks/train_topics.py` sees exactly the
features the tagger computes: lower-cased letter tokens, unigrams and bigrams.
"""

from __future__ import annotations

import re
from collections import Counter

# Letters only (digits and punctuation carry no topic); an apostrophe inside a word stays.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def words(text: str, stop_words: frozenset[str] = frozenset()) -> list[str]:
    """Lower-cased word tokens of `text`, without `stop_words`."""
    # The typographic apostrophe as ASCII in the whole text at once: the pattern treats both
    # alike, so the tokens are the same, each with "'" (one replace, not one per token).
    tokens = _WORD.findall(text.lower().replace("’", "'"))
    return [w for w in tokens if w not in stop_words] if stop_words else tokens


def ngram_counts(tokens: list[str]) -> Counter[str]:
    """Counts of unigrams and bigrams (joined by a space)."""
    counts: Counter[str] = Counter(tokens)
    # Joined by map in C, in the same order (the model sums its terms in this order).
    counts.update(map(" ".join, zip(tokens, tokens[1:], strict=False)))
    return counts


# A UTF-16 surrogate on its own: JSON's "\ud800" escapes and XML's "&#xD800;" decode to
# one, and no UTF-8 writer (Parquet, the run report) can encode it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(value: str) -> str:
    """`value` with lone surrogates replaced by U+FFFD, as a decoder replaces bad bytes."""
    return _LONE_SURROGATE.sub("\ufffd", value)
