"""Streaming mode (`newsbeam --streaming`, docs/streaming.md): the pure functions of event
time, the streaming dedup/stories drivers and the window commits; then TestStream on the
BundleBasedDirectRunner driving the streaming stages into a real dataset (Parquet read
back with DuckDB); construction of the whole `--streaming` graph with each source; and the
command stopping at once where it cannot run."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import apache_beam as beam
import duckdb
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream as BeamTestStream
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from newsbeam.pipeline import dataset
from newsbeam.pipeline.main import main
from newsbeam.pipeline.options import PipelineConfig
from newsbeam.pipeline.streaming import (
    CommitWindows,
    StreamingConfig,
    build_streaming,
    commit_window,
    runner_problem,
    timers_problem,
    window_counters,
    window_run_id,
)
from newsbeam.schemas import Article, Duplicate, RawDocument, to_row
from newsbeam.transforms.clean import clean_article
from newsbeam.transforms.dedup import (
    DedupConfig,
    DeduplicateStream,
    Fingerprint,
    fingerprint_of,
    stream_copy,
    stream_entry,
    text_fingerprint,
)
from newsbeam.transforms.event_time import (
    AssignEventTime,
    RejectLate,
    WindowConfig,
    closing_time,
    due_time,
    event_micros,
    is_late,
    live,
    micros_of,
    panes,
)
from newsbeam.transforms.extract import new_article
from newsbeam.transforms.feeds.config import FeedsConfig
from newsbeam.transforms.feeds.stage import new_entry_sources, remembered_entries
from newsbeam.transforms.read import is_finished_file, newsbeam_ancestor, watched_folder
from newsbeam.transforms.stories import (
    ClusterStoriesStream,
    PriorStory,
    StoryConfig,
    StreamStory,
    _ClusterStoriesStreamFn,
    cluster_window,
)
from newsbeam.transforms.support.copies import counted_copies
from newsbeam.transforms.support.rank import article_rank
from newsbeam.transforms.support.state import StateContext
from tests.helpers import SEEDS, as_regex, code_counters, start_job_service

REPO = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc
BASE = dt.datetime(2026, 12, 1, tzinfo=UTC)
SECOND = 1_000_000
WINDOW = WindowConfig(window_seconds=300, allowed_lateness_seconds=60, ttl_days=1000 / 86400)

FIRE = (
    "Firefighters in Lisbon fought a blaze at the Alcantara port warehouse on Tuesday night, "
    "where 40 crews and 12 engines worked for six hours before the roof of the building "
    "collapsed. The port authority said no one was hurt, but containers of cork and wine "
    "were lost, and the Alcantara docks stay closed while inspectors check the quay walls. "
    "Mayor Carlos Moedas thanked the crews and promised help to the workers of the port, "
    "who fear weeks without pay while the warehouse is rebuilt by the owners."
)
FIRE_REWRITE = (
    "Lisbon firefighters spent six hours on Tuesday night at the burning Alcantara port "
    "warehouse, and 40 crews with 12 engines could not save the roof. Alcantara docks "
    "remain closed; inspectors from the Lisbon port authority check the quay walls, and "
    "Mayor Carlos Moedas promised the port workers help while the warehouse is rebuilt."
)
VOTE = (
    "Voters in Oslo elected a new city council on Monday, and the Labour party lost its "
    "majority for the first time in 20 years after a campaign about housing prices, "
    "tolls and the new tram line to Fornebu. Turnout was 68 percent, the highest since "
    "1995, and the Green party doubled its seats while the Conservatives won most votes "
    "in the western districts. Coalition talks begin on Thursday at the city hall."
)
CHESS = (
    "The chess olympiad in Budapest ended on Sunday with India winning the open section "
    "ahead of the United States and Uzbekistan, while the women's title went to Kazakhstan "
    "after a final round that lasted more than seven hours. Organisers counted 190 teams "
    "from 180 federations, a record, and the next olympiad will be held in Tashkent."
)


def _article(source: str, text: str, published_seconds: float | None = None) -> Article:
    published = BASE + dt.timedelta(seconds=published_seconds) if published_seconds else None
    return clean_article(new_article(source, text=text, published_at=published))


def _at(article: Article, seconds: float) -> TimestampedValue:
    """An article arriving `seconds` after BASE."""
    return TimestampedValue(article, Timestamp(micros=micros_of(BASE) + int(seconds * SECOND)))


def _fingerprint(article: Article, config: DedupConfig) -> Fingerprint:
    signature, shingles = text_fingerprint(article.text, config)
    return Fingerprint(
        article.article_id, article.source, article_rank(article), signature, shingles
    )


# --- Pure functions ----------------------------------------------------------------------------


def test_event_time_is_published_at_unless_unknown_or_after_arrival() -> None:
    arrival = micros_of(BASE) + 1000 * SECOND
    earlier = BASE + dt.timedelta(seconds=10)
    assert event_micros(earlier, arrival) == micros_of(earlier)
    assert event_micros(None, arrival) == arrival
    # A date after the arrival is a clock's error: it would hold its window open.
    assert event_micros(BASE + dt.timedelta(days=400), arrival) == arrival


def test_late_means_the_window_closed_before_the_watermark() -> None:
    window = WindowConfig(window_seconds=300, allowed_lateness_seconds=60)
    at = 250 * SECOND
    assert closing_time(at, window) == 360 * SECOND
    assert not is_late(at, None, window)
    assert not is_late(at, 359 * SECOND, window)
    assert is_late(at, 360 * SECOND, window)
    assert not is_late(301 * SECOND, 360 * SECOND, window)


def test_stream_copy_finds_exact_url_and_near_copies_of_kept_entries() -> None:
    config = DedupConfig()
    kept = _article("a.txt", FIRE)._replace(canonical_url="https://x.example/fire")
    entry = stream_entry(
        _fingerprint(kept, config), kept.content_hash, kept.canonical_url, config, 10
    )
    exact = _article("b.txt", FIRE)
    copy = stream_copy(_fingerprint(exact, config), exact.content_hash, None, [entry], config)
    assert copy is not None and (copy.method, copy.canonical_id) == ("exact", kept.article_id)
    same_page = _article("c.txt", VOTE)
    copy = stream_copy(
        _fingerprint(same_page, config),
        same_page.content_hash,
        "https://x.example/fire",
        [entry],
        config,
    )
    assert copy is not None and copy.method == "url" and copy.similarity is None
    # Another rendering of the page (review 46): http, www., a trailing slash, /amp.
    rendering = "http://www.x.example/fire/amp/"
    copy = stream_copy(
        _fingerprint(same_page, config), same_page.content_hash, rendering, [entry], config
    )
    assert copy is not None and copy.method == "url"
    near = _article("d.txt", "Updated at 10:00. " + FIRE.replace("six hours", "seven hours"))
    copy = stream_copy(_fingerprint(near, config), near.content_hash, None, [entry], config)
    assert copy is not None and copy.method == "near" and 0.5 <= (copy.similarity or 0) < 1
    other = _article("e.txt", VOTE)
    assert (
        stream_copy(_fingerprint(other, config), other.content_hash, None, [entry], config) is None
    )
    # The same passes, the same verdict: near dedup off finds no near copy.
    off = DedupConfig(near=False)
    quiet = stream_entry(_fingerprint(kept, off), kept.content_hash, None, off, 10)
    empty = np.zeros(0, dtype=np.uint64)
    print_off = Fingerprint(near.article_id, near.source, article_rank(near), empty, empty)
    assert stream_copy(print_off, near.content_hash, None, [quiet], off) is None


def test_expired_entries_are_dropped() -> None:
    config = DedupConfig()
    article = _article("a.txt", FIRE)
    entries = [
        stream_entry(_fingerprint(article, config), article.content_hash, None, config, at)
        for at in (5, 10, 20)
    ]
    kept, expired = live(entries, 10)
    assert [entry.expires_at for entry in kept] == [20] and expired == 2


class _Bag:
    """A bag state as the stories driver uses it (read, add, clear)."""

    def __init__(self, items: list[Any] | None = None) -> None:
        self.items = list(items or [])

    def read(self) -> list[Any]:
        return list(self.items)

    def add(self, item: Any) -> None:
        self.items.append(item)

    def clear(self) -> None:
        self.items = []


class _Value(_Bag):
    """A value state (read, write, clear)."""

    def read(self) -> Any:
        return self.items[0] if self.items else None

    def write(self, value: Any) -> None:
        self.items = [value]


class _Timer:
    def __init__(self) -> None:
        self.at: Timestamp | None = None

    def set(self, at: Timestamp) -> None:
        self.at = at


def test_stories_expiring_with_a_window_still_due_stay_for_its_flush() -> None:
    # A bounded job's end, or a drain, moves the watermark to the end of time in one step:
    # the flush and expiry timers are both due, and the runner fired the expiry first, so a
    # restarted job's last window clustered without the earlier job's stories (its later
    # report of a story did not join it in 5 of 6 runs under load; review 113's test).
    def story(article_id: str, expires_at: int) -> StreamStory:
        prior = PriorStory(article_id, article_id, None, {"fire": 1.0}, BASE)
        return StreamStory(prior, expires_at)

    def fire_expiry(pending: list[tuple[int, int]], at: int) -> tuple[list[str], _Timer]:
        stories = _Bag([story("old", 100), story("live", 500)])
        rows = _Bag([(start, due, "articles", None) for start, due in pending])
        timer = _Timer()
        fn = _ClusterStoriesStreamFn(StoryConfig(), StateContext(), 1_000_000, 10**9)
        fn._expire(Timestamp(micros=at), rows, stories, _Value([100]), timer)
        return [entry.prior.article_id for entry in stories.read()], timer

    # A window starting at 300, due at 301, not flushed yet when the expiry fires at "the
    # end of time": it keeps what was live at its start; its flush sets the next expiry.
    kept, timer = fire_expiry([(300, 301)], 10**12)
    assert kept == ["live"] and timer.at is None
    # No window due: every story past its time goes.
    kept, timer = fire_expiry([(300, 10**13)], 10**12)
    assert kept == [] and timer.at is None
    # No window due, a story still live: the timer is set at its expiry.
    kept, timer = fire_expiry([], 200)
    assert kept == ["live"] and timer.at == Timestamp(micros=1000)


def test_a_later_window_joins_the_story_of_an_earlier_one() -> None:
    config = StoryConfig()
    first = [_article("fire.txt", FIRE), _article("vote.txt", VOTE)]
    events = {article.article_id: 100 * SECOND for article in [*first]}
    from newsbeam.transforms.stories import NO_FREQUENCIES

    labelled, entries, frequencies = cluster_window(
        first, [], NO_FREQUENCIES, config, BASE, 1000 * SECOND, events
    )
    assert {a.story_id for a in labelled} == {a.article_id for a in first}
    assert [e.expires_at for e in entries] == [1100 * SECOND] * 2
    assert frequencies.articles == 2
    second = [_article("fire2.txt", FIRE_REWRITE), _article("chess.txt", CHESS)]
    events = {article.article_id: 400 * SECOND for article in second}
    labelled, _, _ = cluster_window(
        second, entries, frequencies, config, BASE, 1000 * SECOND, events
    )
    story = {a.source: a.story_id for a in labelled}
    assert story["fire2.txt"] == first[0].article_id
    assert story["chess.txt"] == second[1].article_id
    kept, expired = live(entries, 1100 * SECOND)
    assert kept == [] and expired == 2


def test_window_run_ids_and_when_rows_are_due() -> None:
    start = micros_of(BASE)
    end = start + 300 * SECOND
    assert window_run_id(start, end, end) == "stream-20261201T000000Z"
    late = window_run_id(start, end, end + 300 * SECOND)
    assert late == "stream-20261201T000000Z-late-20261201T001000Z"
    dataset.check_run_id(late)
    window = 300 * SECOND
    assert due_time(250 * SECOND, None, window) == 300 * SECOND
    assert due_time(250 * SECOND, 300 * SECOND, window) == 600 * SECOND  # a late pane
    assert due_time(350 * SECOND, 300 * SECOND, window) == 600 * SECOND
    items = [(0, 300, "articles", {"a": 1}), (0, 600, "rejected", {"b": 2})]
    assert list(panes(items, 300)) == [(0, {"articles": [{"a": 1}]})]


def test_a_retried_commit_does_nothing_twice(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    start = micros_of(BASE)
    row = {"source": "x", "stage": "stream", "reason": "late", "detail": "d", "payload": ""}
    end = start + 300 * SECOND
    first = commit_window(root, {"rejected": [row]}, start, end, end)
    again = commit_window(root, {"rejected": [row]}, start, end, end)
    assert again == first
    assert dataset.run_ids(root) == ["stream-20261201T000000Z"]
    # Other rows for a window committed already (a job started again): a run beside it.
    other = {**row, "source": "y"}
    beside = commit_window(root, {"rejected": [other]}, start, end, end)
    assert beside["run_id"] == f"stream-20261201T000000Z-{beside['attempt']}"
    assert len(dataset.run_ids(root)) == 2
    rows = duckdb.sql(
        f"SELECT source FROM read_parquet('{root}/rejected/*/*.parquet') ORDER BY source"
    ).fetchall()
    assert rows == [("x",), ("y",)]
    assert first["counts"]["rejected"] == 1 and first["counts"]["balanced"]
    assert first["counts"]["rejected_by"] == {"stream": {"late": 1}}
    assert first["counters"]["stream_dropped_late"] == first["counters"]["read_inputs"] == 1
    assert first["tables"]["rejected"]["files"][0]["rows"] == 1


def test_copies_are_counted_on_the_canonical_they_name() -> None:
    kept = _article("a.txt", FIRE)
    other = _article("b.txt", VOTE)
    copies = [
        Duplicate("c1", "z.txt", kept.article_id, 1.0, "exact"),
        Duplicate("c2", "y.txt", kept.article_id, 0.7, "near"),
        Duplicate("c3", "x.txt", "an-earlier-article", 1.0, "exact"),
    ]
    counted = {a.source: a for a in counted_copies([kept, other], copies)}
    assert counted["a.txt"].duplicate_count == 2
    assert counted["a.txt"].duplicate_sources == ["y.txt", "z.txt"]
    assert counted["b.txt"] == other  # no copy names it: untouched


def test_window_counters_derive_from_the_rows() -> None:
    article = {
        "article_id": "a",
        "story_id": "a",
        "topics": ["x"],
        "places": [],
        "duplicate_count": 2,
    }
    joined = {"article_id": "b", "story_id": "old", "topics": [], "places": ["PT"]}
    rows = {
        "articles": [article, joined],
        "duplicates": [{"method": "exact"}, {"method": "near"}],
        "rejected": [
            {"stage": "clean", "reason": "too_short"},
            {"stage": "places", "reason": "internal_error"},
            {"stage": "stream", "reason": "late"},
        ],
        "feed_health": [
            {"status": "ok", "entries": 5, "new_entries": 2},
            {"status": "not_modified", "entries": 0, "new_entries": 0},
            {"status": "error", "entries": 0, "new_entries": 0},
        ],
    }
    counters = window_counters(rows)
    assert counters["read_inputs"] == 7
    assert counters["clean_dropped_too_short"] == counters["stream_dropped_late"] == 1
    assert (counters["places_in"], counters["topics_in"], counters["dedup_in"]) == (3, 3, 5)
    assert (counters["dedup_exact"], counters["dedup_near"]) == (1, 1)
    assert "dedup_url" not in counters
    assert (counters["topics_tagged"], counters["places_found"]) == (1, 1)
    assert (counters["stories_in"], counters["stories_new"]) == (2, 1)
    assert counters["stories_joined_earlier"] == 1 and counters["dedup_copies_counted"] == 2
    assert (counters["feeds_fetched"], counters["feeds_not_modified"]) == (3, 1)
    assert (counters["feeds_errors"], counters["feeds_entries"], counters["feeds_new_entries"]) == (
        1,
        5,
        2,
    )
    assert window_counters({})["read_inputs"] == 0


def test_window_counters_are_named_as_the_batch_stages_count() -> None:
    """A window's manifest says `feeds_errors` as a batch run's does: it said `feeds_failed`,
    which the command's feed summary and a query summing a counter over batch and stream
    runs never read."""
    names, patterns = code_counters()
    regexes = [as_regex(pattern) for pattern in patterns]
    rows = {
        "articles": [{"article_id": "a", "story_id": "a", "topics": ["x"], "places": ["PT"]}],
        "duplicates": [{"method": "exact"}],
        "rejected": [{"stage": "stream", "reason": "late"}],
        "feed_health": [
            {"status": status, "entries": 1, "new_entries": 1}
            for status in ("ok", "partial", "not_modified", "unchanged", "error", "not_due")
        ],
    }
    derived = window_counters(rows)
    assert "feeds_errors" in derived
    assert (
        sorted(
            name
            for name in derived
            if name not in names and not any(r.fullmatch(name) for r in regexes)
        )
        == []
    )


def test_a_window_with_every_table_commits_counters_and_renders_in_the_report(
    tmp_path: Path,
) -> None:
    from newsbeam.schemas import to_row
    from newsbeam.schemas.feeds import FeedHealth

    root = str(tmp_path / "root")
    start = micros_of(BASE)
    kept = _article("a.txt", FIRE)
    copy = Duplicate("c1", "b.txt", kept.article_id, 1.0, "exact")
    (kept,) = counted_copies([kept._replace(story_id=kept.article_id)], [copy])
    feed = "http://127.0.0.1:9/feed.xml"
    rows = {
        "articles": [to_row(kept)],
        "duplicates": [to_row(copy)],
        "rejected": [
            {"source": "x", "stage": "clean", "reason": "too_short", "detail": "d", "payload": ""}
        ],  # fmt: skip
        "feed_health": [
            FeedHealth(BASE, feed, "not_modified", 304, 0, 0, 0, True, None, 3)._asdict(),
        ],
    }
    manifest = commit_window(root, rows, start, start + 300 * SECOND, start + 300 * SECOND)
    counters = manifest["counters"]
    assert counters["read_inputs"] == manifest["counts"]["inputs"] == 3
    assert (counters["dedup_exact"], counters["dedup_copies_counted"]) == (1, 1)
    assert (counters["feeds_fetched"], counters["feeds_not_modified"]) == (1, 1)
    assert {t: manifest["tables"][t]["files"][0]["rows"] for t in rows} == {
        "articles": 1,
        "duplicates": 1,
        "rejected": 1,
        "feed_health": 1,
    }
    (article,) = _rows(root, manifest, "articles")
    assert (article["duplicate_count"], list(article["duplicate_sources"])) == (1, ["b.txt"])
    assert main(["report", "--output", root]) == 0
    report = (Path(root) / "report.html").read_text()
    assert feed in report and "every input is accounted for" in report


def test_a_window_of_long_articles_has_row_groups_of_at_most_64_mb(tmp_path: Path) -> None:
    """A stream's window was written as one row group whatever its size (pyarrow bounds
    them by rows only), where a batch run's files have row groups of up to 64 MB."""
    import pyarrow.parquet as pq

    from newsbeam.transforms.support.bundle_files import ROW_GROUP_BYTES

    root, start = str(tmp_path / "root"), micros_of(BASE)
    base = to_row(_article("a.txt", FIRE))
    words = [f"w{n}x{n * 7919 % 104729}" for n in range(6000)]
    rows = {
        "articles": [
            {**base, "article_id": str(n), "text": " ".join(words[n:] + words[:n])}
            for n in range(1800)
        ]
    }
    manifest = commit_window(root, rows, start, start + 300 * SECOND, start + 300 * SECOND)
    (path,) = dataset.data_files(root, manifest, "articles")
    metadata = pq.ParquetFile(path).metadata
    sizes = [metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)]
    assert metadata.num_rows == 1800 and len(sizes) == 2, sizes
    assert all(size <= ROW_GROUP_BYTES for size in sizes), sizes


def test_new_entries_only_once_and_forgotten_when_no_longer_listed() -> None:
    new, known = new_entry_sources({}, ["f#1", "f#2"], 100, 50)
    assert new == ["f#1", "f#2"]
    new, known = new_entry_sources(known, ["f#2", "f#3"], 120, 50)
    assert new == ["f#3"] and set(known) == {"f#1", "f#2", "f#3"}
    new, known = new_entry_sources(known, ["f#3"], 200, 50)
    assert new == [] and set(known) == {"f#3"}


def test_files_being_written_are_not_read() -> None:
    assert is_finished_file("/in/a/story.html")
    for name in ("/in/.story.html", "/in/story.html.tmp", "/in/x.part", "/in/.out.newsbeam.lock"):
        assert not is_finished_file(name), name


# --- TestStream: the streaming stages end to end --------------------------------------------


def _streaming_options() -> PipelineOptions:
    options = PipelineOptions(["--streaming"])
    options.view_as(StandardOptions).runner = "BundleBasedDirectRunner"
    return options


def _committed(root: str) -> dict[str, dict[str, Any]]:
    return {run_id: dataset.read_manifest(root, run_id) or {} for run_id in dataset.run_ids(root)}


def _rows(root: str, manifest: dict[str, Any], table: str) -> list[dict[str, Any]]:
    paths = dataset.data_files(root, manifest, table)
    assert len(paths) <= 1  # a file per table with rows per pane (or an empty one)
    if not paths:
        return []
    frame = duckdb.sql(f"SELECT * FROM read_parquet('{paths[0]}')").fetchall()
    columns = duckdb.sql(f"SELECT * FROM read_parquet('{paths[0]}')").columns
    return [dict(zip(columns, row, strict=True)) for row in frame]


def test_windows_lateness_copies_stories_and_expiry_under_test_stream(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    a1 = _article("a1.txt", FIRE)
    a2 = _article("a2.txt", FIRE)  # an exact copy, same window
    b1 = _article("b1.txt", VOTE, published_seconds=50)  # earlier than a1: out of order
    d = _article("d.txt", CHESS, published_seconds=250)  # late, within the lateness
    # A copy of b1 in b1's window, after that window's pane was committed: only a row in
    # duplicates (canonical_id b1), never counted on b1.
    b2 = _article("b2.txt", VOTE, published_seconds=260)
    a3 = _article("a3.txt", "Updated at 10:00. " + FIRE.replace("six hours", "seven hours"))
    x2 = _article("x2.txt", FIRE_REWRITE)  # the fire story, a window later
    late = _article("late.txt", VOTE + " Late.", published_seconds=20)  # beyond the lateness
    a4 = _article("a4.txt", FIRE)  # a copy of a1 after a1 expired from the state
    stream = (
        BeamTestStream()
        .advance_watermark_to(Timestamp(micros=micros_of(BASE)))
        .add_elements([_at(a1, 100), _at(a2, 120), _at(b1, 130)])
        .advance_watermark_to(Timestamp(micros=micros_of(BASE) + 330 * SECOND))
        .add_elements([_at(d, 335), _at(b2, 336)])
        .add_elements([_at(a3, 400), _at(x2, 420)])
        .advance_watermark_to(Timestamp(micros=micros_of(BASE) + 700 * SECOND))
        .add_elements([_at(late, 710)])
        .advance_watermark_to(Timestamp(micros=micros_of(BASE) + 2000 * SECOND))
        .add_elements([_at(a4, 2050)])
        .advance_watermark_to_infinity()
    )
    started = time.perf_counter()
    with beam.Pipeline(options=_streaming_options()) as pipeline:
        timed = pipeline | stream | "EventTime" >> AssignEventTime()
        on_time, rejected = timed | "RejectLate" >> RejectLate(WINDOW)
        kept, duplicates = on_time | "Dedup" >> DeduplicateStream(
            DedupConfig(), StateContext(), WINDOW.ttl_micros
        )
        health = pipeline | "NoHealth" >> beam.Create([])
        tables = {
            "articles": kept,
            "duplicates": duplicates,
            "rejected": rejected,
            "feed_health": health,
        }
        panes_ = tables | "Stories" >> ClusterStoriesStream(StoryConfig(), StateContext(), WINDOW)
        _ = panes_ | "Commit" >> CommitWindows(root)
    seconds = time.perf_counter() - started
    assert seconds < 60

    runs = _committed(root)
    w0, w1, w6 = "stream-20261201T000000Z", "stream-20261201T000500Z", "stream-20261201T003000Z"
    assert sorted(runs) == sorted(
        [w0, f"{w0}-late-20261201T001000Z", w1, f"{w0}-late-20261201T001500Z", w6]
    )
    sources = {
        run_id: {
            table: sorted(row["source"] for row in _rows(root, m, table)) for table in m["tables"]
        }
        for run_id, m in runs.items()
    }
    # Window 0 on time: a1 and b1 (out of order), a2 an exact copy of a1.
    assert sources[w0] == {
        "articles": ["a1.txt", "b1.txt"],
        "duplicates": ["a2.txt"],
        "rejected": [],
        "feed_health": [],
    }
    assert runs[w0]["window"]["pane"] == "on_time"
    # a2 is counted on a1: a copy in its canonical's window (and pane).
    by_source = {row["source"]: row for row in _rows(root, runs[w0], "articles")}
    assert by_source["a1.txt"]["duplicate_count"] == 1
    assert list(by_source["a1.txt"]["duplicate_sources"]) == ["a2.txt"]
    assert by_source["b1.txt"]["duplicate_count"] == 0
    # The window's counters, derived from its rows under the batch counters' names.
    counters = runs[w0]["counters"]
    assert counters["read_inputs"] == runs[w0]["counts"]["inputs"] == 3
    assert (counters["dedup_in"], counters["dedup_exact"]) == (3, 1)
    assert counters["dedup_copies_counted"] == 1 and counters["stories_in"] == 2
    # d came after window 0 was committed, within the lateness: a late pane, not lost; so
    # did b2, a copy of b1: in duplicates, naming b1, but b1 (committed) does not count it.
    late_pane = f"{w0}-late-20261201T001000Z"
    assert sources[late_pane]["articles"] == ["d.txt"]
    (b2_row,) = _rows(root, runs[late_pane], "duplicates")
    assert (b2_row["source"], b2_row["method"], b2_row["canonical_id"]) == (
        "b2.txt",
        "exact",
        b1.article_id,
    )
    assert runs[late_pane]["counters"]["dedup_copies_counted"] == 0
    assert runs[f"{w0}-late-20261201T001000Z"]["window"]["pane"] == "late"
    # Window 1: a3 a near copy of a1 (an earlier window's), x2 continues a1's story.
    assert sources[w1]["articles"] == ["x2.txt"]
    assert sources[w1]["duplicates"] == ["a3.txt"]
    (near,) = _rows(root, runs[w1], "duplicates")
    assert (near["method"], near["canonical_id"]) == ("near", a1.article_id)
    assert runs[w1]["counters"]["dedup_near"] == 1
    (x2_row,) = _rows(root, runs[w1], "articles")
    (a1_row,) = [r for r in _rows(root, runs[w0], "articles") if r["source"] == "a1.txt"]
    # a3, a copy of a1 a window later, is not counted on a1 (committed before it came).
    assert a1_row["duplicate_count"] == 1 and x2_row["duplicate_count"] == 0
    assert x2_row["story_id"] == a1_row["story_id"] == a1.article_id
    (b1_row,) = [r for r in _rows(root, runs[w0], "articles") if r["source"] == "b1.txt"]
    assert b1_row["story_id"] != a1_row["story_id"]
    # Beyond the lateness: a rejected row, in its own window's late pane.
    (late_row,) = _rows(root, runs[f"{w0}-late-20261201T001500Z"], "rejected")
    assert (late_row["source"], late_row["stage"], late_row["reason"]) == (
        "late.txt",
        "stream",
        "late",
    )
    # a1 expired from the state (TTL 1000 s): its copy at 2050 s is an article again.
    assert sources[w6]["articles"] == ["a4.txt"] and sources[w6]["duplicates"] == []
    # Nothing lost: every input is in exactly one table.
    counts = {"articles": 0, "duplicates": 0, "rejected": 0}
    for manifest in runs.values():
        for table in counts:
            counts[table] += manifest["counts"][table]
        assert manifest["counts"]["balanced"]
    assert counts == {"articles": 5, "duplicates": 3, "rejected": 1}
    assert not (Path(root) / dataset.STAGING).exists()
    assert json.loads(json.dumps(runs[w0]))["mode"] == "streaming"
    # Only a worker's first pane gives a table without rows its empty file (follow mode's
    # rule): the five panes left fifteen empty files before, each read by every reader.
    empty = [
        (run_id, table)
        for run_id, m in runs.items()
        for table, entry in m["tables"].items()
        for file in entry["files"]
        if file["rows"] == 0
    ]
    assert sorted(table for _, table in empty) == ["feed_health", "rejected"], empty
    # The dataset's readers take the window runs as any runs.
    assert main(["report", "--output", root]) == 0
    report = (Path(root) / "report.html").read_text()
    assert "every input is accounted for" in report
    database = str(tmp_path / "news.duckdb")
    assert main(["warehouse", "--output", root, "--db", database]) == 0
    with duckdb.connect(database) as connection:
        counted = connection.sql("SELECT count(*) FROM articles").fetchall()
    assert counted == [(5,)]


def _write_state(folder: Path, articles: list[Article], run_at: dt.datetime) -> StateContext:
    """A state folder holding `articles` as an earlier batch run keeps them (the dedup
    and stories tables, written with the batch stage's own row functions)."""
    import pyarrow as pa

    from newsbeam.transforms.dedup import state_row
    from newsbeam.transforms.stories import (
        NO_FREQUENCIES,
        add_frequencies,
        cluster_stories,
        frequency_columns,
        story_doc,
        story_rows,
    )
    from newsbeam.transforms.support.state import (
        DEDUP_ARTICLES,
        DEDUP_STORIES,
        STORY_TERMS,
        make_context,
        stamped,
    )

    config = StoryConfig()
    docs = [story_doc(article, config) for article in articles]
    assigned, vectors = cluster_stories(docs, [], config)
    stories = story_rows(docs, assigned, vectors, config, run_at)
    dedup = [
        state_row(article._replace(story_id=assigned[article.article_id]), DedupConfig(), run_at)
        for article in articles
    ]
    columns = frequency_columns(add_frequencies(NO_FREQUENCIES, docs))
    terms = [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    for table, rows in ((DEDUP_ARTICLES, dedup), (DEDUP_STORIES, stories), (STORY_TERMS, terms)):
        path = folder / table.path / "part-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        arrow = pa.Table.from_pylist(rows, schema=stamped(table.schema))
        import pyarrow.parquet as pq

        pq.write_table(arrow, str(path))
    return make_context(str(folder), None, run_at)


def test_the_streaming_state_is_seeded_from_the_batch_state(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    earlier = _article("earlier.txt", FIRE)
    state = _write_state(tmp_path / "state", [earlier, _article("vote.txt", VOTE)], BASE)
    copy = _article("copy.txt", FIRE)
    follow_up = _article("follow-up.txt", FIRE_REWRITE)
    other = _article("chess.txt", CHESS)
    stream = (
        BeamTestStream()
        .advance_watermark_to(Timestamp(micros=micros_of(BASE)))
        .add_elements([_at(copy, 10), _at(follow_up, 20), _at(other, 30)])
        .advance_watermark_to_infinity()
    )
    window = WindowConfig(window_seconds=300, allowed_lateness_seconds=0, ttl_days=1)
    with beam.Pipeline(options=_streaming_options()) as pipeline:
        kept, duplicates = (
            pipeline
            | stream
            | "EventTime" >> AssignEventTime()
            | "Dedup" >> DeduplicateStream(DedupConfig(), state, window.ttl_micros)
        )
        tables = {
            "articles": kept,
            "duplicates": duplicates,
            "rejected": pipeline | "NoRejected" >> beam.Create([]),
            "feed_health": pipeline | "NoHealth" >> beam.Create([]),
        }
        panes_ = tables | "Stories" >> ClusterStoriesStream(StoryConfig(), state, window)
        _ = panes_ | "Commit" >> CommitWindows(root)
    (manifest,) = _committed(root).values()
    (duplicate,) = _rows(root, manifest, "duplicates")
    assert (duplicate["source"], duplicate["method"]) == ("copy.txt", "exact")
    assert duplicate["canonical_id"] == earlier.article_id  # the earlier run's article
    story = {row["source"]: row["story_id"] for row in _rows(root, manifest, "articles")}
    assert story == {"follow-up.txt": earlier.article_id, "chess.txt": other.article_id}


# --- The whole --streaming graph, and the command ----------------------------------------------


def _streaming_config(tmp_path: Path, **sources: Any) -> StreamingConfig:
    stages = PipelineConfig(
        inputs=tuple(sources.get("inputs", ())),
        output_dir=str(tmp_path / "root"),
        feeds=FeedsConfig(feed_urls=tuple(sources.get("feeds", ()))),
    )
    return StreamingConfig(
        stages,
        str(tmp_path / "root"),
        WINDOW,
        poll_seconds=60,
        pubsub_subscription=sources.get("pubsub"),
    )


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ({"inputs": ["inbox"]}, "Watch/Match0"),
        ({"feeds": ["http://127.0.0.1:9/feed.xml"]}, "Feeds/Clock"),
        ({"pubsub": "projects/news-project/subscriptions/articles"}, "PubSub/Pull"),
    ],
)
def test_the_streaming_graph_builds_with_each_source(
    tmp_path: Path,
    sources: dict[str, Any],
    expected: str,
    unrun_pipeline: Callable[..., beam.Pipeline],
) -> None:
    (tmp_path / "inbox").mkdir()
    if "inputs" in sources:
        sources = {"inputs": [str(tmp_path / "inbox")]}
    pipeline = unrun_pipeline(options=_streaming_options())
    tables = build_streaming(pipeline, _streaming_config(tmp_path, **sources))
    assert set(tables) == {"articles", "duplicates", "rejected", "feed_health", "committed"}
    proto = pipeline.to_runner_api()  # every DoFn pickles, every coder is known
    labels = {transform.unique_name for transform in proto.components.transforms.values()}
    for label in (
        expected,
        "RejectLate/Gate",
        "Dedup/Dedup",
        "Stories/Cluster",
        "Commit/CommitPanes",
    ):
        assert label in labels, label
    assert not (tmp_path / "root").exists()  # building writes nothing


def test_streaming_stops_at_once_without_a_streaming_runner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for runner in ([], ["--runner", "BundleBasedDirectRunner"], ["--runner", "DirectRunner"]):
        started = time.perf_counter()
        status = main(
            ["--streaming", "--input", str(inbox), "--output", str(tmp_path / "o"), *runner]
        )
        assert status == 2
        assert time.perf_counter() - started < 10
        message = capsys.readouterr().err
        assert "--follow" in message
        for name in ("DataflowRunner", "FlinkRunner", "SparkRunner", "PrismRunner"):
            assert name in message
    assert not (tmp_path / "o").exists()
    assert runner_problem("DataflowRunner") is None
    assert runner_problem("apache_beam.runners.portability.flink_runner.FlinkRunner") is None


def test_spans_beyond_beams_last_timestamp_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TTL, lateness, window or poll interval whose timers fall past Beam's last
    timestamp: `--stream_ttl_days 1e300` was a traceback (exit 1) at launch, 1e9 passed
    and failed the job at its first article (a timer's int64 overflowed)."""
    now = time.time()
    assert timers_problem(300, 86400, 7, 300, now) is None
    assert timers_problem(300, 86400, 100 * 365, 86400, now) is None  # a century: fine
    assert "--stream_ttl_days" in (timers_problem(300, 86400, 1e9, 300, now) or "")
    assert "--stream_ttl_days" in (timers_problem(300, 86400, 1e300, 300, now) or "")
    assert "--window_seconds" in (timers_problem(10**17, 0, 1, 300, now) or "")
    assert "--poll_seconds" in (timers_problem(300, 0, 1, 1e300, now) or "")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for flags in (["--stream_ttl_days", "1e300"], ["--allowed_lateness_seconds", str(10**17)]):
        status = main(
            ["--streaming", "--runner", "PortableRunner", "--job_endpoint", "localhost:9",
             "--input", str(inbox), "--output", str(tmp_path / "o"), *flags]
        )  # fmt: skip
        assert status == 2
        assert "Beam's last timestamp" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_portable_runner_needs_a_job_service_that_streams(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--job_endpoint embed` is Beam's in-process job service, an FnApiRunner: the job ran
    its sources as a batch, never committed a window and burnt a core until killed. Without
    --job_endpoint, Beam failed the launched job (exit 1) instead of a usage error."""
    assert runner_problem("PortableRunner", "embed") is not None
    assert runner_problem("PortableRunner", None) is not None
    assert runner_problem("PortableRunner", "localhost:8099") is None
    assert runner_problem("FlinkRunner", "embed") is None  # its own job server
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for endpoint in (["--job_endpoint", "embed"], []):
        started = time.perf_counter()
        status = main(
            ["--streaming", "--runner", "PortableRunner", *endpoint, "--environment_type",
             "LOOPBACK", "--input", str(inbox), "--output", str(tmp_path / "o")]
        )  # fmt: skip
        assert status == 2
        assert time.perf_counter() - started < 10
        assert "--job_endpoint" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_stopped_launcher_cancels_its_job_on_the_runner(tmp_path: Path) -> None:
    """Ctrl-C on `newsbeam --streaming` sent to a job service: the launcher released ROOT's
    lock and left with a traceback while the job ran on (on Flink or Dataflow it would go on
    writing windows into a ROOT another writer may now take). It cancels the job first."""
    import grpc
    from apache_beam.portability.api import beam_job_api_pb2, beam_job_api_pb2_grpc

    inbox, output = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    (inbox / "a.txt").write_text((SEEDS / sorted(p.name for p in SEEDS.iterdir())[0]).read_text())
    service, port = start_job_service(tmp_path / "staging", stderr=subprocess.DEVNULL)
    launcher = None
    try:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "newsbeam.pipeline", "--streaming", "--runner",
             "PortableRunner", "--job_endpoint", f"localhost:{port}", "--environment_type",
             "LOOPBACK", "--input", str(inbox), "--output", str(output)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        jobs = beam_job_api_pb2_grpc.JobServiceStub(grpc.insecure_channel(f"localhost:{port}"))

        def states() -> list[int]:
            listed = jobs.GetJobs(beam_job_api_pb2.GetJobsRequest()).job_info
            return [job.state for job in listed]

        deadline = time.monotonic() + 120
        while beam_job_api_pb2.JobState.RUNNING not in states():
            assert launcher.poll() is None and time.monotonic() < deadline
            time.sleep(0.5)
        launcher.send_signal(signal.SIGINT)
        _, err = launcher.communicate(timeout=60)
        assert launcher.returncode == 130, err
        assert b"Traceback" not in err and b"cancelled" in err, err
        # Ended, not RUNNING: CANCELLED, or FAILED when the job service lost the launcher's
        # LOOPBACK workers (Beam's cancel() stops them) before it processed the cancel.
        ended = (beam_job_api_pb2.JobState.CANCELLED, beam_job_api_pb2.JobState.FAILED)
        assert [state in ended for state in states()] == [True], states()
        assert b"it ended" in err, err
    finally:
        if launcher is not None and launcher.poll() is None:
            launcher.kill()
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(30)


@pytest.mark.slow
def test_a_streaming_job_that_fails_or_is_stopped_leaves_a_record(tmp_path: Path) -> None:
    """A streaming job that died left nothing a morning check could see: its windows commit
    one by one, and the job's own end (exit 1: its runner gone; 143: stopped) was only in
    its log. Now it leaves a record as a batch run does, which `newsbeam report` and
    `--fail_on_failed` see; a ROOT the job never committed a window to is a dataset."""
    from newsbeam.pipeline import failed_runs

    inbox, output = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    (inbox / "a.txt").write_text((SEEDS / sorted(p.name for p in SEEDS.iterdir())[0]).read_text())

    def launcher(port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "newsbeam.pipeline", "--streaming", "--runner",
             "PortableRunner", "--job_endpoint", f"localhost:{port}", "--environment_type",
             "LOOPBACK", "--input", str(inbox), "--output", str(output)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    def streaming(job: subprocess.Popen[bytes], port: int) -> None:  # its job RUNNING
        import grpc
        from apache_beam.portability.api import beam_job_api_pb2, beam_job_api_pb2_grpc

        with grpc.insecure_channel(f"localhost:{port}") as channel:
            jobs = beam_job_api_pb2_grpc.JobServiceStub(channel)
            deadline = time.monotonic() + 120
            while True:
                listed = jobs.GetJobs(beam_job_api_pb2.GetJobsRequest()).job_info
                if beam_job_api_pb2.JobState.RUNNING in [info.state for info in listed]:
                    return
                assert job.poll() is None and time.monotonic() < deadline
                time.sleep(0.5)

    def records() -> list[dict[str, Any]]:
        return failed_runs.read_records(str(output))

    services, jobs = [], []
    try:
        service, port = start_job_service(tmp_path / "staging", stderr=subprocess.DEVNULL)
        services.append(service)
        jobs.append(launcher(port))
        streaming(jobs[-1], port)
        jobs[-1].send_signal(signal.SIGTERM)
        _, err = jobs[-1].communicate(timeout=90)
        assert jobs[-1].returncode == 143, err
        (stopped,) = records()
        assert stopped["exit_status"] == 143 and "SIGTERM" in stopped["cause"], stopped
        assert stopped["mode"] == "streaming" and stopped["run_id"].startswith("stream-job-")
        assert stopped["inputs"]["listed"] == [str(inbox)]
        assert b"recorded in " in err, err[-2000:]
        # A job whose runner goes away: exit 1, recorded with the line the log ends with.
        jobs.append(launcher(port))
        streaming(jobs[-1], port)
        os.killpg(services[-1].pid, signal.SIGKILL)
        _, err = jobs[-1].communicate(timeout=90)
        assert jobs[-1].returncode == 1, err[-3000:]
        failed = records()[-1]
        assert failed["exit_status"] == 1 and failed["run_id"] != stopped["run_id"]
        assert failed["cause"].startswith("the streaming job failed: "), failed
        assert f"recorded in {output}" in err.decode(), err[-3000:]
        assert dataset.is_dataset(str(output))
        # The morning check sees both (no window committed: a ROOT of failed runs only).
        check = main(["report", "--output", str(output), "--fail_on_failed=unrecovered"])
        assert check == 3
    finally:
        for job in jobs:
            if job.poll() is None:
                job.kill()
                job.communicate(timeout=30)
        for service in services:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.pid, signal.SIGTERM)
            service.wait(30)


def test_streaming_usage_errors_stop_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(tmp_path / "o")
    runner = ["--runner", "FlinkRunner"]
    assert main(["--streaming", "--output", root, *runner]) == 2
    assert "needs a source" in capsys.readouterr().err
    inbox = str(tmp_path)
    assert (
        main(["--streaming", "--input", inbox, "--output", root, "--window_seconds", "0", *runner])
        == 2
    )
    assert "--window_seconds" in capsys.readouterr().err
    feed = ["--feed", "http://127.0.0.1:9/feed.xml", "--min_poll_seconds", "0"]
    assert main(["--streaming", *feed, "--output", root, *runner]) == 2
    assert "--min_poll_seconds" in capsys.readouterr().err
    passes = ["--max_files_per_run", "10"]  # a batch run's passes: nothing to pass here
    assert main(["--streaming", "--input", inbox, "--output", root, *passes, *runner]) == 2
    assert "--max_files_per_run is for a batch run" in capsys.readouterr().err
    # A local ROOT another run holds is refused, as a batch run refuses it.
    from newsbeam.pipeline.lock import RunLock

    held = RunLock([Path(root)])
    held.acquire()
    try:
        assert main(["--streaming", "--input", inbox, "--output", root, *runner]) == 2
        assert "lock" in capsys.readouterr().err.lower()
    finally:
        held.release()


def test_streaming_refuses_the_paths_a_batch_run_refuses(tmp_path: Path) -> None:
    """A mistyped --input folder was watched for ever (no file, no row, no error), a
    missing --feeds list read at every tick, a --state inside --output, an --output that
    cannot be written and local paths on a runner whose workers cannot see them were
    accepted; a batch run refuses each at once."""
    from newsbeam.pipeline.streaming import StreamingUsageError, streaming_config

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    root = str(tmp_path / "o")
    (tmp_path / "a-file").write_text("")
    for flags, expected in (
        (["--input", str(tmp_path / "inbxo"), "--output", root], "no such file or folder"),
        (["--input", str(tmp_path / "inbxo" / "*.html"), "--output", root], "no such"),
        (["--feeds", str(tmp_path / "feeds.txt"), "--output", root], "no such file or folder"),
        (["--input", str(inbox), "--output", root, "--state", f"{root}/state"], "apart"),
        (["--input", str(inbox), "--output", str(tmp_path / "a-file" / "o")], "is a file"),
        # Workers elsewhere: Dataflow's, or a cluster's containers (Beam's default).
        (["--input", str(inbox), "--output", root, "--runner", "DataflowRunner"], "local path"),
        (
            [
                "--input",
                str(inbox),
                "--output",
                root,
                "--runner",
                "PortableRunner",
                "--job_endpoint",
                "10.0.0.1:8099",
            ],
            "DOCKER containers",
        ),  # fmt: skip
    ):
        with pytest.raises(StreamingUsageError, match=expected):
            streaming_config(PipelineOptions(["--streaming", *flags]))
    assert not Path(root).exists()
    # A glob in an existing folder that matches nothing yet is watched, as batch lists it.
    config = streaming_config(
        PipelineOptions(["--streaming", "--input", str(inbox / "*.html"), "--output", root])
    )
    assert config.stages.inputs == (str(inbox / "*.html"),)


# --- The sources, bounded: the in-process runner runs a bounded poll as a batch of polls ----


def _collect(pcoll: Any, folder: Path, label: str) -> None:
    """Each element's text into its own file of `folder` (assert_that groups, and a
    grouping of an unbounded PCollection without windows is refused)."""
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)

    def write(text: str) -> None:
        name = hashlib.sha256(text.encode()).hexdigest()[:16]
        (folder / f"{name}.{time.monotonic_ns()}").write_text(text)

    _ = pcoll | label >> beam.Map(write)


def _collected(folder: Path) -> list[str]:
    return sorted(path.read_text() for path in folder.iterdir()) if folder.exists() else []


def test_a_polled_feed_gives_each_entry_once(tmp_path: Path) -> None:
    from newsbeam.transforms.feeds.stage import PollFeeds
    from tests.feed_server import serve, static
    from tests.test_feeds import BODY, OTHER_BODIES, rss

    with serve() as server:
        base = server.url("")
        items = [("g1", "/a/1", BODY), ("g2", "/a/2", OTHER_BODIES["bridge"])]
        server.routes["/feed.xml"] = static(rss(base, items))
        # Polled at every tick: the adaptive interval is at most the tick.
        config = _one_feed(server.url("/feed.xml"), poll_seconds=0)
        pipeline = beam.Pipeline(runner="FnApiRunner")
        documents = pipeline | beam.Create([]).with_output_types(RawDocument)
        articles, rejected, health = documents | PollFeeds(
            config, poll_seconds=0.5, stop_at=time.time() + 1.6
        )
        _collect(articles | "Sources" >> beam.Map(lambda a: a.source), tmp_path / "a", "A")
        _collect(rejected | "Reasons" >> beam.Map(lambda r: r.reason), tmp_path / "r", "R")
        _collect(health | "Status" >> beam.Map(lambda h: h.status), tmp_path / "h", "H")
        pipeline.run().wait_until_finish()
        polls = len(server.requests_to("/feed.xml"))
    assert _collected(tmp_path / "a") == [server.url("/feed.xml#g1"), server.url("/feed.xml#g2")]
    assert _collected(tmp_path / "r") == []
    # Polled again and again (a health row each time); the entries were inputs once, and
    # the same body again is not parsed again.
    assert polls >= 2 and _collected(tmp_path / "h") == sorted(["ok"] + ["unchanged"] * (polls - 1))


def test_a_feed_remembers_what_its_latest_document_listed() -> None:
    known = remembered_entries({}, ["f#1", "f#2"], 100, 150)
    assert known == {"f#1": 100, "f#2": 100}
    # A 304 (nothing parsed) lists what the latest parse listed: nothing is forgotten.
    known = remembered_entries(known, None, 200, 150)
    assert known == {"f#1": 200, "f#2": 200}
    known = remembered_entries(known, ["f#2", "f#3"], 300, 150)
    assert known == {"f#1": 200, "f#2": 300, "f#3": 300}
    assert remembered_entries(known, None, 400, 150) == {"f#2": 400, "f#3": 400}
    assert remembered_entries({}, None, 10, 150) == {}


def _one_feed(url: str, poll_seconds: int) -> FeedsConfig:
    """One feed on 127.0.0.1, its entries' pages not fetched, first polled (and never more
    often than) every `poll_seconds`."""
    from newsbeam.transforms.feeds.fetch import FetchConfig

    return FeedsConfig(
        feed_urls=(url,),
        fetch_pages=False,
        fetch=FetchConfig(allow_hosts=("127.0.0.1",)),
        min_poll_seconds=poll_seconds,
        initial_poll_seconds=poll_seconds,
    )


def _poll(config: FeedsConfig, state: StateContext | None, seconds: float, tick: float) -> Any:
    """Run PollFeeds bounded (`seconds` of ticks every `tick`) on the FnApiRunner; returns
    (article sources, health rows as "status bytes", rejected reasons, counters)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="poll-") as collected:
        return _poll_into(Path(collected), config, state, seconds, tick)


def _poll_into(
    folder: Path, config: FeedsConfig, state: StateContext | None, seconds: float, tick: float
) -> Any:
    from apache_beam.metrics.metric import MetricsFilter

    from newsbeam.transforms.feeds.stage import PollFeeds
    from newsbeam.transforms.support.failures import METRICS_NAMESPACE

    pipeline = beam.Pipeline(runner="FnApiRunner")
    documents = pipeline | beam.Create([]).with_output_types(RawDocument)
    articles, rejected, health = documents | PollFeeds(
        config, state=state, poll_seconds=tick, stop_at=time.time() + seconds
    )
    _collect(articles | "Sources" >> beam.Map(lambda a: a.source), folder / "a", "A")
    _collect(rejected | "Reasons" >> beam.Map(lambda r: r.reason), folder / "r", "R")
    _collect(
        health | "Status" >> beam.Map(lambda h: f"{h.run_at.isoformat()} {h.status} {h.bytes}"),
        folder / "h",
        "H",
    )
    result = pipeline.run()
    result.wait_until_finish()
    # The FnApiRunner runs PeriodicImpulse by re-running its residual in a loop (about 330
    # bundles a second, not one per tick), and Beam 2.77 chains each bundle's metrics onto
    # the previous ones as one more nested generator: reading them recurses once per
    # bundle, past Python's default limit of 1,000 after ~3 s. Only this test runs the
    # poller in-process (`--streaming` refuses the in-process runners).
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    finally:
        sys.setrecursionlimit(limit)
    counters: dict[str, int] = {}
    for found in query["counters"]:
        name = found.key.metric.name
        counters[name] = counters.get(name, 0) + int(found.committed or found.attempted or 0)
    health_rows = [line.split(" ", 1)[1] for line in _collected(folder / "h")]
    # _collected sorts by text: the ISO run_at first gives the polls in order.
    return _collected(folder / "a"), health_rows, _collected(folder / "r"), counters


def test_polls_are_conditional_and_wait_for_the_adaptive_interval() -> None:
    from tests.feed_server import Request, serve
    from tests.test_feeds import BODY, OTHER_BODIES, rss

    answers: list[int] = []
    with serve() as server:
        base = server.url("")
        versions = {
            '"v1"': ("Tue, 01 Dec 2026 10:00:00 GMT", [("g1", "/a/1", BODY)]),
            '"v2"': (
                "Tue, 01 Dec 2026 11:00:00 GMT",
                [("g1", "/a/1", BODY), ("g2", "/a/2", OTHER_BODIES["bridge"])],
            ),
        }

        def route(request: Request) -> tuple[int, dict[str, str], bytes]:
            # v1 for the first two requests, then v2: a 304 to whoever has the current one.
            etag = '"v1"' if request.hit <= 2 else '"v2"'
            modified, items = versions[etag]
            if request.headers.get("if-none-match") == etag:
                answers.append(304)
                return 304, {"ETag": etag, "Last-Modified": modified}, b""
            answers.append(200)
            headers = {
                "Content-Type": "application/rss+xml",
                "ETag": etag,
                "Last-Modified": modified,
            }
            return 200, headers, rss(base, items)

        server.routes["/feed.xml"] = route
        config = _one_feed(server.url("/feed.xml"), poll_seconds=1)
        articles, health, rejected, counters = _poll(config, None, seconds=3.4, tick=0.25)
        requests = server.requests_to("/feed.xml")
    # Ticks every 0.25 s, but the feed's interval is 1 s (it never drops below
    # min_poll_seconds): most ticks poll nothing.
    assert 3 <= len(requests) <= 5, len(requests)
    assert counters["feeds_fetched"] == len(requests) and counters["feeds_not_due"] >= 6
    # The first poll knows nothing; every later one sends what the last 200 said.
    assert "if-none-match" not in requests[0].headers
    assert "if-modified-since" not in requests[0].headers
    for before, request in zip(requests, requests[1:], strict=False):
        answered = '"v1"' if before.hit <= 2 else '"v2"'
        if answers[before.hit - 1] == 200:
            last = answered
        assert request.headers["if-none-match"] == last
        assert request.headers["if-modified-since"] == versions[last][0]
    assert answers[:3] == [200, 304, 200]
    # A 304 costs no body and no parse; each entry is an input once.
    statuses = [{200: "ok", 304: "not_modified"}[answer] for answer in answers]
    assert [row.split(" ")[0] for row in health] == statuses
    assert all(row.endswith(" 0") for row in health if row.startswith("not_modified"))
    assert articles == [server.url("/feed.xml#g1"), server.url("/feed.xml#g2")]
    assert rejected == []


def test_polling_starts_from_the_feed_state_of_an_earlier_batch(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from newsbeam.schemas.feeds import FeedState, SeenEntry
    from newsbeam.transforms.support.state import FEED_STATE, SEEN_ENTRIES, make_context, stamped
    from tests.feed_server import Request, serve
    from tests.test_feeds import BODY, OTHER_BODIES, rss

    with serve() as server:
        base, url = server.url(""), server.url("/feed.xml")
        items = [("g1", "/a/1", BODY), ("g2", "/a/2", OTHER_BODIES["bridge"])]

        def route(request: Request) -> tuple[int, dict[str, str], bytes]:
            if request.headers.get("if-none-match") == '"v2"':
                return 304, {"ETag": '"v2"'}, b""
            headers = {"Content-Type": "application/rss+xml", "ETag": '"v2"'}
            return 200, headers, rss(base, items)

        server.routes["/feed.xml"] = route
        run_at = dt.datetime.now(UTC) - dt.timedelta(hours=2)
        # The batch saw g1 with ETag v1, and polled it two hours ago (due again); its
        # interval (2 s, halved after new entries) carries on.
        feed = FeedState(url, '"v1"', "Mon, 30 Nov 2026 10:00:00 GMT", None, run_at, run_at,
                         0, 2, run_at + dt.timedelta(seconds=2))  # fmt: skip
        seen = SeenEntry(url, "g1", run_at, run_at)
        for table, row in ((FEED_STATE, feed._asdict()), (SEEN_ENTRIES, seen._asdict())):
            path = tmp_path / "state" / table.path
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist([row], schema=stamped(table.schema)), str(path))
        state = make_context(str(tmp_path / "state"), None, dt.datetime.now(UTC))
        config = _one_feed(url, poll_seconds=1)
        articles, health, _, counters = _poll(config, state, seconds=1.5, tick=0.25)
        requests = server.requests_to("/feed.xml")
    first, *later = requests
    assert first.headers["if-none-match"] == '"v1"'
    assert first.headers["if-modified-since"] == "Mon, 30 Nov 2026 10:00:00 GMT"
    assert later and all(r.headers["if-none-match"] == '"v2"' for r in later)
    assert counters["feeds_not_due"] >= 2  # ticks inside the 1 s interval
    # g1 was the batch's: only g2 is new.
    assert articles == [server.url("/feed.xml#g2")]
    assert [row.split(" ")[0] for row in health] == ["ok"] + ["not_modified"] * len(later)


def test_a_watched_folder_reads_each_finished_file_once(tmp_path: Path) -> None:

    inbox = tmp_path / "inbox"
    (inbox / "deep").mkdir(parents=True)
    (inbox / "one.txt").write_text(FIRE)
    (inbox / "deep" / "two.txt").write_text(VOTE)
    (inbox / "three.txt.part").write_text(CHESS)  # still being written: not read
    names, reasons = _watched(inbox, tmp_path, 0.5, 1.6, lambda d: Path(d.source).name)
    assert (names, reasons) == (["one.txt", "two.txt"], [])


def test_a_watched_folder_reads_nothing_through_a_link_out_of_it(tmp_path: Path) -> None:
    # Review 69: as a batch run, a watch reads no file a link leads to outside the watched
    # folder (a planted link to the operator's files): a link_outside row instead.
    inbox = tmp_path / "inbox"
    (inbox / "deep").mkdir(parents=True)
    (inbox / "one.txt").write_text(FIRE)
    (tmp_path / "private.txt").write_text(VOTE)
    (inbox / "planted.txt").symlink_to(tmp_path / "private.txt")
    (inbox / "deep" / "alias.txt").symlink_to(inbox / "one.txt")  # inside: read
    names, rows = _watched(
        inbox, tmp_path, 0.5, 1.6, lambda d: Path(d.source).name,
        lambda r: f"{Path(r.source).name} {r.reason}",
    )  # fmt: skip
    assert (names, rows) == (["alias.txt", "one.txt"], ["planted.txt link_outside"])


def test_a_watched_folder_does_not_read_newsbeam_folders_inside_it(tmp_path: Path) -> None:
    """The job's ROOT inside its inbox (and a state folder there): a watch matches files,
    so its manifests, Parquet files and report were read back at every poll, each read a
    row of a new window to commit, whose files the next poll read (a loop)."""

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "one.txt").write_text(FIRE)
    root = str(inbox / "out")
    start = micros_of(BASE)
    rows = {"articles": [to_row(_article("a.txt", VOTE))]}
    commit_window(root, rows, start, start + 300 * SECOND, start + 300 * SECOND)
    assert main(["report", "--output", root]) == 0  # ROOT/report.html
    state = inbox / "state"
    state.mkdir()
    (state / "CURRENT.json").write_text('{"state_version": 3, "version": "v1"}')
    (state / "v1.txt").write_text(VOTE)
    names, sources = _watched(
        inbox, tmp_path, 0.5, 1.6, lambda d: Path(d.source).name, lambda r: r.source
    )
    assert (names, sources) == (["one.txt"], [])


def test_newsbeam_folders_are_found_between_the_watched_folder_and_the_file(
    tmp_path: Path,
) -> None:
    marker = b'{"format": "newsbeam-dataset"}'
    markers = {"/in/out/_newsbeam_dataset.json": marker, "out/_newsbeam_dataset.json": marker}
    read = markers.get
    assert newsbeam_ancestor("/in/out/articles/d=1/x.parquet", ["/in"], read) == "/in/out"
    assert newsbeam_ancestor("/in/out/report.html", ["/in/"], read) == "/in/out"
    assert newsbeam_ancestor("/in/news/x.html", ["/in"], read) is None
    # The watched folder itself, and a relative watch of the working folder.
    assert newsbeam_ancestor("/in/out/x.html", ["/in/out"], read) == "/in/out"
    assert newsbeam_ancestor("out/_runs/x.json", [""], read) == "out"
    assert watched_folder(str(tmp_path)) == str(tmp_path)
    assert watched_folder("/in/*/news/*.html") == "/in"
    assert watched_folder("s3://bucket/inbox/") == "s3://bucket/inbox"


def test_a_watched_file_replaced_under_its_name_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corrected story saved over its file (or deleted and written again): the watch
    keyed files by path alone, so the new version was never read, and no row of any table
    said so. (The in-process runner polls without waiting: the file changes after the
    second match.)"""
    import os

    from apache_beam.io.filesystems import FileSystems

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    story = inbox / "story.txt"
    story.write_text(FIRE)
    match = FileSystems.match
    matches = []

    def match_then_replace(patterns: list[str], *args: Any, **kwargs: Any) -> Any:
        matches.append(patterns)
        if len(matches) == 3:
            story.write_text(FIRE_REWRITE)
            os.utime(story, (time.time() + 10, time.time() + 10))
        return match(patterns, *args, **kwargs)

    monkeypatch.setattr(FileSystems, "match", match_then_replace)
    texts, _ = _watched(inbox, tmp_path, 0.2, 2, lambda d: d.content.decode()[:20])
    assert len(matches) >= 4
    assert texts == sorted([FIRE[:20], FIRE_REWRITE[:20]])


def test_a_watched_file_saved_again_gives_only_what_is_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON-lines file appended to gives its new lines only (numbered on), as a batch
    run with --state reads it; a file saved again with the same bytes gives nothing. Read
    whole again, every earlier line came back as an exact copy of itself (a duplicates row
    each), at every append."""
    import os

    from apache_beam.io.filesystems import FileSystems

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wire, story = inbox / "wire.jsonl", inbox / "story.txt"
    wire.write_text(json.dumps({"text": FIRE}) + "\n")
    story.write_text(VOTE)
    match = FileSystems.match
    matches = []

    def match_then_append(patterns: list[str], *args: Any, **kwargs: Any) -> Any:
        matches.append(patterns)
        if len(matches) == 3:
            with wire.open("a") as handle:
                handle.write(json.dumps({"text": CHESS}) + "\n")
            story.write_text(VOTE)  # the same bytes, saved again
            for path in (wire, story):
                os.utime(path, (time.time() + 10, time.time() + 10))
        return match(patterns, *args, **kwargs)

    monkeypatch.setattr(FileSystems, "match", match_then_append)
    read, reasons = _watched(
        inbox, tmp_path, 0.2, 2, lambda d: f"{Path(d.source).name} {d.content[:20]!r}"
    )
    assert len(matches) >= 4
    assert read == sorted(
        [
            f"story.txt {VOTE[:20].encode()!r}",
            f"wire.jsonl#L1 {json.dumps({'text': FIRE})[:20].encode()!r}",
            f"wire.jsonl#L2 {json.dumps({'text': CHESS})[:20].encode()!r}",
        ]
    )
    assert reasons == []


def _watched(
    inbox: Path,
    tmp_path: Path,
    poll_seconds: float,
    seconds: float,
    document: Callable[[RawDocument], str],
    rejection: Callable[[Any], str] = lambda row: row.reason,
) -> tuple[list[str], list[str]]:
    """A watch of `inbox` for `seconds`, polled every `poll_seconds`, on the in-process
    runner: `document` of each document read and `rejection` of each rejected row, sorted."""
    from newsbeam.transforms.read import WatchInputs

    pipeline = beam.Pipeline(runner="FnApiRunner")
    documents, rejected = pipeline | WatchInputs(
        [str(inbox)], poll_seconds=poll_seconds, stop_at=time.time() + seconds
    )
    _collect(documents | "Documents" >> beam.Map(document), tmp_path / "d", "D")
    _collect(rejected | "Rejected" >> beam.Map(rejection), tmp_path / "r", "R")
    pipeline.run().wait_until_finish()
    return _collected(tmp_path / "d"), _collected(tmp_path / "r")


def _sources_by_table(root: str, manifest: dict[str, Any]) -> dict[str, list[str]]:
    return {
        table: sorted(row["source"] for row in _rows(root, manifest, table))
        for table in manifest["tables"]
    }


@pytest.mark.slow  # loads every stage's models: about 30 s under load
def test_the_whole_streaming_graph_runs_under_test_stream(tmp_path: Path) -> None:
    """Every stage of `--streaming` (extract, clean, language, topics, places included)
    on the BundleBasedDirectRunner, documents arriving as a TestStream in two windows."""
    root = tmp_path / "root"
    page = f"<html><head><title>Fire</title></head><body><article><p>{FIRE}</p></article>"
    documents = [
        RawDocument("inbox/fire.html", "html", page.encode()),
        RawDocument("inbox/fire-copy.txt", "text", FIRE.encode()),
        RawDocument("inbox/empty.txt", "text", b"   "),
        RawDocument("inbox/vote.txt", "text", VOTE.encode()),
    ]
    stream = (
        BeamTestStream()
        .advance_watermark_to(Timestamp(micros=micros_of(BASE)))
        .add_elements([_at(documents[0], 10), _at(documents[1], 20), _at(documents[2], 30)])
        .advance_watermark_to(Timestamp(micros=micros_of(BASE) + 400 * SECOND))
        .add_elements([_at(documents[3], 410)])
        .advance_watermark_to_infinity()
    )
    config = _streaming_config(tmp_path)
    with beam.Pipeline(options=_streaming_options()) as pipeline:
        build_streaming(pipeline, config, pipeline | stream)
    runs = _committed(str(root))
    assert sorted(runs) == ["stream-20261201T000000Z", "stream-20261201T000500Z"]
    first = _sources_by_table(str(root), runs["stream-20261201T000000Z"])
    assert first["articles"] == ["inbox/fire.html"]
    assert first["duplicates"] == ["inbox/fire-copy.txt"]
    assert first["rejected"] == ["inbox/empty.txt"]
    (fire,) = _rows(str(root), runs["stream-20261201T000000Z"], "articles")
    assert (fire["duplicate_count"], list(fire["duplicate_sources"])) == (
        1,
        ["inbox/fire-copy.txt"],
    )
    counters = runs["stream-20261201T000000Z"]["counters"]
    assert (counters["read_inputs"], counters["dedup_in"], counters["dedup_exact"]) == (3, 2, 1)
    (empty,) = _rows(str(root), runs["stream-20261201T000000Z"], "rejected")
    assert counters[f"{empty['stage']}_dropped_{empty['reason']}"] == 1
    second = _sources_by_table(str(root), runs["stream-20261201T000500Z"])
    assert second["articles"] == ["inbox/vote.txt"]
    (vote,) = _rows(str(root), runs["stream-20261201T000500Z"], "articles")
    assert vote["language"] == "en" and vote["places"] and vote["topics"]


def test_a_source_read_twice_as_a_copy_in_a_stream_has_two_copy_ids(tmp_path: Path) -> None:
    """Review 50: a stream's copies were named by their canonical and source only (a batch
    run with --state adds its run id), so a watched file saved again and read again as a
    copy of the same article repeated its duplicates key (article_id, canonical_id) in the
    warehouse. The read's moment names it now: two reads, two ids; the same read, one."""
    root = str(tmp_path / "root")
    kept = _article("wire.txt", FIRE)
    first = _article("copy.txt", FIRE)._replace(ingested_at=BASE + dt.timedelta(seconds=20))
    again = first._replace(ingested_at=BASE + dt.timedelta(seconds=40))
    stream = (
        BeamTestStream()
        .advance_watermark_to(Timestamp(micros=micros_of(BASE)))
        .add_elements([_at(kept, 10), _at(first, 20), _at(again, 40)])
        .advance_watermark_to_infinity()
    )
    window = WindowConfig(window_seconds=300, allowed_lateness_seconds=0, ttl_days=1)
    with beam.Pipeline(options=_streaming_options()) as pipeline:
        articles, duplicates = (
            pipeline
            | stream
            | "EventTime" >> AssignEventTime()
            | "Dedup" >> DeduplicateStream(DedupConfig(), StateContext(), window.ttl_micros)
        )
        tables = {
            "articles": articles,
            "duplicates": duplicates,
            "rejected": pipeline | "NoRejected" >> beam.Create([]),
            "feed_health": pipeline | "NoHealth" >> beam.Create([]),
        }
        panes_ = tables | "Stories" >> ClusterStoriesStream(StoryConfig(), StateContext(), window)
        _ = panes_ | "Commit" >> CommitWindows(root)
    (manifest,) = _committed(root).values()
    copies = _rows(root, manifest, "duplicates")
    assert [(c["source"], c["canonical_id"]) for c in copies] == [("copy.txt", kept.article_id)] * 2
    assert len({c["article_id"] for c in copies}) == 2
    assert kept.article_id not in {c["article_id"] for c in copies}


def test_deduplicate_articles_finds_copies_window_by_window_under_test_stream(
    tmp_path: Path,
) -> None:
    """DeduplicateArticles on windowed articles from a TestStream, on the
    BundleBasedDirectRunner (what a library user tests a streaming pipeline on): it failed
    in an executor thread (`'NoneType' object has no attribute 'max_timestamp'`, a windowed
    side input read by a step that got an empty bundle) and the pipeline then hung. Its
    copies are resolved by joins in windows now, to what a batch of the window's articles
    gives (exact copies of same-URL and near copies, a same-URL copy of a near copy); in
    the next window a text seen before is a new article (a window is a run of its own)."""
    from apache_beam.testing.util import assert_that, equal_to
    from apache_beam.transforms.window import FixedWindows

    from newsbeam.transforms.dedup import DeduplicateArticles

    def at_url(source: str, text: str, url: str) -> Article:
        return clean_article(new_article(source, text=text, url=url))

    near_fire = "Updated at 10:00. " + FIRE.replace("six hours", "seven hours")
    MUSEUM = "https://news.example/museum"  # noqa: N806
    first = [
        at_url("a1", FIRE, "https://news.example/fire"),
        _article("a2", FIRE),
        at_url("page", CHESS, "https://news.example/fire"),
        _article("page-copy", CHESS),
        at_url("near", near_fire, "https://news.example/fire-update"),
        _article("near-copy", near_fire),
        at_url("same-page", VOTE + " Corrected.", "https://news.example/fire-update"),
        _article("b1", VOTE),
        # Two renderings of one page, texts apart: a same-URL copy.
        at_url("museum", "The Porto museum of modern art reopens on Saturday.", MUSEUM),
        at_url("museum-2", "Tickets for the Porto museum are free this week.", MUSEUM),
    ]
    again = _article("again", VOTE)

    def tables(kept: Any, duplicates: Any) -> tuple[Any, Any]:
        return (
            kept | "Kept" >> beam.Map(lambda a: (a.source, a.duplicate_count)),
            duplicates | "Copies" >> beam.Map(lambda d: (d.source, d.method, d.canonical_id)),
        )

    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as pipeline:
        kept, copies = tables(*(pipeline | beam.Create(first) | DeduplicateArticles()))
        _collect(kept | "KeptText" >> beam.Map(json.dumps), tmp_path / "kept", "KeptOut")
        _collect(copies | "CopiesText" >> beam.Map(json.dumps), tmp_path / "copies", "CopiesOut")
    batch = {
        name: [tuple(json.loads(text)) for text in _collected(tmp_path / name)]
        for name in ("kept", "copies")
    }
    assert len(batch["copies"]) >= 4, batch  # exact, same-URL and near copies among them
    assert {method for _, method, _ in batch["copies"]} == {"exact", "url", "near"}, batch

    stream = (
        BeamTestStream()
        .advance_watermark_to(Timestamp(micros=micros_of(BASE)))
        .add_elements([_at(article, 10 + i) for i, article in enumerate(first)])
        .advance_watermark_to(Timestamp(micros=micros_of(BASE) + 400 * SECOND))
        .add_elements([_at(again, 410)])
        .advance_watermark_to_infinity()
    )
    with beam.Pipeline(options=_streaming_options()) as pipeline:
        articles = pipeline | stream | beam.WindowInto(FixedWindows(300))
        kept, copies = tables(*(articles | DeduplicateArticles()))
        assert_that(kept, equal_to([*batch["kept"], ("again", 0)]), label="kept")
        assert_that(copies, equal_to(batch["copies"]), label="copies")


def test_stream_copy_keeps_templated_briefs_apart() -> None:
    """Two towns' weather briefs from one template share their advisory: the stream compares
    their names and numbers as the batch does (review 60), and a true copy still folds."""
    config = DedupConfig()
    advisory = (
        " Residents are advised to check the latest forecast before travelling, to allow extra"
        " time for journeys, and to follow the advice of local authorities and emergency"
        " services. Further updates will be issued as the situation develops through the day."
    )
    brief = "Weather warning for {}: heavy rain is expected on {}, with up to {} millimetres."
    leeds = _article("leeds.txt", brief.format("Leeds", "Friday 4 June", 16) + advisory)
    york = _article("york.txt", brief.format("York", "Monday 7 June", 40) + advisory)
    kept = stream_entry(fingerprint_of(leeds, config), leeds.content_hash, None, config, 10)
    york_print = fingerprint_of(york, config)
    assert stream_copy(york_print, york.content_hash, None, [kept], config) is None
    again = _article("again.txt", leeds.text + " Leeds City Council opened a helpline.")
    copy = stream_copy(fingerprint_of(again, config), again.content_hash, None, [kept], config)
    assert copy is not None and copy.method == "near"
