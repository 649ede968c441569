"""langdetect's Detector with its random walk on numpy arrays: the same answers, to the bit.

langdetect (pinned: 1.0.9, unmaintained since 2021) spends most of a sample's time in its
random walk over the sample's n-grams: a Python loop over the 55 languages per step (~150
steps a sample at 3 trials). Here each step is one numpy multiply by the n-gram's language
row: element by element the same float operations in the same order, and the
normalisation sums with Python's own `sum`, as langdetect does. The random draws are
langdetect's own (`self.random`, the same calls in the same order), so a seeded detector
answers exactly as langdetect's (tests/test_language.py compares them on every language
it knows). Per 400-character sample (the default): 0.86 -> 0.60 ms, the walk 0.47 -> 0.23.

Its n-gram extraction (`_extract_ngrams`), then most of a sample's time, called
`NGram.add_char` per character, which called `NGram.normalize`, which looked the
character's Unicode block up by a binary search in Python. Here each character is
normalised by one `str.translate` over the text (a per-character function: its answers are
cached in `_NORMALISED`), and the n-gram buffer's steps run inline; the same n-grams in the
same order (tests/test_language.py compares them with langdetect's on random texts of every
script). Per sample: 0.60 -> 0.40 ms.

`read_profiles` reads the same profiles as langdetect's `DetectorFactory.load_profile` and
computes every n-gram's probabilities at once, with numpy (~0.07 s; langdetect builds its
~88k rows as Python lists up front, 0.38 s), kept sparse (`Profiles`); a row is made from
them when a text of the process first uses it (`ProfileRows`). The rows are the ones
langdetect builds, to the bit. An earlier version made each row from the profiles' count
dicts, 55 lookups a row: every worker process then spent ~0.09 s per 220 news pages making
the rows of its own texts, a third of their detection.
"""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Any, NamedTuple

import numpy as np
from langdetect.detector import Detector
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.utils.ngram import NGram

# A language row as a float64 array, by n-gram: read-only, shared by the detectors of one
# factory (the factory's profiles never change once loaded).
LanguageRows = dict[str, np.ndarray]


class Profiles(NamedTuple):
    """langdetect's profiles as its DetectorFactory computes them, compactly: each n-gram's
    probability in each language (1.0 * count / the language's n-grams of that length), the
    n-grams' rows stored sparse (row i's languages are `columns[starts[i]:starts[i + 1]]`,
    their probabilities `values[...]`, 0.0 elsewhere): 184k entries of 88k x 55 (~4 MB,
    where the dense rows would take ~39 MB)."""

    languages: list[str]  # the directory's listing order, as langdetect's langlist
    width: int  # langdetect sizes rows by the directory's entries
    grams: list[str]  # row number -> n-gram
    starts: np.ndarray  # int64, len(grams) + 1
    columns: np.ndarray  # int32: the language
    values: np.ndarray  # float64


def read_profiles(directory: str) -> Profiles:
    """The profiles in `directory`, as langdetect's `DetectorFactory.load_profile` loads them
    (the same languages in the same order, the same quotients: numpy divides the same two
    IEEE numbers)."""
    names = os.listdir(directory)
    if not names:
        raise LangDetectException(ErrorCode.NeedLoadProfileError, f"Not found profile: {directory}")
    languages: list[str] = []
    row_of: dict[str, int] = {}
    rows, columns, values = [], [], []
    for name in names:
        path = os.path.join(directory, name)
        if name.startswith(".") or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as file:
            profile = json.load(file)
        if profile["name"] in languages:
            raise LangDetectException(ErrorCode.DuplicateLangError, f"Duplicate: {name}")
        counts: dict[str, int] = profile["freq"]
        for gram in counts:
            row_of.setdefault(gram, len(row_of))
        size = len(counts)
        numbers = np.fromiter(map(row_of.__getitem__, counts), np.int64, size)
        count = np.fromiter(counts.values(), np.float64, size)
        length = np.fromiter(map(len, counts), np.int64, size)
        # langdetect gives n-grams of other lengths a row of zeros
        kept = (length >= 1) & (length <= 3)
        totals = np.array(profile["n_words"][:3], dtype=np.float64)
        rows.append(numbers[kept])
        columns.append(np.full(int(kept.sum()), len(languages), np.int32))
        values.append(count[kept] / totals[length[kept] - 1])
        languages.append(profile["name"])
    row_numbers = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    order = np.argsort(row_numbers, kind="stable")  # the entries row by row
    starts = np.zeros(len(row_of) + 1, np.int64)
    np.cumsum(np.bincount(row_numbers, minlength=len(row_of)), out=starts[1:])
    return Profiles(
        languages,
        len(names),
        list(row_of),
        starts,
        (np.concatenate(columns) if columns else np.zeros(0, np.int32))[order],
        (np.concatenate(values) if values else np.zeros(0, np.float64))[order],
    )


class ProfileRows(dict[str, Any]):
    """langdetect's `word_lang_prob_map` (n-gram -> its probability in each language, in the
    factory's language order). The dict maps an n-gram to its row's number in `profiles`.
    Detectors ask `gram in rows` (every n-gram of a text) and `rows[gram]` (a list, as in
    langdetect's map); FastDetector asks `array(gram)`, the row as an array, made from the
    sparse profiles (~2 us) the first time a text of the process uses it (~4k of the 88k
    rows for 220 news pages)."""

    def __init__(self, profiles: Profiles) -> None:
        super().__init__((gram, row) for row, gram in enumerate(profiles.grams))
        # The rows only: the n-grams are this dict's keys (a list of them again would be
        # 88k more pointers, ~0.7 MB, in every process and in the cached factory).
        self.profiles = profiles._replace(grams=[])

    def __getitem__(self, gram: str) -> list[float]:
        return self.array(gram).tolist()

    def array(self, gram: str) -> np.ndarray:
        """The row of `gram` (KeyError for an n-gram no profile has)."""
        number = dict.__getitem__(self, gram)
        start, end = self.profiles.starts[number : number + 2].tolist()
        row = np.zeros(self.profiles.width, dtype=np.float64)
        row[self.profiles.columns[start:end]] = self.profiles.values[start:end]
        return row


def factory_of(profiles: Profiles) -> Any:
    """A langdetect DetectorFactory with these profiles (`ProfileRows`), not seeded."""
    from langdetect.detector_factory import DetectorFactory

    factory = DetectorFactory()
    factory.langlist = list(profiles.languages)
    factory.word_lang_prob_map = ProfileRows(profiles)
    return factory


# A word's n-grams (word_ngrams, the word followed by a space), by word: shared by the
# detectors of one factory (the profiles' n-grams never change once loaded).
WordGrams = dict[str, tuple[str, ...]]
_WORDS_REMEMBERED = 200_000  # words of a few characters: a few tens of MB at most


def word_ngrams(word: str, closed: bool, known: Any) -> tuple[str, ...]:
    """The n-grams langdetect's NGram buffer yields over one word of normalised text (no
    space in it), in order, those in `known`: at each character the 1-gram (not a space),
    the 2-gram and the 3-gram ending there, the word with a space before it (and after it:
    `closed`); none at a capital that follows a capital (NGram.capitalword)."""
    padded = f" {word} " if closed else f" {word}"
    grams = []
    for end in range(1, len(padded) if word else 0):
        char, before = padded[end], padded[end - 1]
        if char.isupper() and before.isupper():
            continue
        if char != " " and char in known:
            grams.append(char)
        if padded[end - 1 : end + 1] in known:
            grams.append(padded[end - 1 : end + 1])
        if end >= 2 and padded[end - 2 : end + 1] in known:
            grams.append(padded[end - 2 : end + 1])
    return tuple(grams)


class FastDetector(Detector):
    """A Detector (one per sample, as langdetect's); `rows` caches the language rows,
    `words` each word's n-grams."""

    text: str  # the sample as appended (langdetect's attribute)

    def __init__(self, factory: Any, rows: LanguageRows, words: WordGrams) -> None:
        super().__init__(factory)
        self._rows = rows
        self._words = words

    def append(self, text: str) -> None:
        """Detector.append (langdetect 1.0.9): a run of spaces kept as one, by a regex
        rather than a loop adding one character at a time."""
        text = self.URL_RE.sub(" ", text)
        text = self.MAIL_RE.sub(" ", text)
        text = NGram.normalize_vi(text)
        self.text += _SPACE_RUN.sub(" ", text[: self.max_text_length])

    def cleaning_text(self) -> None:
        """Detector.cleaning_text (langdetect 1.0.9): counted by regexes rather than a loop
        over the characters. Latin: "A" to "z"; other: from U+0300 on (langdetect means to
        leave out the Latin Extended Additional block, but compares the block's number with
        its name: none is left out). Mostly other: the Latin ones go."""
        if len(_LATIN.findall(self.text)) * 2 < len(_NOT_LATIN.findall(self.text)):
            self.text = _LATIN.sub("", self.text)

    def _extract_ngrams(self) -> list[str]:
        """Detector._extract_ngrams (langdetect 1.0.9): the n-grams the profiles know, in
        order, word by word (`word_ngrams`) on the text normalised at once (`_NORMALISED`).
        A word's n-grams depend on the word alone, so a word met before is looked up."""
        cache = self._words
        found: list[str] = []
        words = self.text.translate(_NORMALISED).split(" ")
        # Each word but the last is followed by a space, which closes it; empty ones (two
        # spaces in a row) give nothing.
        for word in words[:-1]:
            grams = cache.get(word)
            if grams is None:
                grams = word_ngrams(word, True, self.word_lang_prob_map)
                if len(cache) < _WORDS_REMEMBERED:
                    cache[word] = grams
            found.extend(grams)
        found.extend(word_ngrams(words[-1], False, self.word_lang_prob_map))
        return found

    def _row(self, gram: str) -> np.ndarray:
        row = self._rows.get(gram)
        if row is None:
            rows = self.word_lang_prob_map
            row = rows.array(gram) if isinstance(rows, ProfileRows) else np.array(rows[gram])
            self._rows[gram] = row
        return row

    def _detect_block(self) -> None:
        """Detector._detect_block (langdetect 1.0.9) on arrays."""
        self.cleaning_text()
        grams = self._extract_ngrams()
        if not grams:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        probabilities = np.zeros(len(self.langlist))
        self.random.seed(self.seed)
        for _ in range(self.n_trial):
            walk = np.array(self._init_probability(), dtype=np.float64)
            alpha = self.alpha + self.random.gauss(0.0, 1.0) * self.ALPHA_WIDTH
            weight = alpha / self.BASE_FREQ
            step = 0
            while True:
                walk *= weight + self._row(self.random.choice(grams))
                if step % 5 == 0:
                    total = sum(walk.tolist())  # left to right, as langdetect sums
                    if total == 0:  # where langdetect's division fails
                        raise ZeroDivisionError("float division by zero")
                    walk /= total
                    if max(0.0, float(walk.max())) > self.CONV_THRESHOLD:
                        break
                    if step >= self.ITERATION_LIMIT:
                        break
                step += 1
            probabilities += walk / self.n_trial
        self.langprob = probabilities.tolist()


_SPACE_RUN = re.compile(" {2,}")
_LATIN = re.compile("[A-z]")
_NOT_LATIN = re.compile("[\u0300-\U0010ffff]")


class _Normalised(dict[int, str]):
    """NGram.normalize of each character, by code point, for str.translate: computed the
    first time a character is met (it depends on the character alone), then looked up."""

    def __missing__(self, code: int) -> str:
        char: str = NGram.normalize(chr(code))
        self[code] = char
        return char


_NORMALISED = _Normalised()


@functools.lru_cache(maxsize=4)
def _caches_of(factory: Any) -> tuple[LanguageRows, WordGrams]:
    return {}, {}


def create_detector(factory: Any) -> FastDetector:
    """`factory.create()` as a FastDetector (its language rows and words' n-grams cached
    with the factory)."""
    return FastDetector(factory, *_caches_of(factory))
