"""Local worker processes: when the command starts them by itself, and that a run with them
gives the same tables and counters as an in-process run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from newsbeam.pipeline import run as pipeline_run
from newsbeam.pipeline import workers

MULTI = ["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"]


def test_user_flags_win() -> None:
    assert workers.sets_worker_flags(["--input", "x", "--direct_num_workers", "1"])
    assert workers.sets_worker_flags(["--direct_running_mode=in_memory"])
    assert not workers.sets_worker_flags(["--input", "x", "--runner", "FnApiRunner"])


def test_worker_flags_by_runner_cores_and_size() -> None:
    many = workers.MIN_DOCUMENTS
    assert workers.worker_flags("FnApiRunner", 2, many) == MULTI
    assert workers.worker_flags("FnApiRunner", 4, many)[-1] == "4"
    assert workers.worker_flags("FnApiRunner", 1, many) == []  # taskset -c 0: in-process
    assert workers.worker_flags("FnApiRunner", 2, many - 1) == []  # start-up would dominate
    assert workers.worker_flags("DataflowRunner", 2, many) == []  # not a local runner
    assert workers.worker_flags("PortableRunner", 8, 10 * many) == []
    gigabyte = workers.WORKER_BYTES
    assert workers.worker_flags("FnApiRunner", 32, many, 8 * gigabyte)[-1] == "8"
    assert workers.worker_flags("FnApiRunner", 2, many, 3 * gigabyte) == MULTI
    assert workers.worker_flags("FnApiRunner", 2, many, gigabyte) == []  # one would fit


def test_count_documents_stops_early_and_weighs_json_lines(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    (folder / "sub").mkdir(parents=True)
    for index in range(30):
        (folder / "sub" / f"{index}.html").write_text("<p>x</p>")
    assert workers.count_documents([str(folder)]) == 30
    assert workers.count_documents([str(folder)], enough=10) == 10
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"x" * (workers.JSONL_BYTES_PER_DOCUMENT * 7))
    assert workers.count_documents([str(records)]) == 7
    assert workers.count_documents([str(folder), str(records)]) == 37
    assert workers.count_documents([str(folder / "**" / "*.html")]) == 30
    # URLs and object stores are not listed: such runs stay in-process.
    assert workers.count_documents(["https://example.com/a", "s3://b/k"]) == 0


def test_defaults_only_when_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(workers, "available_cores", lambda: 2)
    monkeypatch.setattr(workers, "available_memory", lambda: 8 * workers.WORKER_BYTES)
    monkeypatch.setattr(workers, "MIN_DOCUMENTS", 1)
    (tmp_path / "a.txt").write_text("x")
    inputs = [str(tmp_path)]
    assert workers.local_worker_defaults([], "FnApiRunner", inputs) == MULTI
    assert workers.local_worker_defaults(["--direct_num_workers", "1"], "FnApiRunner", inputs) == []
    monkeypatch.setattr(workers, "available_cores", lambda: 1)
    assert workers.local_worker_defaults([], "FnApiRunner", inputs) == []


def test_available_cores_follow_affinity() -> None:
    assert workers.available_cores() == len(os.sched_getaffinity(0))
    memory = workers.available_memory()
    assert memory is None or memory > 0


def _rows(output: Path, table: str) -> list[tuple]:
    relation = duckdb.sql(f"SELECT * FROM '{output}/{table}/*.parquet'")
    volatile = [i for i, name in enumerate(relation.columns) if name == "ingested_at"]
    rows = [tuple(v for i, v in enumerate(row) if i not in volatile) for row in relation.fetchall()]
    return sorted(rows, key=repr)


@pytest.mark.slow
def test_worker_processes_give_the_same_tables_and_counters(
    monkeypatch: pytest.MonkeyPatch, seeds_dir: Path, bad_inputs: dict[str, Path], tmp_path: Path
) -> None:
    """The default on a multi-core machine (worker processes) against one in-process run:
    same rows, same counters (they come back from the workers through the runner)."""
    inputs = tmp_path / "inputs"
    shutil.copytree(seeds_dir, inputs / "seeds")
    bad_inputs["fifo"].unlink()  # a FIFO cannot be copied; test_pipeline covers it
    shutil.copytree(bad_inputs["good_html"].parent, inputs / "bad")
    monkeypatch.setattr(workers, "available_cores", lambda: 2)
    monkeypatch.setattr(workers, "available_memory", lambda: 8 * workers.WORKER_BYTES)
    monkeypatch.setattr(workers, "MIN_DOCUMENTS", 1)  # these few inputs count as enough
    manifests = {}
    for mode, extra in (("workers", []), ("in-process", ["--direct_num_workers", "1"])):
        output = tmp_path / mode
        argv = ["--input", str(inputs), "--output", str(output), *extra]
        manifests[mode] = pipeline_run.run(argv)
        assert json.loads((output / "manifest.json").read_text())["counts"]["balanced"]
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
