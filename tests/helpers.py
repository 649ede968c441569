"""Helpers the tests import: a TestPipeline that stays off the network, its counters, a
sample article. (Fixtures are in conftest.py.)"""

from __future__ import annotations

import time
from pathlib import Path

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline

from newsbeam.transforms.support.failures import METRICS_NAMESPACE

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def make_test_pipeline() -> TestPipeline:
    """A TestPipeline that never reaches for the network (the DirectRunner's Prism does)."""
    return TestPipeline(runner="FnApiRunner")


def counters_of(pipeline: TestPipeline) -> dict[str, int]:
    """NewsBeam counters of a finished TestPipeline, by name."""
    query = pipeline.result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    totals: dict[str, int] = {}
    for result in query["counters"]:  # one result per step that incremented the counter
        totals[result.key.metric.name] = totals.get(result.key.metric.name, 0) + result.committed
    return totals


ARTICLE_TEXT = (
    "The city council approved a new budget on Tuesday after a long debate about funding "
    "for schools, public transport and road repairs across the northern districts.\n\n"
    "Officials said the plan would be reviewed again in the spring, when revenue figures "
    "for the first quarter are published by the finance department."
)

ARTICLE_HTML = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Council approves budget - Example Times</title>
<meta property="og:title" content="Council approves budget">
<meta property="og:site_name" content="Example Times">
<link rel="canonical" href="https://news.example.com/2024/05/council-budget?utm_source=feed">
<meta name="author" content="Jane Reporter">
<meta property="article:published_time" content="2024-05-14T09:30:00+02:00">
</head><body>
<nav><a href="/">Home</a> <a href="/politics">Politics</a></nav>
<article><h1>Council approves budget</h1>
{"".join(f"<p>{p}</p>" for p in ARTICLE_TEXT.split(chr(10) * 2))}
<p>Subscribe to our newsletter</p>
</article>
<footer>Copyright Example Times</footer>
</body></html>"""


def rerecord_state(state: Path) -> None:
    """Write the state folder's file record anew, as a commit would: for tests that change
    state files on purpose and mean the run to read them (not to find them damaged)."""
    import json

    from newsbeam.schemas import STATE_MARKER
    from newsbeam.transforms.support.state import file_record

    marker = json.loads((state / STATE_MARKER).read_text())
    marker["files"] = file_record(str(state))
    (state / STATE_MARKER).write_text(json.dumps(marker))


def write_seed_copies(seeds: Path, folder: Path, copies: int = 40) -> None:
    """`copies` distinct variants of every seed in `folder`: a run long enough to be
    signalled, killed or overlapped while it goes on."""
    folder.mkdir(parents=True, exist_ok=True)
    for copy in range(copies):
        for seed in seeds.iterdir():
            (folder / f"{copy}_{seed.name}").write_text(seed.read_text() + f"\n\nCopy {copy}.")


def wait_for(folder: Path, pattern: str, seconds: float = 120) -> bool:
    """Wait until something in `folder` matches `pattern` (a run's staging); True if it did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(folder.glob(pattern)):
            return True
        time.sleep(0.05)
    return False
