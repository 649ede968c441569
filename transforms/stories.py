"""ClusterStories: Article -> the same Article with `story_id`: articles about one news event
share it (the id of the story's earliest article). With `--state`, a new article can join
an earlier run's story, and this stage writes the dedup component of the new state
(articles with their story ids, stories, story_terms). Never rejects.

Counters: `stories_in`, `stories_new`, `stories_joined_earlier`, `stories_state_matched`
(earlier articles looked up), `stories_state_pruned` (counted where the state is written).

ClusterStoriesStream (at the end): the same clustering, one event-time window at a time
in a stateful DoFn that hands each window's rows on as one pane, for `newsbeam
--streaming` (docs/streaming.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.coders import BooleanCoder, PickleCoder, VarIntCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    BagStateSpec,
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.timestamp import Timestamp

from newsbeam.schemas import Article
from newsbeam.transforms.clean import with_identity
from newsbeam.transforms.event_time import (
    WindowConfig,
    due_time,
    expire_at,
    live,
    panes,
    window_start,
)
from newsbeam.transforms.support.bundle_files import write_columns
from newsbeam.transforms.support.chinese import CHINESE, simplified
from newsbeam.transforms.support.committed import CommittedRecord, committed_articles
from newsbeam.transforms.support.copies import counted_copies
from newsbeam.transforms.support.failures import counter
from newsbeam.transforms.support.libc import give_back_freed
from newsbeam.transforms.support.rank import article_rank
from newsbeam.transforms.support.state import (
    DEDUP_STORIES,
    STORY_TERMS,
    StateContext,
    WriteStateTable,
    part_folder,
    read_arrow,
    read_table,
    stamped,
    within_retention,
)
from newsbeam.transforms.support.state_index import StateIndex, no_keys, open_index
from newsbeam.transforms.support.times import datetime_of, micros_of
from newsbeam.transforms.support.vocabulary import first_use
from newsbeam.transforms.support.words import (
    compared_form,
    needs_script_words,
    script_tokens_and_ends,
)

# scipy (~0.3 s to import) is imported where it is used: only the worker that clusters
# needs it, not the runner building the graph nor a `newsbeam --help`.
if TYPE_CHECKING:
    from scipy import sparse


def import_clustering() -> None:
    """Import the parts of scipy clustering uses (~0.3 s), and pyarrow.compute (unpack_run):
    in the clustering DoFns' setup(), and wherever workers are prepared ahead (a warm worker
    template), so a worker does not pay it when the stories stage starts."""
    import pyarrow.compute  # noqa: F401
    import scipy.cluster.hierarchy
    import scipy.sparse
    import scipy.sparse.csgraph
    import scipy.spatial.distance  # noqa: F401


@dataclasses.dataclass(frozen=True)
class StoryConfig:
    """threshold: least average second-order similarity inside a story (see
    neighbour_similarity; `neighbours` nearest articles make the profile). min_similarity:
    articles less similar (cosine of TF-IDF) never share a story. max_days: dates (both known)
    further apart never share a story. name_weight / number_weight: term weight of
    a capitalised word or a number, relative to 1 for other words; the first `lead_words`
    words of the text count (1 + lead_weight) times. small_threshold: least average
    cosine inside a story in a group of at most `plain_component` articles (too few for
    neighbour profiles); undated_margin: how much more cosine such a group needs from a pair
    that lacks a date (see undated_pairs). vector_terms: terms kept per article in the state
    (their counts; 0.4 KB an article on ECB+ in Parquet).
    max_component: largest group of linked articles clustered as one dense matrix (a hard
    cap: a group still larger at `threshold` is cut into pieces). max_links: links kept
    per article, its strongest (bounds the link graph: n x max_links).
    plain_component: a group of at most this many linked articles is clustered by plain
    cosine (small_threshold); larger ones by neighbour profiles (see group_similarity).
    split_from: a group of at least this many (and at most `neighbours`) found inside a
    larger group is clustered again on its own (see split_small_stories).
    key_names / key_name_repeats / key_name_share: an article's key names are its
    `key_names` most repeated names (at least `key_name_repeats` times) found in at most
    `key_name_share` of the run's articles; two undated articles whose key names neither
    text mentions repel in a small group (see cannot_link)."""

    threshold: float = 0.25
    neighbours: int = 10
    small_threshold: float = 0.2
    undated_margin: float = 0.05
    min_similarity: float = 0.1
    max_days: float = 7.0
    name_weight: float = 3.0
    number_weight: float = 2.0
    title_weight: float = 1.0
    lead_words: int = 60
    lead_weight: float = 1.0
    vector_terms: int = 256
    max_component: int = 2000
    plain_component: int = 5
    max_links: int = 100
    split_from: int = 4
    key_names: int = 2
    key_name_repeats: int = 2
    key_name_share: float = 0.025


_TOKEN = re.compile(r"[^\W\d_](?:[\w'\-]*\w)?|\d+(?:[.,:]\d+)*", re.UNICODE)
# English function words and reporting verbs: in every story, so they only add noise.
_STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves said says say told according reported report reports news
    one two new year years last first week time people mr mrs ms would could may might
    monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow""".split()
)


def story_terms(
    title: str | None, text: str, config: StoryConfig, language: str | None = None
) -> dict[str, float]:
    """An article's term counts, names and numbers weighted up (a capitalised word not at
    a sentence start counts as a name); a Chinese article's (`language` "zh") in simplified
    characters (`_tokens`)."""
    return _terms_and_names(*_title_and_text_tokens(title, text, language), config)[0]


def _terms_and_names(
    title_tokens: list[tuple[str, str, bool]],
    text_tokens: list[tuple[str, str, bool]],
    config: StoryConfig,
) -> tuple[dict[str, float], dict[str, int]]:
    """story_terms and story_names from the two parts' tokens (`_tokens`), in one pass."""
    counts: defaultdict[str, float] = defaultdict(float)
    names: dict[str, int] = {}
    lead_factor = 1.0 + config.lead_weight
    parts = ((title_tokens, config.title_weight, 0), (text_tokens, 1.0, config.lead_words))
    for tokens, weight, lead_left in parts:
        for token, lowered, start in tokens:
            if token[0].isdigit():
                key, factor = "#" + lowered, config.number_weight
            elif token[0].isupper() and not start:
                key, factor = lowered, config.name_weight
                names[lowered] = names.get(lowered, 0) + 1
            else:
                key, factor = lowered, 1.0
            # The lead says what happened; later paragraphs add background.
            if lead_left > 0:
                factor *= lead_factor
                lead_left -= 1
            counts[key] += weight * factor
    return dict(counts), names


# A token, and (group 2, empty when not) what ends a sentence right after it: within the
# next two characters, past one space, quote or closing parenthesis, a full stop, "!", "?"
# or a line break.
_TOKEN_AND_END = re.compile(f"({_TOKEN.pattern})(?=([ \"')]?[.!?\n])?)", re.UNICODE)


def _tokens(part: str, chinese: bool = False) -> list[tuple[str, str, bool]]:
    """(token, its casefolded form, whether it starts a sentence) for the tokens of `part`
    that count as terms (not stop words, not single letters). One `findall` and a plain
    loop: the article text's tokens are the stories stage's main cost. Text that `\\w`
    splits wrongly (Hindi, Chinese, ...: support/words.py) is tokenised by script: in
    Chinese, Japanese or Thai the terms are pairs of characters; in `chinese` text, of
    its simplified characters (support/chinese.py)."""
    found = []
    sentence_start = True
    part = compared_form(part)  # inside a word: no boundary (support/words.py)
    if chinese:
        # One event in simplified (mainland) and traditional (Taiwan, Hong Kong) characters:
        # compared in one script, its pairs are the same terms. Only Chinese articles: a
        # Japanese kanji pair mapped so would meet Chinese terms it is not (and its text
        # would no longer match an earlier run's terms in the state).
        part = simplified(part)
    pairs = (
        script_tokens_and_ends(part) if needs_script_words(part) else _TOKEN_AND_END.findall(part)
    )
    for token, end in pairs:
        lowered = token.casefold()
        start = sentence_start
        sentence_start = bool(end)
        if lowered in _STOP_WORDS or len(lowered) < 2 and not token.isdigit():
            continue
        found.append((token, lowered, start))
    return found


def _title_and_text_tokens(
    title: str | None, text: str, language: str | None
) -> tuple[list[tuple[str, str, bool]], list[tuple[str, str, bool]]]:
    """The tokens of an article's title and of its text (`_tokens`; Chinese in simplified
    characters)."""
    chinese = language == CHINESE
    return _tokens(title or "", chinese), _tokens(text, chinese)


def story_names(title: str | None, text: str, language: str | None = None) -> dict[str, int]:
    """How often each name (a capitalised word not at a sentence start, casefolded as in
    story_terms) occurs in an article."""
    # Which tokens are names depends on no setting: any config finds the same ones.
    tokens = _title_and_text_tokens(title, text, language)
    return _terms_and_names(*tokens, StoryConfig())[1]


class StoryDoc(NamedTuple):
    """What clustering needs of an article."""

    article_id: str
    rank: tuple[Any, ...]
    published_at: dt.datetime | None
    terms: Mapping[str, float]
    # Name counts (story_names); None for an earlier run's article (the state keeps terms)
    # and in unpack_run's docs (their key names come with them).
    names: Mapping[str, int] | None = None


class PriorStory(NamedTuple):
    """An earlier run's article as the stories state keeps it: its story and its heaviest
    terms' counts (weighted as story_terms does), re-weighted with each run's IDF."""

    story_id: str
    article_id: str
    published_at: dt.datetime | None
    terms: dict[str, float]
    first_seen_at: dt.datetime


class TermFrequencies(NamedTuple):
    """Document frequencies over the articles of earlier runs: how many articles there
    were, and in how many of them each term occurs (all of their terms, not only the
    stored ones), so that a run's IDF is the one a single run over all of them would use."""

    articles: int
    frequency: dict[str, int]


NO_FREQUENCIES = TermFrequencies(0, {})


def story_doc(article: Article, config: StoryConfig) -> StoryDoc:
    article = with_identity(article)
    title_tokens, text_tokens = _title_and_text_tokens(
        article.title, article.text, article.language
    )
    rank = article_rank(article)
    terms, names = _terms_and_names(title_tokens, text_tokens, config)
    return StoryDoc(
        article.article_id,
        rank,
        article.published_at,
        terms,
        names,
    )


# What the one clustering step receives of each article. The run's docs reach it as one list
# (a side input), and every hop decodes a doc's term and name dicts again (the shuffle into
# the side input, reading it), ~600 Python objects each;
# the SDK worker's side-input cache then walks every object of the list to weigh it
# (objsize), which took longer than the clustering itself. Packed, a doc is a few objects:
# its terms joined into one string, their counts in one buffer (the same dicts come back,
# in the same order: the order is the vocabulary order of the term matrix).
PackedDoc = tuple[str, tuple[Any, ...], "dt.datetime | None", str, bytes, str | None, bytes]
_TERM_SEPARATOR = "\x00"  # in no term: terms are made of word characters, digits, "#'-.,:"


def pack_doc(doc: StoryDoc) -> PackedDoc:
    """A StoryDoc as a few flat values (see PackedDoc); unpack_doc gives it back."""
    names = doc.names
    return (
        doc.article_id,
        doc.rank,
        doc.published_at,
        _TERM_SEPARATOR.join(doc.terms),
        np.fromiter(doc.terms.values(), dtype=np.float64, count=len(doc.terms)).tobytes(),
        None if names is None else _TERM_SEPARATOR.join(names),
        b"" if names is None else np.fromiter(names.values(), np.int64, len(names)).tobytes(),
    )


def unpack_doc(packed: PackedDoc) -> StoryDoc:
    article_id, rank, published_at, terms, counts, names, name_counts = packed
    return StoryDoc(
        article_id,
        tuple(rank),
        published_at,
        _unpacked(terms, np.frombuffer(counts, dtype=np.float64)),
        None if names is None else _unpacked(names, np.frombuffer(name_counts, dtype=np.int64)),
    )


def _unpacked(keys: str, values: np.ndarray) -> dict[str, Any]:
    return dict(zip(keys.split(_TERM_SEPARATOR), values.tolist(), strict=True)) if keys else {}


def packed_story_doc(article: Article, config: StoryConfig) -> PackedDoc:
    return pack_doc(story_doc(article, config))


class PackedRun(NamedTuple):
    """A run's packed docs as clustering takes them (unpack_run): the docs by article id, their
    term counts as FlatVectors (in that order) and their key names (key_names)."""

    docs: list[StoryDoc]
    counts: FlatVectors
    keys: list[frozenset[str]]


def unpack_run(packed: Iterable[PackedDoc], config: StoryConfig) -> PackedRun:
    """The packed docs ordered by article id, their terms read straight into FlatVectors: what
    unpack_doc's dicts and FlatVectors.of them give, without building ~150,000 dict entries
    that FlatVectors.of took apart again (the one-worker clustering step's largest cost).
    A doc's terms are a DocTerms over those vectors, its dict made only if read."""
    ordered = sorted(packed, key=lambda doc: doc[0])
    counts = FlatVectors.packed(
        [doc[3] for doc in ordered], [doc[4] for doc in ordered], np.float64
    )
    names = FlatVectors.packed([doc[5] for doc in ordered], [doc[6] for doc in ordered], np.int64)
    docs = [
        StoryDoc(article_id, tuple(rank), published_at, DocTerms(counts, number))
        for number, (article_id, rank, published_at, *_) in enumerate(ordered)
    ]
    return PackedRun(docs, counts, flat_key_names(names, config))


def first_versions(run: PackedRun, earlier_ids: Collection[str]) -> FlatVectors:
    """The term counts of the run's docs the document frequencies (story_terms) count: all
    but a new version of an earlier article (an updated feed entry, same article_id),
    whose first version they counted already (else each correction counted its article
    and its terms once more, skewing the IDF). Its earlier version is among the priors
    (`earlier_ids`): a correction is that close to it."""
    kept = [number for number, doc in enumerate(run.docs) if doc.article_id not in earlier_ids]
    return run.counts if len(kept) == run.counts.docs else run.counts.take(kept)


def add_frequencies(earlier: TermFrequencies, docs: Iterable[StoryDoc]) -> TermFrequencies:
    """The document frequencies over earlier runs' articles and `docs`."""
    return counted_frequencies(earlier, FlatVectors.of(doc.terms for doc in docs))


def counted_frequencies(earlier: TermFrequencies, counts: FlatVectors) -> TermFrequencies:
    """add_frequencies over the docs of `counts` (their term counts: each doc names a term
    once), the same dict in the same order: earlier terms first, then new ones by first use."""
    found = np.bincount(counts.columns, minlength=len(counts.vocabulary)).tolist()
    if not earlier.frequency:
        frequency = dict(zip(counts.vocabulary, found, strict=True))
    else:
        frequency = dict(earlier.frequency)
        for term, docs in zip(counts.vocabulary, found, strict=True):
            frequency[term] = frequency.get(term, 0) + docs
    return TermFrequencies(earlier.articles + counts.docs, frequency)


@dataclasses.dataclass(frozen=True)
class FlatVectors:
    """Term weights of several docs in flat arrays: doc i's are the entries bounds[i] to
    bounds[i + 1] (in its dict's order), each a column (its term's place in `vocabulary`,
    the distinct terms in order of first use) and a value. The clustering step looks each
    term string up once, here; TF-IDF, document frequencies and the term matrix then work
    on arrays (a dict step per term and stage was most of that one-worker step's time)."""

    vocabulary: list[str]
    columns: np.ndarray  # int64, an entry's term
    values: np.ndarray  # float64
    bounds: np.ndarray  # int64, one more than there are docs

    @classmethod
    def of(cls, vectors: Iterable[Mapping[str, float]]) -> FlatVectors:
        vectors = list(vectors)
        terms = list(itertools.chain.from_iterable(vectors))
        values = np.fromiter(
            itertools.chain.from_iterable(vector.values() for vector in vectors),
            dtype=np.float64,
            count=len(terms),
        )
        vocabulary, columns = first_use(terms)
        return cls(vocabulary, columns, values, _bounds([len(vector) for vector in vectors]))

    @classmethod
    def packed(
        cls, keys: Sequence[str | None], buffers: Sequence[bytes], dtype: type[np.number]
    ) -> FlatVectors:
        """FlatVectors.of the dicts that _unpacked makes of each doc's packed keys and values
        (pack_doc; None: no entries), the same entries in the same order, without those dicts:
        the keys split and numbered in Arrow (dictionary_encode numbers them in order of first
        use, as first_use does), one buffer of all values (`dtype`, as float64). Only the
        distinct keys become Python strings (a run's 150,000 terms: 58,000)."""
        import pyarrow.compute as pc  # imported ahead with scipy (import_clustering)

        lengths = [len(buffer) // np.dtype(dtype).itemsize for buffer in buffers]
        # malloc's pool: Arrow's default (mimalloc) took 0.1-0.2 s to start in a worker that
        # had not used it yet (most runs), ten times these steps.
        pool = pa.system_memory_pool()
        # A doc without entries packs "", which would split into one empty key: null instead.
        # Large strings (64-bit offsets): a large run's terms may pass 2 GB.
        keys_array = pa.array([key or None for key in keys], pa.large_string(), memory_pool=pool)
        split = pc.split_pattern(keys_array, _TERM_SEPARATOR, memory_pool=pool)
        encoded = pc.dictionary_encode(pc.list_flatten(split, memory_pool=pool), memory_pool=pool)
        if len(encoded) != sum(lengths):
            raise ValueError(f"{len(encoded)} packed keys for {sum(lengths)} values")
        values = np.frombuffer(b"".join(buffers), dtype=dtype).astype(np.float64)
        columns = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        return cls(encoded.dictionary.to_pylist(), columns, values, _bounds(lengths))

    @property
    def docs(self) -> int:
        return len(self.bounds) - 1

    def terms(self) -> list[str]:
        """Each entry's term."""
        return list(map(self.vocabulary.__getitem__, self.columns.tolist()))

    def dicts(self) -> list[dict[str, float]]:
        terms, values, bounds = self.terms(), self.values.tolist(), self.bounds.tolist()
        return [
            dict(zip(terms[start:end], values[start:end], strict=True))
            for start, end in itertools.pairwise(bounds)
        ]

    def vector(self, doc: int) -> dict[str, float]:
        """Doc `doc`'s vector as a dict (what dicts() gives for it)."""
        start, end = int(self.bounds[doc]), int(self.bounds[doc + 1])
        terms = map(self.vocabulary.__getitem__, self.columns[start:end].tolist())
        return dict(zip(terms, self.values[start:end].tolist(), strict=True))

    def take(self, docs: Sequence[int]) -> FlatVectors:
        """These docs' vectors, in this order (their own vocabulary)."""
        entries = [np.arange(self.bounds[doc], self.bounds[doc + 1]) for doc in docs]
        at = np.concatenate(entries) if entries else np.zeros(0, dtype=np.int64)
        vocabulary, columns = first_use(
            list(map(self.vocabulary.__getitem__, self.columns[at].tolist()))
        )
        return FlatVectors(vocabulary, columns, self.values[at], _bounds(list(map(len, entries))))

    def then(self, other: FlatVectors) -> FlatVectors:
        """These docs' vectors, then `other`'s (one vocabulary: this one's, then new terms)."""
        bounds = np.concatenate([self.bounds, other.bounds[1:] + self.bounds[-1]])
        if not other.vocabulary:  # a run without earlier articles: no lookups
            return FlatVectors(self.vocabulary, self.columns, self.values, bounds)
        column_of = {term: column for column, term in enumerate(self.vocabulary)}
        other_columns = np.array(
            [column_of.setdefault(term, len(column_of)) for term in other.vocabulary],
            dtype=np.int64,
        )
        return FlatVectors(
            list(column_of),
            np.concatenate([self.columns, other_columns[other.columns]]),
            np.concatenate([self.values, other.values]),
            bounds,
        )


class DocTerms(Mapping[str, float]):
    """Doc `doc`'s entries of `vectors` as a mapping (term: value), the dict built when first
    read: clustering reads the terms of few docs (cannot_link's, in small groups)."""

    def __init__(self, vectors: FlatVectors, doc: int) -> None:
        self._vectors = vectors
        self._doc = doc
        self._terms: dict[str, float] | None = None

    def _dict(self) -> dict[str, float]:
        if self._terms is None:
            self._terms = self._vectors.vector(self._doc)
        return self._terms

    def __getitem__(self, term: str) -> float:
        return self._dict()[term]

    def __contains__(self, term: object) -> bool:
        return term in self._dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return int(self._vectors.bounds[self._doc + 1] - self._vectors.bounds[self._doc])


class VectorsById(Mapping[str, dict[str, float]]):
    """{article id: its vector}, each dict built when asked for: only a run that writes the
    stories state reads them (story_rows)."""

    def __init__(self, article_ids: list[str], vectors: FlatVectors) -> None:
        self._doc_of = {article_id: doc for doc, article_id in enumerate(article_ids)}
        self._vectors = vectors

    @property
    def flat(self) -> FlatVectors:
        """The vectors of the article ids given, in their order."""
        return self._vectors

    def __getitem__(self, article_id: str) -> dict[str, float]:
        return self._vectors.vector(self._doc_of[article_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self._doc_of)

    def __len__(self) -> int:
        return len(self._doc_of)


def _bounds(lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    """Where each doc's entries start (then where the last ends), from their numbers."""
    bounds = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    return bounds


def tfidf_vectors(
    term_counts: Iterable[Mapping[str, float]], frequencies: TermFrequencies
) -> list[dict[str, float]]:
    """Unit-length sublinear TF-IDF vectors, IDF from `frequencies` (unit_tfidf)."""
    return unit_tfidf(FlatVectors.of(term_counts), frequencies).dicts()


def unit_tfidf(counts: FlatVectors, frequencies: TermFrequencies) -> FlatVectors:
    """Unit-length sublinear TF-IDF vectors of docs' term counts, IDF from `frequencies`: each
    weight (1 + log count, or the count below 1) * log((1 + articles) / (1 + document
    frequency) + 1), then each vector divided by its length (an empty one: no terms).

    Vectorised, and the same floats as that arithmetic done term by term in Python: logs
    come from math.log, once per distinct count and frequency (numpy's log may round
    otherwise), products and quotients are IEEE operations either way, and each length
    sums its squares with Python's own left-to-right `sum` (numpy's sums pairwise)."""
    return weighted_tfidf(counts, _looked_up(frequencies.frequency, counts), frequencies.articles)


def _looked_up(frequency: Mapping[str, int], counts: FlatVectors) -> np.ndarray:
    """Each term of `counts.vocabulary`'s count in `frequency` (0 if none)."""
    return np.fromiter(
        map(frequency.get, counts.vocabulary, itertools.repeat(0)),
        dtype=np.int64,
        count=len(counts.vocabulary),
    )


def document_frequency(counts: FlatVectors, earlier: TermFrequencies) -> np.ndarray:
    """counted_frequencies(earlier, counts) of each term of `counts.vocabulary`, as an array:
    what unit_tfidf looks up there, without the dict of the run's terms."""
    found = np.bincount(counts.columns, minlength=len(counts.vocabulary))
    return found + _looked_up(earlier.frequency, counts) if earlier.frequency else found


def weighted_tfidf(counts: FlatVectors, frequency: np.ndarray, total: int) -> FlatVectors:
    """unit_tfidf, given the document frequency of each term of `counts.vocabulary` and the
    number of articles."""
    idf_of = np.zeros(int(frequency.max(initial=0)) + 1)  # by document frequency
    for docs in np.flatnonzero(np.bincount(frequency)).tolist():
        idf_of[docs] = math.log((1 + total) / (1 + docs) + 1)
    # Sorting the distinct counts and searching each is faster than return_inverse's argsort.
    distinct = np.unique(counts.values)
    count_at = np.searchsorted(distinct, counts.values)
    sublinear = np.array([_sublinear(count) for count in distinct.tolist()], dtype=np.float64)
    weights = sublinear[count_at] * idf_of[frequency][counts.columns]
    squares, bounds = (weights * weights).tolist(), counts.bounds.tolist()
    norms = np.array(
        [math.sqrt(sum(squares[start:end])) for start, end in itertools.pairwise(bounds)],
        dtype=np.float64,
    )
    lengths = np.diff(counts.bounds)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = weights / np.repeat(norms, lengths)
    if np.all(norms[lengths > 0] > 0):
        return FlatVectors(counts.vocabulary, counts.columns, unit, counts.bounds)
    # A vector of length 0 (no weight left to square) loses its terms, as before.
    kept = np.repeat(norms > 0, lengths)
    vocabulary, columns = first_use(
        list(map(counts.vocabulary.__getitem__, counts.columns[kept].tolist()))
    )
    return FlatVectors(vocabulary, columns, unit[kept], _bounds(np.where(norms > 0, lengths, 0)))


def _sublinear(count: float) -> float:
    return 1.0 + math.log(count) if count >= 1 else count


def cosine(first: dict[str, float], second: dict[str, float]) -> float:
    if len(first) > len(second):
        first, second = second, first
    return sum(v * second.get(t, 0.0) for t, v in first.items())


def _term_matrix(vectors: FlatVectors | list[dict[str, float]]) -> sparse.csr_matrix:
    """The vectors as rows of a sparse matrix, a column per term in order of first use."""
    from scipy import sparse

    if not isinstance(vectors, FlatVectors):
        vectors = FlatVectors.of(vectors)
    rows = np.repeat(np.arange(vectors.docs), np.diff(vectors.bounds))
    shape = (vectors.docs, max(1, len(vectors.vocabulary)))
    return sparse.csr_matrix(
        (vectors.values, (rows, vectors.columns)), shape=shape, dtype=np.float64
    )


# Similarities held at once while building the link graph (a block of rows x all
# articles, dense): the block of rows is sized so that at most this many exist at a time.
# A value costs ~30 bytes at the step's peak (the sparse product as it is made dense, the
# dense block, its partition and masks): 10 million made a step of ~290 MB from ~3,200
# articles on, a third of a 1 GB container (review 84). 2 million: ~60 MB, the same links
# (rows are independent); more blocks cost only their Python calls. 1 million (review 92):
# +29 MB at 5,014 articles, under a large group's clustering (two n x n matrices), so the
# step's peak is that group's, not the graph's.
_BLOCK_VALUES = 1_000_000


# Values of a profile's block of rows (neighbour_similarity) in each of its temporaries
# (the partition, the masks, the norm's squares): ~2 MB each, whatever the group's size.
_PROFILE_VALUES = 250_000


def top_links(values: np.ndarray, most: int) -> np.ndarray:
    """A mask keeping each row's `most` largest finite values of a dense block; ties at
    the cut go to the lower columns (deterministic)."""
    if values.shape[1] <= most:
        return np.isfinite(values)
    cut = kth_largest(values, most)
    above = values > cut
    tied = values == cut
    room = most - above.sum(axis=1, keepdims=True)
    # int32 counts (a row has far fewer than 2**31 columns): half the block's int64 copy.
    ranked = np.cumsum(tied, axis=1, dtype=np.int32) <= room
    return (above | (tied & ranked)) & np.isfinite(values)


def kth_largest(rows: np.ndarray, k: int) -> np.ndarray:
    """Each row's `k`-th largest value (1 <= k <= its length), as a column. The element a
    partition puts at a place is the one a sort would (the same value, ties or not). Of the
    negated rows, at k - 1: a partition at the far end is slower where most of a row ties
    (a link block's -inf: 0.57 s, not 0.34, for review 89's night's links). Rows hold no
    NaN (cosines). Callers pass blocks of rows: two copies of a block, not of a matrix."""
    return -np.partition(-rows, k - 1, axis=1)[:, k - 1 : k]


def link_graph(
    matrix: sparse.csr_matrix, dates: list[dt.datetime | None], config: StoryConfig
) -> sparse.csr_matrix:
    """The links between articles: cosine >= `min_similarity` and dates (both known) at
    most `max_days` apart, each article keeping its `max_links` strongest (a link stays
    when either end keeps it). Built in blocks of rows, so memory is bounded by
    `_BLOCK_VALUES` and `max_links` per article, whatever the input: a feed of many short
    similar items links every article to every other one."""
    from scipy import sparse

    count = matrix.shape[0]
    seconds = np.array(
        [d.timestamp() if d is not None else np.nan for d in dates], dtype=np.float64
    )
    limit = config.max_days * 86400.0
    transposed = matrix.T.tocsc()
    block = max(1, _BLOCK_VALUES // max(1, count))
    found_rows, found_columns, found_values = [], [], []
    for start in range(0, count, block):
        values = (matrix[start : start + block] @ transposed).toarray()
        # Unknown dates (NaN) compare False: never too far apart. The gaps in place: one
        # block-sized float temporary, not two.
        gaps = np.subtract(seconds[start : start + block, None], seconds[None, :])
        apart = np.abs(gaps, out=gaps) > limit
        del gaps
        apart |= values < config.min_similarity
        values[apart] = -np.inf
        if config.max_links > 0:
            keep = top_links(values, config.max_links)
        else:
            keep = np.isfinite(values)
        rows, columns = np.nonzero(keep)
        found_rows.append(rows + start)
        found_columns.append(columns)
        found_values.append(values[rows, columns])
        del values, apart, keep
    if not found_rows:
        return sparse.csr_matrix((count, count))
    graph = sparse.csr_matrix(
        (
            np.concatenate(found_values),
            (np.concatenate(found_rows), np.concatenate(found_columns)),
        ),
        shape=(count, count),
    )
    return graph.maximum(graph.T).tocsr()


def neighbour_similarity(
    similarity: np.ndarray, neighbours: int, near_tie: float = 1.0, in_place: bool = False
) -> np.ndarray:
    """Second-order similarity: the cosine of two articles' similarity profiles over their
    `neighbours` nearest articles (and any at least `near_tie` times as similar as the
    last of them). Two reports of one event share their neighbours; two similar events do
    not, even where their texts share much vocabulary. `in_place`: the profiles are made
    in `similarity`'s own memory (a caller done with it), not in a copy."""
    profile = np.clip(similarity, 0.0, None, out=similarity if in_place else None)
    np.fill_diagonal(profile, 1.0)
    count = len(profile)
    # Row by row in blocks, in place: a group of ~1,900 linked articles (a big night) made
    # a negated copy, its sort, the masked copy and the norm's squares, each n x n (30 MB).
    block = max(1, _PROFILE_VALUES // max(1, count))
    for start in range(0, count, block):
        rows = profile[start : start + block]
        if neighbours < count:
            # The k-th largest value per row; ties at the cut all stay (order-independent).
            cut = kth_largest(rows, neighbours)
            rows[~(rows >= near_tie * cut)] = 0.0
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return profile @ profile.T


def average_link(similarity: np.ndarray, threshold: float) -> list[int]:
    """Average-link agglomeration: groups merge while their mean pairwise similarity is
    >= threshold. Returns a group number per row; deterministic for a given row order."""
    from scipy.cluster import hierarchy

    if len(similarity) < 2:
        return [0] * len(similarity)
    tree = hierarchy.linkage(condensed_distance(similarity), "average")
    return [int(g) for g in hierarchy.fcluster(tree, 1.0 - threshold, criterion="distance")]


def condensed_distance(similarity: np.ndarray) -> np.ndarray:
    """The distances 1 - similarity (at least 0) above the diagonal, condensed (the form
    linkage reads): taken from the similarity first and turned into distances in place, not
    from a full square of distances (two n x n temporaries, 30 MB each at ~1,900 articles).
    The diagonal is never read (squareform without checks), so it needs no zeroing."""
    from scipy.spatial import distance as spatial_distance

    condensed = spatial_distance.squareform(similarity, checks=False, force="tovector")
    if np.shares_memory(condensed, similarity):  # pragma: no cover - squareform copies
        condensed = condensed.copy()
    np.subtract(1.0, condensed, out=condensed)
    np.clip(condensed, 0.0, None, out=condensed)
    return condensed


def cluster_rows(
    docs: list[StoryDoc],
    vectors: FlatVectors | list[dict[str, float]],
    config: StoryConfig,
    stories: list[str | None] | None = None,
    keys: list[frozenset[str]] | None = None,
) -> list[tuple[int, int]]:
    """A (component, group) label per doc. Articles less similar than `min_similarity`
    (or too far apart in time) never link; the graph of the remaining links splits into
    components, each clustered on its own (small dense matrices, not one n x n).
    `stories`: the story id of each earlier run's article (None for this run's): two of
    different stories repel (_APART), as their stories cannot merge. `keys`: each doc's
    key names (None: key_names over `docs`); in a group of at most `neighbours` (on its
    own or found in a larger one) two undated docs of conflicting key names repel too
    (cannot_link, _CONFLICT)."""
    graph = link_graph(_term_matrix(vectors), [doc.published_at for doc in docs], config)
    if keys is None:
        keys = key_names(docs, config)

    def apart(rows: list[int], within: list[int] | None = None) -> np.ndarray:
        at = rows if within is None else [within[row] for row in rows]
        return cannot_link(
            [keys[i] for i in at], [docs[i].terms for i in at], [docs[i].published_at for i in at]
        )

    labels: list[tuple[int, int]] = [(0, 0)] * len(docs)
    for number, indexes in enumerate(_components(graph, config.min_similarity, config)):
        if len(indexes) == 1:
            labels[indexes[0]] = (number, 0)
            continue
        similarity = graph[indexes][:, indexes].toarray()
        dates = [docs[i].published_at for i in indexes]
        large = len(indexes) > config.neighbours
        # A large group's profiles are made in its similarity's memory, read again from
        # the graph for split_small_stories: three n x n matrices held at once (90 MB at
        # ~1,900 articles), not four.
        second, threshold = group_similarity(similarity, config, dates, in_place=large)
        del similarity
        if not large:
            second[apart(indexes)] = _CONFLICT
        if stories is not None:
            second[_of_other_stories([stories[i] for i in indexes])] = _APART
        groups = average_link(second, threshold)
        del second  # n x n, done with: not held while the next component's is made
        if large:
            groups = split_small_stories(
                graph[indexes][:, indexes].toarray(),
                groups,
                config,
                functools.partial(apart, within=indexes),
            )
        for index, group in zip(indexes, groups, strict=True):
            labels[index] = (number, group)
    return labels


def split_small_stories(
    similarity: np.ndarray,
    groups: list[int],
    config: StoryConfig,
    apart: Callable[[list[int]], np.ndarray] | None = None,
) -> list[int]:
    """The groups found in a large group of linked articles, each of `split_from` to
    `neighbours` articles clustered again on its own (split_similarity). Profiles over
    `neighbours` articles are wider than a story of three reports: two such stories on one
    subject share them and merge. Groups of four or five are clustered again too (plain
    cosine would not split them, see split_similarity): two reports of each of two such
    stories, or a story with part of its twin. `apart(rows)`: the pairs of those rows that
    repel (_CONFLICT; see cannot_link). Returns a group number per row, numbered in order of
    first row."""
    members: dict[int, list[int]] = {}
    for row, group in enumerate(groups):
        members.setdefault(group, []).append(row)
    parts: list[tuple[int, int]] = [(group, 0) for group in groups]
    for group, rows in members.items():
        if config.split_from <= len(rows) <= config.neighbours:
            second, threshold = split_similarity(similarity[np.ix_(rows, rows)], config)
            if apart is not None:
                second[apart(rows)] = _CONFLICT
            for row, part in zip(rows, average_link(second, threshold), strict=True):
                parts[row] = (group, part)
    numbers: dict[tuple[int, int], int] = {}
    return [numbers.setdefault(part, len(numbers) + 1) for part in parts]


def split_similarity(similarity: np.ndarray, config: StoryConfig) -> tuple[np.ndarray, float]:
    """The similarity (and its threshold) a small group of linked articles is clustered
    again on: neighbour_similarity over half the group, near-ties at the cut kept
    (_NEAR_TIE), `threshold`. Not plain cosine even for a group of four: two stories on one
    subject share most of their vocabulary, but each report's nearest are its own story's."""
    half = math.ceil(len(similarity) / 2)
    return neighbour_similarity(similarity, half, _NEAR_TIE), config.threshold


def group_similarity(
    similarity: np.ndarray,
    config: StoryConfig,
    dates: list[dt.datetime | None] | None = None,
    in_place: bool = False,
) -> tuple[np.ndarray, float]:
    """The similarity average-link clusters a group of linked articles on, and its threshold.
    `in_place`: a group of more than `neighbours` makes its profiles in `similarity`'s
    memory (neighbour_similarity), which the caller may not read again.

    More than `neighbours` articles: neighbour_similarity over `neighbours`, `threshold`.
    At most `plain_component`: plain cosine (too few for profiles), `small_threshold`; a
    pair lacking a date (`dates`, None: all unknown) counts `undated_margin` less
    (undated_pairs). Between the two: split_similarity (neighbour profiles over half the
    group). Such a group is often two small stories on one subject (two fires at one
    chain's stores, years apart) that plain cosine merged. Measured with
    benchmarks/eval_stories.py (ECB+ cut to three reports an event, undated, three
    samples), with split_small_stories: mean ARI 0.743 -> 0.818, pairwise precision
    0.63-0.67 -> 0.72-0.77 (plain TF-IDF average-link at its best threshold: 0.762); whole
    ECB+ 0.918 -> 0.916. Splitting groups of four and five too (split_from): 0.818 -> 0.829,
    precision 0.73-0.78; whole ECB+ 0.916. The undated margin: 0.829 -> 0.838, precision
    0.757 -> 0.790, the samples as text files (a third dated) 0.820 -> 0.833; whole ECB+
    unchanged, two runs 0.865 -> 0.863 (benchmarks/README.md, Stories).
    """
    articles = len(similarity)
    if articles > config.neighbours:
        second = neighbour_similarity(similarity, config.neighbours, in_place=in_place)
        return second, config.threshold
    if articles <= config.plain_component:
        margin = config.undated_margin * undated_pairs(dates or [None] * articles)
        return similarity - margin, config.small_threshold
    return split_similarity(similarity, config)


def undated_pairs(dates: list[dt.datetime | None]) -> np.ndarray:
    """A float matrix: 1 where a pair of articles lacks a date on either side, else 0.

    Two dated articles linked at all were published within `max_days` of each other: time
    backs their text. Without a date nothing rules out two reports years apart (the same
    people, the same kind of event), so the text alone must show more: a story merged
    from two events misleads every report built on it, a split one only repeats itself."""
    known = np.array([date is not None for date in dates], dtype=bool)
    return (~np.outer(known, known)).astype(np.float64)


def key_names(docs: list[StoryDoc], config: StoryConfig) -> list[frozenset[str]]:
    """Each doc's key names: its `key_names` most repeated names (story_names; at least
    `key_name_repeats` times, ties by name) that at most `key_name_share` of `docs` mention.
    A name that rare is the specific of one story (its person, place, team): two events of
    one kind (two DUI arrests of one team's players, two fires in one state) share their
    common names but not these. In a run of under 1 / key_name_share articles no name is
    that rare: no keys, nothing repels."""
    return flat_key_names(FlatVectors.of(doc.names or {} for doc in docs), config)


def flat_key_names(names: FlatVectors, config: StoryConfig) -> list[frozenset[str]]:
    """key_names of the docs whose name counts are `names`: the entries repeated enough, of
    names few docs mention, are picked out over the arrays; only those few are sorted."""
    mentions = np.bincount(names.columns, minlength=len(names.vocabulary))  # docs naming each
    kept = np.flatnonzero(
        (names.values >= config.key_name_repeats)
        & (mentions[names.columns] <= config.key_name_share * names.docs)
    )
    doc_of = np.searchsorted(names.bounds, kept, side="right") - 1
    repeated: dict[int, list[tuple[float, str]]] = {}
    for doc, count, column in zip(
        doc_of.tolist(), names.values[kept].tolist(), names.columns[kept].tolist(), strict=True
    ):
        repeated.setdefault(doc, []).append((-count, names.vocabulary[column]))
    keys: list[frozenset[str]] = [frozenset()] * names.docs
    for doc, found in repeated.items():
        keys[doc] = frozenset(name for _, name in sorted(found)[: config.key_names])
    return keys


def conflicting_names(
    keys: list[frozenset[str]],
    terms: Sequence[Mapping[str, float]],
    among: np.ndarray | None = None,
) -> np.ndarray:
    """A boolean matrix: True where both docs have key names and neither's key names occur
    among the other's terms (each tells a different specific story). `among`: only the pairs
    True in this boolean matrix are looked at (the others False), so the terms of docs in no
    such pair are never read (a DocTerms builds its dict when read)."""
    count = len(keys)
    found = np.zeros((count, count), dtype=bool)
    for first in range(count):
        for second in range(first + 1, count):
            found[first, second] = found[second, first] = (
                (among is None or bool(among[first, second]))
                and bool(keys[first])
                and bool(keys[second])
                and _mentions_none(keys[first], terms[second])
                and _mentions_none(keys[second], terms[first])
            )
    return found


def _mentions_none(names: frozenset[str], terms: Mapping[str, float]) -> bool:
    """names.isdisjoint(terms), looking the few names up in the terms rather than walking
    every term of the article (frozenset.isdisjoint walks an argument that is no set)."""
    return not any(name in terms for name in names)


def cannot_link(
    keys: list[frozenset[str]],
    terms: list[Mapping[str, float]],
    dates: list[dt.datetime | None],
) -> np.ndarray:
    """A boolean matrix: the pairs that repel in a small group (_CONFLICT), those lacking a
    date (undated_pairs) with conflicting key names (conflicting_names). Two dated ones
    linked at all were published within `max_days`: time says they may be one story told
    from two sides. Without dates, two reports of one kind of event, each about its own
    person or place, are two stories (a merged story misleads every report built on it).

    Measured with benchmarks/eval_stories.py (benchmarks/README.md, Stories): small stories
    (ECB+ cut to three reports an event, undated) mean ARI 0.838 -> 0.856, pairwise
    precision 0.790 -> 0.861 (recall 0.897 -> 0.855), as text files 0.833 -> 0.860; whole
    ECB+ 0.916 -> 0.915; two runs 0.863 -> 0.855. The cost: undated groups of 6-10 reports
    of one event, clustered on their own, are cut more often (27% -> 38%; twin events kept
    apart 79% -> 83%)."""
    # Most articles are dated: only the names of the undated pairs are compared.
    return conflicting_names(keys, terms, undated_pairs(dates).astype(bool))


# In a small group's profiles, values within 15% of the cut stay with it: the reports of
# one story that are all about equally alike are not cut in two at random (0.9 split real
# ECB+ stories: whole set ARI 0.905; 0.8 kept more twin stories merged).
_NEAR_TIE = 0.85


# Similarity of two earlier articles of different stories while clustering: a group that
# would hold both has its average pulled down, so earlier stories stay apart (measured on
# ECB+ across three runs: ARI +0.02; two runs: no change).
_APART = -1.0

# Similarity of two undated articles whose key names conflict (cannot_link): it pulls a
# group's average down without ruling the pair out whatever the rest shows. Measured
# (eval_stories.py): -1 gave small stories precision 0.874 but cut more single stories
# (whole set 0.912, two runs 0.847); 0 and above keep precision under 0.83.
_CONFLICT = -0.5


def _of_other_stories(stories: list[str | None]) -> np.ndarray:
    """A boolean matrix: True where both rows are earlier articles of different stories."""
    known = np.array([story is not None for story in stories])
    if known.sum() < 2:  # most groups of a run: no pair of earlier articles
        return np.zeros((len(stories), len(stories)), dtype=bool)
    codes = np.unique(np.array([story or "" for story in stories]), return_inverse=True)[1]
    return np.outer(known, known) & (codes[:, None] != codes[None, :])


def _components(graph: sparse.csr_matrix, floor: float, config: StoryConfig) -> Iterator[list[int]]:
    """Connected components of the links >= floor, in order of their first row. One larger
    than `max_component` is split again with a floor 0.05 higher (a dense matrix of it
    would not fit), until it fits or the floor reaches `threshold`."""
    from scipy.sparse import csgraph

    _, component_of = csgraph.connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    for index, component in enumerate(component_of):
        members.setdefault(int(component), []).append(index)
    for indexes in members.values():
        if len(indexes) <= config.max_component:
            yield indexes
            continue
        if floor + 0.05 > config.threshold:
            # Still too large at the threshold (many near-identical items): cut into pieces
            # of `max_component` in row order, so the dense matrix stays bounded.
            for start in range(0, len(indexes), config.max_component):
                yield indexes[start : start + config.max_component]
            continue
        part = graph[indexes][:, indexes].tocsr()
        part.data[part.data < floor + 0.05] = 0.0
        part.eliminate_zeros()
        for sub in _components(part, floor + 0.05, config):
            yield [indexes[i] for i in sub]


def cluster_stories(
    docs: Iterable[StoryDoc],
    priors: Iterable[PriorStory],
    config: StoryConfig,
    earlier: TermFrequencies = NO_FREQUENCIES,
) -> tuple[dict[str, str], Mapping[str, dict[str, float]]]:
    """Articles -> ({article id: story id}, {article id: its unit TF-IDF vector}).

    Earlier runs' articles take part in the clustering (their stored term counts, weighted
    with the IDF over `earlier` and this batch, as one run over all of them would), so a
    new article joins an earlier story by the same rule that groups new articles. Each
    earlier story is continued by at most one group (see claim_stories); a group that
    continues none is a new story, named after its earliest new member. Only earlier
    articles at least `min_similarity` close to some new article take part."""
    ordered = sorted(docs, key=lambda doc: doc.article_id)
    counts = FlatVectors.of(doc.terms for doc in ordered)
    return cluster_counted(ordered, counts, key_names(ordered, config), priors, config, earlier)


def cluster_counted(
    ordered: list[StoryDoc],
    counts: FlatVectors,
    keys: list[frozenset[str]],
    priors: Iterable[PriorStory],
    config: StoryConfig,
    earlier: TermFrequencies = NO_FREQUENCIES,
) -> tuple[dict[str, str], Mapping[str, dict[str, float]]]:
    """cluster_stories of docs ordered by article id, given their term counts (`counts`, in
    that order) and key names (`keys`, key_names over them)."""
    vectors = weighted_tfidf(
        counts, document_frequency(counts, earlier), earlier.articles + counts.docs
    )
    candidates = sorted(priors)
    prior_counts = FlatVectors.of(p.terms for p in candidates)
    # Only earlier articles' terms are looked up in the frequencies' dict (none: no dict).
    frequencies = counted_frequencies(earlier, counts) if candidates else NO_FREQUENCIES
    prior_vectors = unit_tfidf(prior_counts, frequencies)
    kept = _candidate_priors(vectors, prior_vectors, config)
    earlier_docs = [candidates[i] for i in kept]
    pseudo = [StoryDoc(f"earlier:{p.article_id}", (0,), p.published_at, {}) for p in earlier_docs]
    labels = cluster_rows(
        [*ordered, *pseudo],
        vectors.then(prior_vectors.take(kept)),
        config,
        [None] * len(ordered) + [p.story_id for p in earlier_docs],
        # Rare among this run's articles; earlier ones have no names kept.
        keys + [frozenset()] * len(pseudo),
    )
    members: dict[tuple[int, int], list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(label, []).append(index)
    groups = list(members.values())
    continued = claim_stories(
        [[earlier_docs[i - len(ordered)].story_id for i in g if i >= len(ordered)] for g in groups]
    )
    assigned: dict[str, str] = {}
    for indexes, story in zip(groups, continued, strict=True):
        new = [i for i in indexes if i < len(ordered)]
        if not new:
            continue
        story_id = story or ordered[min(new, key=lambda i: ordered[i].rank)].article_id
        for i in new:
            assigned[ordered[i].article_id] = story_id
    return assigned, VectorsById([doc.article_id for doc in ordered], vectors)


def claim_stories(groups: list[list[str]]) -> list[str | None]:
    """The earlier story each group continues (None: none), given the story ids of each
    group's earlier members. One to one: the group holding most members of a story
    continues it (ties: the first group), and a group continues the story of which it holds
    the most members among those no other group took first (ties: the smallest id).
    Groups of earlier articles only claim too, so that a few of a story's members cannot
    take it away from the rest.

    Why one to one: an earlier run that merged two events into one story would otherwise
    pass that story on to both events' new articles (most of the precision lost across
    runs on ECB+); the event that holds fewer of its members starts a new story instead."""
    claims = sorted(
        (-count, story, number)
        for number, stories in enumerate(groups)
        for story, count in Counter(stories).items()
    )
    continued: list[str | None] = [None] * len(groups)
    taken: set[str] = set()
    for _, story, number in claims:
        if continued[number] is None and story not in taken:
            continued[number] = story
            taken.add(story)
    return continued


def _candidate_priors(
    vectors: FlatVectors | list[dict[str, float]],
    prior_vectors: FlatVectors | list[dict[str, float]],
    config: StoryConfig,
) -> list[int]:
    """The indexes of the earlier articles at least `min_similarity` close to one of the new
    articles."""
    if not isinstance(vectors, FlatVectors):
        vectors = FlatVectors.of(vectors)
    if not isinstance(prior_vectors, FlatVectors):
        prior_vectors = FlatVectors.of(prior_vectors)
    if not prior_vectors.docs or not vectors.docs:
        return []
    matrix = _term_matrix(vectors.then(prior_vectors))
    new, old = matrix[: vectors.docs], matrix[vectors.docs :]
    best = (old @ new.T).max(axis=1).toarray().ravel()
    return [i for i, score in enumerate(best) if score >= config.min_similarity]


def story_rows(
    docs: list[StoryDoc],
    assigned: dict[str, str],
    vectors: Mapping[str, dict[str, float]],
    config: StoryConfig,
    first_seen_at: dt.datetime,
) -> list[dict[str, Any]]:
    """This run's rows of the stories state: each article's story and the counts of its
    `vector_terms` heaviest terms by TF-IDF weight (what later runs match new articles
    against, re-weighted with their own IDF), first seen at `first_seen_at` (the run's
    start)."""
    rows = []
    for doc in sorted(docs, key=lambda d: d.article_id):
        top = sorted(vectors[doc.article_id].items(), key=lambda item: (-item[1], item[0]))
        terms = [term for term, _ in top[: config.vector_terms]]
        rows.append(
            {
                "story_id": assigned[doc.article_id],
                "article_id": doc.article_id,
                "published_at": doc.published_at,
                "terms": terms,
                "counts": [doc.terms[term] for term in terms],
                "first_seen_at": first_seen_at,
            }
        )
    return rows


def top_entries(weights: FlatVectors, most: int) -> list[list[int]]:
    """Each doc's entries (places in `weights`' arrays) of its `most` largest values, largest
    first, equal ones by term: what sorted(vector.items(), key=(-value, term))[:most] picks,
    with one sort over all docs' entries (lexsort), not a Python sort key per entry."""
    vocabulary = weights.vocabulary
    term_order = np.empty(len(vocabulary), dtype=np.int64)
    term_order[sorted(range(len(vocabulary)), key=vocabulary.__getitem__)] = np.arange(
        len(vocabulary)
    )
    lengths = np.diff(weights.bounds)
    doc_of = np.repeat(np.arange(weights.docs), lengths)
    # By doc, then largest value, then term: doc i's entries stay at bounds[i]:bounds[i + 1].
    order = np.lexsort((term_order[weights.columns], -weights.values, doc_of)).tolist()
    starts = weights.bounds[:-1]
    ends = starts + np.minimum(lengths, most)
    return [order[start:end] for start, end in zip(starts.tolist(), ends.tolist(), strict=True)]


def counted_story_rows(
    docs: list[StoryDoc],
    assigned: dict[str, str],
    vectors: FlatVectors,
    counts: FlatVectors,
    config: StoryConfig,
    first_seen_at: dt.datetime,
) -> list[dict[str, Any]]:
    """story_rows of docs ordered by article id, given their unit TF-IDF vectors and their term
    counts (`vectors`, `counts`: the same entries, as unit_tfidf keeps them)."""
    terms, values = vectors.terms(), counts.values.tolist()
    rows = []
    for doc, entries in zip(docs, top_entries(vectors, config.vector_terms), strict=True):
        rows.append(
            {
                "story_id": assigned[doc.article_id],
                "article_id": doc.article_id,
                "published_at": doc.published_at,
                "terms": [terms[entry] for entry in entries],
                "counts": [values[entry] for entry in entries],
                "first_seen_at": first_seen_at,
            }
        )
    return rows


def prior_story(row: dict[str, Any]) -> PriorStory:
    return PriorStory(
        story_id=row["story_id"],
        article_id=row["article_id"],
        published_at=row["published_at"],
        terms=dict(zip(row["terms"], row["counts"], strict=True)),
        first_seen_at=row["first_seen_at"],
    )


# The row of the term frequencies table that holds the number of articles (story_terms
# never makes an empty term).
_ARTICLE_COUNT = ""


def frequency_columns(frequencies: TermFrequencies) -> dict[str, list[Any]]:
    """The term frequencies state table as columns: the article count first, then each
    term in order."""
    terms = sorted(frequencies.frequency)
    return {
        "term": [_ARTICLE_COUNT, *terms],
        "articles": [frequencies.articles, *(frequencies.frequency[term] for term in terms)],
    }


def term_frequencies(terms: Iterable[str], counts: Iterable[int]) -> TermFrequencies:
    """The term frequencies state table's columns -> TermFrequencies."""
    articles, frequency = 0, {}
    for term, count in zip(terms, counts, strict=True):
        if term == _ARTICLE_COUNT:
            articles += count
        else:
            frequency[term] = count
    return TermFrequencies(articles, frequency)


def stored_frequencies(paths: Iterable[str]) -> TermFrequencies:
    """The term frequencies of an earlier state, its files read as Arrow columns (the
    table grows with the vocabulary: no dict per row)."""
    terms: list[str] = []
    counts: list[int] = []
    for path in paths:
        table = read_arrow(path, STORY_TERMS)
        terms += table.column("term").to_pylist()
        counts += table.column("articles").to_pylist()
    return term_frequencies(terms, counts)


# --- Beam ----------------------------------------------------------------------------------


_STORY_ROWS = "story_rows"
_TERM_ROWS = "term_rows"


@dataclasses.dataclass(frozen=True)
class StoredTerms:
    """A stories state file's stored term counts as a sparse matrix (rows x the file's
    vocabulary), sublinear as tfidf_vectors weighs them: built once per file."""

    vocabulary: list[str]
    column: dict[str, int]
    counts: sparse.csr_matrix


def stored_terms(table: pa.Table) -> StoredTerms:
    import pyarrow.compute as pc  # state files only: a run without --state never loads it
    from scipy import sparse

    terms = table.column("terms")
    flat = pc.list_flatten(terms)
    if not len(flat):
        return StoredTerms([], {}, sparse.csr_matrix((table.num_rows, 1)))
    encoded = pc.dictionary_encode(flat).combine_chunks()
    vocabulary = encoded.dictionary.to_pylist()
    counts = pc.list_flatten(table.column("counts")).to_numpy(zero_copy_only=False)
    weights = np.where(counts >= 1, 1.0 + np.log(np.maximum(counts, 1.0)), counts)
    matrix = sparse.csr_matrix(
        (
            weights,
            (
                pc.list_parent_indices(terms).to_numpy(zero_copy_only=False),
                encoded.indices.to_numpy(zero_copy_only=False),
            ),
        ),
        shape=(table.num_rows, len(vocabulary)),
        dtype=np.float64,
    )
    return StoredTerms(vocabulary, {term: i for i, term in enumerate(vocabulary)}, matrix)


def story_index(paths: Iterable[str]) -> StateIndex:
    """The stories state in memory, loaded once per process and file."""
    return open_index("stories-index", list(paths), DEDUP_STORIES, no_keys, stored_terms)


def _by_term(vectors: list[dict[str, float]]) -> dict[str, list[tuple[int, float]]]:
    """The run's vectors by term: (vector number, weight) of each that holds it (built
    once per run, then met with each file's vocabulary)."""
    found: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for number, vector in enumerate(vectors):
        for term, value in vector.items():
            found[term].append((number, value))
    return found


def _prior_scores(
    stored: StoredTerms,
    by_term: Mapping[str, list[tuple[int, float]]],
    vectors: int,
    frequencies: TermFrequencies,
) -> np.ndarray:
    """Each stored article's best cosine to one of the run's `vectors` (`by_term`), its
    TF-IDF weighed with `frequencies` as tfidf_vectors weighs it (vectorised over the
    file); all zero, at once, when the file shares no term with the run."""
    from scipy import sparse

    shared = sorted(by_term.keys() & stored.column.keys())
    if not shared:
        return np.zeros(stored.counts.shape[0])
    total, frequency = frequencies.articles, frequencies.frequency
    idf = np.array(
        [math.log((1 + total) / (1 + frequency.get(term, 0)) + 1) for term in stored.vocabulary]
    )
    weighted = sparse.csr_matrix(stored.counts.multiply(idf[None, :]))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    rows, columns, values = [], [], []
    for term in shared:
        for number, value in by_term[term]:
            rows.append(stored.column[term])
            columns.append(number)
            values.append(value)
    new = sparse.csr_matrix(
        (values, (rows, columns)), shape=(len(stored.vocabulary), vectors), dtype=np.float64
    )
    best = np.asarray((weighted @ new).max(axis=1).toarray()).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norms > 0, best / np.where(norms > 0, norms, 1.0), 0.0)


# A stored article scored this much under min_similarity still goes to cluster_stories,
# which decides with its own arithmetic (sums in another order differ in the last bits).
_SCORE_MARGIN = 1e-9


def candidate_priors(
    docs: list[StoryDoc],
    earlier: TermFrequencies,
    index: StateIndex,
    keep_since: dt.datetime | None,
    config: StoryConfig,
) -> list[PriorStory]:
    """The retained earlier articles at least `min_similarity` close to one of `docs`:
    the only ones cluster_stories keeps (`_candidate_priors`), found over the state held in
    memory without building a vector for each earlier article."""
    counts = FlatVectors.of(doc.terms for doc in docs)
    return counted_candidate_priors(counts, earlier, index, keep_since, config)


def counted_candidate_priors(
    counts: FlatVectors,
    earlier: TermFrequencies,
    index: StateIndex,
    keep_since: dt.datetime | None,
    config: StoryConfig,
) -> list[PriorStory]:
    """candidate_priors of the docs whose term counts are `counts`."""
    frequencies = counted_frequencies(earlier, counts)
    vectors = unit_tfidf(counts, frequencies).dicts()
    by_term = _by_term(vectors)
    found: dict[str, dict[str, Any]] = {}
    for segment in index.segments:
        scores = _prior_scores(segment.extra, by_term, len(vectors), frequencies)
        chosen = (scores >= config.min_similarity - _SCORE_MARGIN) & segment.retained(keep_since)
        for row in segment.rows_at(np.flatnonzero(chosen)):
            found.setdefault(row["article_id"], row)
    return [prior_story(found[key]) for key in sorted(found)]


class _ClusterAll(beam.DoFn):
    """Once (an Impulse), all of the run's docs a side input -> (article id, story id); with
    `terms_folder` (a run that writes state), this run's rows of the stories state on the
    story_rows output (earlier ones are carried by the writer), and the new term
    frequencies written there as one part file, its entry on the term_rows output. The
    earlier articles close enough to take part come from the state's index, loaded in
    setup(), and the earlier term frequencies from `term_files`, read there as columns."""

    def __init__(
        self,
        config: StoryConfig,
        paths: Iterable[str],
        keep_since: dt.datetime | None,
        run_at: dt.datetime,
        term_files: Iterable[str] = (),
        terms_folder: str | None = None,
    ) -> None:
        self._config = config
        self._paths = list(paths)
        self._keep_since = keep_since
        self._run_at = run_at
        self._term_files = list(term_files)
        self._terms_folder = terms_folder
        self._index: StateIndex | None = None
        self._earlier = NO_FREQUENCIES

    # Forked workers start warm (pipeline/worker_template.py): the library, not the state,
    # imported before the template has the pipeline's DoFns.
    @classmethod
    def warm_ahead(cls) -> None:
        import_clustering()

    def warm_up(self) -> None:
        self.warm_ahead()

    def setup(self) -> None:
        import_clustering()
        self._index = story_index(self._paths) if self._paths else None
        self._earlier = stored_frequencies(self._term_files)

    def process(self, _impulse: bytes, packed: list[PackedDoc]) -> Iterator[Any]:
        return self.cluster(packed)

    def cluster(self, packed: list[PackedDoc]) -> Iterator[Any]:
        """All of the docs clustered at once -> (article id, story id) and the state rows."""
        config = self._config
        run = unpack_run(packed, config)
        earlier = self._earlier
        priors = (
            counted_candidate_priors(run.counts, earlier, self._index, self._keep_since, config)
            if self._index
            else []
        )
        counter("stories_state_matched").inc(len(priors))
        assigned, vectors = cluster_counted(run.docs, run.counts, run.keys, priors, config, earlier)
        give_back_freed()
        known = {prior.story_id for prior in priors}
        for article_id, story_id in sorted(assigned.items()):
            counter("stories_joined_earlier" if story_id in known else "stories_in").inc()
            yield article_id, story_id
        counter("stories_new").inc(len(set(assigned.values()) - known))
        if self._terms_folder is not None:
            for row in _run_story_rows(run, assigned, vectors, config, self._run_at):
                yield beam.pvalue.TaggedOutput(_STORY_ROWS, row)
            stored = first_versions(run, {prior.article_id for prior in priors})
            counter("stories_versions_not_counted").inc(run.counts.docs - stored.docs)
            columns = frequency_columns(counted_frequencies(earlier, stored))
            schema = stamped(STORY_TERMS.schema)
            name = write_columns(self._terms_folder, "part", columns, schema)
            entry = {"target": STORY_TERMS.name, "name": name, "rows": len(columns["term"])}
            yield beam.pvalue.TaggedOutput(_TERM_ROWS, entry)


class _ClusterWindow(beam.DoFn):
    """(the one key, a window's docs) -> as _ClusterAll for a whole run: articles in
    windows of their own (a user's windowed pipeline) are clustered window by window, as
    a GroupByKey groups them, never across windows."""

    def __init__(self, config: StoryConfig, run_at: dt.datetime) -> None:
        self._cluster = _ClusterAll(config, (), None, run_at)

    def setup(self) -> None:
        self._cluster.setup()

    def process(self, group: tuple[int, Iterable[PackedDoc]]) -> Iterator[Any]:
        return self._cluster.cluster(list(group[1]))


def _one_key(doc: PackedDoc) -> tuple[int, PackedDoc]:
    return 0, doc


def _run_story_rows(
    run: PackedRun,
    assigned: dict[str, str],
    vectors: Mapping[str, dict[str, float]],
    config: StoryConfig,
    first_seen_at: dt.datetime,
) -> list[dict[str, Any]]:
    """story_rows of the run, over the arrays where the vectors keep the counts' entries (a
    vector of length 0 drops its doc's terms: then doc by doc)."""
    if isinstance(vectors, VectorsById) and vectors.flat.columns is run.counts.columns:
        return counted_story_rows(
            run.docs, assigned, vectors.flat, run.counts, config, first_seen_at
        )
    return story_rows(run.docs, assigned, vectors, config, first_seen_at)


def _with_story(article: Article, story_ids: Mapping[str, str]) -> Article:
    article = with_identity(article)  # as story_doc keyed it
    return article._replace(story_id=story_ids.get(article.article_id, article.article_id))


class ClusterStories(beam.PTransform):
    """PCollection[Article] -> PCollection[Article] with `story_id` set.

    `state`: the checked earlier state (its stories within the retention take part, pruned
    ones counted as `stories_state_pruned`); with --state this also writes the new stories
    and story_terms tables (the articles table is WriteDedupIndex's, pipeline/build.py).
    Clustering sees the whole run at once (one key); the articles themselves are not
    shuffled: their story ids reach them as a side input of (id, story id) pairs.
    Articles in windows (not the global one) are clustered window by window, without a
    state (ValueError with one); ClusterStoriesStream carries stories across windows.
    """

    def __init__(
        self, config: StoryConfig | None = None, state: StateContext | None = None
    ) -> None:
        super().__init__()
        self._config = config or StoryConfig()
        # Without one (a transform used on its own): now, no earlier state, keeping nothing.
        self._state = state or StateContext()

    def expand(self, articles: beam.PCollection[Article]) -> beam.PCollection[Article]:
        config, state = self._config, self._state
        pipeline = articles.pipeline
        out = state.state_out_dir if state.writes else None
        docs = articles | "Terms" >> beam.Map(packed_story_doc, config)
        if not isinstance(articles.windowing.windowfn, GlobalWindows):
            return articles | "InWindows" >> _SetStoriesByWindow(docs, config, state)
        # Clustered once over all the docs, read as a side input (support/whole.py: fewer
        # steps than combining them into one list).
        clustered = (
            pipeline
            | "Once" >> beam.Impulse()
            | "Cluster"
            >> beam.ParDo(
                _ClusterAll(
                    config,
                    state.files(DEDUP_STORIES),
                    state.keep_since,
                    state.run_at,
                    state.files(STORY_TERMS),
                    part_folder(out, STORY_TERMS) if out else None,
                ),
                beam.pvalue.AsList(docs),
            ).with_outputs(_STORY_ROWS, _TERM_ROWS, main="story_ids")
        )
        with_story = articles | "SetStory" >> beam.Map(
            _with_story, beam.pvalue.AsDict(clustered.story_ids)
        ).with_output_types(Article)
        if state.writes:
            _ = clustered[_STORY_ROWS] | "WriteStories" >> WriteStateTable(
                state, DEDUP_STORIES, carry=True, pruned_counter="stories_state_pruned"
            )
            _ = clustered[_TERM_ROWS] | "WriteTerms" >> WriteStateTable(
                state, STORY_TERMS, prewritten=True
            )
        return with_story


class _SetStoriesByWindow(beam.PTransform):
    """ClusterStories on articles in windows other than the global one: the docs of each
    window grouped under one key and clustered together, their story ids a side input
    of the same window. (The Impulse of a whole run is in the global window: a windowed
    side input read from it is empty there, and every article was a story of its own.)
    An earlier state is a run's, not a window's: ClusterStoriesStream carries stories
    from window to window."""

    def __init__(
        self, docs: beam.PCollection[PackedDoc], config: StoryConfig, state: StateContext
    ) -> None:
        super().__init__()
        self._docs = docs
        self._config = config
        self._state = state

    def expand(self, articles: beam.PCollection[Article]) -> beam.PCollection[Article]:
        state = self._state
        if state.writes or state.files(DEDUP_STORIES):
            raise ValueError(
                "ClusterStories with a state needs articles in the global window (a run);"
                " windowed articles: ClusterStoriesStream, or ClusterStories without a state"
            )
        story_ids = (
            self._docs
            | "OneKey" >> beam.Map(_one_key).with_output_types(tuple[int, Any])
            | "ByWindow" >> beam.GroupByKey()
            | "Cluster" >> beam.ParDo(_ClusterWindow(self._config, state.run_at))
        )
        return articles | "SetStory" >> beam.Map(
            _with_story, beam.pvalue.AsDict(story_ids)
        ).with_output_types(Article)


# --- Streaming: ClusterStoriesStream ----------------------------------------------------------
#
# The same clustering as the batch composite, one window at a time: a window's articles
# are clustered (cluster_stories) with the articles before them as priors, as a run's
# articles are with earlier runs', so a story continued in a later window keeps its
# story_id.


class StreamStory(NamedTuple):
    """An earlier article (of this stream or the earlier state) as the streaming state
    holds it, and when it expires (event time, microseconds)."""

    prior: PriorStory
    expires_at: int


def related_stories(docs: Iterable[StoryDoc], stories: Iterable[StreamStory]) -> list[PriorStory]:
    """The priors sharing a term with one of `docs`: the only ones cluster_stories can
    link to them (a cosine of 0 is under any min_similarity), so the others are left out
    before their vectors are built."""
    terms = {term for doc in docs for term in doc.terms}
    return [story.prior for story in stories if not terms.isdisjoint(story.prior.terms)]


def cluster_window(
    articles: list[Article],
    stories: Iterable[StreamStory],
    earlier: TermFrequencies,
    config: StoryConfig,
    seen_at: dt.datetime,
    ttl_micros: int,
    event_micros: Mapping[str, int],
) -> tuple[list[Article], list[StreamStory], TermFrequencies]:
    """Articles -> (them with their story ids, their state entries, the term frequencies
    after them): cluster_stories with the state's stories as priors. Each new entry
    expires `ttl_micros` after its article's event time (`event_micros` by id)."""
    docs = [story_doc(article, config) for article in articles]
    assigned, vectors = cluster_stories(docs, related_stories(docs, stories), config, earlier)
    rows = story_rows(docs, assigned, vectors, config, seen_at)
    entries = [
        StreamStory(prior_story(row), event_micros[row["article_id"]] + ttl_micros) for row in rows
    ]
    with_ids = [_with_story(article, assigned) for article in articles]
    return with_ids, entries, add_frequencies(earlier, docs)


# What a committed article gives a restarted job's stories (committed_stream_stories).
COMMITTED_STORY_COLUMNS = (
    "article_id",
    "title",
    "text",
    "language",
    "published_at",
    "ingested_at",
    "story_id",
)


def committed_stream_stories(
    rows: Iterable[dict[str, Any]],
    earlier: TermFrequencies,
    config: StoryConfig,
    seen_at: dt.datetime,
    ttl_micros: int,
) -> tuple[list[StreamStory], TermFrequencies]:
    """Articles earlier jobs committed into ROOT (COMMITTED_STORY_COLUMNS) -> their story
    entries, as cluster_window makes them (their heaviest terms, the story id they were
    given), each expiring `ttl_micros` after it was ingested, and the term frequencies with
    them counted: a restarted job's later article of one of their stories joins it."""
    docs, stories, expiry = [], {}, {}
    for row in rows:
        if not row.get("story_id"):
            continue
        terms = story_terms(row["title"], row["text"], config, row.get("language"))
        docs.append(StoryDoc(row["article_id"], (), row["published_at"], terms))
        stories[row["article_id"]] = row["story_id"]
        expiry[row["article_id"]] = micros_of(row["ingested_at"]) + ttl_micros
    if not docs:
        return [], earlier
    frequencies = add_frequencies(earlier, docs)
    vectors = dict(
        zip(
            (doc.article_id for doc in docs),
            tfidf_vectors([doc.terms for doc in docs], frequencies),
            strict=True,
        )
    )
    rows_ = story_rows(docs, stories, vectors, config, seen_at)
    entries = [StreamStory(prior_story(row), expiry[row["article_id"]]) for row in rows_]
    return entries, frequencies


class Pane(NamedTuple):
    """One window's rows committed together: the window (event time, microseconds), when
    the pane fired (its end for the on-time pane, later for a late one), and the rows by
    table (records: Article, Duplicate, Rejected, FeedHealth)."""

    start: int
    end: int
    fired: int
    tables: dict[str, list[Any]]


# The state and timers of _ClusterStoriesStreamFn (module level: a DoFn's parameters name them).
_STORIES_ROWS = BagStateSpec("rows", PickleCoder())
_STORIES_FIRED_THROUGH = ReadModifyWriteStateSpec("fired_through", VarIntCoder())
_STORIES_FLUSH_AT = ReadModifyWriteStateSpec("flush_at", VarIntCoder())
_STORIES_STORIES = BagStateSpec("stories", PickleCoder())
_STORIES_FREQUENCIES = ReadModifyWriteStateSpec("frequencies", PickleCoder())
_STORIES_SEEDED = ReadModifyWriteStateSpec("seeded", BooleanCoder())
_STORIES_NEXT_EXPIRY = ReadModifyWriteStateSpec("next_expiry", VarIntCoder())
_STORIES_FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)
_STORIES_EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)
_STORIES_ROWS_PARAM = beam.DoFn.StateParam(_STORIES_ROWS)
_STORIES_FIRED_THROUGH_PARAM = beam.DoFn.StateParam(_STORIES_FIRED_THROUGH)
_STORIES_FLUSH_AT_PARAM = beam.DoFn.StateParam(_STORIES_FLUSH_AT)
_STORIES_STORIES_PARAM = beam.DoFn.StateParam(_STORIES_STORIES)
_STORIES_FREQUENCIES_PARAM = beam.DoFn.StateParam(_STORIES_FREQUENCIES)
_STORIES_SEEDED_PARAM = beam.DoFn.StateParam(_STORIES_SEEDED)
_STORIES_NEXT_EXPIRY_PARAM = beam.DoFn.StateParam(_STORIES_NEXT_EXPIRY)
_STORIES_FLUSH_PARAM = beam.DoFn.TimerParam(_STORIES_FLUSH)
_STORIES_EXPIRE_PARAM = beam.DoFn.TimerParam(_STORIES_EXPIRE)
_TIMESTAMP_PARAM = beam.DoFn.TimestampParam


class _ClusterStoriesStreamFn(beam.DoFn):
    """(key, (table, record)) -> a Pane per window (and late pane) once it ended.

    State (per key, the global window): the rows waiting for their pane (`rows`: window
    start, when due, table, record), the latest pane time fired, when the flush timer is
    set; the earlier articles' story entries (`stories`), the term frequencies, whether
    the earlier state was loaded, the next expiry. Timers: `flush` at the soonest due pane
    (its window's end: the watermark passed it), `expire` at the soonest expiry (counter
    `stories_stream_expired`). A row of a window whose pane fired already waits for the
    next window end: a late pane. Clustering and emitting the window's rows in one step
    keeps them together: no later step has to wait for this one's timer."""

    def __init__(
        self,
        config: StoryConfig,
        state: StateContext,
        window_micros: int,
        ttl_micros: int,
        committed: CommittedRecord | None = None,
    ) -> None:
        self._config = config
        self._state = state
        self._window = window_micros
        self._ttl = ttl_micros
        self._record = committed
        self._priors: list[StreamStory] = []
        self._frequencies = NO_FREQUENCIES

    # Forked workers start warm (pipeline/worker_template.py): the library, not the state,
    # imported before the template has the pipeline's DoFns.
    @classmethod
    def warm_ahead(cls) -> None:
        import_clustering()

    def warm_up(self) -> None:
        self.warm_ahead()

    def setup(self) -> None:
        import_clustering()
        keep_since = self._state.keep_since
        rows = read_table(self._state, DEDUP_STORIES) if self._state.files(DEDUP_STORIES) else []
        self._priors = [
            StreamStory(prior_story(row), micros_of(row["first_seen_at"]) + self._ttl)
            for row in rows
            if within_retention(row, keep_since)
        ]
        self._frequencies = stored_frequencies(self._state.files(STORY_TERMS))
        # A restarted job's: the stories of what earlier jobs committed into ROOT.
        committed = committed_articles(self._record, COMMITTED_STORY_COLUMNS)
        if committed:
            known = {story.prior.article_id for story in self._priors}
            fresh = [row for row in committed if row["article_id"] not in known]
            entries, self._frequencies = committed_stream_stories(
                fresh,
                self._frequencies,
                self._config,
                dt.datetime.now(dt.timezone.utc),
                self._ttl,
            )
            self._priors += entries

    def process(
        self,
        keyed: tuple[str, tuple[str, Any]],
        timestamp: Any = _TIMESTAMP_PARAM,
        rows: Any = _STORIES_ROWS_PARAM,
        fired_through: Any = _STORIES_FIRED_THROUGH_PARAM,
        flush_at: Any = _STORIES_FLUSH_AT_PARAM,
        stories: Any = _STORIES_STORIES_PARAM,
        frequencies: Any = _STORIES_FREQUENCIES_PARAM,
        seeded: Any = _STORIES_SEEDED_PARAM,
        next_expiry: Any = _STORIES_NEXT_EXPIRY_PARAM,
        flush: Any = _STORIES_FLUSH_PARAM,
        expire: Any = _STORIES_EXPIRE_PARAM,
    ) -> None:
        if not seeded.read():
            seeded.write(True)
            for story in self._priors:
                stories.add(story)
            frequencies.write(self._frequencies)
            expire_at(self._priors, next_expiry, expire)
        table, record = keyed[1]
        micros = int(timestamp.micros)
        due = due_time(micros, fired_through.read(), self._window)
        rows.add((window_start(micros, self._window), due, table, record))
        current = flush_at.read()
        if current is None or due < current:
            flush_at.write(due)
            flush.set(Timestamp(micros=due))

    @on_timer(_STORIES_FLUSH)
    def _flush(
        self,
        fired: Any = _TIMESTAMP_PARAM,
        rows: Any = _STORIES_ROWS_PARAM,
        fired_through: Any = _STORIES_FIRED_THROUGH_PARAM,
        flush_at: Any = _STORIES_FLUSH_AT_PARAM,
        stories: Any = _STORIES_STORIES_PARAM,
        frequencies: Any = _STORIES_FREQUENCIES_PARAM,
        next_expiry: Any = _STORIES_NEXT_EXPIRY_PARAM,
        flush: Any = _STORIES_FLUSH_PARAM,
        expire: Any = _STORIES_EXPIRE_PARAM,
    ) -> Iterator[Pane]:
        now = int(fired.micros)
        items = list(rows.read())
        later = [item for item in items if item[1] > now]
        rows.clear()
        for item in later:
            rows.add(item)
        fired_through.write(max(now, fired_through.read() or now))
        flush_at.clear()
        if later:
            soonest = min(item[1] for item in later)
            flush_at.write(soonest)
            flush.set(Timestamp(micros=soonest))
        known = list(stories.read())
        earlier = frequencies.read() or NO_FREQUENCIES
        added: list[StreamStory] = []
        for start, tables in panes(items, now):
            # The copies of the pane counted on their canonicals (the batch's with_copies):
            # the window's rows are together here and nowhere before.
            articles = counted_copies(
                sorted(tables.get("articles", []), key=lambda a: a.article_id),
                tables.get("duplicates", []),
            )
            counter("dedup_copies_counted").inc(sum(a.duplicate_count for a in articles))
            if articles:
                labelled, entries, earlier = cluster_window(
                    articles,
                    known,
                    earlier,
                    self._config,
                    datetime_of(now),
                    self._ttl,
                    {article.article_id: start for article in articles},
                )
                old_ids = {story.prior.story_id for story in known}
                joined = sum(1 for article in labelled if article.story_id in old_ids)
                counter("stories_in").inc(len(labelled))
                counter("stories_joined_earlier").inc(joined)
                counter("stories_new").inc(len({a.story_id for a in labelled} - old_ids))
                known += entries
                added += entries
                tables = {**tables, "articles": labelled}
            yield Pane(start, start + self._window, now, tables)
        for entry in added:
            stories.add(entry)
        frequencies.write(earlier)
        # All of them, not only the added: an expiry put off for this flush (_expire) is
        # set again here.
        expire_at(known, next_expiry, expire)

    @on_timer(_STORIES_EXPIRE)
    def _expire(
        self,
        fired: Any = _TIMESTAMP_PARAM,
        rows: Any = _STORIES_ROWS_PARAM,
        stories: Any = _STORIES_STORIES_PARAM,
        next_expiry: Any = _STORIES_NEXT_EXPIRY_PARAM,
        expire: Any = _STORIES_EXPIRE_PARAM,
    ) -> None:
        now = int(fired.micros)
        # Windows whose flush is due by now too (both timers ready in one advance of the
        # watermark: a bounded job's end, a drain, a watermark that jumped; the runner may
        # fire this timer first) still meet the stories live at their start: only what
        # expired before the earliest of them goes, and their flush sets the next expiry
        # (set here, it would fire at once, before that flush, again and again).
        waiting = [start for start, due, _, _ in rows.read() if due <= now]
        kept, expired = live(stories.read(), min([now, *waiting]))
        counter("stories_stream_expired").inc(expired)
        stories.clear()
        for story in kept:
            stories.add(story)
        next_expiry.clear()
        if not waiting:
            expire_at(kept, next_expiry, expire)


def _keyed(record: Any, table: str) -> tuple[str, tuple[str, Any]]:
    return "all", (table, record)


class ClusterStoriesStream(beam.PTransform):
    """dict[table name, PCollection[record]] (unbounded, timestamped by event time: the
    articles, duplicates, rejected and feed_health rows) -> PCollection[Pane]: each
    window's rows (`window.window_seconds`) once the watermark passed its end, its
    articles with the pane's copies counted (`duplicate_count`, `duplicate_sources`:
    support/copies.py counted_copies) and `story_id` set by ClusterStories' clustering of the
    window's articles with the earlier windows' (and the earlier state's, `state`) as an
    earlier run's take part, each for `window.ttl_days` of event time. Rows that come
    after their window's pane form late panes, at the next window end.

    One key: every window meets every earlier one, and panes leave in order (the step is
    sequential; a window costs the clustering of a run of its size)."""

    def __init__(
        self,
        config: StoryConfig | None = None,
        state: StateContext | None = None,
        window: WindowConfig | None = None,
        committed: CommittedRecord | None = None,
    ) -> None:
        super().__init__()
        self._config = config or StoryConfig()
        self._state = state or StateContext()
        self._window = window or WindowConfig()
        self._committed = committed

    def expand(self, tables: dict[str, beam.PCollection]) -> beam.PCollection[Pane]:
        window = self._window
        fn = _ClusterStoriesStreamFn(
            self._config, self._state, window.window_micros, window.ttl_micros, self._committed
        )
        keyed = [
            tables[name]
            | f"{name}/Key" >> beam.Map(_keyed, name).with_output_types(tuple[str, tuple[str, Any]])
            for name in sorted(tables)
        ]
        return (
            keyed
            | "AllRows" >> beam.Flatten()
            | "Cluster" >> beam.ParDo(fn).with_output_types(Pane)
        )
