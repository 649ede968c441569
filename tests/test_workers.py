"""Local worker processes: how many a multi-process run gets, and that a run with them gives
the same tables and counters as an in-process run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from newsbeam.pipeline import run as pipeline_run
from newsbeam.pipeline import workers
from tests.helpers import run_manifest, table_sql


def test_worker_count_by_cores_and_memory() -> None:
    gigabyte = workers.WORKER_BYTES
    assert workers.worker_count(2) == 2
    assert workers.worker_count(1) == 1  # taskset -c 0
    assert workers.worker_count(32, 8 * gigabyte) == 8
    assert workers.worker_count(2, 3 * gigabyte) == 2
    assert workers.worker_count(4, gigabyte // 2) == 1


def test_a_count_only_for_a_multi_process_run_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "available_cores", lambda: 2)
    monkeypatch.setattr(workers, "available_memory", lambda: 8 * workers.WORKER_BYTES)
    mode = "multi_processing"
    assert workers.local_worker_defaults([], "FnApiRunner", None) == []  # in-process
    assert workers.local_worker_defaults([], "FnApiRunner", mode) == ["--direct_num_workers", "2"]
    chosen = ["--direct_num_workers", "3"]
    assert workers.local_worker_defaults(chosen, "FnApiRunner", mode) == []
    assert workers.local_worker_defaults(["--direct-num-workers=3"], "FnApiRunner", mode) == []
    assert workers.local_worker_defaults([], "DataflowRunner", mode) == []


def test_available_cores_follow_affinity() -> None:
    assert workers.available_cores() == len(os.sched_getaffinity(0))
    memory = workers.available_memory()
    assert memory is None or memory > 0


def _rows(output: Path, table: str) -> list[tuple]:
    relation = duckdb.sql(f"SELECT * FROM {table_sql(output, table)}")
    volatile = [i for i, name in enumerate(relation.columns) if name == "ingested_at"]
    rows = [tuple(v for i, v in enumerate(row) if i not in volatile) for row in relation.fetchall()]
    return sorted(rows, key=repr)


@pytest.mark.slow
def test_worker_processes_give_the_same_tables_and_counters(
    monkeypatch: pytest.MonkeyPatch, seeds_dir: Path, bad_inputs: dict[str, Path], tmp_path: Path
) -> None:
    """A multi-process run (its worker count from the cores) against the in-process default:
    same rows, same counters (they come back from the workers through the runner)."""
    inputs = tmp_path / "inputs"
    shutil.copytree(seeds_dir, inputs / "seeds")
    bad_inputs["fifo"].unlink()  # a FIFO cannot be copied; test_pipeline covers it
    shutil.copytree(bad_inputs["good_html"].parent, inputs / "bad")
    monkeypatch.setattr(workers, "available_cores", lambda: 2)
    monkeypatch.setattr(workers, "available_memory", lambda: 8 * workers.WORKER_BYTES)
    manifests = {}
    for mode, extra in (
        ("workers", ["--direct_running_mode", "multi_processing"]),
        ("in-process", []),
    ):
        output = tmp_path / mode
        argv = ["--input", str(inputs), "--output", str(output), *extra]
        manifests[mode] = pipeline_run.run(argv)
        committed = run_manifest(output)  # the manifest returned is the one committed
        assert (committed["run_id"], committed["attempt"]) == (
            manifests[mode]["run_id"],
            manifests[mode]["attempt"],
        )
        assert manifests[mode]["counts"]["balanced"]
    assert manifests["workers"]["options"]["direct_running_mode"] == "multi_processing"
    assert manifests["workers"]["options"]["direct_num_workers"] == 2
    assert "direct_running_mode" not in manifests["in-process"]["options"]
    assert manifests["workers"]["counters"] == manifests["in-process"]["counters"]
    assert (
        manifests["workers"]["counters"]["read_inputs"] == manifests["workers"]["counts"]["inputs"]
    )
    assert manifests["workers"]["counts"] == manifests["in-process"]["counts"]
    for table in ("articles", "duplicates", "rejected"):
        assert _rows(tmp_path / "workers", table) == _rows(tmp_path / "in-process", table), table


def test_worker_log_level_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINE_OPTIONS_FILE", raising=False)
    with workers.worker_log_level("multi_processing"):
        path = Path(os.environ["PIPELINE_OPTIONS_FILE"])
        options = json.loads(path.read_text())["options"]
        assert options["default_sdk_harness_log_level"] in ("WARNING", "DEBUG")
    assert "PIPELINE_OPTIONS_FILE" not in os.environ and not path.exists()
    with workers.worker_log_level("in_memory"):
        assert "PIPELINE_OPTIONS_FILE" not in os.environ
    monkeypatch.setenv("PIPELINE_OPTIONS_FILE", "/the/users/own.json")
    with workers.worker_log_level("multi_processing"):
        assert os.environ["PIPELINE_OPTIONS_FILE"] == "/the/users/own.json"
