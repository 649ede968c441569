"""A large input in passes: `newsbeam --input DIR --output ROOT --max_files_per_run N`.

Why: Beam's local runner (the FnApiRunner) keeps each stage's output in its own memory
until the next stage has read it, and hands each worker its half of a stage as one bundle,
so the memory of one local run grows with its input (benchmarks/README.md, "Memory in
passes"). Read in passes of at most N files, it grows with N instead.

How: the --input paths are listed once, here, by the read stage's own listing
(transforms/read.py `list_inputs`: each file once, in sorted path order); the files are cut
into passes of N, and each pass is a normal committed run of its files (pipeline/run.py
`run_locked`), named by its start time, with its own manifest (no report each: the summary
names the `newsbeam report` command that draws one over the passes). The first pass
also polls the feeds, fetches the page URLs and rejects what the listing could not read, so
every input still ends in exactly one table. The passes share one state, --state or,
without it, a temporary folder removed at the end: each pass's dedup and stories see the
articles of the passes before it as a run with --state sees earlier runs (a near-duplicate
of an earlier pass's article is a duplicate pointing at it; a story continues across
passes). Stories are clustered across passes incrementally, which groups a little less
well than one run over everything (benchmarks/README.md has the figures).

A pass that fails ends the command (exit 1) with the passes before it committed; run again
with --state, the files they read are skipped as unchanged. On a runner whose workers run
elsewhere the passes need --state on a filesystem those workers read (a temporary local
folder is not one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from newsbeam.pipeline import run as pipeline_run
from newsbeam.pipeline.options import PipelineConfig, is_url
from newsbeam.pipeline.stops import COMMITTED, RunSignals
from newsbeam.transforms.read import (
    Problem,
    SeenFiles,
    as_input,
    is_local,
    list_inputs,
    load_seen_files,
    readable_path,
    stat_time,
)
from newsbeam.transforms.support.state import SEEN_FILES, StateError, current_table_files

log = logging.getLogger("newsbeam")


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the passes read: each pass's files (at least one pass), and what the listing
    could not read, (path, reason, detail), rejected by the first pass; how many listed
    files the state has read as they are (in no pass), and of those the ones the first pass
    lists again so that the state records them as listed now (`refresh`)."""

    passes: tuple[tuple[str, ...], ...]
    problems: tuple[tuple[str, str, str], ...]
    unchanged: int = 0
    refresh: tuple[str, ...] = ()


def plan_passes(
    listed: Iterable[Any],
    size: int,
    unchanged: Callable[[Any], bool] | None = None,
    refresh: Callable[[Sequence[Any]], Sequence[bool]] | None = None,
) -> Plan:
    """The listing (FileMetadata and Problem items, `list_inputs`) cut into passes of at
    most `size` files, in listing order; files `unchanged` says an earlier run read as they
    are left out (those `refresh` names, asked once of all of them, go to `Plan.refresh`)."""
    paths: list[str] = []
    problems: list[tuple[str, str, str]] = []
    skipped: list[Any] = []
    for item in listed:
        if isinstance(item, Problem):
            problems.append((item.path, item.reason, item.detail))
        elif unchanged is not None and unchanged(item):
            skipped.append(item)
        else:
            paths.append(item.path)
    refreshed: tuple[str, ...] = ()
    if refresh is not None and skipped:
        due = refresh(skipped)
        refreshed = tuple(item.path for item, is_due in zip(skipped, due, strict=True) if is_due)
    passes = tuple(tuple(paths[at : at + size]) for at in range(0, len(paths), size))
    return Plan(passes or ((),), tuple(problems), len(skipped), refreshed)


@dataclasses.dataclass(frozen=True)
class SeenRecord:
    """The state's record of files read (`inputs/seen_files`), asked of each listed file:
    read unchanged (the read stage's own test, on the listed size and time: such a file
    would stop at a pass's listing), and due to be listed again (last listed more than half
    of --state_keep_days ago: a file in no pass would have its row expire, and be read
    again as new; follow mode does the same)."""

    seen: SeenFiles
    due_before: dt.datetime | None

    def unchanged(self, item: Any) -> bool:
        path = item.path
        return is_local(path) and self.seen.unchanged_by_stat(
            readable_path(path), item.size_in_bytes, stat_time(item.last_updated_in_seconds)
        )

    def due(self, items: Sequence[Any]) -> list[bool]:
        """Of each item, whether it is due (all looked up at once)."""
        if self.due_before is None:
            return [False] * len(items)
        paths = [readable_path(item.path) for item in items]
        return self.seen.last_seen_before(paths, self.due_before)


def seen_record(state: str, keep_days: float, now: dt.datetime) -> SeenRecord | None:
    """The record of the state version CURRENT names (None: no version, or no record),
    its file checked as a run checks it (support/state.py `current_table_files`: StateError
    naming the file if it is damaged) and loaded once in this process (the first pass, run
    in it, uses the same: read.py `load_seen_files`)."""
    paths = current_table_files(state, SEEN_FILES)
    if not paths:
        return None
    try:
        seen = load_seen_files(paths)
    except Exception as error:  # a file whose schema reads and whose data does not
        raise StateError(
            f"state file {paths[0]} is unreadable ({error}); it is left as it is: restore it "
            "or point --state at a new folder"
        ) from None
    due_before = now - dt.timedelta(days=keep_days / 2) if keep_days > 0 else None
    return SeenRecord(seen, due_before)


def pass_config(
    config: PipelineConfig,
    files: Sequence[str],
    problems: Sequence[tuple[str, str, str]],
    first: bool,
    refresh: Sequence[str] = (),
) -> PipelineConfig:
    """A run's config narrowed to one pass: its files, and for the first pass the listing's
    problems, the feeds, the page URLs (the later ones read files only) and the unchanged
    files to list again (`Plan.refresh`: they stop at its listing)."""
    read = dataclasses.replace(config.read, listed_problems=tuple(problems) if first else ())
    feeds = config.feeds
    if not first:
        feeds = dataclasses.replace(feeds, feed_urls=(), feed_lists=(), page_urls=())
    inputs = tuple(as_input(path) for path in [*files, *(refresh if first else ())])
    return dataclasses.replace(config, inputs=inputs, read=read, feeds=feeds)


def summed(manifests: Sequence[Mapping[str, Any]], seconds: float) -> dict[str, Any]:
    """One summary of the passes' manifests: counts, counters and step times added up
    (what the command prints and its exit status reads)."""
    counts: Counter[str] = Counter()
    rejected_by: dict[str, Counter[str]] = {}
    counters: Counter[str] = Counter()
    stage_seconds: Counter[str] = Counter()
    written: Counter[str] = Counter()
    for manifest in manifests:
        for name, value in manifest["counts"].items():
            if isinstance(value, int) and not isinstance(value, bool):
                counts[name] += value
        for stage, reasons in manifest["counts"].get("rejected_by", {}).items():
            rejected_by.setdefault(stage, Counter()).update(reasons)
        counters.update(manifest.get("counters", {}))
        stage_seconds.update(manifest.get("stage_seconds") or {})
        for name, table in (manifest.get("tables") or {}).items():
            written[name] += sum(int(entry.get("bytes", 0)) for entry in table.get("files", []))
    run_ids = [str(manifest["run_id"]) for manifest in manifests]
    return {
        "run_id": run_ids[-1] if run_ids else "",
        "run_ids": run_ids,
        "started_at": manifests[0]["started_at"] if manifests else None,
        "seconds": round(seconds, 3),
        "counts": {
            **dict(counts),
            "rejected_by": {stage: dict(reasons) for stage, reasons in rejected_by.items()},
            "balanced": all(manifest["counts"]["balanced"] for manifest in manifests),
        },
        "counters": dict(counters),
        "stage_seconds": dict(stage_seconds),
        # For --metrics_file (pipeline/metrics.py): when the last pass ended, the state it
        # published (its feeds' failures), the bytes the passes wrote.
        "finished_at": manifests[-1].get("finished_at") if manifests else None,
        "state": manifests[-1].get("state") if manifests else None,
        "written_bytes": dict(written),
        # The failed runs before the first pass (pipeline/failed_runs.py): the summary says
        # the passes read their inputs again.
        **({"failed_before": manifests[0]["failed_before"]} if failed_before(manifests) else {}),
    }


def failed_before(manifests: Sequence[Mapping[str, Any]]) -> bool:
    return bool(manifests and manifests[0].get("failed_before"))


def pass_line(
    manifest: Mapping[str, Any],
    number: int,
    passes: int,
    files: int,
    done: int | None = None,
    total: int | None = None,
    seconds: float | None = None,
) -> str:
    """The log line of one committed pass; with `done` of `total` files read in `seconds`
    since the first pass started, the progress of the command: the share done, the rate and
    the time left at that rate."""
    counts = manifest["counts"]
    line = (
        f"pass {number} of {passes} committed as run {manifest['run_id']}: {files} files, "
        f"{counts['inputs']} inputs, {counts['articles']} articles, "
        f"{counts['duplicates']} duplicates, {counts['rejected']} rejected, "
        f"{manifest['seconds']:.1f} s"
    )
    if done is None or not total or not seconds:
        return line
    rate = done / seconds
    left = (total - done) / rate if rate else 0.0
    return (
        f"{line}; {done:,} of {total:,} files ({100 * done / total:.0f}%), "
        f"{rate:.1f} files/s, about {_duration(left)} left"
    )


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def run_passes(
    target: pipeline_run.Target, on_locked: Callable[[], None] | None = None
) -> dict[str, Any]:
    """List the inputs, run and commit one run per pass; the passes' summed summary.
    `on_locked` is called once the locks are taken."""
    ours = target.ours
    size = ours.max_files_per_run
    if target.state is None and not pipeline_run.on_local_runner(target.options):
        raise pipeline_run.UsageError(
            "--max_files_per_run on a runner whose workers run elsewhere needs --state on a "
            "filesystem they read (gs://, s3://): the passes share their state"
        )
    listing = list_inputs(
        [path for path in ours.inputs or () if not is_url(path)], ours.follow_outside_links
    )
    record = None
    if target.state is not None:  # files an earlier run read as they are: in no pass
        now = dt.datetime.now(dt.timezone.utc)
        try:
            record = seen_record(target.state, ours.state_keep_days, now)
        except StateError as error:  # as the run's own check says it (exit 2)
            raise pipeline_run.UsageError(str(error)) from error
    if record is None:
        plan = plan_passes(listing, size)
    else:
        plan = plan_passes(listing, size, record.unchanged, record.due)
        del record  # it stays loaded in this process for a pass run in it (load_once)
    temporary = None
    if target.state is None:
        # The passes' shared state, created by the first pass (a folder that does not exist
        # yet: a new state).
        temporary = tempfile.mkdtemp(prefix="newsbeam-passes-")
        target = dataclasses.replace(target, state=os.path.join(temporary, "state"))
        try:  # --output inside the temporary folder (TMPDIR): the state must be apart
            pipeline_run.check_paths(target.output, target.state)
        except pipeline_run.UsageError:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
    total = len(plan.passes)
    total_files = sum(map(len, plan.passes))
    log.info(
        "%d files in %d passes of at most %d (--max_files_per_run)%s%s",
        total_files,
        total,
        size,
        "" if temporary is None else "; their shared state is temporary (no --state)",
        f"; {plan.unchanged:,} more listed were read by earlier runs, unchanged since"
        + (f" ({len(plan.refresh):,} listed again by the first pass)" if plan.refresh else "")
        if plan.unchanged
        else "",
    )
    done = 0
    manifests: list[dict[str, Any]] = []
    clock = time.perf_counter()
    try:
        with pipeline_run.locked(target) as lock:
            if on_locked is not None:
                on_locked()
            for number, files in enumerate(plan.passes, 1):
                first = number == 1

                def adjust(
                    config: PipelineConfig, files: Sequence[str] = files, first: bool = first
                ) -> PipelineConfig:
                    return pass_config(config, files, plan.problems, first, plan.refresh)

                labels: dict[str, Any] = {
                    "pass": {"number": number, "of": total, "files": len(files), "size": size}
                }
                if first and plan.unchanged > len(plan.refresh):  # what the state had read
                    labels["pass"]["unchanged"] = plan.unchanged - len(plan.refresh)
                if temporary is not None:  # removed at the end: no state to point at
                    labels["state"] = None
                manifest = pipeline_run.run_locked(
                    target, lock, adjust, labels=labels, with_report=False
                )
                manifests.append(manifest)
                done += len(files)
                seconds = time.perf_counter() - clock
                log.info(pass_line(manifest, number, total, len(files), done, total_files, seconds))
                if number < total:  # a stop held by this pass's commit: no next pass
                    RunSignals.check()  # (after the last, the command ends committed: 0)
    except BaseException as error:
        if manifests:
            again = (
                "the command again reads the rest (their files skipped as read)"
                if temporary is None
                else "without --state, the command again reads their files too, and adds "
                "their articles twice"
            )
            words = (
                f"pass {len(manifests) + 1} of {total} was not committed; passes "
                f"1-{len(manifests)} were (runs {manifests[0]['run_id']} to "
                f"{manifests[-1]['run_id']}): {again}"
            )
            log.error("%s", words)
            # The command's last line says it (main.py), not "nothing was committed".
            setattr(error, COMMITTED, words)
        raise
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    summary = summed(manifests, time.perf_counter() - clock)
    if plan.unchanged:  # the summary says what was left unread, as one run's does
        skipped = summary["counters"].get("read_skipped_unchanged", 0)
        summary["counters"]["read_skipped_unchanged"] = skipped + plan.unchanged - len(plan.refresh)
    return summary
