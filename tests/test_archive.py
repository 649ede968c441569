"""An archive backfilled with --state and then read nightly (review 111): the seen-files
record at scale (transforms/read.py: unchanged files stop at the listing, the record merged
in Arrow), passes that start where the last command stopped (pipeline/passes.py), and odd
file names. Small scale here; benchmarks/bench_archive.py measures 200,000 files."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from apache_beam.io.filesystem import FileMetadata

from newsbeam.pipeline import dataset, passes
from newsbeam.pipeline import main as entry
from newsbeam.pipeline import run as pipeline_run
from newsbeam.transforms import read
from newsbeam.transforms.read import (
    FileStamp,
    SeenFiles,
    merged_seen_files,
    seen_row,
    unchanged_by_stat,
)
from newsbeam.transforms.support import loaded
from newsbeam.transforms.support.state import SEEN_FILES
from tests.helpers import current_state, run_manifest

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _row(path: str, size: int = 10, seen: dt.datetime = T0, modified: dt.datetime | None = None):
    modified = modified or seen - dt.timedelta(days=1)
    row = seen_row(path, FileStamp(size, modified, f"h-{path}"), None, seen)
    return row


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SEEN_FILES.schema)


# --- Pure parts -----------------------------------------------------------------------------


def test_the_merged_record_refreshes_what_was_listed_unchanged_and_keeps_the_rest() -> None:
    run_at = T0 + dt.timedelta(days=10)
    earlier = _table([_row("b"), _row("a"), _row("old", seen=T0 - dt.timedelta(days=30))])
    fresh = [_row("c", seen=run_at), _row("a", size=99, seen=run_at)]
    merged = merged_seen_files(fresh, earlier, None, ["b", "old"], run_at).to_pylist()
    assert [row["path"] for row in merged] == ["a", "b", "c", "old"]  # sorted, one a path
    by_path = {row["path"]: row for row in merged}
    assert by_path["a"]["size"] == 99  # this run's row wins
    assert by_path["b"]["last_seen_at"] == run_at  # listed unchanged: listed now
    assert by_path["b"]["first_seen_at"] == T0  # ... first seen then
    # Within --state_keep_days of its last listing: only what this run listed stays.
    cut = run_at - dt.timedelta(days=5)
    kept = merged_seen_files(fresh, earlier, cut, ["old"], run_at).to_pylist()
    assert [row["path"] for row in kept] == ["a", "c", "old"]


def test_the_merged_record_without_earlier_rows_is_this_runs_rows() -> None:
    empty = SEEN_FILES.schema.empty_table()
    merged = merged_seen_files([_row("x")], empty, None, ["y"], T0)
    assert merged.column("path").to_pylist() == ["x"]
    assert merged_seen_files([], empty, None).num_rows == 0


def test_the_lookup_by_path_decides_as_unchanged_by_stat() -> None:
    at = T0 - dt.timedelta(days=1)
    racy = _row("racy", modified=T0)  # hashed in the second it was written
    rows = [_row("a", modified=at), racy]
    seen = SeenFiles(_table(rows))
    assert len(seen) == 2 and seen.get("a") == rows[0] and seen.get("zz") is None
    for path, size, modified in [
        ("a", 10, at),
        ("a", 11, at),
        ("a", 10, at + dt.timedelta(seconds=1)),
        ("racy", 10, T0),
        ("zz", 10, at),
    ]:
        expected = path != "zz" and unchanged_by_stat(seen.get(path) or {}, size, modified)
        assert seen.unchanged_by_stat(path, size, modified) is expected, (path, size, modified)
    assert seen.unchanged_by_stat("a", 10, at)


def _file(path: str) -> FileMetadata:
    return FileMetadata(path, 1, 0.0)


def test_passes_leave_out_the_files_the_state_has_read_unchanged() -> None:
    listed = [_file("a"), _file("b"), _file("c"), _file("d"), _file("e")]
    plan = passes.plan_passes(listed, 2, unchanged=lambda item: item.path in {"a", "c"})
    assert plan.passes == (("b", "d"), ("e",))
    assert plan.unchanged == 2
    assert passes.plan_passes(listed, 2).unchanged == 0


def test_the_files_due_to_be_listed_again_are_looked_up_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`SeenRecord.due` sliced the Arrow table once per file (a dict made of each row);
    the files due are now found by one lookup of all the paths (review 114)."""
    now = T0 + dt.timedelta(days=40)
    rows = [_row("fresh", seen=now - dt.timedelta(days=1)), _row("stale", seen=T0)]
    seen = SeenFiles(_table(rows))
    assert seen.last_seen_before(["stale", "fresh", "unknown"], now - dt.timedelta(days=5)) == [
        True,
        False,
        True,
    ]
    assert seen.last_seen_before([], now) == []

    def sliced(self: Any, path: str) -> Any:
        raise AssertionError("a row looked up by itself")

    monkeypatch.setattr(SeenFiles, "get", sliced)
    record = passes.SeenRecord(seen, now - dt.timedelta(days=5))
    listed = [_file("stale"), _file("fresh"), _file("new")]
    plan = passes.plan_passes(listed, 10, lambda item: item.path != "new", record.due)
    assert plan.passes == (("new",),) and plan.unchanged == 2 and plan.refresh == ("stale",)
    assert passes.SeenRecord(seen, None).due(listed) == [False, False, False]


# --- End to end -----------------------------------------------------------------------------


def _write_texts(folder: Path, first: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(first, first + count):
        (folder / f"item-{number:03d}.txt").write_text(
            f"Archive item {number}\n\nArchive item {number} was filed by the night desk. "
            f"The council met on day {number} and voted {number % 7} times on the budget for "
            f"roads, schools and the library {number * 13}, the clerk said afterwards.\n"
        )


def _aged(folder: Path) -> None:
    """Every file's time set a minute back: the next run finds them settled
    (`unchanged_by_stat` trusts size and time only of a file written well before)."""
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            os.utime(path, (stat.st_atime, stat.st_mtime - 60))


def test_a_nightly_run_hands_only_new_files_past_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, root, state = tmp_path / "archive", tmp_path / "out", tmp_path / "state"
    _write_texts(archive / "2016" / "01", 0, 12)
    _write_texts(archive / "2016" / "02", 12, 12)
    _aged(archive)
    argv = ["--input", str(archive), "--output", str(root), "--state", str(state)]
    assert entry.main(argv) == 0
    first = run_manifest(root)
    assert first["counts"]["inputs"] == 24

    _write_texts(archive / "2026" / "12", 100, 2)
    handled: list[str] = []
    hashed = read._SkipIngested.process

    def counted(self: Any, file: Any) -> Any:
        handled.append(os.fsdecode(file[0]))
        return hashed(self, file)

    monkeypatch.setattr(read._SkipIngested, "process", counted)
    assert entry.main(argv) == 0
    night = run_manifest(root)
    assert night["counts"]["inputs"] == 2
    assert night["counters"]["read_skipped_unchanged"] == 24
    # The unchanged files stopped at the listing: only the new ones were handed on.
    assert sorted(Path(path).name for path in handled) == ["item-100.txt", "item-101.txt"]
    # ... and are recorded as listed by this run, as before.
    seen = current_state(state) / "inputs" / "seen_files.parquet"
    rows = duckdb.sql(f"SELECT last_seen_at, count(*) FROM '{seen}' GROUP BY 1").fetchall()
    assert [count for _, count in rows] == [26]
    assert rows[0][0] == dt.datetime.fromisoformat(night["started_at"])


@pytest.mark.slow
def test_a_nightly_run_over_an_object_store_decides_unchanged_objects_at_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's listing gives each object's size and last-updated time: an unchanged
    object stops there, as a local file does, not after the shuffle with a request of its
    own (a HEAD per object a night: 200,000 requests for an archive)."""
    import time

    from tests.s3_server import s3_server

    root, state = tmp_path / "out", tmp_path / "state"
    with s3_server() as s3:
        client = s3.client()

        def put(first: int, count: int) -> None:
            _write_texts(tmp_path / "texts", first, count)
            for path in sorted((tmp_path / "texts").iterdir()):
                client.put_object(
                    Bucket=s3.bucket, Key=f"archive/{path.name}", Body=path.read_bytes()
                )
                path.unlink()

        put(0, 6)
        time.sleep(2.1)  # older than read._SETTLED when first read: its size and time vouch
        argv = [
            "--input",
            s3.url("archive"),
            "--output",
            str(root),
            "--state",
            str(state),
            *s3.flags,
        ]
        assert entry.main(argv) == 0
        assert run_manifest(root)["counts"]["inputs"] == 6

        put(100, 2)
        handled: list[str] = []
        stamped: list[str] = []
        hashed, stat = read._SkipIngested.process, read.file_stat

        def counted(self: Any, file: Any) -> Any:
            handled.append(os.fsdecode(file[0]))
            return hashed(self, file)

        def counted_stat(path: str) -> Any:
            stamped.append(path)
            return stat(path)

        monkeypatch.setattr(read._SkipIngested, "process", counted)
        monkeypatch.setattr(read, "file_stat", counted_stat)
        assert entry.main(argv) == 0

        # A new object's size and time: one request (HEAD), not one for each.
        from apache_beam.io.aws import s3io

        from newsbeam.transforms.support import files

        heads: list[str] = []
        head = s3io.S3IO._s3_object

        def counted_head(self: Any, path: str) -> Any:
            heads.append(path)
            return head(self, path)

        monkeypatch.setattr(s3io.S3IO, "_s3_object", counted_head)
        s3.use_in_process()
        size, updated = files.size_and_updated(s3.url("archive", "item-100.txt"))
        assert heads == [s3.url("archive", "item-100.txt")] and size > 0 and updated > 0
    night = run_manifest(root)
    assert night["counts"]["inputs"] == 2
    assert night["counters"]["read_skipped_unchanged"] == 6
    assert sorted(path.rsplit("/", 1)[-1] for path in handled) == ["item-100.txt", "item-101.txt"]
    assert not [path for path in stamped if "item-1" not in path.rsplit("/", 1)[-1]]
    seen = current_state(state) / "inputs" / "seen_files.parquet"
    assert duckdb.sql(f"SELECT count(*) FROM '{seen}'").fetchall() == [(8,)]


ODD_NAMES = [
    b"saved page with spaces.txt",
    b"two\nlines.txt",
    b"caf\xe9 r\xe9sum\xe9.txt",  # Latin-1: not UTF-8
    os.path.join(*[b"f" * 200] * 3, b"y" * 200 + b".txt"),  # a path of ~830 bytes
]


def test_odd_names_are_read_once_and_named_readably(tmp_path: Path) -> None:
    archive, root, state = tmp_path / "archive", tmp_path / "out", tmp_path / "state"
    _write_texts(archive, 0, 1)
    for number, name in enumerate(ODD_NAMES):
        path = os.path.join(os.fsencode(archive), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        source = archive / "item-000.txt"
        text = (
            source.read_text()
            .replace("item 0", f"odd item {number}")
            .replace("day 0", f"{7 * number + 3}")
        )
        with open(path, "wb") as handle:
            handle.write(text.encode())
    _aged(archive)
    argv = ["--input", str(archive), "--output", str(root), "--state", str(state)]
    assert entry.main(argv) == 0
    first = run_manifest(root)
    assert first["counts"]["inputs"] == 5 and first["counts"]["balanced"]
    sources = sorted(
        row[0]
        for row in duckdb.sql(
            f"SELECT source FROM read_parquet('{root}/articles/*/*.parquet') UNION ALL "
            f"SELECT source FROM read_parquet('{root}/duplicates/*/*.parquet')"
        ).fetchall()
    )
    assert any(source.endswith("caf\\xe9 r\\xe9sum\\xe9.txt") for source in sources)
    assert any(source.endswith("two\nlines.txt") for source in sources)
    assert any(source.endswith("saved page with spaces.txt") for source in sources)
    assert any(len(source) > 800 for source in sources)
    # The next night reads none of them again (the non-UTF-8 one is found by its readable
    # name in the record).
    assert entry.main(argv) == 0
    night = run_manifest(root)
    assert night["counts"]["inputs"] == 0
    assert night["counters"]["read_skipped_unchanged"] == 5


def _all(root: Path, table: str) -> list[tuple[Any, ...]]:
    columns = {"articles": "source, article_id", "duplicates": "source, canonical_id"}[table]
    sql = f"SELECT {columns} FROM read_parquet('{root}/{table}/*/*.parquet') ORDER BY source"
    return [(Path(row[0]).name, row[1]) for row in duckdb.sql(sql).fetchall()]


def test_a_backfill_that_failed_in_a_pass_starts_again_at_that_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    archive, state = tmp_path / "archive", tmp_path / "state"
    _write_texts(archive / "a", 0, 6)
    _write_texts(archive / "b", 6, 6)
    shutil.copyfile(archive / "a" / "item-001.txt", archive / "b" / "item-zz-copy.txt")
    _aged(archive)
    root = tmp_path / "out"
    argv = ["--input", str(archive), "--output", str(root), "--state", str(state)]
    argv += ["--max_files_per_run", "4"]

    run_locked = passes.pipeline_run.run_locked
    calls: list[int] = []

    def fails_in_pass_three(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the machine went down in pass 3")
        return run_locked(*args, **kwargs)

    monkeypatch.setattr(passes.pipeline_run, "run_locked", fails_in_pass_three)
    with caplog.at_level(logging.ERROR, logger="newsbeam"):
        assert entry.main(argv) == 1
    assert "pass 3 of 4 was not committed; passes 1-2 were (runs" in caplog.text
    assert "nothing was committed" not in caplog.text
    assert [run["pass"]["number"] for run in dataset.committed_runs(str(root))] == [1, 2]
    monkeypatch.setattr(passes.pipeline_run, "run_locked", run_locked)

    assert entry.main(argv) == 0  # again: passes 1-2's files are not in any pass
    runs = dataset.committed_runs(str(root))
    again = runs[2:]
    assert [(run["pass"]["number"], run["pass"]["of"], run["pass"]["files"]) for run in again] == [
        (1, 2, 4),
        (2, 2, 1),
    ]
    assert again[0]["pass"]["unchanged"] == 8
    assert sum(run["counts"]["inputs"] for run in runs) == 13

    # The same tables as one command that never failed.
    clean_root, clean_state = tmp_path / "clean", tmp_path / "clean-state"
    clean = ["--input", str(archive), "--output", str(clean_root), "--state", str(clean_state)]
    assert entry.main([*clean, "--max_files_per_run", "4"]) == 0
    assert _all(root, "articles") == _all(clean_root, "articles")
    assert _all(root, "duplicates") == _all(clean_root, "duplicates")
    assert [name for name, _ in _all(root, "duplicates")] == ["item-zz-copy.txt"]


def test_a_night_loads_the_record_once_and_stats_no_unchanged_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unchanged files are decided by the listing's own size and time: they were stat'ed a
    second time (review 111's `_SkipListedUnchanged`). The earlier record is read once per
    process: the listing's and the read's DoFns and the record's writer each read it, and
    with passes the plan too (review 114)."""
    archive, root, state = tmp_path / "archive", tmp_path / "out", tmp_path / "state"
    _write_texts(archive / "2016", 0, 12)
    _aged(archive)
    argv = ["--input", str(archive), "--output", str(root), "--state", str(state)]
    assert entry.main(argv) == 0

    loads: list[tuple[str, ...]] = []
    stats: list[str] = []
    load, stat = read.read_seen_files, read.file_stat

    def counted_load(paths: Any) -> Any:
        loads.append(tuple(paths))
        return load(paths)

    def counted_stat(path: str) -> Any:
        stats.append(path)
        return stat(path)

    monkeypatch.setattr(read, "read_seen_files", counted_load)
    monkeypatch.setattr(read, "file_stat", counted_stat)
    for night, extra in enumerate(([], ["--max_files_per_run", "5"]), start=1):
        loads.clear()
        stats.clear()
        loaded.forget("inputs/seen_files")
        _write_texts(archive / f"night-{night}", 100 * night, 2)
        _aged(archive / f"night-{night}")
        assert entry.main([*argv, *extra]) == 0
        manifest = run_manifest(root)
        assert manifest["counts"]["inputs"] == 2
        if extra:  # left out of the passes by their plan
            assert manifest["pass"]["unchanged"] == 14
        else:  # left at the listing
            assert manifest["counters"]["read_skipped_unchanged"] == 12
        assert len(loads) == 1, (night, loads)
        assert not [path for path in stats if "night-" + str(night) not in path], night


def test_a_damaged_record_stops_passes_as_the_state_check_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The passes' plan read the record by a path of its own, past the state's checks: a
    damaged record failed the command with exit 1 and Arrow's message, where the run's
    check exits 2 naming the file (review 114)."""
    archive, root, state = tmp_path / "archive", tmp_path / "out", tmp_path / "state"
    _write_texts(archive, 0, 3)
    argv = ["--input", str(archive), "--output", str(root), "--state", str(state)]
    assert entry.main(argv) == 0
    record = current_state(state) / "inputs" / "seen_files.parquet"
    record.write_bytes(b"PAR1 not a Parquet file at all PAR1")
    capsys.readouterr()
    assert entry.main([*argv, "--max_files_per_run", "2"]) == 2
    said = capsys.readouterr().err
    assert f"state file {record} is unreadable" in said, said
    assert [run["run_id"] for run in dataset.committed_runs(str(root))] == [
        run_manifest(root)["run_id"]
    ]  # nothing more committed


def test_the_launch_counts_the_files_the_night_will_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A night's launcher counted every listed file: over an archive it said "10,000 or
    more input documents ... --max_files_per_run" and planned worker processes for a run
    that read 20 new files. It now counts what the state has not read as it is (review
    114)."""
    archive, root, state = tmp_path / "archive", tmp_path / "out", tmp_path / "state"
    _write_texts(archive / "2016", 0, 52)
    _aged(archive)
    argv = ["--input", str(archive), "--output", str(root), "--state", str(state)]
    argv += ["--direct_num_workers", "1"]  # the count is the same; the run in this process
    assert entry.main(argv) == 0
    _write_texts(archive / "2026", 500, 2)
    new = sorted(str(path) for path in (archive / "2026").iterdir())
    assert pipeline_run._unread_inputs([str(archive)], str(state), 100) == new
    assert pipeline_run._unread_inputs([str(archive)], str(tmp_path / "none"), 100) is None
    monkeypatch.setattr(pipeline_run, "LARGE_INPUT_FILES", 50)
    hint = "or more input documents"
    with caplog.at_level(logging.INFO, logger="newsbeam"):
        pipeline_run.prepare(argv)
    assert hint not in caplog.text
    with caplog.at_level(logging.INFO, logger="newsbeam"):  # without the state: all 54
        pipeline_run.prepare([*argv[:4], *argv[6:]])
    assert hint in caplog.text
