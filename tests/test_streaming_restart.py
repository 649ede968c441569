"""A streaming job started again as a new job (a supervisor restarting `newsbeam --streaming`
at every deploy: no runner snapshot), review 113: what earlier jobs committed into ROOT is
not written again (docs/streaming.md, "A job started again").

Real jobs: the streaming graph `newsbeam --streaming` builds from its flags
(tests/streaming_job.py), its sources bounded, on Beam's in-process runner, a watched
folder on disk and feeds on an HTTP server on 127.0.0.1; killed ones in a process of their
own. The tables are read back through the committed manifests with DuckDB."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from newsbeam.pipeline import dataset
from newsbeam.transforms.support.committed import (
    CommittedRecord,
    committed_sources,
    file_of,
    parts_by_file,
    sources_index,
)
from tests.helpers import SEEDS
from tests.streaming_job import run as run_job
from tests.test_streaming import CHESS, FIRE, VOTE

REPO = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc
TABLES = ("articles", "duplicates", "rejected")
# The seeds' texts (some dated, some not).
SEED_TEXTS = sorted(SEEDS.glob("*.txt"))
LIBRARY = (
    "The city library of Porto reopened on Saturday after two years of repairs to its roof "
    "and its reading rooms, and more than 3,000 visitors came on the first day to see the "
    "restored hall of maps. The library will stay open until ten at night on weekdays, and "
    "its new children's wing holds 20,000 books in Portuguese, English and Spanish."
)


def _flags(inbox: Path, root: Path, *extra: str) -> list[str]:
    return [
        "--input", str(inbox), "--output", str(root), "--window_seconds", "1",
        "--poll_seconds", "0.5", "--stream_ttl_days", "7", *extra,
    ]  # fmt: skip


def _rows(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every committed row of the three tables, through the manifests."""
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
    for manifest in dataset.committed_runs(str(root)):
        for table in TABLES:
            paths = dataset.data_files(str(root), manifest, table)
            if paths:
                listed = ", ".join(f"'{path}'" for path in paths)
                query = f"SELECT * FROM read_parquet([{listed}])"
                relation = duckdb.sql(query)
                columns = relation.columns
                found[table] += [
                    dict(zip(columns, row, strict=True)) for row in relation.fetchall()
                ]
    return found


def _sources(root: Path) -> dict[str, list[str]]:
    return {table: sorted(row["source"] for row in rows) for table, rows in _rows(root).items()}


def _all_sources(root: Path) -> list[str]:
    return sorted(source for sources in _sources(root).values() for source in sources)


def _later(path: Path, seconds: float = 10) -> None:
    """A file saved after every earlier commit (its modification time moved on)."""
    os.utime(path, (time.time() + seconds, time.time() + seconds))


def _settled(folder: Path, seconds: float = 10) -> None:
    """Every file of `folder` saved `seconds` ago: a file written less than 2 s (_SETTLED)
    before the commit of its row is read again by a restarted job, by design (times to the
    second cannot tell it from a file saved again right after its read). A job on a quiet
    host commits that soon after the test writes its inbox: such a test failed now and
    then with a second copy of a file in the duplicates table."""
    for path in folder.iterdir():
        os.utime(path, (time.time() - seconds, time.time() - seconds))


def test_committed_sources_are_indexed_by_file_line_and_entry() -> None:
    index = sources_index(
        [
            ("inbox/a.txt", 5),
            ("inbox/wire.jsonl#L1", 5),
            ("inbox/wire.jsonl#L2", 7),
            ("inbox/wire.jsonl#L4", 7),
            ("http://h/feed.xml#g1", 5),
            ("inbox/a.txt", 3),
        ]
    )
    assert "inbox/a.txt" in index and index.committed_at("inbox/a.txt") == 5
    assert index.file_committed_at("inbox/wire.jsonl") == 7
    assert index.lines_before("inbox/wire.jsonl") == 2  # L3 missing: L4 is read again
    assert index.lines_before("inbox/a.txt") == 0
    assert parts_by_file(index)["http://h/feed.xml"] == frozenset({"g1"})
    assert file_of("http://h/feed.xml#g1") == "http://h/feed.xml"


def test_expiry_timers_are_set_to_the_millisecond_after_the_soonest_expiry() -> None:
    """Beam keeps timers to the millisecond: a timer for an entry expiring at 12.345678 s
    fired at 12.345 s, found it alive and set itself again, for ever (a restarted job's
    dedup, seeded with an earlier job's article ingested at that microsecond, never ended
    its first bundle)."""
    from newsbeam.transforms.event_time import expire_at, live

    class Value:
        def __init__(self) -> None:
            self.value: Any = None

        def read(self) -> Any:
            return self.value

        def write(self, value: Any) -> None:
            self.value = value

        def set(self, when: Any) -> None:
            self.value = when.micros

    class Entry:
        expires_at = 12_345_678

    record, timer = Value(), Value()
    expire_at([Entry()], record, timer)
    assert timer.value == record.value == 12_346_000
    assert live([Entry()], timer.value) == ([], 1)


def test_only_manifests_committed_within_the_ttl_are_read(tmp_path: Path) -> None:
    root = tmp_path / "root"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "fire.txt").write_text(FIRE)
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    now = dt.datetime.now(UTC)
    found = committed_sources(CommittedRecord(str(root), now - dt.timedelta(days=1)))
    assert list(found.latest) == [f"{inbox}/fire.txt"]
    # A manifest listed as updated before `since` is not even opened.
    for manifest in (root / "_runs").iterdir():
        os.utime(manifest, (time.time() - 3 * 86400, time.time() - 3 * 86400))
    assert not len(committed_sources(CommittedRecord(str(root), now - dt.timedelta(days=1))))
    assert not len(committed_sources(None))


def test_a_restarted_job_writes_nothing_an_earlier_job_committed(tmp_path: Path) -> None:
    """Before review 113 the second job read every file again: the three undated files and
    both JSON lines were committed again as new articles (its dedup knew nothing of the
    first job's), the copy of the fire story under a new name was an article too."""
    root, inbox = tmp_path / "root", tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "fire.txt").write_text(FIRE)
    (inbox / "vote.txt").write_text(VOTE)
    shutil.copy(SEED_TEXTS[0], inbox / "seed.txt")
    wire = inbox / "wire.jsonl"
    wire.write_text(
        "".join(json.dumps({"text": text}) + "\n" for text in (CHESS, SEED_TEXTS[3].read_text()))
    )
    _settled(inbox)
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    first = _rows(root)
    fire_id = next(r["article_id"] for r in first["articles"] if r["source"].endswith("fire.txt"))

    # While no job ran: a near copy under a new name, a story corrected, a line appended.
    (inbox / "fire-copy.txt").write_text(FIRE.replace("Tuesday night", "Tuesday evening"))
    (inbox / "vote.txt").write_text(LIBRARY)
    _later(inbox / "vote.txt")
    with wire.open("a") as handle:
        handle.write(json.dumps({"text": SEED_TEXTS[4].read_text()}) + "\n")
    _later(wire)
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    sources = _sources(root)
    names = {table: [Path(s).name for s in found] for table, found in sources.items()}
    assert names["articles"] == sorted(
        ["fire.txt", "seed.txt", "vote.txt", "vote.txt", "wire.jsonl#L1", "wire.jsonl#L2",
         "wire.jsonl#L3"]
    )  # fmt: skip
    (copy,) = _rows(root)["duplicates"]
    assert (Path(copy["source"]).name, copy["canonical_id"]) == ("fire-copy.txt", fire_id)
    assert names["rejected"] == []


def test_a_restarted_job_writes_each_report_of_a_story_once(tmp_path: Path) -> None:
    """A later report of a story the earlier job committed: each article once, the earlier
    ones not again (stories seeded from ROOT, not only from --state, which streaming never
    writes)."""
    root, inbox = tmp_path / "root", tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "fire.txt").write_text(FIRE)
    (inbox / "chess.txt").write_text(CHESS)
    _settled(inbox)
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    story = {Path(r["source"]).name: r["story_id"] for r in _rows(root)["articles"]}
    later = (
        "Inspectors said on Wednesday that the quay walls of the Alcantara docks in Lisbon "
        "were cracked by the heat of the warehouse fire, and the port authority will keep the "
        "docks closed for a month while crews of engineers repair them. Mayor Carlos Moedas "
        "said the port workers would be paid while the warehouse and the walls are rebuilt."
    )
    (inbox / "fire-later.txt").write_text(later)
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    articles = _rows(root)["articles"]
    rows = {Path(r["source"]).name: r for r in articles}
    assert sorted(Path(r["source"]).name for r in articles) == sorted(rows)
    assert sorted(rows) == ["chess.txt", "fire-later.txt", "fire.txt"]
    assert story["fire.txt"] != story["chess.txt"]
    # Under load the job's end fired the stories' expiry before the last window's flush
    # (both due at once): the earlier job's stories were gone when the later report came
    # (it joined in 1 of 6 runs, two at a time); test_streaming's
    # test_stories_expiring_with_a_window_still_due_stay_for_its_flush.
    assert rows["fire-later.txt"]["story_id"] == story["fire.txt"]


def test_a_restarted_job_reads_no_feed_entry_an_earlier_job_committed(tmp_path: Path) -> None:
    """A feed polled by a job, then by the next one: the first poll of the second job used
    to offer every entry it listed again (the earlier job's memory of them was its own
    state): g1 and g2 were committed twice."""
    from tests.feed_server import serve, static
    from tests.test_feeds import BODY, OTHER_BODIES, rss

    root, inbox = tmp_path / "root", tmp_path / "inbox"
    inbox.mkdir()
    with serve() as server:
        base, url = server.url(""), server.url("/feed.xml")
        items = [("g1", "/a/1", BODY), ("g2", "/a/2", OTHER_BODIES["bridge"])]
        server.routes["/feed.xml"] = static(rss(base, items))
        flags = _flags(
            inbox, root, "--feed", url, "--allow_hosts", "127.0.0.1", "--no_fetch_pages",
            "--min_poll_seconds", "1", "--initial_poll_seconds", "1",
        )  # fmt: skip
        assert run_job([*flags, "--stop_after", "1.5"]) == 0
        items.append(("g3", "/a/3", OTHER_BODIES["tunnel"]))
        server.routes["/feed.xml"] = static(rss(base, items))
        assert run_job([*flags, "--stop_after", "1.5"]) == 0
    assert _all_sources(root) == [f"{url}#g1", f"{url}#g2", f"{url}#g3"]


def test_feed_files_in_a_watched_folder_give_each_entry_once_across_jobs(
    tmp_path: Path,
) -> None:
    from tests.test_feeds import BODY, OTHER_BODIES, rss

    root, inbox = tmp_path / "root", tmp_path / "inbox"
    inbox.mkdir()
    feed = inbox / "wire.xml"
    items = [("g1", "/a/1", BODY), ("g2", "/a/2", OTHER_BODIES["bridge"])]
    feed.write_bytes(rss("http://127.0.0.1:9", items))
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    items.append(("g3", "/a/3", OTHER_BODIES["tunnel"]))
    feed.write_bytes(rss("http://127.0.0.1:9", items))
    _later(feed)
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    assert [s.rsplit("#", 1)[1] for s in _all_sources(root)] == ["g1", "g2", "g3"]


def _job_process(flags: list[str], crash_at: str | None, tmp: Path) -> int:
    env = {**os.environ, "TMPDIR": str(tmp)}
    env.pop("NEWSBEAM_CRASH_AT", None)
    if crash_at:
        env["NEWSBEAM_CRASH_AT"] = crash_at
    done = subprocess.run(
        [sys.executable, "-m", "tests.streaming_job", *flags],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode in (0, 137), done.stderr.decode()[-3000:]
    return done.returncode


@pytest.mark.parametrize("moment", ["manifest-written", "intent-written"])
def test_a_job_killed_between_windows_then_started_again_loses_nothing_and_writes_nothing_twice(
    tmp_path: Path, moment: str
) -> None:
    """Three jobs as a supervisor runs them: the first commits the undated files; the
    second, given dated seeds and more undated files, dies (as SIGKILL does) as its first
    window's commit reaches `moment` (its manifest written; or only its intent record,
    nothing moved), its other windows open; the third, started again, finishes (or rolls
    back) that commit and reads the rest. Every file ends in one row of one table, once.
    Before review 113, the second and third jobs read the first job's files again."""
    root, inbox = tmp_path / "root", tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "fire.txt").write_text(FIRE)
    (inbox / "vote.txt").write_text(VOTE)
    _settled(inbox)
    flags = [*_flags(inbox, root), "--stop_after", "1.2"]
    assert _job_process(flags, None, tmp_path) == 0
    # Dated seeds (their windows are their publication days') and two undated texts.
    for seed in sorted(SEEDS.glob("*.txt")):
        shutil.copy(seed, inbox / seed.name)
    (inbox / "chess.txt").write_text(CHESS)
    _settled(inbox)
    assert _job_process(flags, moment, tmp_path) == 137
    runs = dataset.run_ids(str(root))
    assert _job_process(flags, None, tmp_path) == 0
    assert len(dataset.run_ids(str(root))) > len(runs)
    expected = sorted(
        [str(inbox / name) for name in ("fire.txt", "vote.txt", "chess.txt")]
        + [str(inbox / seed.name) for seed in SEEDS.glob("*.txt")]
    )
    assert _all_sources(root) == expected
    assert not list((root / "_staging").glob("*")) if (root / "_staging").exists() else True


def test_committed_part_skips_files_and_lines_committed_after_their_last_change(
    tmp_path: Path,
) -> None:
    from newsbeam.transforms.read import WHOLE_FILE, Appended, committed_part, file_stamp

    story, wire, empty = tmp_path / "story.txt", tmp_path / "wire.jsonl", tmp_path / "e.jsonl"
    story.write_text(FIRE)
    wire.write_text('{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n')
    empty.write_text("")
    now = int(time.time() * 1_000_000)
    later = now + 60 * 1_000_000
    index = sources_index(
        [(str(story), later), (f"{wire}#L1", later), (f"{wire}#L2", later), (str(empty), later)]
    )
    stamp = file_stamp(str(story))[0]
    assert committed_part(str(story), stamp, index) is None
    # Saved after its row was committed: read again.
    _later(story, 3600)
    assert committed_part(str(story), file_stamp(str(story))[0], index) == WHOLE_FILE
    # The lines after the committed ones, numbered on.
    part = committed_part(str(wire), file_stamp(str(wire))[0], index)
    assert part == Appended(len('{"text": "a"}\n{"text": "b"}\n'), 2)
    # A file rejected whole (its own row committed) is not read again.
    assert committed_part(str(empty), file_stamp(str(empty))[0], index) is None
    assert committed_part(str(tmp_path / "new.txt"), stamp, index) == WHOLE_FILE


def test_a_source_is_known_by_its_absolute_normalised_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsbeam.transforms.support.committed import source_key

    monkeypatch.chdir(tmp_path)
    absolute = str(tmp_path / "inbox" / "a.txt")
    for form in ("inbox/a.txt", "./inbox/a.txt", "inbox//a.txt", absolute, f"file://{absolute}"):
        assert source_key(form) == absolute
    assert source_key("./inbox/wire.jsonl#L4") == f"{tmp_path}/inbox/wire.jsonl#L4"
    for kept in ("http://h/feed.xml#g1", "s3://bucket/inbox/a.txt", "pubsub:projects/p#7"):
        assert source_key(kept) == kept
    index = sources_index([("inbox/wire.jsonl#L1", 5), ("./inbox/a.txt", 4)])
    assert absolute in index and index.lines_before(f"{tmp_path}/inbox//wire.jsonl") == 1


def test_a_job_restarted_with_another_form_of_its_input_path_reads_nothing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 115: the first job watched `inbox` (relative), the next ones `./inbox/` and
    the absolute path; before, each of them read every file again (its rows named the
    files `inbox/fire.txt`, then `./inbox//fire.txt`...): duplicates rows, the JSON lines
    articles again."""
    monkeypatch.chdir(tmp_path)
    root, inbox = tmp_path / "root", tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "fire.txt").write_text(FIRE)
    (inbox / "wire.jsonl").write_text(json.dumps({"text": CHESS}) + "\n")
    _settled(inbox)
    for form in ("inbox", "./inbox/", str(inbox)):
        flags = _flags(inbox, root, "--stop_after", "1.2")
        flags[flags.index(str(inbox))] = form
        assert run_job(flags) == 0
    sources = _sources(root)
    assert [Path(s).name for s in sources["articles"]] == ["fire.txt", "wire.jsonl#L1"]
    assert sources["duplicates"] == sources["rejected"] == []


def test_a_restarted_job_lists_and_reads_the_committed_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step of a restarted job that needs the committed record (the watch, the skip of
    committed records, dedup, stories) listed ROOT's manifests and read them and their
    files on its own: 4 times at a job's start here (6 with feeds), now once a process."""
    from newsbeam.transforms.support import committed

    root, inbox = tmp_path / "root", tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "fire.txt").write_text(FIRE)
    _settled(inbox)
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    listings = []
    listed = committed.committed_manifests

    def counted(record: CommittedRecord) -> Any:
        listings.append(record)
        return listed(record)

    monkeypatch.setattr(committed, "committed_manifests", counted)
    (inbox / "vote.txt").write_text(VOTE)
    _settled(inbox)
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    assert len(listings) == 1
    assert [Path(s).name for s in _sources(root)["articles"]] == ["fire.txt", "vote.txt"]


def test_a_json_lines_file_committed_whole_is_not_read_again(tmp_path: Path) -> None:
    """Review 115: a JSON-lines file whose every line an earlier job committed, unchanged,
    was read from its end by each restarted job: nothing, a rejected row `empty` a restart
    (one a deploy, several a day, for every such file in the folder within the TTL)."""
    from newsbeam.transforms.read import Appended, committed_part, file_stamp

    wire = tmp_path / "wire.jsonl"
    wire.write_text('{"text": "a"}\n{"text": "b"}\n')
    later = int(time.time() * 1_000_000) + 60 * 1_000_000
    both = sources_index([(f"{wire}#L1", later), (f"{wire}#L2", later)])
    assert committed_part(str(wire), file_stamp(str(wire))[0], both) is None
    first = sources_index([(f"{wire}#L1", later)])
    part = committed_part(str(wire), file_stamp(str(wire))[0], first)
    assert part == Appended(len('{"text": "a"}\n'), 1)


def test_a_file_touched_while_no_job_ran_is_not_written_again(tmp_path: Path) -> None:
    """Review 115: a file whose time moved on after its commit (touched, copied again with
    its bytes, or written less than 2 s before its window's commit: times to the second)
    is read again by a restarted job; the same article from the same input was a duplicates
    row pointing at itself. A file saved with its text corrected is still read anew."""
    root, inbox = tmp_path / "root", tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "fire.txt").write_text(FIRE)
    shutil.copy(SEED_TEXTS[0], inbox / "seed.txt")  # a dated one
    (inbox / "vote.txt").write_text(VOTE)
    _settled(inbox)
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    first = _sources(root)
    for name in ("fire.txt", "seed.txt"):
        _later(inbox / name)
    (inbox / "vote.txt").write_text(LIBRARY)
    _later(inbox / "vote.txt")
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    sources = _sources(root)
    assert sources["duplicates"] == sources["rejected"] == []
    assert sources["articles"] == sorted([*first["articles"], str(inbox / "vote.txt")])


def test_a_committed_read_is_the_same_article_from_the_same_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsbeam.transforms.dedup import committed_read_keys, is_committed_read
    from newsbeam.transforms.extract import new_article

    monkeypatch.chdir(tmp_path)
    article = new_article(str(tmp_path / "inbox" / "a.txt"), text=FIRE, title="Fire")
    article = article._replace(article_id="i1", content_hash="h1")
    row = {"source": "inbox/a.txt", "article_id": "i1", "content_hash": "h1", "title": "Fire"}
    keys = committed_read_keys([{**row, "published_at": article.published_at}])
    assert is_committed_read(article, keys)
    assert not is_committed_read(article._replace(title="Fire (corrected)"), keys)
    assert not is_committed_read(article._replace(content_hash="h2"), keys)
    assert not is_committed_read(article._replace(source=str(tmp_path / "b.txt")), keys)
    assert not is_committed_read(article, frozenset())


def test_a_file_saved_again_before_its_window_was_committed_is_read_again(
    tmp_path: Path,
) -> None:
    """Review 115: a file read, then saved again with a corrected story before its window
    was committed (a 5-minute window commits up to 5 minutes after the read), the job then
    stopped (a deploy) before it read the new version: the next job took the file's time,
    earlier than the commit, as committed, and never read the correction. A committed
    article's read is its `ingested_at`, not its window's commit."""
    root, inbox = tmp_path / "root", tmp_path / "inbox"
    inbox.mkdir()
    story = inbox / "vote.txt"
    story.write_text(VOTE)
    _settled(inbox)
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    (read,) = _rows(root)["articles"]
    for manifest in (root / "_runs").glob("*.json"):  # committed as a 5-minute window is
        content = json.loads(manifest.read_text())
        finished = dt.datetime.fromisoformat(content["finished_at"]) + dt.timedelta(minutes=5)
        content["finished_at"] = finished.isoformat()
        manifest.write_text(json.dumps(content))
    story.write_text(LIBRARY)
    saved = read["ingested_at"].timestamp() + 1
    os.utime(story, (saved, saved))
    assert run_job(_flags(inbox, root, "--stop_after", "1.2")) == 0
    texts = sorted(row["text"][:20] for row in _rows(root)["articles"])
    assert texts == sorted([VOTE[:20], LIBRARY[:20]])
