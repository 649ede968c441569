"""Stage 5, dedup: one article per copy-set; every other copy becomes a duplicate row.

Three passes, each only on what the previous one kept:
1. exact: the same folded text (`content_hash`) -> method `exact`, similarity 1.0.
2. url: the same canonical URL (one page captured twice, an update) -> method `url`.
3. near: MinHash LSH over word shingles of the clean, folded text finds candidate pairs;
   every candidate is verified against the canonical it would point to by the containment
   of shingles, |A & B| / min(|A|, |B|) (a trimmed copy is contained in its original, an
   original in a copy with a local paragraph added) -> method `near`, similarity = that
   containment. No chaining: a copy only ever points to an article it was verified
   against, and only to an article that is itself nobody's copy (a root); a copy whose
   verified neighbours are all copies themselves stays an article.

Canonical copy, deterministic and independent of input order: what earlier runs kept
(`--state`) first, then the earliest `published_at` (unknown dates last), the longest text
(`word_count`), the smallest `article_id`, `source`.

Streaming shape: no global sort. Articles emit (band key, small tuple) per LSH band; pairs
are formed per bucket, verified per pair (only shingle hashes travel), then resolved per
article. Documents themselves never go through a shuffle.

Every kept article gets `duplicate_count` and the sorted `duplicate_sources` of the copies
found in this run. With `--state`, the articles kept by earlier runs take part as
canonical candidates (never as copies), so a copy arriving today of yesterday's article
goes to `duplicates` with yesterday's `canonical_id`, and the same batch run twice gives
an empty articles table the second time (all of it are duplicates of the first run's).
Counters: `dedup_in`, `dedup_exact`, `dedup_url`, `dedup_near`, `dedup_candidate_pairs`,
`dedup_verified_pairs`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np

from newsbeam.schemas import Article, Duplicate
from newsbeam.transforms.clean import fold
from newsbeam.transforms.dedup_state import ReadStateTable, WriteStateTable, state_files
from newsbeam.transforms.failures import counter

_NEVER = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class DedupConfig:
    """Near-duplicate settings (tuned on syndicated-dev, see benchmarks/eval_dedup.py).

    shingle_words: words per shingle. bands x rows: MinHash permutations; few rows per band
    find pairs at low Jaccard (a copy trimmed to a third of its original). near_threshold:
    least shingle containment for a verified copy. max_bucket_pairs: in an LSH bucket, each
    article is paired with at most this many better-ranked ones (boilerplate guard)."""

    shingle_words: int = 5
    bands: int = 64
    rows: int = 2
    near_threshold: float = 0.5
    max_bucket_pairs: int = 50
    # A near copy shares at least this many shingles with its canonical (about 25 words in
    # a row at 5-word shingles): templated short texts (feed items, listings) that differ
    # in a name or a number reach a high containment without being copies of anything.
    min_shared_shingles: int = 20
    # False: exact and same-URL copies only (users who keep every edited variant).
    near: bool = True


# --- Rank -------------------------------------------------------------------------------

Rank = tuple[int, dt.datetime, int, str, str]


def rank_of(
    published_at: dt.datetime | None,
    word_count: int,
    article_id: str,
    source: str,
    prior: bool = False,
) -> Rank:
    """Canonical-copy rank; the smallest wins. Earlier runs' articles (`prior`) come first."""
    return (0 if prior else 1, published_at or _NEVER, -word_count, article_id, source)


class Candidate(NamedTuple):
    """What the exact and url passes need of an article: its rank and identity."""

    rank: Rank
    source: str
    article_id: str
    prior: bool = False


def candidate_of(article: Article) -> Candidate:
    """An article's dedup candidate; a smaller rank wins canonical."""
    rank = rank_of(article.published_at, article.word_count, article.article_id, article.source)
    return Candidate(rank=rank, source=article.source, article_id=article.article_id)


def find_duplicates(
    candidates: Iterable[Candidate], method: str, similarity: float | None
) -> list[Duplicate]:
    """Candidates sharing a key -> a Duplicate for every one but the canonical copy (never
    for an earlier run's article: it is already in an earlier articles table)."""
    canonical, *copies = sorted(candidates)
    return [
        Duplicate(
            article_id=copy.article_id,
            source=copy.source,
            canonical_id=canonical.article_id,
            similarity=similarity,
            method=method,
        )
        for copy in copies
        if not copy.prior
    ]


# --- Shingles and MinHash -----------------------------------------------------------------

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
# Odd multipliers per word position in a shingle (fixed: shingle hashes are kept in state).
_POSITION_MULTIPLIERS = np.random.default_rng(20240501).integers(
    1, 2**63, size=16, dtype=np.uint64
) * np.uint64(2) + np.uint64(1)


def _word_hashes(words: list[str]) -> np.ndarray:
    """A stable 64-bit hash per word; each distinct word hashed once."""
    index: dict[str, int] = {}
    positions = [index.setdefault(word, len(index)) for word in words]
    distinct = np.array(
        [
            int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
            for word in index
        ],
        dtype=np.uint64,
    )
    return distinct[np.array(positions, dtype=np.intp)]


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output (vectorised)."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def shingle_hashes(text: str, shingle_words: int) -> np.ndarray:
    """Sorted unique 64-bit hashes of the word `shingle_words`-grams of the folded text (a
    text shorter than that is one shingle). Stable across processes and runs."""
    words = fold(text).split()
    if not words:
        return np.zeros(0, dtype=np.uint64)
    hashes = _word_hashes(words)
    width = min(shingle_words, len(hashes))
    count = len(hashes) - width + 1
    combined = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for position in range(width):
            combined += hashes[position : position + count] * _POSITION_MULTIPLIERS[position]
        return np.unique(_mix(combined))


@functools.lru_cache(maxsize=4)
def _permutations(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed (seeded) hash functions x -> a*x + b mod 2**64, a odd; kept in state, so fixed."""
    rng = np.random.default_rng(20240502)
    multipliers = rng.integers(1, 2**63, size=count, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    offsets = rng.integers(0, 2**63, size=count, dtype=np.uint64)
    return multipliers, offsets


def minhash_signature(shingles: np.ndarray, permutations: int) -> np.ndarray:
    """MinHash signature: per hash function, the least hash of any shingle (uint64 array).
    The shingle hashes are already mixed, so a multiply-add per function is enough."""
    if len(shingles) == 0:
        return np.full(permutations, _MASK, dtype=np.uint64)
    multipliers, offsets = _permutations(permutations)
    with np.errstate(over="ignore"):
        hashed = shingles[None, :] * multipliers[:, None] + offsets[:, None]
    return hashed.min(axis=1)


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """One LSH bucket key per band: the band's number and its rows' values."""
    return [
        band.to_bytes(2, "big") + signature[band * rows : (band + 1) * rows].tobytes()
        for band in range(bands)
    ]


def shared_shingles(first: np.ndarray, second: np.ndarray) -> int:
    """|A & B| for sorted unique hash arrays."""
    return len(np.intersect1d(first, second, assume_unique=True))


def containment(first: np.ndarray, second: np.ndarray) -> float:
    """|A & B| / min(|A|, |B|) for sorted unique hash arrays: 1.0 when one holds the other."""
    if len(first) == 0 or len(second) == 0:
        return 0.0
    return shared_shingles(first, second) / min(len(first), len(second))


def near_copy_similarity(
    copy: np.ndarray, canonical: np.ndarray, config: DedupConfig
) -> float | None:
    """The containment of a verified near copy, or None when the pair is not one: too little
    of one is contained in the other, or they share too few shingles to tell."""
    if shared_shingles(copy, canonical) < config.min_shared_shingles:
        return None
    similarity = containment(copy, canonical)
    return similarity if similarity >= config.near_threshold else None


# --- Near duplicates: pairs, verification, resolution ---------------------------------------


class Fingerprint(NamedTuple):
    """What the near pass shuffles of an article: identity, rank, signature, shingles."""

    article_id: str
    source: str
    rank: Rank
    signature: np.ndarray
    shingles: np.ndarray

    @property
    def prior(self) -> bool:
        return self.rank[0] == 0


def fingerprint_of(article: Article, config: DedupConfig) -> Fingerprint:
    shingles = shingle_hashes(article.text, config.shingle_words)
    return Fingerprint(
        article_id=article.article_id,
        source=article.source,
        rank=candidate_of(article).rank,
        signature=minhash_signature(shingles, config.bands * config.rows),
        shingles=shingles,
    )


class Member(NamedTuple):
    """An article in an LSH bucket."""

    rank: Rank
    article_id: str
    source: str


def bucket_pairs(members: Iterable[Member], limit: int) -> Iterator[tuple[str, str, Member]]:
    """An LSH bucket -> (copy id, canonical id, canonical) for each member and each of the
    `limit` best-ranked members ranked before it. Earlier runs' articles are never copies."""
    ranked = sorted(set(members))
    for index, member in enumerate(ranked):
        if member.rank[0] == 0:
            continue
        for better in ranked[: min(index, limit)]:
            yield member.article_id, better.article_id, better


class Edge(NamedTuple):
    """A verified pair: `copy` is a near-copy of the better-ranked `canonical`."""

    copy_id: str
    copy_source: str
    canonical_id: str
    canonical_rank: Rank
    similarity: float


def resolve_copies(edges: Iterable[Edge]) -> list[Duplicate]:
    """Verified edges -> one Duplicate per copy, pointing to its best-ranked verified
    neighbour that is itself nobody's copy. A copy whose verified neighbours are all
    copies stays an article (no chaining). Pure: the Beam pass does the same per key."""
    edges = list(edges)
    copies = {edge.copy_id for edge in edges}
    best: dict[str, Edge] = {}
    for edge in edges:
        if edge.canonical_id in copies:
            continue
        current = best.get(edge.copy_id)
        if current is None or _edge_order(edge) < _edge_order(current):
            best[edge.copy_id] = edge
    return [_near_duplicate(edge) for _, edge in sorted(best.items())]


def _edge_order(edge: Edge) -> tuple[Rank, str]:
    return edge.canonical_rank, edge.canonical_id


def _near_duplicate(edge: Edge) -> Duplicate:
    return Duplicate(
        article_id=edge.copy_id,
        source=edge.copy_source,
        canonical_id=edge.canonical_id,
        similarity=round(edge.similarity, 6),
        method="near",
    )


def remap_canonical(duplicate: Duplicate, near: dict[str, Duplicate]) -> Duplicate:
    """An exact/url copy of an article that turned out a near copy points to the final
    canonical; an exact copy has the same text, so it inherits the near similarity."""
    final = near.get(duplicate.canonical_id)
    if final is None:
        return duplicate
    if duplicate.method == "exact":
        return duplicate._replace(
            canonical_id=final.canonical_id, similarity=final.similarity, method="near"
        )
    return duplicate._replace(canonical_id=final.canonical_id)


def with_copies(article: Article, sources: Iterable[str]) -> Article:
    sources = sorted(sources)
    return article._replace(duplicate_count=len(sources), duplicate_sources=sources)


# --- State rows ----------------------------------------------------------------------------


def prior_candidates(row: dict[str, Any], key: str) -> Iterator[tuple[str, Candidate]]:
    """An earlier run's article as an exact/url candidate keyed by `key` (hash or URL)."""
    value = row.get(key)
    if value:
        rank = rank_of(
            row["published_at"], row["word_count"], row["article_id"], row["source"], True
        )
        yield value, Candidate(rank, row["source"], row["article_id"], prior=True)


def prior_fingerprint(row: dict[str, Any]) -> Fingerprint:
    return Fingerprint(
        article_id=row["article_id"],
        source=row["source"],
        rank=rank_of(
            row["published_at"], row["word_count"], row["article_id"], row["source"], True
        ),
        signature=np.array(row["signature"], dtype=np.uint64),
        shingles=np.array(row["shingles"], dtype=np.uint64),
    )


def state_row(article: Article, config: DedupConfig) -> dict[str, Any]:
    """A kept article as a row of the dedup state's articles table (story_id: set later)."""
    fingerprint = fingerprint_of(article, config)
    return {
        "article_id": article.article_id,
        "source": article.source,
        "content_hash": article.content_hash,
        "canonical_url": article.canonical_url,
        "published_at": article.published_at,
        "word_count": article.word_count,
        "signature": fingerprint.signature.tolist(),
        "shingles": fingerprint.shingles.tolist(),
        "story_id": article.story_id,
    }


# --- Beam ----------------------------------------------------------------------------------


class _DropDuplicates(beam.PTransform):
    """Articles -> (articles with one per key, duplicates), for one key function; `priors`
    are earlier runs' articles as (key, Candidate)."""

    def __init__(
        self,
        key_of: Callable[[Article], str | None],
        method: str,
        similarity: float | None,
        priors: beam.PCollection | None = None,
    ) -> None:
        super().__init__()
        self._key_of = key_of
        self._method = method
        self._similarity = similarity
        self._priors = priors

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Duplicate]]:
        key_of, method, similarity = self._key_of, self._method, self._similarity
        candidates = articles | "Candidates" >> beam.FlatMap(_keyed_candidate, key_of)
        if self._priors is not None:
            candidates = (candidates, self._priors) | "WithPriors" >> beam.Flatten()
        duplicates = (
            candidates
            | "ByKey" >> beam.GroupByKey()
            | "Decide"
            >> beam.FlatMap(
                lambda group: find_duplicates(group[1], method, similarity)
            ).with_output_types(Duplicate)
        )
        kept = _keep_unlisted(articles, duplicates, method)
        return kept, duplicates


def _keep_unlisted(
    articles: beam.PCollection[Article], duplicates: beam.PCollection[Duplicate], method: str
) -> beam.PCollection[Article]:
    by_source = duplicates | "BySource" >> beam.Map(lambda d: (d.source, d))
    return articles | "Keep" >> beam.ParDo(
        _KeepCanonical(method), beam.pvalue.AsDict(by_source)
    ).with_output_types(Article)


def _keyed_candidate(
    article: Article, key_of: Callable[[Article], str | None]
) -> Iterator[tuple[str, Candidate]]:
    key = key_of(article)
    if key:
        yield key, candidate_of(article)


class _KeepCanonical(beam.DoFn):
    def __init__(self, method: str) -> None:
        self._method = method

    def process(self, article: Article, duplicates: dict[str, Duplicate]) -> Iterator[Article]:
        if article.source in duplicates:
            counter(f"dedup_{self._method}").inc()
        else:
            yield article


class _Fingerprint(beam.DoFn):
    def __init__(self, config: DedupConfig) -> None:
        self._config = config

    def process(self, article: Article) -> Iterator[Fingerprint]:
        yield fingerprint_of(article, self._config)


def _bucket_entries(
    fingerprint: Fingerprint, config: DedupConfig
) -> Iterator[tuple[bytes, Member]]:
    # Too short to share `min_shared_shingles` with anything: it can never verify as a copy
    # or a canonical, so it stays out of the buckets (short feed items would crowd them).
    if len(fingerprint.shingles) < config.min_shared_shingles:
        return
    member = Member(fingerprint.rank, fingerprint.article_id, fingerprint.source)
    for key in band_keys(fingerprint.signature, config.bands, config.rows):
        yield key, member


def _pairs_of_bucket(
    bucket: tuple[bytes, Iterable[Member]], limit: int
) -> Iterator[tuple[tuple[str, str], Member]]:
    for copy_id, canonical_id, canonical in bucket_pairs(bucket[1], limit):
        yield (copy_id, canonical_id), canonical


def _attach_copy(
    joined: tuple[str, dict[str, list[Any]]],
) -> Iterator[tuple[str, tuple[Fingerprint, Member]]]:
    """(copy id, {pairs: [canonical Member...], prints: [copy Fingerprint]}) -> by canonical."""
    _, groups = joined
    if not groups["prints"]:
        return
    copy = groups["prints"][0]
    for canonical in groups["pairs"]:
        yield canonical.article_id, (copy, canonical)


def _verify(joined: tuple[str, dict[str, list[Any]]], config: DedupConfig) -> Iterator[Edge]:
    _, groups = joined
    if not groups["prints"]:
        return
    canonical = groups["prints"][0]
    for copy, member in groups["pairs"]:
        counter("dedup_candidate_pairs").inc()
        similarity = near_copy_similarity(copy.shingles, canonical.shingles, config)
        if similarity is not None:
            counter("dedup_verified_pairs").inc()
            yield Edge(copy.article_id, copy.source, member.article_id, member.rank, similarity)


def _roots_only(joined: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, Edge]]:
    """(canonical id, {edges: [...], copied: [...]}) -> its edges, unless it is a copy."""
    _, groups = joined
    if groups["copied"]:
        return
    for edge in groups["edges"]:
        yield edge.copy_id, edge


def _best_canonical(group: tuple[str, Iterable[Edge]]) -> Duplicate:
    return _near_duplicate(min(group[1], key=_edge_order))


class _NearDuplicates(beam.PTransform):
    """Articles (+ earlier runs' fingerprints) -> (articles kept, near duplicates)."""

    def __init__(self, config: DedupConfig, priors: beam.PCollection | None) -> None:
        super().__init__()
        self._config = config
        self._priors = priors

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Duplicate]]:
        config = self._config
        prints = articles | "Fingerprint" >> beam.ParDo(_Fingerprint(config))
        if self._priors is not None:
            prints = (prints, self._priors) | "WithPriors" >> beam.Flatten()
        by_id = prints | "ById" >> beam.Map(lambda f: (f.article_id, f))
        pairs = (
            prints
            | "BandKeys" >> beam.FlatMap(_bucket_entries, config)
            | "Buckets" >> beam.GroupByKey()
            | "Pairs" >> beam.FlatMap(_pairs_of_bucket, config.max_bucket_pairs)
            # A pair shares many buckets; keep it once.
            | "OnePerPair" >> beam.CombinePerKey(_first_value)
            | "ByCopy" >> beam.Map(lambda item: (item[0][0], item[1]))
        )
        edges = (
            {"pairs": pairs, "prints": by_id}
            | "JoinCopy" >> beam.CoGroupByKey()
            | "ByCanonical" >> beam.FlatMap(_attach_copy)
        )
        edges = (
            {"pairs": edges, "prints": by_id}
            | "JoinCanonical" >> beam.CoGroupByKey()
            | "Verify" >> beam.FlatMap(_verify, config)
        )
        copied = edges | "Copied" >> beam.Map(lambda e: (e.copy_id, True))
        duplicates = (
            {
                "edges": edges | "EdgeByCanonical" >> beam.Map(lambda e: (e.canonical_id, e)),
                "copied": copied,
            }  # fmt: skip
            | "JoinRoots" >> beam.CoGroupByKey()
            | "RootsOnly" >> beam.FlatMap(_roots_only)
            | "ByCopyId" >> beam.GroupByKey()
            | "Best" >> beam.Map(_best_canonical).with_output_types(Duplicate)
        )
        return _keep_unlisted(articles, duplicates, "near"), duplicates


def _first_value(values: Iterable[Member]) -> Member:
    return min(values)


def _copies_of(joined: tuple[str, dict[str, list[Any]]]) -> Iterator[Article]:
    _, groups = joined
    for article in groups["articles"]:
        yield with_copies(article, (d.source for d in groups["duplicates"]))


class DeduplicateArticles(beam.PTransform):
    """PCollection[Article] -> (PCollection[Article], PCollection[Duplicate]).

    `state_dir`: previous state to dedup against (None: none), checked when the pipeline
    is built (DedupStateError). The new state is written by WriteDedupIndex once the
    articles have their story ids (see newsbeam.transforms.stories)."""

    def __init__(self, config: DedupConfig | None = None, state_dir: str | None = None) -> None:
        super().__init__()
        self._config = config or DedupConfig()
        self._state_files = state_files(state_dir, "articles")

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Duplicate]]:
        config = self._config
        articles = articles | "Count" >> beam.Map(_count_in).with_output_types(Article)
        prior_rows = None
        priors: dict[str, Any] = {"exact": None, "url": None, "near": None}
        if self._state_files:
            prior_rows = articles.pipeline | "ReadState" >> ReadStateTable(self._state_files)
            priors = {
                "exact": prior_rows
                | "PriorHashes" >> beam.FlatMap(prior_candidates, "content_hash"),
                "url": prior_rows | "PriorUrls" >> beam.FlatMap(prior_candidates, "canonical_url"),
                "near": prior_rows | "PriorPrints" >> beam.Map(prior_fingerprint),
            }
        unique_text, exact = articles | "Exact" >> _DropDuplicates(
            lambda a: a.content_hash, "exact", 1.0, priors["exact"]
        )
        # Same page, different text (an update): the similarity was not measured.
        unique_page, same_url = unique_text | "SameUrl" >> _DropDuplicates(
            lambda a: a.canonical_url, "url", None, priors["url"]
        )
        if config.near:
            unique, near = unique_page | "Near" >> _NearDuplicates(config, priors["near"])
        else:
            unique = unique_page
            near = articles.pipeline | "NoNear" >> beam.Create([]).with_output_types(Duplicate)
        near_by_copy = near | "NearById" >> beam.Map(lambda d: (d.article_id, d))
        earlier = (
            (exact, same_url)
            | "Earlier" >> beam.Flatten()
            | "Remap"
            >> beam.Map(remap_canonical, beam.pvalue.AsDict(near_by_copy)).with_output_types(
                Duplicate
            )
        )
        duplicates = (earlier, near) | "Duplicates" >> beam.Flatten()
        kept = (
            {
                "articles": unique | "KeepById" >> beam.Map(lambda a: (a.article_id, a)),
                "duplicates": duplicates | "ByCanonical" >> beam.Map(lambda d: (d.canonical_id, d)),
            }
            | "JoinCopies" >> beam.CoGroupByKey()
            | "WithCopies" >> beam.FlatMap(_copies_of).with_output_types(Article)
        )
        return kept, duplicates


class WriteDedupIndex(beam.PTransform):
    """PCollection[Article] (this run's kept articles, story_id set) -> the new dedup
    state's articles table: earlier runs' rows carried over, plus these articles."""

    def __init__(self, config: DedupConfig, state_dir: str | None, state_out_dir: str) -> None:
        super().__init__()
        self._config = config
        self._state_files = state_files(state_dir, "articles")
        self._state_out_dir = state_out_dir

    def expand(self, articles: beam.PCollection[Article]) -> beam.PCollection[str]:
        rows = articles | "Rows" >> beam.Map(state_row, self._config)
        if self._state_files:
            carried = articles.pipeline | "Carry" >> ReadStateTable(self._state_files)
            rows = (rows, carried) | "AllRows" >> beam.Flatten()
        return rows | "Write" >> WriteStateTable(self._state_out_dir, "articles")


def _count_in(article: Article) -> Article:
    counter("dedup_in").inc()
    return article
