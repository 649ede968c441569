"""Follow mode (pipeline/follow.py): its decisions as pure functions, the stable-size check
in process, and the command end to end as real subprocesses against a feed server on
127.0.0.1: files appearing while it runs, a feed gaining entries between polls, nothing read
twice, SIGTERM and SIGKILL in the middle of a batch, and --max_runtime."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from newsbeam.pipeline import dataset, follow
from newsbeam.pipeline import run as pipeline_run
from newsbeam.schemas.feeds import FeedState
from newsbeam.transforms.feeds.polling import previous_feed_state
from newsbeam.transforms.read import as_input, list_input
from newsbeam.transforms.support import loaded
from tests.feed_server import Request, Response, serve
from tests.helpers import ended_by_signals

# --- Pure decisions -------------------------------------------------------------------------


def test_temporary_names_are_never_picked() -> None:
    for name in (".a.html.tmp", ".a.html.Xy12Z", "a.html.part", "a.crdownload", "a.txt~"):
        assert follow.is_temporary_name(f"inbox/{name}"), name
    for name in ("a.html", "a.tmp.html", "part.txt", "x.jsonl.gz"):
        assert not follow.is_temporary_name(f"inbox/{name}"), name


def test_new_files_are_those_the_state_has_not_read_as_they_are() -> None:
    second = 1_700_000_000
    listing = {
        "in/old.txt": follow.Stat(10, second * 10**9 + 5),  # same second as recorded
        "in/grown.txt": follow.Stat(11, second * 10**9),
        "in/touched.txt": follow.Stat(10, (second + 1) * 10**9),
        "in/new.txt": follow.Stat(3, second * 10**9),
        "in/.new.txt.tmp": follow.Stat(3, second * 10**9),
    }
    seen = {
        "in/old.txt": (10, second),
        "in/grown.txt": (10, second),
        "in/touched.txt": (10, second),
    }
    assert sorted(follow.new_files(listing, seen)) == [
        "in/grown.txt",
        "in/new.txt",
        "in/touched.txt",
    ]


def test_a_file_is_complete_when_two_listings_agree() -> None:
    now = follow.Stat(5, 2), follow.Stat(9, 3)
    done, changing = follow.stable(
        {"a": now[0], "b": now[1], "c": now[1]}, {"a": now[0], "b": follow.Stat(4, 3)}
    )
    assert list(done) == ["a"]
    assert sorted(changing) == ["b", "c"]


def _feed_state(url: str, next_poll_at: dt.datetime | None) -> dict[str, Any]:
    return FeedState(url, None, None, None, None, None, 0, 60, next_poll_at)._asdict()


def test_due_feeds_by_their_next_poll_time() -> None:
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)
    feeds = previous_feed_state(
        [
            _feed_state("http://h/later", now + dt.timedelta(seconds=1)),
            _feed_state("http://h/past", now - dt.timedelta(seconds=1)),
            _feed_state("http://h/unknown", None),
        ],
        [],
    )
    urls = [
        "http://h/later",
        "http://h/past",
        "http://h/unknown",
        "http://h/never",
        "http://h/past",
    ]
    assert follow.due_feeds(urls, feeds, now) == [
        "http://h/never",
        "http://h/past",
        "http://h/unknown",
    ]


def test_files_still_listed_are_named_again_before_their_seen_rows_expire() -> None:
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)
    stat = follow.Stat
    listing = {"/in/old": stat(10, 5_000_000_000), "/in/recent": stat(20, 6_000_000_000),
               "/in/changed": stat(31, 7_000_000_000), "/in/.tmp": stat(1, 0)}  # fmt: skip
    seen = {"/in/old": (10, 5), "/in/recent": (20, 6), "/in/changed": (30, 7), "/in/.tmp": (1, 0)}
    hours = {"/in/old": 13, "/in/recent": 11, "/in/changed": 13, "/in/.tmp": 13}
    listed = {path: now - dt.timedelta(hours=h) for path, h in hours.items()}
    assert follow.to_refresh(listing, seen, listed, now, keep_days=1) == ["/in/old"]
    assert follow.to_refresh(listing, seen, listed, now, keep_days=0) == []  # nothing expires


def test_a_file_with_glob_characters_is_named_as_itself(tmp_path: Path) -> None:
    odd = tmp_path / "a[1]*b?.txt"
    odd.write_text("text")
    (tmp_path / "a1xb!.txt").write_text("another file the unescaped glob would match")
    listed = [item[0].path for item in list_input(as_input(str(odd)))]  # type: ignore[index]
    assert listed == [str(odd)]


def test_only_regular_files_are_listed(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("an article")
    os.mkfifo(tmp_path / "pipe.txt")  # opening it to read would block
    (tmp_path / "broken.txt").symlink_to(tmp_path / "gone.txt")
    listed = follow.list_files([str(tmp_path)])
    assert list(listed) == [str(tmp_path / "a.txt")]
    assert listed[str(tmp_path / "a.txt")].size == len("an article")


def test_follow_mode_lists_no_file_through_a_link_out_of_its_folder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Review 69: as a batch run, follow mode reads no file a link leads to outside the
    # watched folder (said once in the log), unless --follow_outside_links.
    inbox, secret = tmp_path / "inbox", tmp_path / "private.txt"
    inbox.mkdir()
    secret.write_text("private")
    (inbox / "a.txt").write_text("an article")
    (inbox / "planted.txt").symlink_to(secret)
    assert list(follow.list_files([str(inbox)], set())) == [str(inbox / "a.txt")]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("planted.txt: link_outside (symbolic link to" in w for w in warnings), warnings
    both = follow.list_files([str(inbox)], set(), outside_links=True)
    assert sorted(both) == [str(inbox / "a.txt"), str(inbox / "planted.txt")]


def test_what_follow_mode_cannot_read_is_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A broken link, an --input that is gone: no file to batch, and before, not a word.
    (tmp_path / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    gone = tmp_path / "inbox-removed"
    logged: set = set()
    for _ in range(3):  # three batches' listings
        assert follow.list_files([str(tmp_path), str(gone)], logged) == {}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sorted(warnings) == sorted([
        f"follow: --input {gone}: not_found (gone: no such file or folder)",
        f"follow: --input {tmp_path / 'broken.txt'}: unreadable (broken symbolic link "
        f"(to {str(tmp_path / 'nowhere.txt')!r}))",
    ])  # fmt: skip


def test_batch_line_says_what_the_batch_did() -> None:
    manifest = {
        "run_id": "20261201T120000000000Z",
        "counts": {"inputs": 5, "articles": 3, "duplicates": 1, "rejected": 1, "balanced": True},
        "counters": {"feeds_fetched": 2},
    }
    line = follow.batch_line(manifest, new=4, feeds=2, latency=1.234)
    assert line == (
        "batch 20261201T120000000000Z: 4 new files, 5 inputs, 3 articles, 1 duplicates, "
        "1 rejected, 2 of 2 due feeds polled, 1.23 s"
    )
    manifest["counts"]["balanced"] = False
    assert "WARNING" in follow.batch_line(manifest, new=4, feeds=2, latency=1.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--follow"], "--follow needs --state"),
        (["--follow", "--state", "S", "--run_id", "x"], "drop --run_id"),
        (["--follow", "--state", "S", "--fail_on_rejected", "0.5"], "--follow keeps running"),
        (["--follow", "--state", "S", "--interval", "0"], "--interval must be positive"),
        (["--follow", "--state", "S", "--max_runtime", "-1"], "--max_runtime must be positive"),
        (["--interval", "5"], "--interval applies to --follow only"),
        (["--min_poll_seconds", "0"], "--min_poll_seconds must be between"),
    ],
)
def test_follow_usage_errors(tmp_path: Path, extra: list[str], message: str) -> None:
    argv = ["--input", str(tmp_path), "--output", str(tmp_path / "out"), *extra]
    with pytest.raises(pipeline_run.UsageError, match=message):
        pipeline_run.parse_options(argv)


def test_a_follow_process_that_cannot_start_says_why_in_one_line(
    seeds_dir: Path, tmp_path: Path
) -> None:
    # Its lock could not be written (here a name too long for it; a full disk or a parent
    # it may not write in alike): a batch run says so in one line and exits 1; the follow
    # process ended with the raw traceback (30 lines in the journal of a systemd service
    # that restarts it every 30 s), not the line its failed batches get.
    output = tmp_path / ("o" * 245)  # a folder name, but its lock's name is too long
    completed = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", "--follow", "--max_runtime", "5",
         "--input", str(seeds_dir), "--output", str(output), "--state", str(tmp_path / "s")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert "follow: the run failed: OSError: [Errno 36] File name too long" in lines[-1]
    assert "check free space and permissions" in lines[-1]


def test_heavy_objects_load_once_per_key() -> None:
    made: list[int] = []

    def make(value: int) -> Callable[[], object]:
        def load() -> object:
            made.append(value)
            return object()

        return load

    try:
        first = loaded.load_once("test-thing", 1, make(1))
        assert loaded.load_once("test-thing", 1, make(1)) is first
        other = loaded.load_once("test-thing", 2, make(2))  # a changed config: loaded again
        assert other is not first
        assert loaded.load_once("test-thing", 2, make(2)) is other
        assert made == [1, 2]
    finally:
        loaded.forget("test-thing")


# --- The stable-size check, in process --------------------------------------------------------


def test_a_file_still_being_written_waits_for_the_next_batch(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "done.txt").write_text("complete " * 20)
    growing = inbox / "growing.txt"
    growing.write_text("first half ")
    (inbox / ".hidden.txt.tmp").write_text("being written under a temporary name")
    argv = ["--follow", "--input", str(inbox), "--output", str(tmp_path / "out")]
    target = pipeline_run.prepare([*argv, "--state", str(tmp_path / "state")])

    def writer(seconds: float) -> None:  # the writer goes on while follow mode settles
        with growing.open("a") as handle:
            handle.write("second half " * 10)

    follower = follow.Follower(target, lock=None, settle=0.01, sleep=writer)
    first = follower.plan()
    assert list(first.files) == [str(inbox / "done.txt")]
    assert not first.feeds
    second = follower.plan()  # nothing written since: the grown file is complete now
    assert str(growing) in second.files
    assert second.files[str(growing)].size == growing.stat().st_size


def test_a_file_that_stays_in_the_inbox_is_not_read_again_after_a_restart(
    tmp_path: Path,
) -> None:
    """With --state_keep_days, a follow batch (which names its new files only) let the seen
    rows of the files that stayed in the inbox expire: the next start read them all again
    (duplicates rows). A batch now names those near expiry too, which records them."""
    inbox, root = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "budget.txt").write_text(TEXTS["budget"])
    argv = ["--follow", "--input", str(inbox), "--output", str(root)]
    argv += ["--state", str(tmp_path / "state"), "--state_keep_days", str(3 / 86400)]
    target = pipeline_run.prepare(argv)
    with pipeline_run.locked(target) as lock:
        follower = follow.Follower(target, lock, settle=0.01)
        follower.run(follower.plan())
        time.sleep(3)  # the retention: budget.txt was last listed longer ago
        (inbox / "harbour.txt").write_text(TEXTS["harbour"])
        batch = follower.run(follower.plan())
        restarted = follow.Follower(target, lock, settle=0.01)
        assert restarted.plan().files == {}  # was budget.txt, read again
        assert batch.refresh == [str(inbox / "budget.txt")]
        assert batch.manifest is not None and batch.manifest["follow"]["new_files"] == 1
    assert _sources(root) == {str(inbox / "budget.txt"): 1, str(inbox / "harbour.txt"): 1}


def test_a_file_deleted_after_its_batch_listed_it_is_rejected_as_gone(tmp_path: Path) -> None:
    """A file the batch named but that was deleted before it was read is a rejected row
    whose detail said "no file matches this input (NewsBeam's own folders are not read)":
    about folders, for a file that was there a moment before. It now says it is gone."""
    inbox, root = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "flood.txt").write_text(TEXTS["flood"])
    argv = ["--follow", "--input", str(inbox), "--output", str(root)]
    target = pipeline_run.prepare([*argv, "--state", str(tmp_path / "state")])
    with pipeline_run.locked(target) as lock:
        follower = follow.Follower(target, lock, settle=0.01)
        batch = follower.plan()
        (inbox / "flood.txt").unlink()  # a spool cleaner, a writer taking it back
        follower.run(batch)
    (manifest,) = dataset.committed_runs(str(root))
    (path,) = dataset.data_files(str(root), manifest, "rejected")
    rows = duckdb.sql(f"SELECT source, reason, detail FROM '{path}'").fetchall()
    gone = "gone: no such file now (deleted or moved after it was listed)"
    assert rows == [(str(inbox / "flood.txt"), "not_found", gone)]
    from newsbeam.transforms.read import not_found_detail

    assert not_found_detail(str(inbox / "*.txt")).startswith("no file matches")  # a glob
    assert not_found_detail(str(tmp_path)).startswith("no file matches")  # there, but empty


def test_feed_changes_are_said_once_per_change() -> None:
    at = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    ok = FeedState("http://f/a", None, None, None, at, None, 0, 900, at)
    failed = ok._replace(consecutive_failures=1, next_poll_at=at + dt.timedelta(seconds=1800))
    still = failed._replace(consecutive_failures=3)
    errors = {"http://f/a": "http_error"}
    said = follow.feed_changes({"http://f/a": ok}, {"http://f/a": failed}, errors)
    expected = "follow: feed http://f/a failed (http_error); polled again in 1800 s, backing "
    assert said == [(logging.WARNING, expected + "off while it fails")]
    assert follow.feed_changes({}, {"http://f/a": failed}, errors)[0][0] == logging.WARNING
    assert follow.feed_changes({"http://f/a": failed}, {"http://f/a": still}, errors) == []
    assert follow.feed_changes({"http://f/a": still}, {"http://f/a": ok}, {}) == [
        (logging.INFO, "follow: feed http://f/a answers again after 3 failed polls")
    ]
    assert follow.feed_changes({"http://f/a": ok}, {"http://f/a": ok}, {}) == []


def _feed_batches(argv: list[str], count: int) -> None:
    """`count` batches of follow mode (`argv`) in this process, each run once a feed is due
    (polled until then: the feeds' intervals are a second here)."""
    target = pipeline_run.prepare(argv)
    with pipeline_run.locked(target) as lock:
        follower = follow.Follower(target, lock, settle=0.01)
        for _ in range(count):
            while not (batch := follower.plan()).feeds:
                time.sleep(0.1)
            follower.run(batch)


def test_a_feed_that_fails_and_recovers_is_logged_once_each_way(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A feed that stopped answering said nothing in follow mode's log (only the batch
    line's count of feeds polled): its health rows alone told. Its first failure is now a
    warning with the error, its recovery one line; the polls in between say nothing."""
    caplog.set_level(logging.INFO, logger="newsbeam")
    answers = iter([503, 200])

    def route(request: Request) -> Response:
        status = next(answers)
        return status, {"Content-Type": "application/rss+xml"}, _rss(feed, ["harbour"])

    with serve({"/feed": route}) as server:
        feed = server.url("/news")
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(server.url("/feed") + "\n")
        argv = ["--follow", "--feeds", str(feeds), "--output", str(tmp_path / "out")]
        argv += ["--state", str(tmp_path / "state"), "--no_fetch_pages", "--fetch_retries", "0"]
        argv += ["--allow_hosts", "127.0.0.1", "--min_poll_seconds", "1"]
        argv += ["--initial_poll_seconds", "1", "--poll_jitter", "0"]
        _feed_batches(argv, 2)
    url = server.url("/feed")
    said = [(r.levelno, r.getMessage()) for r in caplog.records if "follow: feed" in r.message]
    assert said == [
        (logging.WARNING, f"follow: feed {url} failed (http_error); polled again in 2 s, "
                          "backing off while it fails"),
        (logging.INFO, f"follow: feed {url} answers again after 1 failed poll"),
    ]  # fmt: skip


def test_follow_batches_write_a_health_row_per_poll_not_per_feed(tmp_path: Path) -> None:
    """Follow mode ran every feed through each batch and wrote a `not_due` health row for
    each feed whose time had not come: at 300 feeds every 60 s, some 430,000 rows a day
    that the feed state already told. A batch now writes a row per poll: the health table
    has as many rows as the server had requests, and the manifest counts the others."""
    keys = iter(["flood", "school", "bridge", "market"])
    items = ["harbour"]

    def busy(request: Request) -> Response:  # news at every poll: due again in a second
        items.append(next(keys))
        return 200, {"Content-Type": "application/rss+xml"}, _rss(feed_base, items)

    def later(request: Request) -> Response:  # not due again for an hour
        return 429, {"Retry-After": "3600"}, b"come back later"

    with serve({"/busy": busy, "/later": later}) as server:
        feed_base = server.url("/news")
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(f"{server.url('/busy')}\n{server.url('/later')}\n")
        argv = ["--follow", "--feeds", str(feeds), "--output", str(tmp_path / "out")]
        argv += ["--state", str(tmp_path / "state"), "--no_fetch_pages", "--fetch_retries", "0"]
        argv += ["--allow_hosts", "127.0.0.1", "--min_poll_seconds", "1"]
        argv += ["--initial_poll_seconds", "1", "--fetch_max_retry_after", "1"]
        _feed_batches(argv, 2)
    root = str(tmp_path / "out")
    runs = dataset.committed_runs(root)
    rows = []
    for run in runs:
        for path in dataset.data_files(root, run, "feed_health"):
            rows += duckdb.sql(f"SELECT feed_url, status FROM read_parquet('{path}')").fetchall()
    assert server.hits == {"/busy": 2, "/later": 1}
    assert len(rows) == 3, rows  # was 4: the second batch's not_due row of /later
    assert [run["counters"].get("feeds_not_due", 0) for run in runs] == [0, 1]
    assert all(run["counts"]["balanced"] for run in runs)


def test_later_batches_write_no_empty_files(tmp_path: Path) -> None:
    """Every batch wrote one file per table, an empty one for a table it had no row of: a
    due feed with nothing new (README: "commits its health row only") committed three empty
    files besides its health file, some 4,000 a day at a one-minute interval, each a file
    that Spark, pandas and polars list and open. The process's first batch still gives
    every table a file (a reader of a table's folder needs one); later ones write only the
    tables they have rows of, and every table's folder still reads whole."""
    import pyarrow.dataset as ds

    def same(request: Request) -> Response:  # the same body at every poll: unchanged
        return 200, {"Content-Type": "application/rss+xml"}, _rss(feed_base, ["harbour"])

    with serve({"/same": same}) as server:
        feed_base = server.url("/news")
        argv = ["--follow", "--feed", server.url("/same"), "--output", str(tmp_path / "out")]
        argv += ["--state", str(tmp_path / "state"), "--no_fetch_pages"]
        argv += ["--allow_hosts", "127.0.0.1", "--min_poll_seconds", "1"]
        argv += ["--initial_poll_seconds", "1", "--poll_jitter", "0"]
        _feed_batches(argv, 2)
    root = str(tmp_path / "out")
    first, second = dataset.committed_runs(root)
    assert first["counts"]["articles"] == 1 and second["counts"]["inputs"] == 0
    listed = {name: len(first["tables"][name]["files"]) for name in dataset.DATASET_TABLES}
    assert listed == {"articles": 1, "duplicates": 1, "rejected": 1, "feed_health": 1}
    listed = {name: len(second["tables"][name]["files"]) for name in dataset.DATASET_TABLES}
    assert listed == {"articles": 0, "duplicates": 0, "rejected": 0, "feed_health": 1}
    assert (first["config"]["empty_files"], second["config"]["empty_files"]) == (None, [])
    assert sorted(path.parent.parent.name for path in Path(root).rglob("*.parquet")) == [
        "articles", "duplicates", "feed_health", "feed_health", "rejected"
    ]  # fmt: skip
    for name in dataset.DATASET_TABLES:  # every table's folder reads, as a reader sees it
        rows = ds.dataset(f"{root}/{name}", partitioning="hive").to_table().num_rows
        assert rows == {"articles": 1, "feed_health": 2}.get(name, 0), name
    assert [run["counts"]["balanced"] for run in (first, second)] == [True, True]


# --- End to end: the command as a real subprocess ---------------------------------------------

TEXTS = {
    "budget": "The city council approved a new budget on Tuesday after a long debate about "
    "funding for schools, public transport and road repairs across the northern districts.",
    "harbour": "The harbour authority opened a new container terminal on Monday, doubling the "
    "number of ships the port can load at once and adding three hundred jobs in the town.",
    "flood": "Heavy rain flooded the lower town overnight and firefighters pumped water out of "
    "dozens of cellars while the river rose to its highest level in twenty years.",
    "school": "Parents welcomed the opening of the rebuilt primary school, which now has a "
    "library, a gym and classrooms for four hundred children from the eastern villages.",
    "bridge": "Engineers closed the old stone bridge to lorries after inspectors found deep "
    "cracks in two of its arches, sending heavy traffic on a long detour through the valley.",
    "market": "The farmers market moved to the main square this summer and stallholders said "
    "the number of visitors on Saturday mornings had nearly doubled since the change.",
}


def _rss(base: str, items: list[str]) -> bytes:
    entries = "".join(
        f'<item><guid isPermaLink="false">{key}</guid><title>Story {key}</title>'
        f"<link>{base}/{key}</link><description>{TEXTS[key]}</description>"
        "<pubDate>Tue, 01 Dec 2026 08:00:00 GMT</pubDate></item>"
        for key in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>{base}/</link>{entries}</channel></rss>"
    ).encode()


class Feed:
    """A feed whose items the test adds while follow mode runs; a poll can be held up
    (the batch stays in flight while the route waits)."""

    def __init__(self, items: list[str]) -> None:
        self.items = list(items)
        self.slow_hits: set[int] = set()
        self.base = ""

    def route(self, request: Request) -> Response:
        if request.hit in self.slow_hits:
            time.sleep(3)
        return 200, {"Content-Type": "application/rss+xml"}, _rss(self.base, self.items)


def _command(inbox: Path, feeds: Path, root: Path, state: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "newsbeam.pipeline",
        "--follow",
        "--interval",
        "1",
        "--input",
        str(inbox),
        "--feeds",
        str(feeds),
        "--output",
        str(root),
        "--state",
        str(state),
        "--no_fetch_pages",
        "--allow_hosts",
        "127.0.0.1",
        "--min_poll_seconds",
        "1",
        "--initial_poll_seconds",
        "1",
        *extra,
    ]


def _start(command: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _until(condition: Callable[[], bool], process: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"follow mode ended early: {process.communicate()[1]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"timed out; its log: {process.communicate()[1]}")
        time.sleep(0.1)


def _sources(root: Path) -> dict[str, int]:
    """Every source in the committed runs' rows (articles, duplicates, rejected) -> how many
    rows it has, read with DuckDB over the files the manifests list."""
    counts: dict[str, int] = {}
    for manifest in dataset.committed_runs(str(root)):
        for table in ("articles", "duplicates", "rejected"):
            paths = dataset.data_files(str(root), manifest, table)
            if not paths:
                continue
            listed = ", ".join(f"'{path}'" for path in paths)
            query = f"SELECT source FROM read_parquet([{listed}], hive_partitioning = false)"
            for (source,) in duckdb.sql(query).fetchall():
                counts[source] = counts.get(source, 0) + 1
    return counts


def _balanced(root: Path) -> bool:
    return all(run["counts"]["balanced"] for run in dataset.committed_runs(str(root)))


@pytest.mark.slow
def test_follow_mode_reads_new_files_and_entries_once(tmp_path: Path) -> None:
    inbox, root, state = tmp_path / "in", tmp_path / "out", tmp_path / "state"
    inbox.mkdir()
    (inbox / "budget.txt").write_text(TEXTS["budget"])
    feed = Feed(["harbour"])
    with serve({"/feed": feed.route}) as server:
        feed.base = server.url("/news")
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(server.url("/feed") + "\n")

        def entry(guid: str) -> str:  # a feed entry's source: the feed, then its id
            return f"{server.url('/feed')}#{guid}"

        process = _start(_command(inbox, feeds, root, state), tmp_path)
        try:
            expected = {str(inbox / "budget.txt"), entry("harbour")}
            _until(lambda: expected <= set(_sources(root)), process, 90)
            # While it runs: a file written under a temporary name, then renamed; a feed
            # entry added between two polls.
            temporary = inbox / ".flood.txt.tmp"
            temporary.write_text(TEXTS["flood"])
            temporary.rename(inbox / "flood.txt")
            feed.items.append("school")
            expected |= {str(inbox / "flood.txt"), entry("school")}
            _until(lambda: expected <= set(_sources(root)), process, 90)
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    sources = _sources(root)
    assert set(sources) == expected
    assert all(count == 1 for count in sources.values()), sources  # nothing read twice
    assert _balanced(root)
    # A batch ran only for a new file or a due feed (due every second here: a feed polled
    # without news is a batch of feed health only).
    runs = dataset.committed_runs(str(root))
    assert all(run["follow"]["new_files"] + len(run["follow"]["due_feeds"]) for run in runs)
    assert "new files" in err and "stopping after the batch in flight" in err


@pytest.mark.slow
def test_sigkill_and_sigterm_mid_batch_lose_nothing(tmp_path: Path) -> None:
    inbox, root, state = tmp_path / "in", tmp_path / "out", tmp_path / "state"
    inbox.mkdir()
    (inbox / "budget.txt").write_text(TEXTS["budget"])
    feed = Feed(["harbour"])
    feed.slow_hits = {1, 2}  # the first two polls are held up: a batch in flight
    with serve({"/feed": feed.route}) as server:
        feed.base = server.url("/news")
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(server.url("/feed") + "\n")

        def entry(guid: str) -> str:  # a feed entry's source: the feed, then its id
            return f"{server.url('/feed')}#{guid}"

        command = _command(inbox, feeds, root, state)
        polled = server.requests_to

        killed = _start(command, tmp_path)
        _until(lambda: len(polled("/feed")) >= 1, killed, 90)
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=30)
        assert killed.returncode == -signal.SIGKILL
        assert dataset.committed_runs(str(root)) == []  # the batch in flight did not commit

        stopped = _start(command, tmp_path)  # the next start reads it all again
        _until(lambda: len(polled("/feed")) >= 2, stopped, 90)
        stopped.send_signal(signal.SIGTERM)  # mid-batch: it finishes and commits
        (inbox / "bridge.txt").write_text(TEXTS["bridge"])  # after the batch began: next one
        _, err = stopped.communicate(timeout=90)
        assert stopped.returncode == 0, err
        assert _sources(root) == {str(inbox / "budget.txt"): 1, entry("harbour"): 1}

        feed.items.append("market")
        timed = _start([*command, "--max_runtime", "2"], tmp_path)
        _, err = timed.communicate(timeout=120)
        assert timed.returncode == 0, err
    sources = _sources(root)
    assert sources == {
        str(inbox / "budget.txt"): 1,
        entry("harbour"): 1,
        str(inbox / "bridge.txt"): 1,
        entry("market"): 1,
    }
    assert _balanced(root)
    assert not list((root / "_staging").glob("*"))  # what the killed batch left is gone
    assert len(list((state / "versions").iterdir())) <= 2  # CURRENT's and the one before


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_abandons_a_batch_whose_feed_never_answers(
    tmp_path: Path, signum: signal.Signals
) -> None:
    # Before: the second signal surfaced wrapped by Beam, was taken for a failed batch
    # ("retried at the next batch", exit 0), and the run waited for the fetch in flight
    # (its read timeout times the retries: ~2 minutes).
    inbox, root, state = tmp_path / "in", tmp_path / "out", tmp_path / "state"
    inbox.mkdir()
    answer = threading.Event()

    def never(request: Request) -> Response:
        answer.wait(120)
        return 200, {"Content-Type": "application/rss+xml"}, b"<rss/>"

    with serve({"/feed": never}) as server:
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(server.url("/feed") + "\n")
        process = _start(_command(inbox, feeds, root, state), tmp_path)
        try:
            _until(lambda: len(server.requests_to("/feed")) >= 1, process, 90)
            err, waited = ended_by_signals(process, signum, signum, timeout=60)
        finally:
            answer.set()
            if process.poll() is None:
                process.kill()
    assert process.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], err
    assert waited < 10, err
    assert "the batch in flight was not committed" in err and "retried" not in err
    assert dataset.committed_runs(str(root)) == []


@pytest.mark.slow
def test_one_sigterm_abandons_a_batch_that_outlasts_the_stop_wait(tmp_path: Path) -> None:
    # One SIGTERM (systemctl stop, a pod's deletion) waited for the batch in flight however
    # long it took: a backlog's batch, or a feed that never answers, until the service
    # manager's SIGKILL (which leaves its staging to the next start). Past
    # --stop_wait_seconds the batch is abandoned as on a second signal: exit 143, nothing
    # of it committed, its entries offered again at the next start (review 108).
    inbox, root, state = tmp_path / "in", tmp_path / "out", tmp_path / "state"
    inbox.mkdir()
    answer = threading.Event()
    feed = Feed(["harbour"])

    def held_once(request: Request) -> Response:
        if request.hit == 1:
            answer.wait(120)
        return feed.route(request)

    with serve({"/feed": held_once}) as server:
        feed.base = server.url("/news")
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(server.url("/feed") + "\n")
        command = _command(inbox, feeds, root, state, "--stop_wait_seconds", "2")
        process = _start(command, tmp_path)
        try:
            _until(lambda: len(server.requests_to("/feed")) >= 1, process, 90)
            err, waited = ended_by_signals(process, signal.SIGTERM, timeout=40)
        finally:
            answer.set()
            if process.poll() is None:
                process.kill()
        assert process.returncode == 143, err
        assert 2 <= waited < 20, (waited, err)
        assert "not committed (it had not committed within --stop_wait_seconds 2)" in err
        assert dataset.committed_runs(str(root)) == []
        assert not list((root / "_staging").glob("*"))  # removed as it stopped
        # The next start polls the feed again and reads its entry once.
        timed = _start([*command, "--max_runtime", "2"], tmp_path)
        _, err = timed.communicate(timeout=120)
        assert timed.returncode == 0, err
    assert _sources(root) == {f"{server.url('/feed')}#harbour": 1}


def test_signals_stop_after_the_batch_in_flight() -> None:
    stop = threading.Event()
    with follow._StopSignals(stop) as signals:  # noqa: SLF001
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
        assert signals.received is None  # the first one only asks
        with pytest.raises(BaseException) as raised:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert type(raised.value).__name__ == "Terminated"
        assert signals.received == signal.SIGTERM


@pytest.mark.slow
def test_batches_that_keep_failing_log_one_line_each_and_exit_1(
    seeds_dir: Path, tmp_path: Path
) -> None:
    """Five failed batches (a full disk; here files limited to 8 KB: EFBIG) ended a
    service's journal with "...; retried at the next batch" and then "5 batches failed in
    a row; stopping", each failure after Beam's traceback of ~25 lines. Now one line per
    batch, the last saying it stops; exit 1 (systemd restarts it)."""
    import resource

    def small_files() -> None:  # Python ignores SIGXFSZ: a write past the limit is EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    argv = ["--follow", "--interval", "0.2", "--input", str(seeds_dir),
            "--output", str(tmp_path / "out"), "--state", str(tmp_path / "state")]  # fmt: skip
    # A temporary folder of its own: in the shared one, the start's sweep of folders that
    # killed runs left (other tests') logged a line of its own before the failures.
    (tmp_path / "tmp").mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline", *argv],
        capture_output=True,  # pipes: not limited
        text=True,
        preexec_fn=small_files,
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
        timeout=600,
    )
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    assert lines[0].startswith("INFO newsbeam: follow: every 0.2 s"), run.stderr
    failures = lines[1:]
    assert len(failures) == follow.MAX_FAILURES, run.stderr
    assert all(line.startswith("ERROR newsbeam: follow: the run failed: OSError: ")
               for line in failures), run.stderr  # fmt: skip
    assert all(line.endswith("; retried at the next batch") for line in failures[:-1])
    assert failures[-1].endswith("; 5 batches failed in a row: stopping (exit 1)")
    # Each failed batch is on record in the dataset, and its line names it (review 88).
    records = sorted((tmp_path / "out" / "_failed_runs").iterdir())
    assert len(records) == follow.MAX_FAILURES
    for line, record in zip(failures, records, strict=True):
        assert f"; recorded in {record};" in line
        assert json.loads(record.read_text())["exit_status"] == 1


class _ValidatedFeed(Feed):
    """A feed with an ETag (its items'): a poll that sends it back gets a 304."""

    def etag(self) -> str:
        return '"' + "-".join(self.items) + '"'

    def route(self, request: Request) -> Response:
        if request.headers.get("if-none-match") == self.etag():
            return 304, {"ETag": self.etag()}, b""
        status, headers, body = super().route(request)
        return status, {**headers, "ETag": self.etag()}, body


@pytest.mark.slow
def test_follow_killed_between_and_inside_batches_reads_everything_once(tmp_path: Path) -> None:
    # Review 108, with tests/kill_runs.py's moments: follow processes killed by SIGKILL as
    # a batch's manifest appears (committed, its state version maybe not published), as
    # a batch's commit begins (its intent record: rolled back by the next start), and
    # between batches (once one published its state), each started again as a service
    # manager does; then stopped by SIGTERM. Every file and feed entry ends in one table
    # once, none lost as "already seen"; the feed state (its ETag) is never advanced by a
    # batch that did not commit; an entry of the killed batch is offered again.
    from newsbeam.transforms.support.state import CRASH_ENV, read_current, version_dir
    from tests import kill_runs
    from tests.kill_runs import Kill

    inbox = tmp_path / "in"
    inbox.mkdir()
    place = kill_runs.Place(tmp_path / "p", inbox, named=False)
    root, state = place.output, place.state
    (inbox / "budget.txt").write_text(TEXTS["budget"])
    feed = _ValidatedFeed(["harbour"])
    with serve({"/feed": feed.route}) as server:
        feed.base = server.url("/news")
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(server.url("/feed") + "\n")
        command = _command(inbox, feeds, root, state)
        expected = {str(inbox / "budget.txt"), f"{server.url('/feed')}#harbour"}

        def etag_in_state() -> str | None:
            current = read_current(str(state))
            assert current is not None
            states = follow.read_feed_state(version_dir(str(state), current["version"]))
            return states.state_for(server.url("/feed")).etag

        def killed_at(moment: str | Callable[[], bool], crash_at: str | None = None) -> None:
            """Start follow mode and kill it with SIGKILL once `moment` (kill_runs's, or a
            condition) is reached or, with `crash_at`, let it die there (os._exit(137) at
            that step of the commit: a SIGKILL sent once the step is seen may come after
            the whole commit, milliseconds long)."""
            before = kill_runs._marks(place, "*")  # noqa: SLF001
            reached: Callable[[], bool] = (
                moment
                if callable(moment)
                else lambda: kill_runs._reached(place, Kill(0, signal.SIGKILL, moment), before)  # noqa: SLF001
            )
            place.scratch.mkdir(parents=True, exist_ok=True)  # where "read" is counted
            env = {**os.environ, "TMPDIR": str(place.scratch)}
            if crash_at is not None:
                env[CRASH_ENV] = crash_at
            process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
            try:
                deadline = time.monotonic() + 120
                while process.poll() is None and time.monotonic() < deadline:
                    if crash_at is None and reached():
                        process.send_signal(signal.SIGKILL)
                    time.sleep(0.005)
                assert process.poll() is not None, f"{moment} not reached in 120 s"
                _, err = process.communicate(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
            died = 137 if crash_at is not None else -signal.SIGKILL
            assert process.returncode == died, err[-3000:]
            assert set(_sources(root)) <= expected  # what committed: nothing twice
            assert all(count == 1 for count in _sources(root).values()), _sources(root)

        killed_at("manifest", "manifest-written")  # committed, its state not published
        assert read_current(str(state)) is None
        (inbox / "flood.txt").write_text(TEXTS["flood"])
        feed.items.append("school")
        expected |= {str(inbox / "flood.txt"), f"{server.url('/feed')}#school"}
        killed_at("intent", "intent-written")  # a batch that read flood and school
        assert str(inbox / "flood.txt") not in _sources(root)
        assert etag_in_state() == '"harbour"'  # published by this start, not advanced
        # The next start reads flood and school (seen by the killed batch) once; killed
        # after that batch committed (between batches), or inside its first one.
        killed_at(lambda: set(_sources(root)) == expected)
        assert set(_sources(root)) == expected
        (inbox / "wind.txt").write_text(TEXTS["school"])
        expected.add(str(inbox / "wind.txt"))
        # Inside a batch, its tables staged: a one-file batch's staged files live for a
        # fraction of a second, which a poll missed on a loaded host (then waited 120 s for
        # a batch that had committed).
        killed_at("staged", "output-staged")
        (inbox / "bridge.txt").write_text(TEXTS["bridge"])
        feed.items.append("market")
        expected |= {str(inbox / "bridge.txt"), f"{server.url('/feed')}#market"}
        process = _start(command, tmp_path)
        try:
            _until(lambda: expected <= set(_sources(root)), process, 120)
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=90)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, err
        assert etag_in_state() == feed.etag()
    sources = _sources(root)
    assert set(sources) == expected and all(n == 1 for n in sources.values()), sources
    assert _balanced(root)
    assert not list((root / "_staging").glob("*"))
    assert (root / "_failed_runs").exists()  # the killed batches, recorded by the next start
