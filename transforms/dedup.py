"""DeduplicateArticles: Article -> kept Articles (with `duplicate_count`, `duplicate_sources`)
and Duplicate rows: one article per copy-set, found by exact text, then the same canonical
URL, then near-duplicate text (MinHash LSH candidates verified by shingle containment and
by their names and numbers, support/facts.py; no chaining). With `--state`, earlier runs'
kept articles take part as canonicals; WriteDedupIndex writes the articles table of the new
state. Never rejects.

Counters: `dedup_in`, `dedup_exact`, `dedup_url`, `dedup_near`, `dedup_candidate_pairs`
(distinct pairs verified), `dedup_pair_keys` (the distinct candidate pairs the LSH buckets
gave, each copy's canonicals' keys once), `dedup_verified_pairs`,
`dedup_fact_conflicts` (pairs contained enough but with other facts: templated briefs),
`dedup_state_matched` (earlier articles looked up), `dedup_state_pruned` (counted by
WriteDedupIndex, where the state is written).

DeduplicateStream (at the end): the same rules, one article at a time in a stateful DoFn,
for `newsbeam --streaming` (docs/streaming.md).
"""

from __future__ import annotations

import array
import collections
import dataclasses
import datetime as dt
import functools
import hashlib
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

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
from apache_beam.utils.windowed_value import WindowedValue

from newsbeam.schemas import Article, Duplicate
from newsbeam.transforms.clean import with_identity
from newsbeam.transforms.event_time import STREAM_KEY, expire_at, live
from newsbeam.transforms.support.committed import (
    CommittedRecord,
    committed_articles,
    source_key,
)
from newsbeam.transforms.support.copies import with_copies
from newsbeam.transforms.support.facts import (
    NO_FACTS,
    conflicting_share,
    folded_hashes,
    text_words,
    word_fact_windows,
)
from newsbeam.transforms.support.failures import counter
from newsbeam.transforms.support.hashing import mix64, word_hashes
from newsbeam.transforms.support.rank import Rank, article_rank, is_prior, rank_of
from newsbeam.transforms.support.state import (
    DEDUP_ARTICLES,
    StateContext,
    WriteStateTable,
    read_table,
    within_retention,
)
from newsbeam.transforms.support.state_index import (
    StateIndex,
    band_hashes,
    open_index,
    stable_hashes,
)
from newsbeam.transforms.support.times import micros_of
from newsbeam.transforms.support.urls import page_key
from newsbeam.transforms.support.versions import earlier_version
from newsbeam.transforms.support.vocabulary import sorted_unique
from newsbeam.transforms.support.words import casefolded_words


@dataclasses.dataclass(frozen=True)
class DedupConfig:
    """Near-duplicate settings (tuned on syndicated-dev, see benchmarks/eval_dedup.py).

    shingle_words: words per shingle (in Chinese, Japanese, Thai, ... a character is a word:
    support/words.py). bands x rows: MinHash permutations; few rows per band
    find pairs at low Jaccard (a copy trimmed to a third of its original). near_threshold:
    least shingle containment for a verified copy. max_bucket_pairs: in an LSH bucket, each
    article is paired with at most this many better-ranked ones (boilerplate guard)."""

    shingle_words: int = 5
    bands: int = 64
    rows: int = 2
    near_threshold: float = 0.5
    max_bucket_pairs: int = 50
    # Pairs a bucket may give at most: in a larger bucket each article is paired with fewer
    # better-ranked ones (at least one). A flood of templated items (price tickers, results
    # tables: thousands alike) fills every band's bucket with all of them; at 50 each,
    # 10,000 feed items gave 32 million pairs and ~11 GB of memory.
    bucket_pair_budget: int = 20_000
    # LSH bucket entries (64 an article) travel to the pair step in this many shards, a
    # bundle's entries of a shard as one list (_UrlPass): a shuffle of one element a shard
    # and bundle instead of one an entry (28k on 439 pages, each emitted, decoded and
    # re-encoded by the runner: most of the dedup stages' time). A shard holds
    # 64/bucket_shards of every article's entries (a quarter of the run at 256).
    bucket_shards: int = 256
    # A near copy shares at least this many shingles with its canonical (about 25 words in
    # a row at 5-word shingles): templated short texts (feed items, listings) that differ
    # in a name or a number reach a high containment without being copies of anything.
    min_shared_shingles: int = 20
    # A verified pair whose shared fact slots (a name or number in the same words around
    # it: support/facts.py) conflict at this share or more is no copy: two templated briefs
    # (tickers, results, weather, obituaries) of different companies, scores or towns. On
    # syndicated-dev copies conflict at 15% at most, templated briefs at 34% or more.
    max_fact_conflicts: float = 0.25
    # False: exact and same-URL copies only (users who keep every edited variant).
    near: bool = True


# --- Rank and the exact/url passes ---------------------------------------------------------


class Entry(NamedTuple):
    """What the exact and url passes carry of an article: rank, identity, the page key of
    its URL for the url pass (`canonical_url`: support/urls.py page_key, or an own key
    without a URL) and, for the near pass, `signature`: b"" when the text is too short to be
    bucketed (or near dedup is off); BUCKETED when its LSH bucket entries went out with its
    fingerprint (articles in the global window); else (in windows) its MinHash signature,
    the url pass making its entries. Shuffled as a plain tuple."""

    rank: Rank
    article_id: str
    source: str
    canonical_url: str
    signature: bytes


# Entry.signature of a bucketed article whose bucket entries its fingerprint step sent: the
# 1 KB signature went through both passes' shuffles only to be cut into bands after them.
BUCKETED = b"\x01"


def split_copies(
    entries: Iterable[tuple[Any, ...]], versions_apart: bool = False
) -> tuple[list[Entry], list[Entry]]:
    """Entries sharing a key (text or URL) -> (entries that go on, copies of the canonical).

    The best-ranked entry is the canonical copy and goes on; so do earlier runs' articles
    (never copies: they are in an earlier articles table). All others are copies, but with
    `versions_apart` (the url pass) an updated feed entry whose canonical is its own earlier
    version also goes on: the same page in a new version (support/versions.py). The exact
    pass keeps them together: an update whose text did not change is a copy of it."""
    canonical, *others = sorted(Entry._make(entry) for entry in entries)

    def goes_on(entry: Entry) -> bool:
        if is_prior(entry.rank):
            return True
        return versions_apart and earlier_version(entry.source, canonical.source)

    going_on = [canonical, *(entry for entry in others if goes_on(entry))]
    return going_on, [entry for entry in others if not goes_on(entry)]


# --- Shingles and MinHash -----------------------------------------------------------------

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
# Odd multipliers per word position in a shingle (fixed: shingle hashes are kept in state).
_POSITION_MULTIPLIERS = np.random.default_rng(20240501).integers(
    1, 2**63, size=16, dtype=np.uint64
) * np.uint64(2) + np.uint64(1)


def shingle_hashes(text: str, shingle_words: int) -> np.ndarray:
    """Sorted unique 64-bit hashes of the word `shingle_words`-grams of the casefolded text
    (its words in any script: support/words.py; a text shorter than that is one shingle).
    Stable across processes and runs."""
    return shingles_of(word_hashes(casefolded_words(text)), shingle_words)


def shingles_of(hashes: np.ndarray, shingle_words: int) -> np.ndarray:
    """`shingle_hashes` of a text given its casefolded words' `word_hashes`."""
    if not len(hashes):
        return np.zeros(0, dtype=np.uint64)
    width = min(shingle_words, len(hashes))
    count = len(hashes) - width + 1
    combined = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for position in range(width):
            combined += hashes[position : position + count] * _POSITION_MULTIPLIERS[position]
        return sorted_unique(mix64(combined))


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
    if len(shingles) <= _MINHASH_CHUNK:
        return _least_hashes(shingles, multipliers, offsets)
    # A long text a slice at a time: the whole array of functions x shingles was 1 GiB for a
    # million shingles (a 10 MiB text) and took 7.6 s; slices that stay in the cache, 0.2 s.
    least = np.full(permutations, _MASK, dtype=np.uint64)
    for start in range(0, len(shingles), _MINHASH_CHUNK):
        chunk = shingles[start : start + _MINHASH_CHUNK]
        np.minimum(least, _least_hashes(chunk, multipliers, offsets), out=least)
    return least


# Shingles hashed at once by minhash_signature: 128 functions x 8,192 is 8 MiB of uint64.
_MINHASH_CHUNK = 8192


def _least_hashes(shingles: np.ndarray, multipliers: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        hashed = np.multiply.outer(multipliers, shingles)
        hashed += offsets[:, None]  # in place: one array of functions x shingles, not two
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
    copy: np.ndarray,
    canonical: np.ndarray,
    config: DedupConfig,
    copy_facts: np.ndarray = NO_FACTS,
    canonical_facts: np.ndarray = NO_FACTS,
) -> float | None:
    """The containment of a verified near copy, or None when the pair is not one: too little
    of one is contained in the other, they share too few shingles to tell, or they put other
    names or numbers in the same words (`fact_windows` of each; none known: not compared)."""
    if shared_shingles(copy, canonical) < config.min_shared_shingles:
        return None
    similarity = containment(copy, canonical)
    if similarity < config.near_threshold:
        return None
    if conflicting_share(copy_facts, canonical_facts) >= config.max_fact_conflicts:
        counter("dedup_fact_conflicts").inc()
        return None
    return similarity


# --- Near duplicates: pairs, verification, resolution ---------------------------------------


class Fingerprint(NamedTuple):
    """An article's rank, identity and near-duplicate fingerprint."""

    article_id: str
    source: str
    rank: Rank
    signature: np.ndarray
    shingles: np.ndarray
    # support/facts.py fact_windows, when the text can be bucketed (else none: never compared)
    facts: np.ndarray = NO_FACTS


def fingerprint_of(article: Article, config: DedupConfig) -> Fingerprint:
    signature, shingles, facts = _text_prints(article.text, config)
    return Fingerprint(
        article.article_id, article.source, article_rank(article), signature, shingles, facts
    )


def text_fingerprint(text: str, config: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """(MinHash signature, sorted shingle hashes) of a text."""
    shingles = shingle_hashes(text, config.shingle_words)
    return minhash_signature(shingles, config.bands * config.rows), shingles


def bucketed(shingles: np.ndarray, config: DedupConfig) -> bool:
    """Too short to share `min_shared_shingles` with anything, a text can never verify as a
    copy or a canonical, so it stays out of the LSH buckets (short feed items would crowd
    them)."""
    return config.near and len(shingles) >= config.min_shared_shingles


class Member(NamedTuple):
    """An article in an LSH bucket."""

    rank: Rank
    article_id: str
    source: str


def member_of(rank: Rank) -> Member:
    """An article in an LSH bucket from its rank, which holds its id and source."""
    return Member(rank, rank[3], rank[-1])


def rank_key(rank: Rank) -> int:
    """A 64-bit key of a whole rank (blake2b: the same in every process and run), what an
    LSH bucket entry names its article by: 8 bytes where the rank is ~110 (its id, record
    key and source path), 64 entries an article. The whole rank, not the identity: two
    entries of one identity with other ranks stay two members, as they were. Two of a
    run's 50,000 ranks share one with a chance of about 10^-10."""
    joined = "\x00".join(map(str, rank)).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(joined, digest_size=8).digest(), "big")


class ShardEntries(NamedTuple):
    """A bundle's LSH bucket entries of one shard: the bucket keys (fixed width, one after
    the other), the rank_key of each entry's article (uint64 bytes) and, where the pairs
    step has no side input of the ranks (articles in windows), the ranks of those keys."""

    keys: bytes
    members: bytes
    ranks: tuple[tuple[int, Rank], ...]


def shard_entries(
    entries: Sequence[tuple[bytes, int]], ranks: Mapping[int, Rank] | None
) -> ShardEntries:
    """(bucket key, rank_key) entries -> one ShardEntries; `ranks` (rank_key -> rank) only
    for articles in windows."""
    members = np.fromiter((member for _, member in entries), dtype=np.uint64, count=len(entries))
    named = () if ranks is None else tuple(sorted(ranks.items()))
    return ShardEntries(b"".join(key for key, _ in entries), members.tobytes(), named)


def entry_buckets(
    held: Iterable[Sequence[Any]], ranks: Mapping[int, Rank] | None
) -> dict[bytes, list[Rank]]:
    """ShardEntries (as shuffled: plain tuples) -> the ranks in each LSH bucket, each rank
    read from `ranks` (the run's, by rank_key) or from the entries' own (in windows). A
    bucket lists one rank object as often as the article has entries there: the shared
    tuple, not a decoded copy an entry. An entry whose key `ranks` lacks is left out: its
    article was an exact or same-URL copy (the ranks are those the url pass keeps; the
    fingerprint step sent every bucketed article's entries)."""
    buckets: dict[bytes, list[Rank]] = collections.defaultdict(list)
    for keys, member_bytes, own in held:
        members = np.frombuffer(member_bytes, dtype=np.uint64).tolist()
        if not members:
            continue
        named = dict(own) if ranks is None else ranks
        width = len(keys) // len(members)
        for index, member in enumerate(members):
            rank = named.get(member)
            if rank is not None:
                buckets[keys[index * width : (index + 1) * width]].append(rank)
    return buckets


def bucket_shard(key: bytes, shards: int) -> int:
    """The shard of an LSH bucket key (a checksum: the same in every process and run)."""
    return zlib.crc32(key) % shards


def bucket_pairs(
    members: Iterable[Member], limit: int, budget: int | None = None
) -> Iterator[tuple[Member, Member]]:
    """An LSH bucket -> (copy, canonical) for each member and each of the `limit`
    best-ranked members ranked before it, fewer in a bucket so large that this would give
    more than `budget` pairs (at least the best-ranked one). Earlier runs' articles are
    never copies, and an updated feed entry is no copy of its own earlier version
    (support/versions.py)."""
    ranked = sorted(set(members))
    if budget is not None:
        limit = max(1, min(limit, budget // len(ranked))) if ranked else limit
    for index, member in enumerate(ranked):
        if is_prior(member.rank):
            continue
        for better in ranked[: min(index, limit)]:
            if not earlier_version(member.source, better.source):
                yield member, better


class Edge(NamedTuple):
    """A verified pair: `copy` is a near-copy of the better-ranked `canonical`."""

    copy_id: str
    copy_source: str
    canonical_id: str
    canonical_rank: Rank
    similarity: float


def with_own_id(duplicate: Duplicate, run_id: str = "") -> Duplicate:
    """A copy with its own `article_id` for the duplicates table. Exact and same-URL copies
    have their canonical's identity basis (text, canonical URL), so their natural id is
    its id; derived from it, the copy's source, which no other input of the run shares,
    and the id of a run that keeps state, the id is unique across the tables and the
    state's runs (a later run that reads the source again, a file touched or a page
    updated, as a copy of the same article adds a row of its own, not the same key
    again), and the same when the run is run again. `canonical_id` points to the kept
    article."""
    basis = f"copy:{duplicate.article_id}:{duplicate.source}"
    basis += f":{run_id}" if run_id else ""  # none: no --state (each run stands alone)
    return duplicate._replace(article_id=hashlib.sha256(basis.encode()).hexdigest()[:24])


def stream_read_id(article: Article) -> str:
    """What names one read of a source in a stream, where with_own_id has no run id: the
    moment it was read (`ingested_at`, set as the source was extracted). A batch run with
    --state names its copies by its run id; a stream's windows are no runs a source could
    be read by once only (a watched file saved again is read again)."""
    return f"read:{article.ingested_at.isoformat()}"


def _near_duplicate(edge: Edge) -> Duplicate:
    return Duplicate(
        article_id=edge.copy_id,
        source=edge.copy_source,
        canonical_id=edge.canonical_id,
        similarity=round(edge.similarity, 6),
        method="near",
    )


Identity = tuple[int, str, str]


def identity_of(rank: Rank) -> Identity:
    """Who an entry is: (earlier run?, article id, source). Ids repeat (a copy has the id of
    its URL or text) and sources repeat across runs, but not both together."""
    return rank[0], rank[3], rank[-1]


class Copy(NamedTuple):
    """A duplicate as a pass found it, and who its canonical is."""

    duplicate: Duplicate
    canonical: Identity


def final_duplicate(
    copy: Copy, url_copies: Mapping[Identity, Copy], near_copies: Mapping[Identity, Copy]
) -> Duplicate:
    """A copy found by one pass -> pointing to an article that is kept.

    An exact copy of an article that a later pass found to be a copy is the same kind of
    copy of the same canonical (it has the same text). A same-URL copy of an article that
    turned out a near copy points to the near copy's canonical. Near canonicals are never
    copies, and the url pass only sees what the exact pass kept, so one step each is all
    there is."""
    copy = with_twin(copy, url_copies.get(copy.canonical) or near_copies.get(copy.canonical))
    return through_near(copy, near_copies.get(copy.canonical))


def with_twin(copy: Copy, twin: Copy | None) -> Copy:
    """final_duplicate's first step: an exact copy of `twin` (a same-URL or near copy, its
    canonical's own copy record, or None) is that same kind of copy of twin's canonical."""
    duplicate, canonical = copy
    if duplicate.method != "exact" or twin is None:
        return copy
    duplicate = twin.duplicate._replace(article_id=duplicate.article_id, source=duplicate.source)
    return Copy(duplicate, twin.canonical)


def through_near(copy: Copy, near: Copy | None) -> Duplicate:
    """final_duplicate's second step: a same-URL copy of an article that is a near copy
    (`near`, its canonical's own near-copy record, or None) points to that one's canonical."""
    duplicate = copy.duplicate
    if duplicate.method == "url" and near is not None:
        duplicate = duplicate._replace(canonical_id=near.duplicate.canonical_id)
    return duplicate


# --- State rows ----------------------------------------------------------------------------


def prior_rank(row: dict[str, Any]) -> Rank:
    """An earlier article's rank (a dedup state row, or a row committed into ROOT): it
    ranks before every article of this run."""
    return rank_of(
        row["published_at"],
        row["word_count"],
        row["article_id"],
        row["source"],
        True,
        row.get("published_precision"),
    )


def prior_fingerprint(row: dict[str, Any]) -> Fingerprint:
    """An earlier run's kept article (a dedup state row) as a fingerprint that ranks first."""
    return Fingerprint(
        article_id=row["article_id"],
        source=row["source"],
        rank=prior_rank(row),
        signature=np.array(row["signature"], dtype=np.uint64),
        shingles=np.array(row["shingles"], dtype=np.uint64),
        # A row written before review 60 has none: its pairs are not compared on facts.
        facts=np.array(row.get("facts") or [], dtype=np.uint64),
    )


def state_row(article: Article, config: DedupConfig, first_seen_at: dt.datetime) -> dict[str, Any]:
    """A kept article as a row of the dedup state's articles table, first seen at
    `first_seen_at` (this run's start)."""
    fingerprint = fingerprint_of(article, config)
    return {
        "article_id": article.article_id,
        "source": article.source,
        "content_hash": article.content_hash,
        "canonical_url": article.canonical_url,
        "published_at": article.published_at,
        "published_precision": article.published_precision,
        "word_count": article.word_count,
        "signature": fingerprint.signature.tolist(),
        "shingles": fingerprint.shingles.tolist(),
        "facts": fingerprint.facts.tolist(),
        "story_id": article.story_id,
        "first_seen_at": first_seen_at,
    }


# --- Beam ----------------------------------------------------------------------------------
#
# Shuffles carry plain tuples of str/int/float/bytes (ranks, ids, signatures and shingles as
# bytes), which Beam's fast coder writes without pickling; articles are never shuffled (they
# meet their copies through a side input). A join is a GroupByKey over values tagged by
# their first item.

_PRINT, _PAIR, _COPY, _EDGE, _COPIED, _SOURCE, _CANONICAL = range(7)
_DUPLICATES = "duplicates"
_PRINTS, _ARTICLES = "prints", "articles"
_RANKS = "ranks"
_BUCKETS, _LOOKUPS = "buckets", "lookups"
_CANONICAL_PRINTS = "canonical_prints"
_REPEATS_REMEMBERED = 1024  # fingerprints a worker keeps, by content hash
_EXACT, _URL = "exact", "url"


def _own_key(rank: Rank) -> str:
    # A key no text hash or URL can take: an article without one is alone in its group.
    return "\x00".join(["", *map(str, identity_of(rank))])


def _entry_values(
    fingerprint: Fingerprint,
    content_hash: str | None,
    canonical_url: str | None,
    config: DedupConfig,
    buckets: _BucketEntries | None = None,
    window: Any = None,
    lookups: bool = False,
) -> Iterator[Any]:
    """An article (or an earlier run's) -> (text key, entry) and, when it can be bucketed,
    (identity, print) on the prints output. With `buckets` (articles in the global window),
    its LSH bucket entries are gathered there and the entry carries BUCKETED, not the
    signature; with `lookups`, its key hashes for the state lookup go on the lookups
    output (_lookup_values: they need the signature, which the entry no longer holds)."""
    near = bucketed(fingerprint.shingles, config)
    entry = Entry(
        fingerprint.rank,
        fingerprint.article_id,
        fingerprint.source,
        page_key(canonical_url) or _own_key(fingerprint.rank),
        fingerprint.signature.tobytes() if near else b"",
    )
    text_key = content_hash or _own_key(fingerprint.rank)
    if lookups:
        yield beam.pvalue.TaggedOutput(_LOOKUPS, _lookup_values((text_key, entry), config))
    if near and buckets is not None:
        buckets.add(window, fingerprint.signature, fingerprint.rank)
        entry = entry._replace(signature=BUCKETED)
    yield text_key, tuple(entry)
    if near:
        shingles, facts = fingerprint.shingles.tobytes(), fingerprint.facts.tobytes()
        identity = identity_of(fingerprint.rank)
        print_value = (_PRINT, fingerprint.rank, shingles, facts)
        yield beam.pvalue.TaggedOutput(_PRINTS, (identity, print_value))


_Prints = tuple[np.ndarray, np.ndarray, np.ndarray]


def _text_prints(text: str, config: DedupConfig) -> _Prints:
    """(signature, shingles, fact windows) of a text; its facts only when it is bucketed (a
    pair with a text too short for the buckets is never verified)."""
    # One tokenisation and one hash per word for both (`text_words`): shingling and the
    # fact windows each did their own, a third of the fingerprint's CPU.
    words, folds_alike = text_words(text)
    own = folded_hashes(words) if folds_alike else word_hashes(casefolded_words(text))
    shingles = shingles_of(own, config.shingle_words)
    signature = minhash_signature(shingles, config.bands * config.rows)
    if not bucketed(shingles, config):
        return signature, shingles, NO_FACTS
    facts_own = own if folds_alike else folded_hashes(words)
    return signature, shingles, word_fact_windows(words, facts_own, config.shingle_words)


class _BucketEntries:
    """A bundle's LSH bucket entries, (bucket key, rank_key) of each band gathered by window
    and shard, out as one (shard, ShardEntries) element per shard when the bundle ends (a
    bundle's 64 entries an article were as many elements, each emitted and shuffled).
    `inline_ranks` (articles in windows, whose pairs step takes no side input downstream of
    a shuffle: see _FinalByJoins): each element carries its articles' ranks, once a shard
    rather than once an entry. A shard's entries are held as they are sent, the keys in
    one bytearray and the rank_keys in one array: as a list of (key, rank_key) tuples a
    bundle of 20,000 articles held 1.3 million tuples, bytes and ints (~180 MB)."""

    def __init__(self, config: DedupConfig, inline_ranks: bool) -> None:
        self._config = config
        self._inline_ranks = inline_ranks
        self._shards: dict[tuple[Any, int], tuple[bytearray, array.array[int]]] = {}
        self._ranks: dict[tuple[Any, int], dict[int, Rank]] = {}

    def start(self) -> None:
        self._shards = {}
        self._ranks = collections.defaultdict(dict)

    def add(self, window: Any, signature: np.ndarray, rank: Rank) -> int:
        """An article's entries, one a band; its rank_key."""
        config = self._config
        member = rank_key(rank)
        for key in band_keys(signature, config.bands, config.rows):
            shard = bucket_shard(key, config.bucket_shards)
            held = self._shards.get((window, shard))
            if held is None:
                held = self._shards[window, shard] = (bytearray(), array.array("Q"))
            held[0].extend(key)
            held[1].append(member)
            if self._inline_ranks:
                self._ranks[window, shard][member] = rank
        return member

    def elements(self) -> Iterator[tuple[Any, tuple[int, tuple[Any, ...]]]]:
        """(window, (shard, ShardEntries as a tuple)) of the bundle, as shard_entries makes
        them; then empty again."""
        for (window, shard), (keys, members) in self._shards.items():
            ranks = self._ranks.get((window, shard)) if self._inline_ranks else None
            named = () if ranks is None else tuple(sorted(ranks.items()))
            yield window, (shard, (bytes(keys), members.tobytes(), named))
        self.start()


def _bucket_outputs(buckets: _BucketEntries) -> Iterator[Any]:
    for window, element in buckets.elements():
        value = WindowedValue(element, window.max_timestamp(), (window,))
        yield beam.pvalue.TaggedOutput(_BUCKETS, value)


class _Fingerprint(beam.DoFn):
    """Article -> (text key, entry) for the exact pass; (identity, print) for verification;
    the article itself, to meet its copies at the end. With `buckets_here` (articles in
    the global window) its LSH bucket entries go out from here on the buckets output, by
    bundle and shard (_BucketEntries), and the entry through the passes names it BUCKETED:
    the signature (1 KB) crossed the exact and url passes' two shuffles, held decoded by the
    local runner, only to be cut into bands after them (review 91). The pairs step reads
    the buckets through the ranks of the articles the url pass keeps (a copy's entries
    find no rank there and are left out: the same buckets). `lookups` (a run with a
    state): each entry's key hashes on the lookups output."""

    def __init__(
        self, config: DedupConfig, buckets_here: bool = False, lookups: bool = False
    ) -> None:
        self._config = config
        self._buckets_here = buckets_here
        self._lookups = lookups
        self._buckets = _BucketEntries(config, inline_ranks=False)
        self._recent: collections.OrderedDict[str, _Prints] = collections.OrderedDict()

    def setup(self) -> None:
        # Exact copies (a wire story republished word for word) are common: a worker keeps
        # the fingerprints of the texts it saw last, by content hash (arrays only, never
        # changed), and looks repeats up instead of shingling them again.
        self._recent = collections.OrderedDict()

    def _text_fingerprint(self, content_hash: str, text: str) -> _Prints:
        if not content_hash:
            return _text_prints(text, self._config)
        found = self._recent.get(content_hash)
        if found is not None:
            self._recent.move_to_end(content_hash)
            return found
        found = self._recent[content_hash] = _text_prints(text, self._config)
        if len(self._recent) > _REPEATS_REMEMBERED:
            self._recent.popitem(last=False)
        return found

    def start_bundle(self) -> None:
        self._buckets.start()

    def process(self, article: Article, window: Any = beam.DoFn.WindowParam) -> Iterator[Any]:
        counter("dedup_in").inc()
        article = with_identity(article)
        config = self._config
        rank = article_rank(article)
        if config.near:
            signature, shingles, facts = self._text_fingerprint(article.content_hash, article.text)
        else:  # no shingling when near dedup is off
            signature = shingles = facts = NO_FACTS
        fingerprint = Fingerprint(
            article.article_id, article.source, rank, signature, shingles, facts
        )
        yield from _entry_values(
            fingerprint,
            article.content_hash,
            article.canonical_url,
            config,
            self._buckets if self._buckets_here else None,
            window,
            self._lookups,
        )
        yield beam.pvalue.TaggedOutput(_ARTICLES, article)

    def finish_bundle(self) -> Iterator[Any]:
        return _bucket_outputs(self._buckets)


class _PriorEntries(beam.DoFn):
    """An earlier run's kept article (state row) -> the same entry and print as a new one,
    and (`buckets_here`) its bucket entries, as _Fingerprint sends them."""

    def __init__(self, config: DedupConfig, buckets_here: bool = False) -> None:
        self._config = config
        self._buckets_here = buckets_here
        self._buckets = _BucketEntries(config, inline_ranks=False)

    def start_bundle(self) -> None:
        self._buckets.start()

    def process(self, row: dict[str, Any], window: Any = beam.DoFn.WindowParam) -> Iterator[Any]:
        yield from _entry_values(
            prior_fingerprint(row),
            row["content_hash"],
            row["canonical_url"],
            self._config,
            self._buckets if self._buckets_here else None,
            window,
        )

    def finish_bundle(self) -> Iterator[Any]:
        return _bucket_outputs(self._buckets)


# --- The earlier state, looked up -----------------------------------------------------------
#
# An earlier article can only take part through a key it shares with one of the run's
# articles: its text (exact pass), its URL (url pass) or an LSH bucket (near pass); a group
# of earlier articles alone yields nothing (they are never copies). So the run looks up,
# in the state held in memory (support/state_index.py), the earlier articles sharing one
# of its keys, and only those enter the passes: the same groups, for any index size.


def _text_hashes(values: Iterable[str | None], kind: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the non-empty values, with their positions (an article without a text
    hash or URL has a key of its own, which nothing shares)."""
    kept = [(position, value) for position, value in enumerate(values) if value]
    return (
        stable_hashes((value for _, value in kept), kind),
        np.fromiter((position for position, _ in kept), dtype=np.int64, count=len(kept)),
    )


def index_keys(table: pa.Table, config: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """A dedup state file's rows -> (key hashes, the row of each): text, URL and, for
    articles long enough to be bucketed, their LSH bands."""
    import pyarrow.compute as pc  # state files only: a run without --state never loads it

    texts, text_rows = _text_hashes(table.column("content_hash").to_pylist(), b"text")
    pages = [page_key(url) for url in table.column("canonical_url").to_pylist()]
    urls, url_rows = _text_hashes(pages, b"url")
    keys, rows = [texts, urls], [text_rows, url_rows]
    if config.near and table.num_rows:
        width = config.bands * config.rows
        shingles = pc.list_value_length(table.column("shingles")).to_numpy(zero_copy_only=False)
        lengths = pc.list_value_length(table.column("signature")).to_numpy(zero_copy_only=False)
        banded = np.flatnonzero((shingles >= config.min_shared_shingles) & (lengths == width))
        if len(banded):
            signatures = pc.list_flatten(table.column("signature").take(pa.array(banded))).to_numpy(
                zero_copy_only=False
            )
            bands = band_hashes(signatures.reshape(len(banded), width), config.bands, config.rows)
            keys.append(bands.ravel())
            rows.append(np.repeat(banded, config.bands))
    return np.concatenate(keys).astype(np.uint64), np.concatenate(rows).astype(np.int64)


def lookup_keys(text_key: str, entry: Entry, config: DedupConfig) -> np.ndarray:
    """The key hashes of one of the run's entries, as index_keys makes them for a state row
    (own keys, starting with a NUL, are never looked up)."""
    text, url = (None if key.startswith("\x00") else key for key in (text_key, entry.canonical_url))
    keys = [_text_hashes([text], b"text")[0], _text_hashes([url], b"url")[0]]
    if entry.signature:
        signature = np.frombuffer(entry.signature, dtype=np.uint64)[None, :]
        keys.append(band_hashes(signature, config.bands, config.rows).ravel())
    return np.concatenate(keys).astype(np.uint64)


def dedup_index(paths: Sequence[str], config: DedupConfig) -> StateIndex:
    """The dedup state's articles table in memory, loaded once per process and file."""
    name = f"dedup-index:{config.bands}x{config.rows}:{config.min_shared_shingles}:{config.near}"
    return open_index(name, paths, DEDUP_ARTICLES, lambda table: index_keys(table, config))


def _lookup_values(keyed: tuple[str, tuple[Any, ...]], config: DedupConfig) -> bytes:
    """An entry's key hashes as one element (uint64 bytes): as 66 int elements an article,
    the list side input of 50,000 articles' keys was 3.3 million Python ints (review 89)."""
    text_key, entry = keyed
    return lookup_keys(text_key, Entry._make(entry), config).tobytes()


def wanted_keys(held: Iterable[bytes]) -> np.ndarray:
    """The entries' key hashes (_lookup_values' elements) -> sorted unique uint64."""
    arrays = [np.frombuffer(keys, dtype=np.uint64) for keys in held]
    return sorted_unique(np.concatenate(arrays)) if arrays else np.zeros(0, dtype=np.uint64)


class _MatchPriors(beam.DoFn):
    """Once (an Impulse), with every key hash of the run's entries as a side input -> the
    earlier articles (state rows) holding one, each once, by id; the state's index is loaded
    in setup() (once per process)."""

    def __init__(
        self,
        paths: Sequence[str],
        keep_since: dt.datetime | None,
        config: DedupConfig,
        forget_since: dt.datetime | None = None,
    ) -> None:
        self._paths = list(paths)
        self._keep_since = keep_since
        self._forget_since = forget_since
        self._config = config
        self._index: StateIndex | None = None

    def setup(self) -> None:
        self._index = dedup_index(self._paths, self._config)

    def process(self, _impulse: bytes, keys: list[bytes]) -> Iterator[dict[str, Any]]:
        assert self._index is not None
        wanted = wanted_keys(keys)
        # Thin rows first seen before --state_keep_ids_days are gone (the carry-over drops
        # them): the lookup applies the same cut-off.
        held = self._index.rows(wanted, self._forget_since, "article_id")
        rows = recalled(held, wanted, self._keep_since)
        counter("dedup_state_matched").inc(len(rows))
        yield from rows


def holds_any(keys: np.ndarray, values: np.ndarray) -> bool:
    """Whether sorted `keys` hold one of `values` (a binary search each: np.isin sorts the
    keys again for every call, millions for a night's run)."""
    if not len(keys) or not len(values):
        return False
    found = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return bool((keys[found] == values).any())


def recalled(
    rows: list[dict[str, Any]], wanted: Iterable[int], keep_since: dt.datetime | None
) -> list[dict[str, Any]]:
    """The earlier articles that take part, of the state `rows` holding a `wanted` key:
    those within the retention whole; those first seen before it (forgotten: their state
    row is thin, or is made thin when carried over) only through their text or URL, as a
    thin entry without signature or shingles. So an exact or same-URL copy of a forgotten
    article is its duplicate, and the dataset never holds one article_id twice
    (docs/state.md#retention); a near copy of it is a new article, as its id is its own."""
    keys = (
        wanted
        if isinstance(wanted, np.ndarray)
        else sorted_unique(np.fromiter(wanted, dtype=np.uint64))
    )
    taken = []
    for row in rows:
        if within_retention(row, keep_since):
            taken.append(row)
            continue
        page = page_key(row["canonical_url"])
        own = [*_text_hashes([row["content_hash"]], b"text")[0], *_text_hashes([page], b"url")[0]]
        if holds_any(keys, np.asarray(own, dtype=np.uint64)):
            taken.append({**row, "signature": [], "shingles": [], "facts": []})
    return taken


def _copy_record(copy: Entry, canonical: Entry, method: str) -> tuple[Identity, Copy]:
    counter(f"dedup_{method}").inc()
    similarity = 1.0 if method == "exact" else None  # same url: the text was not compared
    duplicate = Duplicate(copy.article_id, copy.source, canonical.article_id, similarity, method)
    return identity_of(copy.rank), Copy(duplicate, identity_of(canonical.rank))


def _exact_pass(group: tuple[str, Iterable[tuple[Any, ...]]]) -> Iterator[Any]:
    """Entries with the same folded text -> exact copies; the rest by URL to the url pass."""
    going_on, copies = split_copies(group[1])
    for entry in going_on:
        yield entry.canonical_url, tuple(entry)
    for copy in copies:
        yield beam.pvalue.TaggedOutput(_EXACT, _copy_record(copy, going_on[0], "exact"))


class _UrlPass(beam.DoFn):
    """(canonical URL, entries) -> same-page copies (the _URL output); each bucketed article
    that goes on once on the _RANKS output as (rank_key, rank), which the pairs step reads
    as a side input to name the LSH bucket entries' articles (an entry carried the whole
    rank: 64 an article of ~134 bytes, 170 MB at 20,000 short JSON lines, which the local
    runner's grouping buffer holds decoded, encodes again and copies: 487 -> 1,238 MB of
    peak RSS in the step, review 84). Articles in the global window sent their bucket
    entries with their fingerprint (_Fingerprint). `inline_ranks` (articles in windows,
    whose pairs step takes no side input downstream of a shuffle: see _FinalByJoins): the
    entries are made here, from the signature the entries carry, on the main output
    (_BucketEntries), each element with its articles' ranks."""

    def __init__(self, config: DedupConfig, inline_ranks: bool = False) -> None:
        self._config = config
        self._inline_ranks = inline_ranks
        self._buckets = _BucketEntries(config, inline_ranks=True)

    def start_bundle(self) -> None:
        self._buckets.start()

    def process(
        self, group: tuple[str, Iterable[tuple[Any, ...]]], window: Any = beam.DoFn.WindowParam
    ) -> Iterator[Any]:
        going_on, copies = split_copies(group[1], versions_apart=True)
        for entry in going_on:
            if not entry.signature:
                continue
            if self._inline_ranks:
                signature = np.frombuffer(entry.signature, dtype=np.uint64)
                self._buckets.add(window, signature, entry.rank)
            else:
                yield beam.pvalue.TaggedOutput(_RANKS, (rank_key(entry.rank), entry.rank))
        for copy in copies:
            yield beam.pvalue.TaggedOutput(_URL, _copy_record(copy, going_on[0], "url"))

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for window, element in self._buckets.elements():
            yield WindowedValue(element, window.max_timestamp(), (window,))


def member_key(identity: Identity) -> int:
    """A 64-bit key of an article's identity (blake2b: the same in every process and run),
    what a candidate list names a canonical by: 8 bytes where the identity is two strings
    and an int. Two of a run's 50,000 articles share one with a chance of about 10^-10."""
    joined = "\x00".join(map(str, identity)).encode()
    return int.from_bytes(hashlib.blake2b(joined, digest_size=8).digest(), "big")


class Candidates(NamedTuple):
    """What a shard's LSH buckets give: each copy's candidate canonicals, as the sorted
    unique member_key values of them, and who is some pair's canonical."""

    keys: dict[Identity, np.ndarray]
    canonicals: set[Identity]


def candidate_keys(buckets: Iterable[Sequence[Rank]], limit: int, budget: int) -> Candidates:
    """LSH buckets (the ranks in each) -> the candidate pairs bucket_pairs gives, each copy's
    canonicals as keys: a pair two buckets give is named once.

    A templated item shares most of its 64 bands' buckets with the same better-ranked
    items, so the same pair came from many buckets: 1,186 pair elements an item on 2,000
    templated briefs for 154 distinct pairs, each emitted, shuffled and held decoded by the
    local runner (review 67)."""
    found: dict[Identity, set[int]] = collections.defaultdict(set)
    keys: dict[Identity, int] = {}
    for ranks in buckets:
        if len(ranks) < 2:  # a bucket of one article pairs nothing
            continue
        for copy, canonical in bucket_pairs(map(member_of, ranks), limit, budget):
            identity = identity_of(canonical.rank)
            key = keys.get(identity)
            if key is None:
                key = keys[identity] = member_key(identity)
            found[identity_of(copy.rank)].add(key)
    return Candidates(
        {
            copy: np.fromiter(sorted(named), dtype=np.uint64, count=len(named))
            for copy, named in found.items()
        },
        set(keys),
    )


def shard_candidates(
    shard: tuple[int, Iterable[Sequence[Any]]],
    limit: int,
    budget: int,
    ranks: Mapping[int, Rank] | None = None,
) -> Candidates:
    """A shard's bucket entries (ShardEntries, one per bundle) -> what its buckets give
    (candidate_keys), their ranks read from `ranks` (None: the entries' own)."""
    return candidate_keys(entry_buckets(shard[1], ranks).values(), limit, budget)


def merge_candidates(into: Candidates, found: Candidates) -> None:
    """`found` added to `into` in place: each copy's keys the sorted union of both, the
    canonicals both sets."""
    for copy, keys in found.keys.items():
        held = into.keys.get(copy)
        into.keys[copy] = keys if held is None else sorted_unique(np.concatenate((held, keys)))
    into.canonicals.update(found.canonicals)


def candidate_elements(found: Candidates) -> Iterator[tuple[Identity, tuple[Any, ...]]]:
    """For each copy one element, its candidate canonicals' keys as bytes, then a mark on
    each canonical that it is one; in order of identity."""
    for copy in sorted(found.keys):
        yield copy, (_PAIR, found.keys[copy].tobytes())
    for identity in sorted(found.canonicals):
        yield identity, (_CANONICAL,)


class _ShardPairs(beam.DoFn):
    """The bundle's shards of LSH buckets -> for each copy one element, its candidate
    canonicals' keys (candidate_keys, as bytes), and a mark on each canonical that it is
    one, when the bundle ends (candidate_elements), by window. A pair's bands' buckets fall
    in ~60 of the 256 shards: sent from each shard, it was one element and one 8-byte key
    a shard, and a copy among its canonicals' was a mark a shard too (20,000 short JSON
    lines, 4 versions of each text: 1.47 million elements, 178 MB held encoded by the local
    runner, review 84). Gathered over the bundle, a copy is one element (the local runner
    gives every shard to one bundle); the copy's join still takes the union of the
    bundles' (_attach_copy, which counts the keys: the same however bundles fall)."""

    def __init__(self, limit: int, budget: int) -> None:
        self._limit = limit
        self._budget = budget
        self._found: dict[Any, Candidates] = {}

    def start_bundle(self) -> None:
        self._found = {}

    def process(
        self,
        shard: tuple[int, Iterable[Sequence[Any]]],
        window: Any = beam.DoFn.WindowParam,
    ) -> Iterator[Any]:
        return self._take(shard, None, window)

    def _take(
        self,
        shard: tuple[int, Iterable[Sequence[Any]]],
        ranks: Mapping[int, Rank] | None,
        window: Any,
    ) -> Iterator[Any]:
        held = self._found.setdefault(window, Candidates({}, set()))
        merge_candidates(held, shard_candidates(shard, self._limit, self._budget, ranks))
        return iter(())

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for window, found in self._found.items():
            for element in candidate_elements(found):
                yield WindowedValue(element, window.max_timestamp(), (window,))
        self._found = {}


class _ShardPairsByRank(_ShardPairs):
    """_ShardPairs whose entries' ranks are a side input (the run's bucketed ranks by
    rank_key: a dict in each worker, not a copy in each of an article's 64 entries); for
    articles in the global window. A DoFn of its own: a side input and the window as an
    optional argument do not mix (the bundle-based runner gave the window as the ranks)."""

    def process(  # type: ignore[override]
        self,
        shard: tuple[int, Iterable[Sequence[Any]]],
        ranks: Mapping[int, Rank],
        window: Any = beam.DoFn.WindowParam,
    ) -> Iterator[Any]:
        return self._take(shard, ranks, window)


def _attach_copy(joined: tuple[Identity, Iterable[tuple[Any, ...]]]) -> Iterator[Any]:
    """(article, [its print, its candidate keys from each bundle of shards, canonical marks])
    -> (its print, the sorted unique keys of the canonicals it may copy) when it has any, and
    on the canonical-prints output (its member_key, its print) when it is some pair's
    canonical: verification meets the prints it needs, each canonical's once."""
    article, values = joined
    values = list(values)
    prints = [value for value in values if value[0] == _PRINT]
    keys = [np.frombuffer(value[1], dtype=np.uint64) for value in values if value[0] == _PAIR]
    for print_value in prints[:1]:
        if keys:
            named = sorted_unique(np.concatenate(keys))
            # Counted here, not where sent: a pair is sent once a bundle, and bundles fall
            # differently on each runner; the distinct pairs do not.
            counter("dedup_pair_keys").inc(len(named))
            yield article, print_value, named.tobytes()
        if any(value[0] == _CANONICAL for value in values):
            yield beam.pvalue.TaggedOutput(_CANONICAL_PRINTS, (member_key(article), print_value))


def _verified(
    copy: Identity,
    copy_print: tuple[Any, ...],
    canonical_print: tuple[Any, ...],
    config: DedupConfig,
) -> Iterator[Any]:
    """One candidate pair -> its edge, keyed by the canonical, and a mark that the copy is
    somebody's copy, keyed by the copy, when it verifies (near_copy_similarity)."""
    _, _, copy_bytes, copy_fact_bytes = copy_print
    _, canonical_rank, canonical_bytes, canonical_fact_bytes = canonical_print
    counter("dedup_candidate_pairs").inc()
    similarity = near_copy_similarity(
        np.frombuffer(copy_bytes, dtype=np.uint64),
        np.frombuffer(canonical_bytes, dtype=np.uint64),
        config,
        np.frombuffer(copy_fact_bytes, dtype=np.uint64),
        np.frombuffer(canonical_fact_bytes, dtype=np.uint64),
    )
    if similarity is not None:
        counter("dedup_verified_pairs").inc()
        yield identity_of(canonical_rank), (_EDGE, copy, canonical_rank, similarity)
        yield copy, (_COPIED,)


def _verify(
    candidates: tuple[Identity, tuple[Any, ...], bytes],
    canonical_prints: Mapping[int, tuple[Any, ...]],
    config: DedupConfig,
) -> Iterator[Any]:
    """(copy, its print, its canonicals' keys), with every canonical's print by key -> what
    _verified gives for each pair. The canonicals' prints are a side input: a copy's
    shingles and fact windows went to each of its candidates, one shuffled element a pair
    (2.8 million on 10,000 templated briefs), where a canonical's print is held once
    (review 67)."""
    copy, copy_print, key_bytes = candidates
    for key in np.frombuffer(key_bytes, dtype=np.uint64).tolist():
        found = canonical_prints.get(key)
        if found is not None:
            yield from _verified(copy, copy_print, found, config)


def _copy_to_canonicals(candidates: tuple[Identity, tuple[Any, ...], bytes]) -> Iterator[Any]:
    copy, copy_print, key_bytes = candidates
    for key in np.frombuffer(key_bytes, dtype=np.uint64).tolist():
        yield key, (_COPY, copy, copy_print)


def _verify_joined(
    joined: tuple[int, Iterable[tuple[Any, ...]]], config: DedupConfig
) -> Iterator[Any]:
    """(canonical key, [its print, (copy, copy's print)...]) -> what _verified gives."""
    values = list(joined[1])
    prints = [value for value in values if value[0] == _PRINT]
    for canonical_print in prints[:1]:
        for value in values:
            if value[0] == _COPY:
                yield from _verified(value[1], value[2], canonical_print, config)


class _VerifyByJoins(beam.PTransform):
    """_verify by a join on the canonical's key instead of a side input: for articles in
    windows (Beam 2.77's BundleBasedDirectRunner, TestStream's, fails on a windowed side
    input downstream of a GroupByKey: see _FinalByJoins)."""

    def __init__(self, config: DedupConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, pcolls: tuple[Any, Any]) -> Any:
        candidates, canonical_prints = pcolls
        return (
            (candidates | "ToCanonicals" >> beam.FlatMap(_copy_to_canonicals), canonical_prints)
            | "CopiesAndPrints" >> beam.Flatten()
            | "JoinCanonical" >> beam.GroupByKey()
            | "VerifyJoined" >> beam.FlatMap(_verify_joined, self._config)
        )


def _roots_only(joined: tuple[Identity, Iterable[tuple[Any, ...]]]) -> Iterator[Any]:
    """(canonical, [edges to it, copied marks]) -> its edges by copy, unless it is a copy."""
    values = list(joined[1])
    if any(value[0] == _COPIED for value in values):
        return
    for _, copy, canonical_rank, similarity in values:
        yield copy, (canonical_rank, similarity)


def _best_canonical(group: tuple[Identity, Iterable[tuple[Any, ...]]]) -> tuple[Identity, Copy]:
    """(copy, [(canonical rank, similarity)...]) -> the copy of its best-ranked canonical."""
    copy, edges = group
    canonical_rank, similarity = min(edges)
    counter("dedup_near").inc()
    _, copy_id, copy_source = copy
    edge = Edge(copy_id, copy_source, canonical_rank[3], canonical_rank, similarity)
    return copy, Copy(_near_duplicate(edge), identity_of(canonical_rank))


def _final_copy(
    keyed: tuple[Identity, Copy],
    url_copies: Mapping[Identity, Copy],
    near_copies: Mapping[Identity, Copy],
) -> Duplicate:
    return final_duplicate(keyed[1], url_copies, near_copies)


_TWIN = "twin"


def _twin_join_values(keyed: tuple[Identity, Copy], methods: tuple[str, ...]) -> Iterator[Any]:
    """(a copy's identity, its Copy) -> (its canonical, the copy) to be resolved, and,
    when its method is one of `methods`, (itself, the copy) as a twin of its own copies."""
    identity, copy = keyed
    yield copy.canonical, (_COPY, copy)
    if copy.duplicate.method in methods:
        yield identity, (_TWIN, copy)


def _twin_of(values: list[tuple[str, Copy]], methods: tuple[str, ...]) -> Copy | None:
    twins = {copy.duplicate.method: copy for tag, copy in values if tag == _TWIN}
    return next((twins[method] for method in methods if method in twins), None)


def _resolved_with_twin(joined: tuple[Identity, Iterable[tuple[str, Copy]]]) -> Iterator[Any]:
    """(canonical, [its copies, its own same-URL or near copy]) -> each copy with_twin."""
    values = list(joined[1])
    twin = _twin_of(values, ("url", "near"))
    for tag, copy in values:
        if tag == _COPY:
            yield with_twin(copy, twin)


def _resolved_through_near(joined: tuple[Identity, Iterable[tuple[str, Copy]]]) -> Iterator[Any]:
    values = list(joined[1])
    near = _twin_of(values, ("near",))
    for tag, copy in values:
        if tag == _COPY:
            yield through_near(copy, near)


class _FinalByJoins(beam.PTransform):
    """(identity, Copy) of every pass -> final Duplicates, as `_final_copy` gives them, by
    two joins instead of side inputs: for articles in windows. (Beam 2.77's
    BundleBasedDirectRunner, the runner of TestStream, hands a step downstream of a
    GroupByKey empty bundles as the watermark moves; with a windowed side input it fails to
    map the window of such a bundle, `'NoneType' object has no attribute 'max_timestamp'`,
    in an executor thread, and the pipeline then waits forever.)"""

    def expand(self, copies: beam.PCollection[tuple[Identity, Copy]]) -> Any:
        twinned = (
            copies
            | "KeyTwins" >> beam.FlatMap(_twin_join_values, ("url", "near"))
            | "JoinTwins" >> beam.GroupByKey()
            | "WithTwin" >> beam.FlatMap(_resolved_with_twin)
        )
        near = copies | "NearOnly" >> beam.Filter(_is_near)
        return (
            (twinned | "Resolved" >> beam.Map(_as_resolved), near)
            | "Both" >> beam.Flatten()
            | "KeyNear" >> beam.FlatMap(_near_join_values)
            | "JoinNear" >> beam.GroupByKey()
            | "ThroughNear" >> beam.FlatMap(_resolved_through_near).with_output_types(Duplicate)
        )


def _is_near(keyed: tuple[Identity, Copy]) -> bool:
    return keyed[1].duplicate.method == "near"


def _as_resolved(copy: Copy) -> tuple[bytes, Copy]:
    return b"", copy


def _near_join_values(keyed: tuple[Any, Copy]) -> Iterator[Any]:
    """A resolved copy (key b"") -> (its canonical, it); a near copy (key: its identity) ->
    (its identity, it as a twin)."""
    key, copy = keyed
    if key == b"":
        yield copy.canonical, (_COPY, copy)
    else:
        yield key, (_TWIN, copy)


def keyed_copies(duplicate: Duplicate) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """A copy -> what kept_with_copies looks up: its source under its canonical's id, and
    under its own id (before with_own_id: an exact or same-URL copy has its canonical's)
    the copy itself (source, canonical, similarity, method)."""
    yield duplicate.canonical_id, (_SOURCE, duplicate.source)
    yield duplicate.article_id, (_COPIED, *duplicate[1:5])


def kept_with_copies(
    article: Article, copies_by_id: Mapping[str, Iterable[tuple[Any, ...]]], run_id: str = ""
) -> Iterator[Any]:
    """An article -> itself with the sources of its copies, or, when it is one of them, its
    Duplicate row (own id: with_own_id, of the run `run_id` of a state; the article's url
    and site) on the duplicates output.
    `copies_by_id`: article id -> [(_SOURCE, a copy's source) for each copy of it,
    (_COPIED, source, canonical id, similarity, method) for each input with that id that
    is a copy]. (A copy has its canonical's id when both have the same URL or, without
    one, the same text, so the id alone does not tell the kept article from its copies;
    the source does.)"""
    sources: list[str] = []
    copied: dict[str, list[Any]] = {}
    for tag, source, *fields in copies_by_id.get(article.article_id, ()):
        if tag == _SOURCE:
            sources.append(source)
        else:
            copied[source] = fields
    found = copied.get(article.source)
    if found is None:
        yield with_copies(article, sources)
        return
    duplicate = Duplicate(article.article_id, article.source, *found)
    # The outlet that ran the copy: the passes carry ids and ranks only, the article has it.
    copy = with_own_id(duplicate, run_id)._replace(
        url=article.url, site=article.site, outlet=article.outlet
    )
    yield beam.pvalue.TaggedOutput(_DUPLICATES, copy)


class DeduplicateArticles(beam.PTransform):
    """PCollection[Article] -> (PCollection[Article], PCollection[Duplicate]).

    `state`: the checked earlier state to dedup against (none: nothing earlier); of its
    articles, those within the retention that share a key with this run's take part
    (looked up in memory, `_MatchPriors`). The new state's articles table is written by
    WriteDedupIndex once the articles have their story ids (pipeline/build.py), which
    carries the earlier rows within the retention over and counts the others as
    `dedup_state_pruned`. Articles in windows (not the global one) are deduplicated window
    by window, their copies resolved by joins (`_FinalByJoins`); DeduplicateStream finds
    copies across windows."""

    def __init__(
        self, config: DedupConfig | None = None, state: StateContext | None = None
    ) -> None:
        super().__init__()
        self._config = config or DedupConfig()
        self._state = state or StateContext()

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Duplicate]]:
        config = self._config
        in_windows = not isinstance(articles.windowing.windowfn, GlobalWindows)
        lookups = bool(self._state.files(DEDUP_ARTICLES))
        fingerprinted = articles | "Fingerprint" >> beam.ParDo(
            _Fingerprint(config, buckets_here=not in_windows, lookups=lookups)
        ).with_outputs(_PRINTS, _ARTICLES, _BUCKETS, _LOOKUPS, main="entries")
        entries, prints = fingerprinted.entries, fingerprinted[_PRINTS]
        bucket_entries = fingerprinted[_BUCKETS]
        if lookups:
            keys = fingerprinted[_LOOKUPS]
            # Matched once over all the keys, read as a side input (support/whole.py: fewer
            # steps than combining them into one list).
            prior_rows = (
                entries.pipeline
                | "Once" >> beam.Impulse()
                | "MatchPriors"
                >> beam.ParDo(
                    _MatchPriors(
                        self._state.files(DEDUP_ARTICLES),
                        self._state.keep_since,
                        config,
                        self._state.forget_since,
                    ),
                    beam.pvalue.AsList(keys),
                )
            )
            prior = prior_rows | "PriorEntries" >> beam.ParDo(
                _PriorEntries(config, buckets_here=not in_windows)
            ).with_outputs(_PRINTS, _BUCKETS, main="entries")
            entries = (entries, prior.entries) | "WithPriors" >> beam.Flatten()
            prints = (prints, prior[_PRINTS]) | "WithPriorPrints" >> beam.Flatten()
            bucket_entries = (bucket_entries, prior[_BUCKETS]) | "WithPriorBuckets" >> (
                beam.Flatten()
            )
        exact = (
            entries
            | "ByText" >> beam.GroupByKey()
            | "Exact" >> beam.FlatMap(_exact_pass).with_outputs(_EXACT, main="kept")
        )
        same_url = (
            exact.kept
            | "ByUrl" >> beam.GroupByKey()
            | "SameUrl"
            >> beam.ParDo(_UrlPass(config, inline_ranks=in_windows)).with_outputs(
                _URL, _RANKS, main="buckets"
            )
        )
        limits = config.max_bucket_pairs, config.bucket_pair_budget
        # In windows the url pass makes the bucket entries (from the signatures the passes
        # carry); in the global window the fingerprint step did (see _Fingerprint).
        made = same_url.buckets if in_windows else bucket_entries
        buckets = made | "Buckets" >> beam.GroupByKey()
        if in_windows:
            pairs = buckets | "Pairs" >> beam.ParDo(_ShardPairs(*limits))
        else:
            # The bucket entries name their articles by rank_key; the ranks, one an article,
            # are a side input (a dict in each worker, not a copy in each of 64 entries).
            pairs = buckets | "Pairs" >> beam.ParDo(
                _ShardPairsByRank(*limits), beam.pvalue.AsDict(same_url[_RANKS])
            )
        attached = (
            (pairs, prints)
            | "CopyAndPrint" >> beam.Flatten()
            | "JoinCopy" >> beam.GroupByKey()
            | "AttachCopy"
            >> beam.FlatMap(_attach_copy).with_outputs(_CANONICAL_PRINTS, main="candidates")
        )
        if isinstance(articles.windowing.windowfn, GlobalWindows):
            edges = attached.candidates | "Verify" >> beam.FlatMap(
                _verify, beam.pvalue.AsDict(attached[_CANONICAL_PRINTS]), config
            )
        else:
            edges = (attached.candidates, attached[_CANONICAL_PRINTS]) | "VerifyInWindows" >> (
                _VerifyByJoins(config)
            )
        near = (
            edges
            | "JoinRoots" >> beam.GroupByKey()
            | "RootsOnly" >> beam.FlatMap(_roots_only)
            | "ByCopy" >> beam.GroupByKey()
            | "Best" >> beam.Map(_best_canonical)
        )
        all_copies = (exact[_EXACT], same_url[_URL], near) | "AllCopies" >> beam.Flatten()
        if isinstance(articles.windowing.windowfn, GlobalWindows):
            duplicates = all_copies | "Final" >> beam.Map(
                _final_copy, beam.pvalue.AsDict(same_url[_URL]), beam.pvalue.AsDict(near)
            ).with_output_types(Duplicate)
        else:
            duplicates = all_copies | "FinalInWindows" >> _FinalByJoins()
        # The articles meet their copies through a side input, not a join: the copies are
        # few and small, and an article crossing no shuffle stays as encoded bytes between
        # the stages (Beam's local runner holds a shuffle's values decoded, all of them).
        copies_by_id = (
            duplicates
            | "KeyedCopies" >> beam.FlatMap(keyed_copies)
            | "CopiesById" >> beam.GroupByKey()
        )
        split = fingerprinted[_ARTICLES] | "WithCopies" >> beam.FlatMap(
            kept_with_copies, beam.pvalue.AsDict(copies_by_id), self._state.run_id
        ).with_output_types(Article, **{_DUPLICATES: Duplicate}).with_outputs(
            _DUPLICATES, main="kept"
        )
        return split.kept, split[_DUPLICATES]


class WriteDedupIndex(beam.PTransform):
    """PCollection[Article] (this run's kept articles, story_id set) -> the new dedup
    state's articles table: earlier runs' files carried over (rows outside the retention
    dropped and counted as `dedup_state_pruned`), plus these articles in files of their
    own, first seen at the run's start."""

    def __init__(self, config: DedupConfig, state: StateContext) -> None:
        super().__init__()
        self._config = config
        self._state = state

    def expand(self, articles: beam.PCollection[Article]) -> Any:
        state = self._state
        rows = articles | "Rows" >> beam.Map(state_row, self._config, state.run_at)
        return rows | "Write" >> WriteStateTable(
            state, DEDUP_ARTICLES, carry=True, pruned_counter="dedup_state_pruned"
        )


# --- Streaming: DeduplicateStream -------------------------------------------------------------
#
# The same rules as the batch composite, driven one article at a time by a stateful DoFn
# (newsbeam --streaming, docs/streaming.md). Every kept article enters the state and is,
# for every later article, what an earlier run's article is for a batch: a canonical that
# ranks first (is_prior). Near copies are found through the same band keys and verified
# by the same near_copy_similarity; one step suffices, since the state holds kept
# articles only (a canonical is never a copy).


class StreamEntry(NamedTuple):
    """A kept article as DeduplicateStream's state holds it: rank and identity, its exact
    and url keys, its LSH band keys and shingles (b"" / () when it cannot be bucketed),
    and when it expires (event time, microseconds)."""

    rank: Rank
    article_id: str
    source: str
    content_hash: str
    canonical_url: str | None
    bands: tuple[bytes, ...]
    shingles: bytes
    expires_at: int
    facts: bytes = b""  # support/facts.py fact_windows (b"" when it cannot be bucketed)


def stream_entry(
    fingerprint: Fingerprint,
    content_hash: str,
    canonical_url: str | None,
    config: DedupConfig,
    expires_at: int,
) -> StreamEntry:
    """A kept article (or an earlier run's, from the state) as a state entry; its rank is
    a prior's: it comes first for every article after it."""
    near = bucketed(fingerprint.shingles, config)
    bands = tuple(band_keys(fingerprint.signature, config.bands, config.rows)) if near else ()
    return StreamEntry(
        (0, *fingerprint.rank[1:]),
        fingerprint.article_id,
        fingerprint.source,
        content_hash,
        page_key(canonical_url),
        bands,
        fingerprint.shingles.tobytes() if near else b"",
        expires_at,
        fingerprint.facts.tobytes() if near else b"",
    )


def stream_copy(
    fingerprint: Fingerprint,
    content_hash: str,
    canonical_url: str | None,
    entries: Iterable[StreamEntry],
    config: DedupConfig,
) -> Duplicate | None:
    """The copy an article is of the kept `entries` (its own id not yet given: see
    with_own_id), or None when it is a new article: the same passes as the batch, in its
    order: exact text, then the same canonical URL, then a verified near copy (the
    best-ranked canonical among the `max_bucket_pairs` best-ranked sharing a band)."""
    entries = list(entries)
    exact = [entry for entry in entries if entry.content_hash == content_hash]
    if exact:
        best = min(exact)
        return Duplicate(fingerprint.article_id, fingerprint.source, best.article_id, 1.0, _EXACT)
    page = page_key(canonical_url)
    if page:
        same_url = [entry for entry in entries if entry.canonical_url == page]
        if same_url:
            best = min(same_url)
            return Duplicate(
                fingerprint.article_id, fingerprint.source, best.article_id, None, _URL
            )
    if not bucketed(fingerprint.shingles, config):
        return None
    keys = set(band_keys(fingerprint.signature, config.bands, config.rows))
    candidates = sorted(entry for entry in entries if not keys.isdisjoint(entry.bands))
    verified = []
    for entry in candidates[: config.max_bucket_pairs]:
        shingles = np.frombuffer(entry.shingles, dtype=np.uint64)
        facts = np.frombuffer(entry.facts, dtype=np.uint64)
        similarity = near_copy_similarity(
            fingerprint.shingles, shingles, config, fingerprint.facts, facts
        )
        if similarity is not None:
            verified.append((entry.rank, similarity, entry.article_id))
    if not verified:
        return None
    _, similarity, canonical_id = min(verified)
    return Duplicate(
        fingerprint.article_id, fingerprint.source, canonical_id, round(similarity, 6), "near"
    )


def prior_stream_entry(row: dict[str, Any], config: DedupConfig, ttl_micros: int) -> StreamEntry:
    """An earlier run's kept article (a dedup state row) as a state entry, expiring
    `ttl_micros` after it was first seen."""
    seen_micros = micros_of(row["first_seen_at"])
    return stream_entry(
        prior_fingerprint(row),
        row["content_hash"],
        row["canonical_url"],
        config,
        seen_micros + ttl_micros,
    )


# What a committed article gives a restarted job's dedup (committed_stream_entries).
COMMITTED_COLUMNS = (
    "article_id",
    "source",
    "text",
    "content_hash",
    "canonical_url",
    "published_at",
    "published_precision",
    "ingested_at",
    "word_count",
    "title",
)


def committed_read_key(
    source: str,
    article_id: str,
    content_hash: str,
    title: str | None,
    published_at: dt.datetime | None,
) -> tuple[Any, ...]:
    """What names one article as read from one input: its source (the path in any form,
    support/committed.source_key), id, text hash, title and publication time. A restarted
    job that reads an input again (a file touched while no job ran, or committed within 2 s
    of its write: its time no later than its commit's, to the second) and makes the same
    article from it has read what an earlier job committed (committed_read_keys); a file
    saved with its text, title or date corrected is a new read."""
    return source_key(source), article_id, content_hash, title, published_at


def committed_read_keys(rows: Iterable[dict[str, Any]]) -> frozenset[tuple[Any, ...]]:
    """The committed articles' (COMMITTED_COLUMNS) committed_read_key."""
    return frozenset(
        committed_read_key(
            row["source"], row["article_id"], row["content_hash"], row["title"], row["published_at"]
        )
        for row in rows
    )


def is_committed_read(article: Article, keys: frozenset[tuple[Any, ...]]) -> bool:
    """Whether `article` is one an earlier job committed, read again from the same input."""
    return bool(keys) and committed_read_key(
        article.source, article.article_id, article.content_hash, article.title,
        article.published_at,
    ) in keys  # fmt: skip


def committed_stream_entries(
    rows: Iterable[dict[str, Any]], config: DedupConfig, ttl_micros: int
) -> list[StreamEntry]:
    """Articles earlier jobs committed into ROOT (COMMITTED_COLUMNS) as state entries that
    rank first, each expiring `ttl_micros` after it was ingested: a restarted job's copies
    of them are duplicates pointing at them. Fingerprinted from their text (the committed
    rows keep no signature): about a millisecond an article, once at the job's start."""
    entries = []
    for row in rows:
        rank = prior_rank(row)
        if config.near:
            signature, shingles, facts = _text_prints(row["text"], config)
        else:
            signature = shingles = facts = NO_FACTS
        fingerprint = Fingerprint(
            row["article_id"], row["source"], rank, signature, shingles, facts
        )
        expires_at = micros_of(row["ingested_at"]) + ttl_micros
        entries.append(
            stream_entry(fingerprint, row["content_hash"], row["canonical_url"], config, expires_at)
        )
    return entries


# The state and timers of _DedupStreamFn (module level: a DoFn's parameters name them).
_DEDUP_ENTRIES = BagStateSpec("entries", PickleCoder())
_DEDUP_SEEDED = ReadModifyWriteStateSpec("seeded", BooleanCoder())
_DEDUP_NEXT_EXPIRY = ReadModifyWriteStateSpec("next_expiry", VarIntCoder())
_DEDUP_EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)
_DEDUP_ENTRIES_PARAM = beam.DoFn.StateParam(_DEDUP_ENTRIES)
_DEDUP_SEEDED_PARAM = beam.DoFn.StateParam(_DEDUP_SEEDED)
_DEDUP_NEXT_EXPIRY_PARAM = beam.DoFn.StateParam(_DEDUP_NEXT_EXPIRY)
_DEDUP_EXPIRE_PARAM = beam.DoFn.TimerParam(_DEDUP_EXPIRE)
_TIMESTAMP_PARAM = beam.DoFn.TimestampParam


class _DedupStreamFn(beam.DoFn):
    """(key, Article) -> kept Article, or its Duplicate on the duplicates output.

    State (per key, the global window): the kept articles' entries (a bag, appended to),
    whether the earlier state was loaded into it, and when the next entry expires; an
    event-time timer then drops the expired entries (counter `dedup_stream_expired`)."""

    def __init__(
        self,
        config: DedupConfig,
        state: StateContext,
        ttl_micros: int,
        committed: CommittedRecord | None = None,
    ) -> None:
        self._config = config
        self._state = state
        self._ttl = ttl_micros
        self._record = committed
        self._priors: list[StreamEntry] = []
        self._committed_reads: frozenset[tuple[Any, ...]] = frozenset()

    def setup(self) -> None:
        # The earlier state's articles (within --state_keep_days); they enter a key's
        # state with its first article, once (SEEDED survives the runner's checkpoints).
        keep_since = self._state.keep_since
        rows = read_table(self._state, DEDUP_ARTICLES) if self._state.files(DEDUP_ARTICLES) else []
        self._priors = [
            prior_stream_entry(row, self._config, self._ttl)
            for row in rows
            if within_retention(row, keep_since)
        ]
        # A restarted job's: what earlier jobs committed into ROOT (streaming never writes
        # the state), the state's own articles not twice.
        committed = committed_articles(self._record, COMMITTED_COLUMNS)
        if committed:
            known = {entry.article_id for entry in self._priors}
            fresh = [row for row in committed if row["article_id"] not in known]
            self._priors += committed_stream_entries(fresh, self._config, self._ttl)
            self._committed_reads = committed_read_keys(committed)

    def process(
        self,
        keyed: tuple[str, Article],
        timestamp: Any = _TIMESTAMP_PARAM,
        entries: Any = _DEDUP_ENTRIES_PARAM,
        seeded: Any = _DEDUP_SEEDED_PARAM,
        next_expiry: Any = _DEDUP_NEXT_EXPIRY_PARAM,
        expire: Any = _DEDUP_EXPIRE_PARAM,
    ) -> Iterator[Any]:
        article = keyed[1]
        config = self._config
        counter("dedup_in").inc()
        added: list[StreamEntry] = []
        if not seeded.read():
            seeded.write(True)
            for entry in self._priors:
                entries.add(entry)
            added += self._priors
        if is_committed_read(article, self._committed_reads):
            # Committed by an earlier job from the same input: not an input again (a
            # duplicates row pointing at itself before review 115).
            counter("read_skipped_committed").inc()
            counter("read_inputs").dec()
            expire_at(added, next_expiry, expire)
            return
        rank = article_rank(article)
        if config.near:
            signature, shingles, facts = _text_prints(article.text, config)
        else:
            signature = shingles = facts = NO_FACTS
        fingerprint = Fingerprint(
            article.article_id, article.source, rank, signature, shingles, facts
        )
        copy = stream_copy(
            fingerprint, article.content_hash, article.canonical_url, entries.read(), config
        )
        if copy is not None:
            counter(f"dedup_{copy.method}").inc()
            # A stream has no run to name: the read does (a watched file saved again, read
            # again as a copy of the same article, is a row of its own, not its key again).
            copy = with_own_id(copy, stream_read_id(article))
            own = copy._replace(url=article.url, site=article.site, outlet=article.outlet)
            yield beam.pvalue.TaggedOutput(_DUPLICATES, own)
        else:
            expires_at = int(timestamp.micros) + self._ttl
            entry = stream_entry(
                fingerprint, article.content_hash, article.canonical_url, config, expires_at
            )
            entries.add(entry)
            added.append(entry)
            yield article
        expire_at(added, next_expiry, expire)

    @on_timer(_DEDUP_EXPIRE)
    def _expire(
        self,
        fired: Any = _TIMESTAMP_PARAM,
        entries: Any = _DEDUP_ENTRIES_PARAM,
        next_expiry: Any = _DEDUP_NEXT_EXPIRY_PARAM,
        expire: Any = _DEDUP_EXPIRE_PARAM,
    ) -> None:
        kept, expired = live(entries.read(), int(fired.micros))
        counter("dedup_stream_expired").inc(expired)
        entries.clear()
        for entry in kept:
            entries.add(entry)
        next_expiry.clear()
        expire_at(kept, next_expiry, expire)


class DeduplicateStream(beam.PTransform):
    """PCollection[Article] (unbounded, timestamped by event time) ->
    (PCollection[Article], PCollection[Duplicate]): DeduplicateArticles' rules, one
    article at a time, against every article kept before it (earlier windows included)
    within `ttl_micros` of event time, and the earlier state's articles (`state`).

    One key: every article meets every kept one (copies across languages too), and the
    step is sequential. The kept article goes on at once; its `duplicate_count` is set
    where its window's rows meet (ClusterStoriesStream, by counted_copies): copies in the
    same pane count, later ones are only in the duplicates table, whose `canonical_id`
    names it. Counters:
    `dedup_in`, `dedup_exact`, `dedup_url`, `dedup_near`, `dedup_stream_expired`."""

    def __init__(
        self,
        config: DedupConfig | None = None,
        state: StateContext | None = None,
        ttl_micros: int = 7 * 86400 * 1_000_000,
        committed: CommittedRecord | None = None,
    ) -> None:
        super().__init__()
        self._config = config or DedupConfig()
        self._state = state or StateContext()
        self._ttl = ttl_micros
        self._committed = committed

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Duplicate]]:
        results = (
            articles
            | "Key" >> beam.Map(lambda article: (STREAM_KEY, article))
            | "Dedup"
            >> beam.ParDo(_DedupStreamFn(self._config, self._state, self._ttl, self._committed))
            .with_output_types(Article, **{_DUPLICATES: Duplicate})
            .with_outputs(_DUPLICATES, main="kept")
        )
        return results.kept, results[_DUPLICATES]
