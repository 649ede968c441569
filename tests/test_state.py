"""The --state root: its life cycle (checks, versions, CURRENT, carry-over, recovery, the
older layout migrated), the one check rule for state files, and the stateful stages in
Beam against real earlier state."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.pipeline import main as entry
from newsbeam.pipeline.build import build
from newsbeam.pipeline.options import PipelineConfig
from newsbeam.schemas import (
    STATE_FOLDER_VERSION,
    STATE_MARKER,
    STATE_VERSION,
    STATE_VERSION_KEY,
    Article,
)
from newsbeam.schemas.dedup_state import DEDUP_STORY_TERMS_SCHEMA
from newsbeam.transforms.clean import clean_article
from newsbeam.transforms.dedup import DedupConfig, DeduplicateArticles, WriteDedupIndex
from newsbeam.transforms.extract import new_article
from newsbeam.transforms.stories import ClusterStories, StoryConfig
from newsbeam.transforms.support import state as state_module
from newsbeam.transforms.support.state import (
    CURRENT,
    DEDUP_ARTICLES,
    FILE,
    SEEN_ENTRIES,
    STORY_TERMS,
    TABLES,
    OpenedState,
    StateError,
    StateRetention,
    StateTable,
    check_file,
    make_context,
    open_state,
    prepare_state,
    publish_state,
    read_current,
    read_rows,
    read_table,
    recover_state,
    stamped,
    version_dir,
    within_retention,
)
from tests.helpers import counters_of, make_test_pipeline

UTC = dt.timezone.utc


def _commit_alone(opened: OpenedState | None, summary: dict | None = None) -> None:
    """Publish a new version without an output (what a run does after its manifest)."""
    assert opened is not None
    prepare_state(opened, summary or {}, "")
    publish_state(opened, "")


def _version(state: Path) -> Path:
    current = read_current(str(state))
    assert current is not None
    return Path(version_dir(str(state), current["version"]))


def test_missing_or_empty_state_starts_empty(tmp_path: Path) -> None:
    for state in (tmp_path / "absent", tmp_path / "empty"):
        if state.name == "empty":
            state.mkdir()
        context, opened = open_state(state, RUN_AT, run_id="r1", attempt="0a0a0a0a")
        assert opened is not None and opened.base is None and context.state_dir is None
        assert read_current(str(state)) is None


def test_foreign_corrupt_and_other_version_state_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StateError, match="does not look like NewsBeam state"):
        open_state(tmp_path, RUN_AT)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / CURRENT).write_text("{not json")
    with pytest.raises(StateError, match="unreadable"):
        open_state(corrupt, RUN_AT)
    other = tmp_path / "other"
    other.mkdir()
    (other / CURRENT).write_text(
        json.dumps({"format": "newsbeam-state", "state_version": "0", "version": "v"})
    )
    with pytest.raises(StateError, match="state version 0"):
        open_state(other, RUN_AT)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / STATE_MARKER).write_text(json.dumps({"state_version": "0"}))
    with pytest.raises(StateError, match="state version 0"):
        recover_state(str(legacy), lambda *_: False)
    assert sorted(p.name for p in legacy.iterdir()) == [STATE_MARKER]  # left as it was


def _write_dedup(folder: Path, name: str) -> None:
    table = pa.Table.from_pylist([], schema=stamped(DEDUP_ARTICLES.schema))
    (folder / "dedup" / "articles").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "dedup" / "articles" / name)


def test_an_older_releases_folder_is_read_and_older_releases_refuse_this_ones(
    tmp_path: Path,
) -> None:
    """Review 59: an older release run on the state an upgrade wrote read it without a word
    (same state version 2) and misread it: relative guids resolved, so a feed's entries came
    in again as new; the seen entries written back without `page_failures` and `version`.
    Folders are now written as version 3 (every release of version 2 compares with "2" and
    refuses, exit 2), the tables as they were; a folder of version 2 is read as before."""
    state = tmp_path / "state"
    _, first = open_state(state, RUN_AT, run_id="r1", attempt="00000001")
    assert first is not None
    _write_dedup(Path(first.version_dir), "part-1.parquet")
    _commit_alone(first)
    markers = (state / CURRENT, _version(state) / STATE_MARKER)
    for marker in markers:  # as a release of folder version 2 left it: its tables the same
        marker.write_text(json.dumps({**json.loads(marker.read_text()), "state_version": "2"}))

    _, second = open_state(state, RUN_AT, run_id="r2", attempt="00000002")
    assert second is not None and second.base == "r1.00000001"
    _commit_alone(second)
    for marker in (state / CURRENT, _version(state) / STATE_MARKER):
        assert json.loads(marker.read_text())["state_version"] == STATE_FOLDER_VERSION != "2"
    for path in (_version(state) / "dedup" / "articles").iterdir():
        assert pq.read_schema(path).metadata[STATE_VERSION_KEY] == STATE_VERSION.encode()

    # A newer release's folder (a downgrade): refused as one, left as it is.
    current = json.loads((state / CURRENT).read_text())
    (state / CURRENT).write_text(json.dumps({**current, "state_version": "4"}))
    before = sorted(p.relative_to(state) for p in state.rglob("*"))
    with pytest.raises(StateError, match="state version 4.*a newer NewsBeam wrote it"):
        open_state(state, RUN_AT, run_id="r3", attempt="00000003")
    assert sorted(p.relative_to(state) for p in state.rglob("*")) == before


def test_versions_carry_over_what_a_run_did_not_write_and_keep_one_before(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    _, first = open_state(state, RUN_AT, run_id="r1", attempt="00000001")
    assert first is not None
    _write_dedup(Path(first.version_dir), "part-1.parquet")
    _commit_alone(first)
    assert read_current(str(state))["version"] == "r1.00000001"

    _, second = open_state(state, RUN_AT, run_id="r2", attempt="00000002")
    assert second is not None and second.base == "r1.00000001"
    _commit_alone(second, {"last_run": "now"})  # wrote nothing: dedup carried over
    assert sorted(p.name for p in (_version(state) / "dedup" / "articles").iterdir()) == [
        "part-1.parquet"
    ]
    marker = json.loads((_version(state) / STATE_MARKER).read_text())
    assert marker["state_version"] == STATE_FOLDER_VERSION and marker["components"] == ["dedup"]
    assert marker["parent"] == "r1.00000001" and marker["last_run"] == "now"

    _, third = open_state(state, RUN_AT, run_id="r3", attempt="00000003")
    assert third is not None
    _commit_alone(third)
    # CURRENT's version and the one before it are kept, older ones go.
    assert sorted(p.name for p in (state / "versions").iterdir()) == [
        "r2.00000002",
        "r3.00000003",
    ]
    # The latest run again (same run id) starts from the version before it.
    context, again = open_state(state, RUN_AT, run_id="r3", attempt="00000004")
    assert again is not None and again.base == "r2.00000002"
    assert context.state_dir == version_dir(str(state), "r2.00000002")


def test_a_rerun_is_measured_from_its_first_attempts_start(tmp_path: Path) -> None:
    """Review 57: a rerun's retention cut-offs and first_seen_at come from the first
    attempt's start (its version's `run_at`; for a version written before that was
    recorded, its output manifest's `started_at`), not from the rerun's own."""
    state = tmp_path / "state"
    later = RUN_AT + dt.timedelta(days=2)
    _commit_alone(open_state(state, RUN_AT, run_id="r1", attempt="00000001")[1])
    assert json.loads((_version(state) / STATE_MARKER).read_text())["run_at"] == (
        RUN_AT.isoformat()
    )
    context, again = open_state(state, later, 7, run_id="r1", attempt="00000002")
    assert context.run_at == RUN_AT and context.keep_since == RUN_AT - dt.timedelta(days=7)
    assert again is not None and again.run_at == RUN_AT
    assert context.clock == later  # a file being written is judged by the clock
    _commit_alone(again)  # a rerun of the rerun still goes by the first attempt
    assert open_state(state, later, run_id="r1", attempt="00000003")[0].run_at == RUN_AT
    # An older version: no run_at; its run's manifest says when it started.
    marker = _version(state) / STATE_MARKER
    older = {k: v for k, v in json.loads(marker.read_text()).items() if k != "run_at"}
    manifest = tmp_path / "out" / "_runs" / "r1.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"started_at": RUN_AT.isoformat()}))
    marker.write_text(json.dumps({**older, "output_manifest": str(manifest)}))
    current = json.loads((state / "CURRENT.json").read_text())
    (state / "CURRENT.json").write_text(json.dumps({**current, "output_manifest": str(manifest)}))
    assert open_state(state, later, run_id="r1", attempt="00000004")[0].run_at == RUN_AT
    manifest.unlink()  # nothing says: the rerun's own start
    assert open_state(state, later, run_id="r1", attempt="00000005")[0].run_at == later
    # Another run id is no rerun.
    assert open_state(state, later, run_id="r2", attempt="00000006")[0].run_at == later


def test_recovery_publishes_a_committed_version_and_drops_the_rest(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _, first = open_state(state, RUN_AT, run_id="r1", attempt="00000001")
    _commit_alone(first)
    # A run committed its output, then died before publishing its state version.
    _, committed = open_state(state, RUN_AT, run_id="r2", attempt="00000002")
    assert committed is not None
    prepare_state(committed, {}, "out/_runs/r2.json")
    # Another died before its commit: a version no manifest names (and one half written).
    _, dead = open_state(state, RUN_AT, run_id="r3", attempt="00000003")
    assert dead is not None
    prepare_state(dead, {}, "out/_runs/r3.json")
    _write_dedup(state / "versions" / "r4.00000004", "part-0.parquet")

    def manifest_names(manifest: str, run_id: str, attempt: str) -> bool:
        return (manifest, run_id, attempt) == ("out/_runs/r2.json", "r2", "00000002")

    done = recover_state(str(state), manifest_names)
    assert read_current(str(state))["version"] == "r2.00000002"
    assert len(done) == 3 and "published version r2.00000002" in " ".join(done)
    assert sorted(p.name for p in (state / "versions").iterdir()) == ["r1.00000001", "r2.00000002"]
    assert recover_state(str(state), manifest_names) == []


def test_state_of_the_older_layout_becomes_a_version_in_place(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _write_dedup(state, "part-0.parquet")
    (state / STATE_MARKER).write_text(json.dumps({"state_version": STATE_VERSION}))
    recover_state(str(state), lambda *_: False)
    assert sorted(p.name for p in state.iterdir()) == [CURRENT, "versions"]
    context, opened = open_state(state, RUN_AT, run_id="r1", attempt="00000001")
    assert opened is not None and opened.base == "legacy"
    assert len(context.files(DEDUP_ARTICLES)) == 1


def test_run_with_state_writes_it_and_refuses_bad_state(
    seeds_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, output = tmp_path / "state", tmp_path / "out"
    args = ["--input", str(seeds_dir), "--output", str(output), "--state", str(state)]
    assert entry.main(args) == 0
    assert read_current(str(state)) is not None

    current = json.loads((state / CURRENT).read_text())
    (state / CURRENT).write_text(json.dumps({**current, "state_version": "999"}))
    before = sorted(p.relative_to(state) for p in state.rglob("*"))
    runs = sorted((output / "_runs").iterdir())
    assert entry.main(args) == 2
    assert "state version 999" in capsys.readouterr().err
    assert sorted(p.relative_to(state) for p in state.rglob("*")) == before
    assert sorted((output / "_runs").iterdir()) == runs  # nothing committed
    assert (
        entry.main(["--input", str(seeds_dir), "--output", str(state), "--state", str(state)]) == 2
    )


def test_retention_keeps_rows_first_seen_within_the_window() -> None:
    run_at = dt.datetime(2024, 5, 31, 6, 0, tzinfo=dt.timezone.utc)
    week = StateRetention(run_at, keep_days=7)
    assert week.keep_since == run_at - dt.timedelta(days=7)
    old = {"article_id": "a", "first_seen_at": run_at - dt.timedelta(days=30)}
    edge = {"article_id": "b", "first_seen_at": run_at - dt.timedelta(days=7)}
    new = {"article_id": "c", "first_seen_at": run_at - dt.timedelta(hours=1)}
    assert [within_retention(r, week.keep_since) for r in (old, edge, new)] == [False, True, True]
    # 0 (the default) keeps everything: no cut-off at all.
    forever = StateRetention(run_at)
    assert forever.keep_since is None
    assert all(within_retention(r, forever.keep_since) for r in (old, edge, new))


# ---------------------------------------------------------------------------------------
# The one check rule for state files, and the state context
# ---------------------------------------------------------------------------------------

RUN_AT = dt.datetime(2024, 5, 2, 6, 0, tzinfo=dt.timezone.utc)


def _write(path: Path, schema: pa.Schema, rows: list[dict] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows or [], schema=schema), path)
    return path


def _seen_rows() -> list[dict]:
    row = {"feed_url": "u", "entry_id": "e", "first_seen_at": RUN_AT, "last_seen_at": RUN_AT}
    return [{**row, "page_failures": 0, "version": None}]


def test_a_file_must_carry_this_state_version(tmp_path: Path) -> None:
    schema = SEEN_ENTRIES.schema
    unstamped = _write(tmp_path / "a.parquet", schema.remove_metadata())
    with pytest.raises(StateError, match="state version none"):
        check_file(str(unstamped), SEEN_ENTRIES)
    other = _write(tmp_path / "b.parquet", schema.with_metadata({STATE_VERSION_KEY: b"1"}))
    with pytest.raises(StateError, match="state version 1"):
        check_file(str(other), SEEN_ENTRIES)
    (tmp_path / "c.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(StateError, match="unreadable"):
        check_file(str(tmp_path / "c.parquet"), SEEN_ENTRIES)
    good = _write(tmp_path / "d.parquet", stamped(schema), _seen_rows())
    assert check_file(str(good), SEEN_ENTRIES).names == schema.names


def test_added_columns_may_be_missing_others_may_not(tmp_path: Path) -> None:
    assert "last_seen_at" in SEEN_ENTRIES.added
    without_added = pa.schema(
        [f for f in SEEN_ENTRIES.schema if f.name != "last_seen_at"],
        metadata=stamped(SEEN_ENTRIES.schema).metadata,
    )
    rows = [{k: v for k, v in r.items() if k != "last_seen_at"} for r in _seen_rows()]
    old = _write(tmp_path / "old.parquet", without_added, rows)
    check_file(str(old), SEEN_ENTRIES)
    # Read in the table's columns, the added one null.
    assert list(read_rows(str(old), SEEN_ENTRIES)) == [{**rows[0], "last_seen_at": None}]

    # A column that was not added later (entry_id) must be there, with its type.
    lacking = pa.schema(
        [f for f in SEEN_ENTRIES.schema if f.name != "entry_id"],
        metadata=stamped(SEEN_ENTRIES.schema).metadata,
    )
    with pytest.raises(StateError, match="lacks column entry_id"):
        check_file(str(_write(tmp_path / "lacking.parquet", lacking)), SEEN_ENTRIES)
    retyped = pa.schema(
        [f.with_type(pa.int64()) if f.name == "entry_id" else f for f in SEEN_ENTRIES.schema],
        metadata=stamped(SEEN_ENTRIES.schema).metadata,
    )
    with pytest.raises(StateError, match="column entry_id is int64"):
        check_file(str(_write(tmp_path / "retyped.parquet", retyped)), SEEN_ENTRIES)
    # The same rule for a dedup table: a column it does not know is ignored when read.
    extra = stamped(DEDUP_STORY_TERMS_SCHEMA).append(pa.field("weight", pa.float64()))
    path = _write(tmp_path / "terms.parquet", extra, [{"term": "", "articles": 3, "weight": 1.0}])
    check_file(str(path), STORY_TERMS)
    assert list(read_rows(str(path), STORY_TERMS)) == [{"term": "", "articles": 3}]


def test_every_table_raises_the_one_state_error(tmp_path: Path) -> None:
    for table in TABLES:
        state = tmp_path / table.name.replace("/", "_")
        path = state / table.path
        if table.layout != FILE:
            path = path / "part-0.parquet"
        _write(path, table.schema.remove_metadata())
        with pytest.raises(StateError, match=f"{path}.*state version none"):
            make_context(str(state), None, RUN_AT)


def _articles(*items: tuple[str, str, int]) -> list[Article]:
    return [
        clean_article(
            new_article(source, text=text, published_at=dt.datetime(2024, 5, day, tzinfo=UTC))
        )
        for source, text, day in items
    ]


QUAKE = "A magnitude {m} earthquake struck {place} on {day}, killing {n} people and damaging {x}."
BAM = QUAKE.format(m="6.1", place="Bam in Iran", day="Friday", n="300", x="the old citadel")
BAM2 = QUAKE.format(m="6.1", place="Bam, Iran", day="Friday", n="310", x="the citadel of Bam")
BAM3 = QUAKE.format(m="6.1", place="Iran's Bam", day="Friday", n="300", x="homes in Bam")
CHILE = QUAKE.format(m="7.4", place="Chile's Valparaiso", day="Monday", n="12", x="the port")
FOOTBALL = "The football club Rovers signed a new striker from Lisbon for a record fee."


def _stateful_day(
    state: Path, run_at: dt.datetime, articles: list[Article], kept: list, duplicates: list
) -> dict[str, int]:
    """One run of the stateful stages on their own (TestPipeline) against `state`, committed
    afterwards; asserts the (source, story id) of the kept articles and the duplicates."""
    run_id = run_at.strftime("%Y%m%dT%H%M%S")
    context, opened = open_state(state, run_at, run_id=run_id, attempt="0000abcd")
    assert opened is not None
    with make_test_pipeline() as pipeline:
        articles_in, copies = (
            pipeline | beam.Create(articles) | DeduplicateArticles(DedupConfig(), context)
        )
        with_story = articles_in | ClusterStories(StoryConfig(), context)
        _ = with_story | WriteDedupIndex(DedupConfig(), context)
        assert_that(with_story | beam.Map(lambda a: (a.source, a.story_id)), equal_to(kept))
        assert_that(
            copies | beam.Map(lambda d: (d.source, d.canonical_id, d.method)),
            equal_to(duplicates),
            label="Duplicates",
        )
    _commit_alone(opened)
    return counters_of(pipeline)


def test_dedup_and_stories_in_beam_continue_from_an_earlier_state_folder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    day1 = _articles(("bam", BAM, 1), ("bam3", BAM3, 1), ("chile", CHILE, 1), ("f", FOOTBALL, 1))
    bam, _, chile, football = day1
    stories = [bam.article_id, bam.article_id, chile.article_id, football.article_id]
    _stateful_day(
        state, RUN_AT, day1, [(a.source, s) for a, s in zip(day1, stories, strict=True)], []
    )
    context = make_context(str(_version(state)), None, RUN_AT)
    assert len(read_table(context, DEDUP_ARTICLES)) == 4

    # Day 2: a copy of an earlier article is its duplicate; a new article on the Bam
    # earthquake continues the earlier story (its id is the earlier article's).
    bam2, copy = _articles(("bam2", BAM2, 2), ("copy", CHILE, 2))
    later = RUN_AT + dt.timedelta(days=1)
    copied = [("copy", chile.article_id, "exact")]
    counters = _stateful_day(state, later, [bam2, copy], [("bam2", bam.article_id)], copied)
    assert counters["stories_joined_earlier"] == 1
    context = make_context(str(_version(state)), None, later)
    index = {r["article_id"]: r for r in read_table(context, DEDUP_ARTICLES)}
    assert set(index) == {a.article_id for a in (*day1, bam2)}
    assert index[bam2.article_id]["story_id"] == bam.article_id
    assert index[bam2.article_id]["first_seen_at"] == later
    assert index[bam.article_id]["first_seen_at"] == RUN_AT  # carried over as it was
    assert {"term": "", "articles": 5} in read_table(context, STORY_TERMS)


def test_state_files_are_checked_once_before_the_pipeline_is_built(
    tmp_path: Path,
    seeds_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    unrun_pipeline: Callable[..., beam.Pipeline],
) -> None:
    state = tmp_path / "state"
    football = _articles(("f", FOOTBALL, 1))
    _stateful_day(state, RUN_AT, football, [("f", football[0].article_id)], [])
    files = sorted(str(p) for p in _version(state).rglob("*.parquet"))
    assert len(files) == 3  # dedup articles, stories, story_terms

    checked: list[str] = []
    real_check = state_module.check_file

    def counting_check(path: str, table: StateTable) -> pa.Schema:
        checked.append(path)
        return real_check(path, table)

    def no_reading(*_: object) -> None:
        raise AssertionError("a state file was read while the pipeline was built")

    monkeypatch.setattr(state_module, "check_file", counting_check)
    monkeypatch.setattr(state_module, "read_rows", no_reading)
    context, opened = open_state(state, RUN_AT + dt.timedelta(days=1), run_id="r", attempt="a")
    assert sorted(checked) == files  # every file, once
    assert context.files(DEDUP_ARTICLES) and context.writes
    config = PipelineConfig(inputs=(str(seeds_dir),), output_dir=str(tmp_path / "o"), state=context)
    build(unrun_pipeline(runner="FnApiRunner"), config)  # built, not run
    assert sorted(checked) == files  # building checks and reads nothing
    assert opened is not None and not Path(opened.version_dir).exists()  # nothing written


def test_retention_takes_fractions_of_a_day() -> None:
    # A long-running follow process may keep hours, not days (--state_keep_days 0.25).
    run_at = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)
    since = StateRetention(run_at, 0.25).keep_since
    assert since == dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.timezone.utc)
    assert within_retention({"first_seen_at": since}, since)
    assert not within_retention({"first_seen_at": since - dt.timedelta(seconds=1)}, since)
    assert StateRetention(run_at, 0).keep_since is None


def test_a_state_last_committed_into_another_root_is_warned_of(
    seeds_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state, first, second = tmp_path / "state", tmp_path / "first", tmp_path / "second"
    copies = tmp_path / "copies"  # the same articles under other paths: read, and copies
    shutil.copytree(seeds_dir, copies)
    for inputs, output in ((seeds_dir, first), (copies, second)):
        assert (
            entry.main(["--input", str(inputs), "--output", str(output), "--state", str(state)])
            == 0
        )
    # The second run's copies point at the first ROOT's articles: said, not silent.
    assert f"--state {state} last committed with --output {first}" in caplog.text
    duplicates = pq.read_table(sorted((second / "duplicates").rglob("*.parquet"))[0])
    assert duplicates.num_rows == 5


def test_a_state_that_committed_into_another_root_is_warned_of_on_every_run(
    seeds_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A state taken on to a second ROOT keeps the first ROOT's articles: the second ROOT's
    # later runs still point copies of them there (silently, before: only its first run
    # was warned of).
    state, first, second = tmp_path / "state", tmp_path / "first", tmp_path / "second"
    for name in ("copies", "more"):
        shutil.copytree(seeds_dir, tmp_path / name)

    def run(inputs: Path, output: Path) -> None:
        caplog.clear()
        argv = ["--input", str(inputs), "--output", str(output), "--state", str(state)]
        assert entry.main(argv) == 0

    run(seeds_dir, first)
    run(tmp_path / "copies", second)
    run(tmp_path / "more", second)
    in_first = set(_column(first, "articles", "article_id"))
    canonicals = _column(second, "duplicates", "canonical_id")
    assert len(canonicals) == 10 and set(canonicals) <= in_first
    assert f"--state {state} holds articles committed into --output {first}" in caplog.text


def _column(root: Path, table: str, column: str) -> list[str]:
    return pq.read_table(sorted((root / table).rglob("*.parquet"))).column(column).to_pylist()


def test_a_state_behind_its_root_is_warned_of(
    seeds_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A state restored from a backup, or a new one beside a ROOT another state kept: the
    # runs since are not known to it, and their articles are added again (silently, before).
    inbox, root, state = tmp_path / "in", tmp_path / "out", tmp_path / "state"
    seeds = sorted(seeds_dir.iterdir())
    inbox.mkdir()
    shutil.copy(seeds[0], inbox)

    def run(with_state: Path) -> None:
        caplog.clear()
        argv = ["--input", str(inbox), "--output", str(root), "--state", str(with_state)]
        assert entry.main(argv) == 0

    run(state)
    shutil.copytree(state, tmp_path / "backup")
    shutil.copy(seeds[1], inbox)
    run(state)
    assert "is behind --output" not in caplog.text and "is new, but" not in caplog.text  # in step
    shutil.rmtree(state)
    shutil.copytree(tmp_path / "backup", state)
    run(state)
    assert f"--state {state} is behind --output {root}" in caplog.text
    run(tmp_path / "fresh")
    assert f"--state {tmp_path / 'fresh'} is new, but --output {root} holds runs" in caplog.text


def test_a_run_without_state_beside_runs_that_kept_one_is_warned_of(
    seeds_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A scheduled job that lost its --state flag: it knows none of the earlier runs'
    # articles and files, so it reads them again and adds their articles to the ROOT a
    # second time (the same article_id twice), silently before.
    root, state = tmp_path / "out", tmp_path / "state"
    argv = ["--input", str(seeds_dir), "--output", str(root)]
    assert entry.main([*argv, "--state", str(state), "--run_id", "day-1"]) == 0
    caplog.clear()
    assert entry.main([*argv, "--run_id", "day-2"]) == 0
    assert (
        f"--output {root} holds runs made with --state {state} (the latest: day-1), and this "
        "run has no --state" in caplog.text
    )
    caplog.clear()
    assert entry.main([*argv, "--run_id", "day-3"]) == 0  # the latest run kept none: quiet
    assert "has no --state" not in caplog.text


def test_retain_keeps_forgotten_dedup_rows_thin_and_drops_other_tables_rows() -> None:
    """Review 50: a dedup row first seen before the cut-off stays, without its signature and
    shingles, so that the id it gave an article is never given to a second one; other
    tables drop such rows. A row thin already is not pruned again."""
    cut = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    old, new = cut - dt.timedelta(days=1), cut + dt.timedelta(hours=1)
    row = {"article_id": "a", "source": "s", "content_hash": "h", "canonical_url": None}
    row |= {"published_at": None, "word_count": 5, "story_id": "a"}
    rows = [
        {**row, "article_id": "old", "signature": [1, 2], "shingles": [3], "first_seen_at": old},
        {**row, "article_id": "thin", "signature": [], "shingles": [], "first_seen_at": old},
        {**row, "article_id": "new", "signature": [4], "shingles": [5], "first_seen_at": new},
    ]
    arrow = pa.Table.from_pylist(rows, schema=DEDUP_ARTICLES.schema)
    kept, pruned = state_module.retain(arrow, DEDUP_ARTICLES, cut)
    assert pruned == 1
    assert [(r["article_id"], r["signature"], r["shingles"]) for r in kept.to_pylist()] == [
        ("old", [], []),
        ("thin", [], []),
        ("new", [4], [5]),
    ]
    assert state_module.retain(kept, DEDUP_ARTICLES, cut) == (kept, 0)
    assert state_module.retain(arrow, DEDUP_ARTICLES, None) == (arrow, 0)
    dropping = dataclasses.replace(DEDUP_ARTICLES, forget=())
    kept, pruned = state_module.retain(arrow, dropping, cut)
    assert (kept.column("article_id").to_pylist(), pruned) == (["new"], 2)
    # Past --state_keep_ids_days the thin rows go too (the state stays bounded).
    kept, pruned = state_module.retain(arrow, DEDUP_ARTICLES, cut, old + dt.timedelta(hours=1))
    assert (kept.column("article_id").to_pylist(), pruned) == (["new"], 2)
    kept, pruned = state_module.retain(arrow, DEDUP_ARTICLES, cut, old - dt.timedelta(hours=1))
    assert (kept.num_rows, pruned) == (3, 1)
    retention = state_module.StateRetention(cut, keep_days=30, keep_ids_days=10)
    assert retention.forget_since == cut - dt.timedelta(days=30)  # never before keep_days
    assert state_module.StateRetention(cut, 30, 0).forget_since is None
    assert state_module.StateRetention(cut, 0, 10).forget_since is None


def test_a_new_state_folder_is_its_owners_only_whatever_the_umask(
    seeds_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The state holds the articles' texts and the feed and page URLs as given: it was
    # made with the process's umask (022: every user of the machine could read it).
    import os
    import stat

    state = tmp_path / "shared" / "state"
    old = os.umask(0o022)
    try:
        argv = ["--input", str(seeds_dir), "--state", str(state), "--output"]
        assert entry.main([*argv, str(tmp_path / "out")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert (state / "CURRENT.json").exists()
    assert not [r for r in caplog.records if "can be read by every user" in r.getMessage()]
    # One that others can read (made so by its owner, or an older NewsBeam) is left as it
    # is, and said.
    state.chmod(0o755)
    assert entry.main([*argv, str(tmp_path / "out2")]) == 0
    assert stat.S_IMODE(state.stat().st_mode) == 0o755
    assert [r for r in caplog.records if "can be read by every user" in r.getMessage()]
