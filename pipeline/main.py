"""Entry point: `newsbeam --input PATH [--input PATH ...] --output ROOT [Beam flags]`,
`newsbeam --follow ...` (micro-batches until stopped: pipeline/follow.py), and
`newsbeam report --output ROOT [--since DATE]` (pipeline/report.py), `newsbeam warehouse`
(pipeline/warehouse.py) and `newsbeam schema --format bigquery` (pipeline/bigquery.py).

Exit status: 0 when the run completed (bad documents are rows in `rejected`), 1 when the
run failed, 2 for a usage error, 3 when more than `--fail_on_rejected` of the inputs were
rejected, 75 when another run holds the lock of --output or --state (run it again later),
130/143 when interrupted (SIGINT/SIGTERM). Prints a short summary at the end. A run that
fails or is stopped records itself in the dataset (pipeline/failed_runs.py).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from newsbeam.pipeline import scratch
from newsbeam.pipeline.causes import EXCEPTION_LINE, failure_line, traceback_exception
from newsbeam.pipeline.stops import RunSignals, Terminated
from newsbeam.transforms.support.redact import RedactLogs

if TYPE_CHECKING:
    from newsbeam.pipeline.report_process import ReportProcess

log = logging.getLogger("newsbeam")


def format_summary(manifest: dict[str, Any], output: str) -> str:
    """The few lines printed at the end of a run."""
    counts = manifest["counts"]
    seconds = manifest["seconds"]
    rate = counts["inputs"] / seconds if seconds else 0.0
    lines = [f"NewsBeam: {counts['inputs']} inputs in {seconds:.1f} s ({rate:.1f} docs/s)"]
    # Counts right-aligned, shares too: a column a reader runs an eye down, as the report's.
    width = max(len(f"{counts[table]:,}") for table in ("articles", "duplicates", "rejected"))
    for table in ("articles", "duplicates", "rejected"):
        share = counts[table] / counts["inputs"] if counts["inputs"] else 0.0
        lines.append(f"  {table:<10}  {counts[table]:>{width},}  {f'({share:.1%})':>8}")
    for stage, reasons in counts["rejected_by"].items():
        detail = ", ".join(f"{reason} {n}" for reason, n in reasons.items())
        lines.append(f"    {stage}: {detail}")
    if not counts["balanced"]:
        lines.append("  WARNING: inputs != articles + duplicates + rejected (see manifest)")
    from newsbeam.pipeline.dataset import unread_notes  # what it imports, main needs anyway

    lines += [f"  skipped     {note}" for note in unread_notes(manifest)]
    if not counts["inputs"]:
        lines.append("  nothing new: the run is committed with empty tables (a record of it)")
    failed = manifest.get("failed_before") or []
    if failed:  # the inputs of runs that failed since the last commit: read by this one
        from newsbeam.pipeline.failed_runs import describe

        lines.append(
            f"  after {len(failed)} failed run{'s' if len(failed) != 1 else ''} since the last "
            f"committed one (their inputs read again here); the latest: {describe(failed[-1])}"
        )
    feeds = feeds_summary(manifest.get("counters", {}))
    if feeds:
        lines.append(feeds)
    stages = manifest.get("stage_seconds") or {}
    if stages:
        slowest = max(sorted(stages), key=lambda stage: stages[stage])
        report = "" if "run_ids" in manifest else "; see the report"  # passes draw none
        lines.append(
            f"  slowest stage: {slowest} {stages[slowest]:.2f} s "
            f"(all stages {sum(stages.values()):.2f} s{report})"
        )
    run_id = manifest.get("run_id", "")
    root = output.rstrip("/")
    run_ids = manifest.get("run_ids")
    if run_ids is not None:  # --max_files_per_run: one committed run per pass
        lines += [
            f"Runs:     {len(run_ids)} passes, {run_ids[0]} to {run_ids[-1]}, committed in "
            f"{root}/_runs/",
            f"Report:   newsbeam report --output {root} --since {manifest['started_at']}",
        ]
    else:
        lines.append(
            f"Run:      {run_id}, committed: {root}/_runs/{run_id}.json (report: .html beside it)"
        )
    # By name: a ROOT can hold files of older schema versions, and DuckDB binds a glob to
    # its first file's columns (a later file's new column is dropped, or fails the query).
    lines += [
        f"Tables:   {root}/articles/  duplicates/  rejected/  feed_health/ (ingest_date=...)",
        # A quote in the folder's name doubled: the query runs as printed ("o'brien/").
        f"DuckDB:   SELECT title, language FROM read_parquet("
        f"'{root.replace(chr(39), chr(39) * 2)}/articles/*/*.parquet', "
        "hive_partitioning = true, union_by_name = true)",
    ]
    if "://" in root:
        # DuckDB reads an object store only through its httpfs extension (a download, and
        # s3_endpoint/s3_url_style for any store but AWS's): offline, the loader needs none.
        lines.append(
            "          (an object store: DuckDB needs its httpfs extension and the store's "
            "s3_* settings; or load it, with this run's --s3_* flags: "
            f"newsbeam warehouse --output {shlex.quote(root)} --db news.duckdb)"
        )
    return "\n".join(lines)


def _log_level(argv: Sequence[str]) -> str:
    """`--log_level` read before anything else, so imports and option parsing log at it."""
    for index, arg in enumerate(argv):
        name, _, value = arg.partition("=")
        if name in ("--log_level", "--log-level"):
            value = value or (argv[index + 1] if index + 1 < len(argv) else "")
            if value.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"):
                return value.upper()
    return "INFO"


def _redacted_params(argv: Sequence[str]) -> list[str]:
    """The `--redact_url_params` values, read before anything logs (the log's filter)."""
    found = []
    for index, arg in enumerate(argv):
        name, equals, value = arg.partition("=")
        if name in ("--redact_url_params", "--redact-url-params"):
            found.append(value if equals else (argv[index + 1] if index + 1 < len(argv) else ""))
    return found


def feeds_summary(counters: dict[str, int]) -> str | None:
    """The feeds line of the summary (None when the run polled no feed)."""
    fetched = counters.get("feeds_fetched", 0)
    not_due = counters.get("feeds_not_due", 0)
    if not fetched and not not_due:
        return None
    # Feeds whose health row says `error`; the stage's rejected rows also hold entries.
    errors = counters.get("feeds_errors", 0)
    parts = [
        f"{fetched} polled",
        f"{counters.get('feeds_not_modified', 0)} not modified",
        f"{counters.get('feeds_unchanged', 0)} unchanged",
        f"{errors} errors",
        f"{counters.get('feeds_new_entries', 0)} new entries",
        f"{counters.get('feeds_pages_fetched', 0)} pages fetched",
    ]
    if counters.get("feeds_updated_entries"):  # seen entries read again in a new version
        parts.insert(5, f"{counters['feeds_updated_entries']} updated entries")
    failed = sum(n for name, n in counters.items() if name.startswith("feeds_pages_failed_"))
    if failed:
        parts.append(f"{failed} pages failed")
    if counters.get("feeds_pages_deferred"):
        parts.append(f"{counters['feeds_pages_deferred']} pages left for the next run")
    if counters.get("feeds_sitemap_urls_deferred"):  # over --sitemap_max_urls
        parts.append(f"{counters['feeds_sitemap_urls_deferred']} sitemap URLs deferred")
    if not_due:
        parts.insert(1, f"{not_due} not due")
    return "  feeds: " + ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit status (see `newsbeam --help`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["report"]:  # a subcommand: no Beam needed
        # Its filesystems' import warns about clients NewsBeam does not use (as below).
        logging.getLogger().setLevel(logging.ERROR)
        from newsbeam.pipeline.report import main as report_main

        logging.getLogger().setLevel(logging.WARNING)
        gc.enable()  # paused for the imports (command); a run enables it in frozen_heap
        return report_main(argv[1:])
    if argv[:1] in (["warehouse"], ["schema"]):  # pipeline/warehouse.py, pipeline/bigquery.py
        import importlib

        # Importing Beam's filesystems logs warnings about clients NewsBeam does not use.
        logging.getLogger().setLevel(logging.ERROR)
        module = "warehouse" if argv[0] == "warehouse" else "bigquery"
        command = importlib.import_module(f"newsbeam.pipeline.{module}")
        logging.getLogger().setLevel(logging.WARNING)
        gc.enable()
        return int(command.main(argv[1:]))
    level = _log_level(argv)
    # --log_level is NewsBeam's own detail; libraries (Beam above all) stay at WARNING
    # unless DEBUG is asked for.
    library_level = "DEBUG" if level == "DEBUG" else "WARNING"
    logging.basicConfig(level=library_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(library_level)
    # A fetch's warning names its URL: the log (a terminal, journald, a cluster's log
    # store) shows it without a user:password@ or a key in its query, as the tables do.
    for handler in logging.getLogger().handlers:
        RedactLogs.install(handler, _redacted_params(argv))
    log.setLevel(level)
    # Beam logs a stage's exception with its traceback (`_reraise_augmented`) just before
    # it fails the run, which the run then says in one line (`failure_line`; its traceback
    # at DEBUG): below DEBUG, that traceback was 20-30 lines of the operator's log for one
    # problem (a full disk), and only in one process (workers keep Beam's logs quiet).
    logging.getLogger(BEAM_STAGE_FAILURES).setLevel(
        logging.NOTSET if level == "DEBUG" else logging.CRITICAL
    )
    # Beam logs each retry of a call (an object store that stopped answering: every few
    # seconds for a minute) with the traceback of the failure: one line each below DEBUG.
    # Its S3 writer logs a failed upload with the traceback as an argument (to the root
    # logger): its last line is the failure.
    if level != "DEBUG":
        logging.getLogger(BEAM_RETRIES).addFilter(one_line_retry)
        logging.getLogger().addFilter(last_traceback_line)
        logging.getLogger(BEAM_WORKER_LOGS).addFilter(one_line_worker_error)
    # The command's temporary files in one folder of its own, which a later command removes
    # should this one be killed outright (pipeline/scratch.py); before the report process
    # forks, so that its files go there too.
    with scratch.own_folder():
        # Forked before Beam is imported: it loads what the report needs on another core
        # while this process imports Beam (pipeline/report_process.py).
        drawer = _report_process(argv)
        try:
            return _run_command(argv, library_level, drawer)
        finally:
            if drawer is not None:
                drawer.close()


# The logger of Beam's "a stage failed" tracebacks (apache_beam/runners/common.py).
BEAM_STAGE_FAILURES = "apache_beam.runners.common"
# The logger of Beam's retries (apache_beam/utils/retry.py), and where its message's
# traceback starts.
BEAM_RETRIES = "apache_beam.utils.retry"
_RETRY_TRACEBACK = " Traceback for above exception"


# The logger that repeats a worker process's log entries in the launching process
# (apache_beam/runners/portability/local_job_service.py: `Worker: <the entry as text>`).
BEAM_WORKER_LOGS = "apache_beam.runners.portability.local_job_service"
# A text-format string field of that entry: `message: "..."`, with its escapes.
_ENTRY_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
_ENTRY_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\"}


def one_line_worker_error(record: logging.LogRecord) -> bool:
    """A logging filter: a worker process's failed bundle, which Beam's job service logged
    as the entry's whole text (two tracebacks, ~5 KB on one line, once a failed bundle:
    a full disk on two workers wrote 10 KB of the operator's log before the run's own
    line), as the traceback's last line. Its whole text is kept at DEBUG."""
    if not (isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str)):
        return True
    match = _ENTRY_MESSAGE.search(record.args[0])
    if match is None or "Traceback (most recent call last):" not in match.group(1):
        return True
    text = re.sub(r"\\(.)", lambda m: _ENTRY_ESCAPES.get(m.group(1), m.group(0)), match.group(1))
    first = text.split("\n", 1)[0].split(". Original traceback", 1)[0]
    found = traceback_exception(text[text.index("Traceback") :])
    last = f"{found[0]}: {found[1]}" if found else text.strip().splitlines()[-1]
    # Beam's own words first ("Error processing instruction bundle_93") when they are not
    # the exception's line again.
    said = last if EXCEPTION_LINE.fullmatch(first) else f"{first}: {last}"
    record.msg = "Worker: %s (the traceback: --log_level DEBUG)"
    record.args = (said,)
    return True


def last_traceback_line(record: logging.LogRecord) -> bool:
    """A logging filter: a traceback given as a message's argument, as its last line."""
    if isinstance(record.args, tuple) and any(
        isinstance(value, str) and traceback_exception(value) for value in record.args
    ):
        record.args = tuple(
            value.strip().splitlines()[-1]
            if isinstance(value, str) and traceback_exception(value)
            else value
            for value in record.args
        )
    return True


def one_line_retry(record: logging.LogRecord) -> bool:
    """A logging filter: Beam's retry message without the traceback it ends with."""
    if isinstance(record.msg, str) and _RETRY_TRACEBACK in record.msg:
        head = record.msg.split(_RETRY_TRACEBACK, 1)[0]
        arguments = record.args if isinstance(record.args, tuple) else ()
        count = head.count("%s")
        record.msg = head
        record.args = tuple(str(value).strip() for value in arguments[:count])
    return True


# Flags with which the command draws no report at the end of its run (or runs none).
_NO_REPORT_FLAGS = frozenset(
    {"-h", "--help", "--help_beam", "--help-beam", "--version", "--streaming", "--follow"}
    | {"--max_files_per_run"}  # passes: each committed without a report
)


def _report_process(argv: Sequence[str]) -> ReportProcess | None:
    """The report process for a run that ends with a report, where one can start. Judged
    from the raw flags, before they are parsed (that needs Beam): a wrong guess costs
    time only (a report drawn in this process, or a process ended unused)."""
    if {arg.split("=", 1)[0] for arg in argv} & _NO_REPORT_FLAGS:
        return None
    from newsbeam.pipeline.report_process import ReportProcess

    return ReportProcess.start()


def _run_command(argv: list[str], library_level: str, drawer: ReportProcess | None) -> int:
    """The run command, from Beam's import to the summary (see `main`)."""
    # Importing Beam logs warnings about Google Cloud clients NewsBeam does not use
    # ("apitools not found"); keep them off the user's terminal.
    root = logging.getLogger()
    root.setLevel(logging.ERROR)
    try:
        from newsbeam.pipeline import cli
        from newsbeam.pipeline import run as pipeline_run
        from newsbeam.pipeline.options import NewsBeamOptions
    finally:
        root.setLevel(library_level)

    if "--version" in argv:
        print(cli.version_text())
        return 0
    if any(flag in argv for flag in ("-h", "--help")):
        cli.help_parser().print_help()
        return 0
    if any(flag in argv for flag in ("--help_beam", "--help-beam")):
        print(cli.beam_help())
        return 0
    try:
        argv = cli.check_flags(argv)
    except cli.UnknownFlagsError as error:
        print(f"newsbeam: {error}", file=sys.stderr)
        return 2

    if "--streaming" in argv and "--follow" in argv:
        print(
            "newsbeam: --streaming and --follow are two ways to run live: pick one", file=sys.stderr
        )
        return 2
    if "--streaming" in argv:  # the unbounded pipeline, for streaming runners
        from newsbeam.pipeline import streaming

        gc.enable()
        with RunSignals() as signals:
            try:
                return streaming.main(argv)  # cancels the job on a stop signal
            except (KeyboardInterrupt, Terminated) as stopped:
                if signals.received is None:
                    raise
                from newsbeam.pipeline.failed_runs import recorded

                name = "interrupted" if signals.received == signal.SIGINT else "terminated"
                print(
                    f"newsbeam: {name}; the windows committed so far stay{recorded(stopped)}",
                    file=sys.stderr,
                )
                return RunSignals.STATUS[signals.received]
    if "--follow" in argv:  # one long-lived process of micro-batches: pipeline/follow.py
        from newsbeam.pipeline import follow

        return follow.main(argv)
    ours = NewsBeamOptions(argv)
    metrics = RunMetricsFile(ours.metrics_file, ours.output)
    with RunSignals() as signals:
        try:
            manifest = pipeline_run.run(argv, report_process=drawer, on_locked=metrics.running)
        except pipeline_run.Busy as error:  # not the command's fault: run it again later
            print(f"newsbeam: {error}", file=sys.stderr)
            return metrics.failed(pipeline_run.BUSY_STATUS)
        except pipeline_run.UsageError as error:
            print(f"newsbeam: {error}", file=sys.stderr)
            return metrics.failed(2)
        except pipeline_run.Unpublished as error:  # committed: not "nothing was committed"
            log.error("%s", error)
            return metrics.failed(1)
        except (Exception, KeyboardInterrupt, Terminated) as error:
            status = signals.exit_status()
            if status is not None:
                metrics.failed(status)
                # The staging folders are gone (the finally blocks ran), but Beam's worker
                # threads may still wait on the interrupted bundle and would keep the
                # interpreter from exiting: end the process here.
                sys.stdout.flush()
                sys.stderr.flush()
                scratch.release()  # os._exit skips the finally blocks above
                os._exit(status)
            if not isinstance(error, Exception):
                raise
            from newsbeam.pipeline.failed_runs import recorded
            from newsbeam.pipeline.passes import committed_note

            log.error("%s; %s%s", failure_line(error, argv), committed_note(error), recorded(error))
            log.debug("traceback of the failed run", exc_info=True)
            return metrics.failed(1)
        if signals.received is not None:  # it came during the commit, finished first
            name = "interrupted" if signals.received == signal.SIGINT else "terminated"
            print(
                f"newsbeam: {name} during the commit, which was finished first: run "
                f"{manifest['run_id']} committed",
                file=sys.stderr,
            )
    try:
        print(format_summary(manifest, ours.output))
    except BrokenPipeError:  # `newsbeam ... | head`: the run itself succeeded
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return metrics.committed(manifest, rejected_exit_status(manifest, ours.fail_on_rejected))


class RunMetricsFile:
    """`--metrics_file` of a batch run (pipeline/metrics.py): written once the run ended,
    committed or not, with the exit status the command returns; nothing without the flag."""

    def __init__(self, path: str | None, output: str | None) -> None:
        self.path = os.path.abspath(os.path.expanduser(path)) if path else None
        self.root: str = output or ""
        if output and "://" not in output:  # the ROOT label as the run's lock names it
            self.root = os.path.abspath(os.path.expanduser(output))
        self.started = time.time()
        self.locked = False  # the run took its locks: it is the run in progress

    def running(self) -> None:
        """The run took its locks: the file says a run is in progress, and since when (a
        run killed outright leaves that: it writes no end)."""
        self.locked = True
        if self.path is not None:
            from newsbeam.pipeline import metrics

            metrics.write_run_started(self.path, self.root, self.started)

    def failed(self, status: int) -> int:
        """A run that committed nothing: its times and `status` (returned)."""
        if self.path is not None:
            from newsbeam.pipeline import metrics

            figures = metrics.failed_figures(self.started, time.time(), status)
            # Refused before its locks (2, 75): another run's start stays in the file.
            metrics.write_run_metrics(self.path, self.root, figures, not self.locked)
        return status

    def committed(self, manifest: dict[str, Any], status: int) -> int:
        """A committed run: its manifest's figures and `status` (returned)."""
        if self.path is None:
            return status
        from newsbeam.pipeline import metrics

        try:
            failing = metrics.failing_feeds_in_state(manifest, self.root)
        except Exception as error:  # the run committed: only the feeds' figures are lost
            log.warning("--metrics_file: the feeds' failures could not be read: %s", error)
            failing = None
        figures = metrics.figures_from_manifest(manifest, status, failing)
        metrics.write_run_metrics(self.path, self.root, figures)
        return status


def command() -> None:
    """The `newsbeam` command (and `python -m newsbeam.pipeline`): `main`, then a prompt exit.

    When `main` returns, the run's files are closed and committed and its summary printed;
    a normal exit would then spend 0.2-0.5 s freeing every module and object one by one
    (measured after a run, with Beam, pyarrow and the models loaded). The exit handlers
    still run (temporary folders, logging); only that teardown is skipped."""
    from newsbeam.pipeline.workers import settle_process

    settle_process()  # before the imports below: numpy's, Beam's threads
    try:
        status = main()
    except BrokenPipeError:
        # `newsbeam schema ... | head` (or --help): the reader had what it wanted and went
        # away, which printed a raw traceback; the command itself did its work, as a run
        # whose summary meets a closed pipe (`_run_command`). Later writes go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing to add
        sys.stdout.flush()
        sys.stderr.flush()
    atexit._run_exitfuncs()  # noqa: SLF001  (what os._exit would skip, in the usual order)
    os._exit(status)


def rejected_exit_status(manifest: dict[str, Any], fail_on_rejected: float | None) -> int:
    """3 when more than `fail_on_rejected` of the inputs were rejected, else 0."""
    from newsbeam.pipeline.dataset import rejected_over_limit

    share = rejected_over_limit(manifest["counts"], fail_on_rejected)
    if share is not None:
        print(
            f"newsbeam: {share:.1%} of the inputs were rejected, more than "
            f"--fail_on_rejected {fail_on_rejected:g}; the tables were written",
            file=sys.stderr,
        )
        return 3
    return 0
