"""The --state folder's life cycle: checks, carry-over, atomic swap (no Beam needed)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from newsbeam.pipeline import main as entry
from newsbeam.schemas import STATE_MARKER, STATE_VERSION
from newsbeam.transforms.support.state import (
    StateError,
    StateRetention,
    check_state_dir,
    commit_state,
    staging_dir_for,
    within_retention,
)


def test_missing_or_empty_state_starts_empty(tmp_path: Path) -> None:
    assert check_state_dir(tmp_path / "absent") is False
    (tmp_path / "empty").mkdir()
    assert check_state_dir(tmp_path / "empty") is False


def test_foreign_corrupt_and_other_version_state_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StateError, match="does not look like NewsBeam state"):
        check_state_dir(tmp_path)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / STATE_MARKER).write_text("{not json")
    with pytest.raises(StateError, match="unreadable"):
        check_state_dir(corrupt)
    other = tmp_path / "other"
    other.mkdir()
    (other / STATE_MARKER).write_text(json.dumps({"state_version": "0"}))
    with pytest.raises(StateError, match="state version 0"):
        check_state_dir(other)


def test_commit_carries_over_components_this_run_did_not_write(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = staging_dir_for(state)
    (first / "dedup").mkdir()
    (first / "dedup" / "a.parquet").write_text("one")
    (first / "feeds").mkdir()
    (first / "feeds" / "health.parquet").write_text("old")
    commit_state(first, state, {})
    assert check_state_dir(state) is True

    second = staging_dir_for(state)
    (second / "dedup").mkdir()
    (second / "dedup" / "a.parquet").write_text("two")
    commit_state(second, state, {"last_run": "now"})
    assert (state / "dedup" / "a.parquet").read_text() == "two"
    assert (state / "feeds" / "health.parquet").read_text() == "old"
    marker = json.loads((state / STATE_MARKER).read_text())
    assert marker["state_version"] == STATE_VERSION and marker["components"] == ["dedup", "feeds"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]  # no staging left behind


def test_run_with_state_writes_it_and_refuses_bad_state(
    seeds_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, output = tmp_path / "state", tmp_path / "out"
    args = ["--input", str(seeds_dir), "--output", str(output), "--state", str(state)]
    assert entry.main(args) == 0
    assert check_state_dir(state) is True

    (state / STATE_MARKER).write_text(json.dumps({"state_version": "999"}))
    before = sorted(p.relative_to(state) for p in state.rglob("*"))
    assert entry.main(args) == 2
    assert "state version 999" in capsys.readouterr().err
    assert sorted(p.relative_to(state) for p in state.rglob("*")) == before
    assert json.loads((state / STATE_MARKER).read_text())["state_version"] == "999"
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
