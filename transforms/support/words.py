"""Words of a text in any script: what the clean stage counts (`word_count`, `min_words`),
what dedup's shingles are made of, and the stories stage's terms where `\\w` fails.

Python's `re` ends a word at a combining mark (its `\\w` is `str.isalnum`, which a vowel
sign of Devanagari, Bengali, Tamil or Thai is not): "प्रधानमंत्री" was five words. And
Chinese, Japanese, Thai, Lao, Khmer and Burmese put no space between words: a Chinese
article was a handful of "words" (its clauses), too few for `min_words` and too few to
shingle, so two copies of one wire story with one clause edited were not near duplicates.
Here a word keeps its marks (the `regex` package's Unicode `\\w`), and in those scripts
each character, with its marks, is a word, as word processors count Chinese and Japanese.

Text with none of those characters (most Latin, Greek and Cyrillic text) keeps Python's
`\\w+` words: its counts and shingles (which the dedup state keeps) are as they were.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

# Scripts written without spaces between words.
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
# Those of them that are alphabets (abugidas), not ideographs or syllabaries: a character (a
# consonant with its marks, or a vowel sign) says about as much as a letter, so two of them
# are as common as two letters are. As story terms, the pairs of Thai characters shared by
# any two Thai articles made distinct stories one (a rate decision and tourism figures:
# TF-IDF cosine 0.27, over the 0.25 threshold; a flood 0.19-0.20 from both). Runs of
# `ALPHABET_TERM_CHARACTERS` are about a syllable or a short word, as a Han character or a
# pair of them is: the same pairs 0.04-0.14, a rewrite of the flood 0.40 (pairs 0.58; runs
# of four 0.01-0.10 and 0.33). Measured on tests/unspaced_texts.py's Thai stories.
_UNSPACED_ALPHABETS = r"\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
ALPHABET_TERM_CHARACTERS = 3
# The words of text without marks or unspaced scripts (clean.fold_words' pattern).
_PLAIN_WORD = re.compile(r"\w+")


@functools.lru_cache(maxsize=1)
def _script_word() -> Any:
    import regex

    # A character of an unspaced script with its marks, or a run of other word characters
    # each with its marks (a mark alone, as the variation selector after an emoji, is no
    # word); underscore and digits stay word characters, as in `\w+`.
    return regex.compile(
        rf"[[{_UNSPACED}]&&\w]\p{{M}}*|(?:[\w--[{_UNSPACED}\p{{M}}]]\p{{M}}*)+", regex.V1
    )


@functools.lru_cache(maxsize=1)
def _needs_script_words() -> re.Pattern[str]:
    """A character after which `\\w+` would split words wrongly: a combining mark, a
    character of an unspaced script or one whose casefolded form has a mark ("İ" is "i̇"),
    or any character beyond the Basic Multilingual Plane (rare Han, emoji: `re` tests a
    class of the astral ones ~100x slower). One `re` class of the plane's ranges, found with
    `regex` once (~10 ms)."""
    import regex

    plane = "".join(map(chr, range(0x10000)))
    marked = rf"[\p{{M}}{_UNSPACED}]"
    ranges = [(m.start(), m.end() - 1) for m in regex.finditer(marked + "+", plane)]
    # Casefolding adds a mark only where it makes more than one character of one.
    longer = (c for c in regex.findall(r"\p{Cased}", plane) if len(c.casefold()) > 1)
    ranges += [(ord(c), ord(c)) for c in longer if regex.search(marked, c.casefold())]
    parts = (re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)
    return re.compile("[" + "".join(parts) + "\U00010000-\U0010ffff]")


def has_unspaced_script(text: str) -> bool:
    """Whether the text holds a character of a script written without spaces (Chinese,
    Japanese, Thai, ...), each of which is one word."""
    return _unspaced_character().search(text) is not None


def needs_script_words(text: str) -> bool:
    """Whether `\\w+` would split the words of the text, or of its casefolded form, wrongly
    (see the module)."""
    return _needs_script_words().search(text) is not None


# How words are compared (not how the text reads). The zero-width non-joiner and joiner stay
# in the clean text inside a word (Persian "می‌خواهد", Hindi's half forms) but are no
# boundary between words: `\\w` splits at them, and a copy typed without them is the same
# text. Full-width and half-width forms ("０．２５％", "ＡＩ", "ｶﾀｶﾅ": Japanese and Chinese
# typesetting) are the usual characters: a wire copy in half-width digits shared half its
# shingles with its full-width original, and no content hash. Only that block is folded,
# not all of NFKC ("m²" stays "m²", not "m2").
# Arabic script is folded as Arabic and Persian search folds it: one site types Persian with
# an Arabic keyboard ("ي", "ك" for "ی", "ک"), another writes hamza on alef or not ("إسرائيل",
# "اسرائيل"), adds vowel signs ("أيضاً") or stretches words with tatweel ("الـعـراق"): the
# same copy, and before no shared content hash and few shared shingles.
_ARABIC_FOLDS = {
    **dict.fromkeys("\u064a\u0649", "\u06cc"),  # yeh, alef maksura -> Farsi yeh
    "\u0643": "\u06a9",  # Arabic kaf -> keheh
    **dict.fromkeys("\u0623\u0625\u0622\u0671", "\u0627"),  # alef with hamza, madda, wasla
    # tatweel, vowel signs, superscript alef
    **dict.fromkeys(["\u0640", *map(chr, range(0x064B, 0x0653)), "\u0670"], ""),
}
# Hebrew points (niqqud, cantillation), as Arabic vowel signs: a text pointed in part (names,
# a word read two ways) or whole was another text than its unpointed copy, no word shared.
# Not the maqaf, paseq, sof pasuq or nun hafukha, which are punctuation.
_HEBREW_POINTS = re.compile("[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]")
_HEBREW_LEADS = (b"\xd6", b"\xd7")  # U+0580-U+05FF
_WIDE_OR_NARROW = re.compile("[\uff01-\uffee]")
_WIDTH_FOLDS = {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF01, 0xFFEF)}
# What tells that a fold may apply, cheaply: a character found by `in` (~0.1 us), a byte of
# the text's UTF-8 (its lead bytes; the encoding ~20 us per 5 KB). A regular expression's
# character class scanned ~90 us per 5 KB, str.translate ~1.5 ms, and two-byte `in` ~30 us.
_WIDE_LEAD = b"\xef"  # U+F000-U+FFFF, the full-width and half-width forms among them
_ARABIC_LEADS = (b"\xd8", b"\xd9")  # U+0600-U+067F, where every folded character is


# Typographic quotes, apostrophes and primes as the ASCII ones, for matching only: the clean
# text keeps the page's characters (a corpus of what outlets wrote: "It’s", „so“, «ainsi»),
# and the stages that match words, phrases and quotations read this form ("It's", "so"),
# as they read the folded text before review 70. One character for one, so offsets and
# lengths of the two forms agree.
_QUOTE_FOLDS = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
}


def ascii_quotes(text: str) -> str:
    """`text` with its typographic quotes, apostrophes and primes as ASCII ' and " (see
    above); a text of ASCII only is returned as it is."""
    if text.isascii():
        return text
    for char, folded in _QUOTE_FOLDS.items():
        if char in text:  # a scan per character (~1 us per 5 KB), a replace only when there
            text = text.replace(char, folded)
    return text


def compared_form(text: str) -> str:
    """The text as words are compared: its quotes as ASCII (`ascii_quotes`), without
    zero-width non-joiners and joiners, its full-width and half-width forms folded to the
    usual ones, Arabic script folded, Hebrew without its points (see above)."""
    if text.isascii():
        return text
    text = ascii_quotes(text)
    if "\u200c" in text or "\u200d" in text:
        text = text.replace("\u200c", "").replace("\u200d", "")
    data = text.encode("utf-8", "surrogatepass")
    if _WIDE_LEAD in data:
        # NFC: a half-width voiced mark ("ｶﾞ") folds to a combining one, composed again.
        text = unicodedata.normalize("NFC", _WIDE_OR_NARROW.sub(_width_fold, text))
    if _ARABIC_LEADS[0] in data or _ARABIC_LEADS[1] in data:
        for char, folded in _ARABIC_FOLDS.items():
            if char in text:
                text = text.replace(char, folded)
    if _HEBREW_LEADS[0] in data or _HEBREW_LEADS[1] in data:
        text = _HEBREW_POINTS.sub("", text)
    return text


def _width_fold(match: re.Match[str]) -> str:
    return _WIDTH_FOLDS[match.group()]


def without_marks(text: str) -> str:
    """`text` with its accents and other combining marks dropped ("São" -> "Sao"): how a
    host name or a dateline in capitals spells a name."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def casefolded_words(text: str) -> list[str]:
    """The casefolded words of `text`: `\\w+` of it where that is right, else words that
    keep their combining marks, a character of an unspaced script being one word. Joiners
    inside a word do not split it."""
    folded = compared_form(text).casefold()
    if needs_script_words(folded):
        return list(_script_word().findall(folded))
    return _PLAIN_WORD.findall(folded)


@functools.lru_cache(maxsize=1)
def _script_token_and_end() -> Any:
    import regex

    base = rf"[\w--[{_UNSPACED}\p{{M}}]]\p{{M}}*"
    letter = rf"[[^\W\d_]--[{_UNSPACED}\p{{M}}]]\p{{M}}*"
    return regex.compile(
        # A run of an unspaced script; a word (its marks kept; apostrophes and hyphens
        # inside it); a number. Then what ends a sentence right after it, as stories'
        # `_TOKEN_AND_END` (with the ideographic, full-width and Devanagari stops).
        rf"((?:[[{_UNSPACED}]&&\w]\p{{M}}*)+|{letter}(?:['\-]*{base})*"
        r"|\d+(?:[.,:]\d+)*)(?=([ \"')]?[.!?\n。．！？।॥])?)",
        regex.V1,
    )


@functools.lru_cache(maxsize=1)
def _unspaced_character() -> Any:
    import regex

    return regex.compile(rf"[[{_UNSPACED}]&&\w]\p{{M}}*", regex.V1)


@functools.lru_cache(maxsize=1)
def _alphabet_character() -> Any:
    import regex

    return regex.compile(rf"[{_UNSPACED_ALPHABETS}]", regex.V1)


def script_tokens_and_ends(text: str) -> list[tuple[str, str]]:
    """(token, what ends a sentence right after it or "") for the text's tokens, in any
    script: a word keeps its marks, and a run of an unspaced script gives its overlapping
    pairs of characters (the usual index terms of Chinese and Japanese: "央行" and "降准"
    where the run is "央行宣布降准"); a run of one character gives none. A run of Thai, Lao,
    Khmer or Burmese gives its overlapping runs of `ALPHABET_TERM_CHARACTERS` characters
    (each with its marks; a shorter run of two or more is one term): their characters are
    letters (see `_UNSPACED_ALPHABETS`). For the stories stage's terms where
    `needs_script_words`."""
    found: list[tuple[str, str]] = []
    unspaced = _unspaced_character()
    for token, end in _script_token_and_end().findall(text):
        if unspaced.match(token) is None:
            found.append((token, end))
            continue
        characters = unspaced.findall(token)
        size = 2
        if _alphabet_character().match(characters[0]) is not None:
            size = min(ALPHABET_TERM_CHARACTERS, len(characters))
        grams = ["".join(characters[at : at + size]) for at in range(len(characters) - size + 1)]
        if size < 2:
            grams = []  # one character: as common as a letter or a particle
        found.extend(
            (gram, end if index == len(grams) - 1 else "") for index, gram in enumerate(grams)
        )
    return found
