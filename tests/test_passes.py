"""--max_files_per_run (pipeline/passes.py): the plan and the summary as pure functions, and
the command end to end: passes of a folder with bad inputs and a copy that lands in a later
pass, every input in exactly one table, the copy pointing at the earlier pass's article,
the temporary state gone, and with --state a second command reading nothing again."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from apache_beam.io.filesystem import FileMetadata

from newsbeam.pipeline import dataset, passes, workers
from newsbeam.pipeline import main as entry
from newsbeam.pipeline import run as pipeline_run
from newsbeam.pipeline.options import PipelineConfig
from newsbeam.transforms.feeds.config import FeedsConfig
from newsbeam.transforms.read import Problem, ReadConfig, list_inputs
from tests.helpers import current_state

# --- Pure parts -------------------------------------------------------------------------------


def _file(path: str) -> FileMetadata:
    return FileMetadata(path, 1, 0.0)


def test_the_listing_is_cut_into_passes_in_order_with_its_problems_apart() -> None:
    listed = [_file("a"), Problem("bad", "unreadable", "broken"), _file("b"), _file("c")]
    plan = passes.plan_passes(listed, 2)
    assert plan.passes == (("a", "b"), ("c",))
    assert plan.problems == (("bad", "unreadable", "broken"),)
    assert passes.plan_passes([_file("a"), _file("b")], 2).passes == (("a", "b"),)


def test_a_listing_without_files_still_makes_one_pass() -> None:
    # The feeds and the listing's problems go into the first pass: there must be one.
    plan = passes.plan_passes([Problem("x", "not_found", "no file")], 10)
    assert plan.passes == ((),)
    assert plan.problems == (("x", "not_found", "no file"),)


def test_only_the_first_pass_polls_feeds_and_rejects_the_listing_problems() -> None:
    feeds = FeedsConfig(feed_urls=("http://h/f",), feed_lists=("l.txt",), page_urls=("http://h/p",))
    config = PipelineConfig(inputs=("dir",), output_dir="out", feeds=feeds)
    problems = [("bad", "unreadable", "broken")]
    first = passes.pass_config(config, ["dir/a[1].txt", "dir/b.txt"], problems, first=True)
    assert first.inputs == ("dir/a[[]1].txt", "dir/b.txt")  # named as themselves
    assert first.read.listed_problems == (("bad", "unreadable", "broken"),)
    assert first.feeds == feeds
    later = passes.pass_config(config, ["dir/c.txt"], problems, first=False)
    assert later.inputs == ("dir/c.txt",)
    assert later.read == ReadConfig()
    assert (later.feeds.feed_urls, later.feeds.feed_lists, later.feeds.page_urls) == ((), (), ())


def _manifest(run_id: str, inputs: int, articles: int, rejected: dict[str, int]) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "started_at": f"2026-12-03T10:00:0{run_id[-1]}+00:00",
        "counts": {
            "inputs": inputs,
            "articles": articles,
            "duplicates": 0,
            "rejected": sum(rejected.values()),
            "feed_health": 0,
            "rejected_by": {"read": rejected} if rejected else {},
            "balanced": inputs == articles + sum(rejected.values()),
        },
        "counters": {"read_inputs": inputs},
        "stage_seconds": {"Extract": 1.0},
    }


def test_the_summary_adds_the_passes_up() -> None:
    total = passes.summed(
        [_manifest("r1", 3, 2, {"empty": 1}), _manifest("r2", 4, 2, {"empty": 1, "binary": 1})],
        seconds=5.0,
    )
    assert total["run_ids"] == ["r1", "r2"]
    assert total["started_at"] == "2026-12-03T10:00:01+00:00"  # the first pass's start
    assert total["counts"]["inputs"] == 7
    assert total["counts"]["articles"] == 4
    assert total["counts"]["rejected"] == 3
    assert total["counts"]["rejected_by"] == {"read": {"empty": 2, "binary": 1}}
    assert total["counts"]["balanced"] is True
    assert total["counters"] == {"read_inputs": 7}
    assert total["stage_seconds"] == {"Extract": 2.0}
    assert total["written_bytes"] == {}  # these manifests list no files
    unbalanced = _manifest("r3", 2, 0, {})
    assert (
        passes.summed([_manifest("r1", 3, 2, {"empty": 1}), unbalanced], 1.0)["counts"]["balanced"]
        is False
    )


def test_the_summary_carries_what_metrics_read_of_the_passes() -> None:
    """--metrics_file after passes (pipeline/metrics.py): the bytes of every pass's files,
    the last pass's end and state."""
    first, last = _manifest("r1", 3, 2, {}), _manifest("r2", 1, 1, {})
    first["tables"] = {"articles": {"files": [{"bytes": 100}, {"bytes": 20}]}}
    last["tables"] = {"articles": {"files": [{"bytes": 5}]}, "rejected": {"files": []}}
    last.update(finished_at="2026-12-03T10:05:00+00:00", state={"root": "/s", "version": "v2"})
    total = passes.summed([first, last], seconds=5.0)
    assert total["written_bytes"] == {"articles": 125, "rejected": 0}
    assert total["finished_at"] == "2026-12-03T10:05:00+00:00"
    assert total["state"] == {"root": "/s", "version": "v2"}


def test_listing_names_each_file_once_and_says_what_it_cannot_list(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "a.txt").write_text("a")
    os.symlink(tmp_path / "a.txt", tmp_path / "c_link.txt")  # the same file again
    os.symlink(tmp_path / "gone.txt", tmp_path / "d_broken.txt")
    listed = list(list_inputs([str(tmp_path / "*.nothing"), str(tmp_path)]))
    files = [item.path for item in listed if not isinstance(item, Problem)]
    assert files == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    problems = {(Path(item.path).name, item.reason) for item in listed if isinstance(item, Problem)}
    assert problems == {("d_broken.txt", "unreadable"), ("*.nothing", "not_found")}


# --- The command ------------------------------------------------------------------------------


def _inputs(seeds_dir: Path, folder: Path) -> int:
    """The seeds, an empty and a binary file, a broken link and an exact copy of the first
    seed named to come last (so in the last pass). Returns the number of inputs."""
    folder.mkdir()
    for seed in sorted(seeds_dir.iterdir()):
        shutil.copyfile(seed, folder / seed.name)
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "empty.txt").write_bytes(b"")
    os.symlink(folder / "missing.txt", folder / "link.txt")
    first = sorted(seeds_dir.iterdir())[0]
    shutil.copyfile(first, folder / "zz_copy.txt")
    return len(list(folder.iterdir()))


def _all(root: Path, table: str) -> list[tuple[Any, ...]]:
    """Every committed row of a table in ROOT (all runs), as readers query the dataset."""
    columns = {
        "articles": "source, article_id",
        "duplicates": "source, canonical_id",
        "rejected": "source, stage, reason",
    }[table]
    sql = f"SELECT {columns} FROM read_parquet('{root}/{table}/*/*.parquet') ORDER BY source"
    return duckdb.sql(sql).fetchall()


def _names(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(Path(row[0]).name, *row[1:]) for row in rows]


def test_passes_put_every_input_in_one_table_once(
    seeds_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "in"
    inputs = _inputs(seeds_dir, folder)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    root = tmp_path / "out"
    argv = ["--input", str(folder), "--output", str(root), "--max_files_per_run", "3"]
    assert entry.main(argv) == 0
    summary = capsys.readouterr().out
    assert f"NewsBeam: {inputs} inputs" in summary
    assert "Runs:     3 passes" in summary
    assert f"newsbeam report --output {root} --since" in summary
    assert "see the report" not in summary  # no pass draws one

    runs = dataset.committed_runs(str(root))
    assert [run["pass"]["number"] for run in runs] == [1, 2, 3]
    # 8 files (the broken link is a listing problem, rejected by the first pass).
    assert [run["pass"]["files"] for run in runs] == [3, 3, 2]
    assert all(run["counts"]["balanced"] for run in runs)
    assert all(run["state"] is None for run in runs)  # the passes' state was temporary
    assert not list((root / "_runs").glob("*.html"))  # one report over them, on demand
    assert sum(run["counts"]["inputs"] for run in runs) == inputs

    articles = _all(root, "articles")
    duplicates = _all(root, "duplicates")
    rejected = _names(_all(root, "rejected"))
    assert len(articles) + len(duplicates) + len(rejected) == inputs
    assert rejected == [
        ("binary.txt", "read", "binary"),
        ("empty.txt", "read", "empty"),
        ("link.txt", "read", "unreadable"),
    ]
    first_seed = sorted(seeds_dir.iterdir())[0].name
    canonical = {Path(source).name: article_id for source, article_id in articles}
    # The copy, read two passes later, points at the first pass's article.
    assert _names(duplicates) == [("zz_copy.txt", canonical[first_seed])]
    assert not list(scratch.iterdir())  # the temporary state is gone

    # One run over the same folder keeps the same articles and finds the same copy.
    one = tmp_path / "one"
    assert entry.main(["--input", str(folder), "--output", str(one)]) == 0
    assert _names(_all(one, "articles")) == _names(articles)
    assert _names(_all(one, "duplicates")) == _names(duplicates)
    assert _names(_all(one, "rejected")) == rejected


def test_passes_with_state_leave_it_for_the_next_command(seeds_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    inputs = _inputs(seeds_dir, folder)
    root, state = tmp_path / "out", tmp_path / "state"
    argv = ["--input", str(folder), "--output", str(root), "--state", str(state)]
    assert entry.main([*argv, "--max_files_per_run", "4"]) == 0
    runs = dataset.committed_runs(str(root))
    assert len(runs) == 2
    assert runs[-1]["state"]["version"] == current_state(state).name
    assert sum(run["counts"]["inputs"] for run in runs) == inputs

    # Again: every file was read unchanged by an earlier pass, so none is read again; the
    # broken link is rejected again (it is still there). A file whose size and time show it
    # unchanged is in no pass (`pass.unchanged`); one written within 2 s of the run that
    # read it is hashed by a pass and skipped there (the counter).
    assert entry.main([*argv, "--max_files_per_run", "4"]) == 0
    again = dataset.committed_runs(str(root))[len(runs) :]
    skipped = sum(run["counters"].get("read_skipped_unchanged", 0) for run in again)
    assert skipped + again[0]["pass"].get("unchanged", 0) == inputs - 1
    assert sum(run["counts"]["articles"] + run["counts"]["duplicates"] for run in again) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max_files_per_run", "-1"], "--max_files_per_run must be at least 0"),
        (["--max_files_per_run", "5", "--run_id", "x"], "drop --run_id"),
        (["--max_files_per_run", "5", "--follow", "--state", "S"], "is for a batch run"),
    ],
)
def test_passes_usage_errors(tmp_path: Path, extra: list[str], message: str) -> None:
    argv = ["--input", str(tmp_path), "--output", str(tmp_path / "out"), *extra]
    with pytest.raises(pipeline_run.UsageError, match=message):
        pipeline_run.parse_options(argv)


def test_passes_on_a_remote_runner_need_a_state_its_workers_read(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("text")
    argv = ["--input", str(tmp_path / "a.txt"), "--output", "gs://bucket/out"]
    argv += ["--max_files_per_run", "5", "--runner", "DataflowRunner"]
    target = pipeline_run.prepare([*argv, "--local_paths_shared"])
    with pytest.raises(pipeline_run.UsageError, match="needs --state"):
        passes.run_passes(target)


def test_passes_keep_their_temporary_state_apart_from_the_output(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    argv = ["--input", str(seeds_dir), "--output", str(scratch), "--max_files_per_run", "2"]
    with pytest.raises(pipeline_run.UsageError, match="must be apart"):
        passes.run_passes(pipeline_run.prepare(argv))
    assert not list(scratch.iterdir())  # nothing left behind


def test_a_large_input_in_one_run_is_told_how_passes_bound_its_memory(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    inputs = len(list(seeds_dir.iterdir()))
    hint = "--max_files_per_run N reads the files in passes"

    def said(argv: list[str]) -> bool:
        caplog.clear()
        with caplog.at_level("INFO", logger="newsbeam"):
            assert entry.main(argv) == 0
        return any(hint in record.getMessage() for record in caplog.records)

    argv = ["--input", str(seeds_dir), "--output", str(tmp_path / "out")]
    assert not said(argv)  # fewer files than LARGE_INPUT_FILES
    monkeypatch.setattr(pipeline_run, "LARGE_INPUT_FILES", inputs)
    assert said([*argv, "--run_id", "large"])
    assert not said([*argv[:-1], str(tmp_path / "passes"), "--max_files_per_run", "3"])


def test_a_large_json_lines_file_is_told_its_lines_count_and_how_to_split_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """One JSON-lines file of many records is one file: a run of 200,000 short lines (1.1 GB
    in one process at 20,000) counted one input and never said how memory is bounded, and
    --max_files_per_run cannot split it (review 82). Its lines count as documents."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    lines = [
        json.dumps({"title": f"Item {n}", "text": f"Item {n}: the council met on Monday. " * 4})
        for n in range(30)
    ]
    (inbox / "items.jsonl").write_text("\n".join(lines) + "\n")
    with gzip.open(inbox / "more.jsonl.gz", "wt") as handle:
        handle.write("\n".join(lines[:5]) + "\n")
    assert workers.count_documents([str(inbox)], 100) == 35
    assert workers.count_documents([str(inbox)], 12) == 12  # read no further than needed
    monkeypatch.setattr(pipeline_run, "LARGE_INPUT_FILES", 30)
    caplog.clear()
    with caplog.at_level("INFO", logger="newsbeam"):
        assert entry.main(["--input", str(inbox), "--output", str(tmp_path / "out")]) == 0
    said = [record.getMessage() for record in caplog.records]
    assert any("split it (split -l" in line for line in said), said
