"""benchmarks/stage_timeline.py: the command run with its stages' wall-clock boundaries, and
bench_pipeline.py's split of a run into parts from them."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_pipeline  # noqa: E402  (benchmarks is not a package)


@pytest.mark.slow
def test_the_timeline_run_records_every_stage_in_order(seeds_dir: Path, tmp_path: Path) -> None:
    timeline = tmp_path / "timeline.json"
    output = tmp_path / "out"
    command = [sys.executable, str(BENCHMARKS / "stage_timeline.py"), str(timeline)]
    command += ["--input", str(seeds_dir), "--output", str(output)]
    subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    assert list((output / "_runs").glob("*.json"))  # the run itself committed
    recorded = json.loads(timeline.read_text())
    stages, end = recorded["stages"], recorded["end"]
    assert len(stages) > 10
    starts = [start for _, start, _ in stages]
    assert starts == sorted(starts) and starts[0] > 0
    assert all(start <= stop for _, start, stop in stages)
    assert stages[-1][2] < end
    assert any("Extract-Extract" in name for name, _, _ in stages)
    parts = bench_pipeline.timeline_parts(stages, end)
    assert parts["stages"] == len(stages)
    assert sum(seconds for part, seconds in parts.items() if part != "stages") == pytest.approx(
        end, abs=0.5
    )


def test_timeline_parts() -> None:
    stages = [
        ["(ref_AppliedPTransform_Read-Inputs-Impulse_4)+(Read/List)", 0.5, 0.9],
        ["(Read/Spread/Read)+(ref_AppliedPTransform_Extract-Extract-ParDo_23)", 0.9, 2.9],
        ["(Feeds/GroupByUrl/Read)+(ref_AppliedPTransform_Feeds-OncePerUrl_30)", 2.9, 3.0],
        ["(Dedup/ByText/Read)+(ref_AppliedPTransform_Dedup-Exact_63)", 3.0, 3.25],
        ["(Rejected/Read)+(ref_AppliedPTransform_Write-rejected-Rows_102)", 3.25, 3.5],
    ]
    parts = bench_pipeline.timeline_parts(stages, end=4.0)
    assert parts == {
        bench_pipeline.START: 0.5,
        "first stage: list inputs, workers start": pytest.approx(0.4),
        "read + extract": pytest.approx(2.0),
        "feed stages": pytest.approx(0.1),
        "dedup": pytest.approx(0.25),
        bench_pipeline.OTHER: pytest.approx(0.25),
        bench_pipeline.END: pytest.approx(0.5),
        "stages": 5.0,
    }


def test_pair_ratios_match_runs_of_one_repeat() -> None:
    def measured(kind: str, repeat: int, wall: float) -> bench_pipeline.Measured:
        run = bench_pipeline._common.Run([], 0, wall, "", "", None, 0.0)
        return bench_pipeline.Measured(kind, repeat, run)

    runs = [
        measured("pinned", 1, 9.0),
        measured("pipeline", 1, 6.0),
        measured("pinned", 2, 8.0),
        measured("pipeline", 2, 5.0),
    ]
    assert bench_pipeline.pair_ratios(runs, "pinned", "pipeline") == [1.5, 1.6]


def test_the_loop_on_two_processes_extracts_every_page_once(tmp_path: Path) -> None:
    body = "<p>{} " + "A sentence of a news article, long enough to be kept as text. " * 8 + "</p>"
    for number in range(5):
        page = f"<html><body><article>{body.format(number)}</article></body></html>"
        (tmp_path / f"page{number}.html.gz").write_bytes(gzip.compress(page.encode()))
    script = str(BENCHMARKS / "bench_pipeline.py")
    done = subprocess.run(
        [sys.executable, script, "--loop-pair", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["docs"] == 5 and counts["extracted"] == 5
