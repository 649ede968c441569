"""Helpers shared by the evaluation and benchmark scripts in this folder.

Not a package and not part of the product: each script puts this folder on `sys.path` and
imports `_common`. Nothing here touches the network; the pipeline always runs as a
subprocess (`sys.executable -m newsbeam.pipeline ...`), exactly as a user runs it, with
`TMPDIR` pointed at a scratch folder because Beam leaves `beam-temp*` folders behind.

What is here:
- locating `../shared` (`--shared DIR` overrides; exit code 2 when it or a data set is missing);
- running and timing the pipeline (and any other measured subprocess: wall time, peak RSS,
  optionally the whole process tree's) and failing clearly when it cannot run;
- reading its Parquet tables (a run's files, as its manifest in the dataset lists them,
  through `newsbeam.pipeline.dataset`) and resolving each input page to what became of it
  (article, duplicate of an article, rejected, or missing);
- printing small tables and the final PASS/FAIL line.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.server
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
# ../shared beside the repository root: where every developer machine and CI keep the data.
DEFAULT_SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
PIPELINE_MODULE = "newsbeam.pipeline"
TABLE_NAMES = ("articles", "duplicates", "rejected")

EXIT_FAIL = 1
EXIT_MISSING_DATA = 2

# Outcome kinds of one input page, in order of precedence when a page shows up in several
# tables (it should not, and `PageOutcomes.conflicts` counts it when it does).
ARTICLE, DUPLICATE, REJECTED, MISSING = "article", "duplicate", "rejected", "missing"
OUTCOME_KINDS = (ARTICLE, DUPLICATE, REJECTED, MISSING)


# --------------------------------------------------------------------------------------
# Command line and data location


def add_shared_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shared",
        metavar="DIR",
        default=None,
        help=f"the shared data folder (default: {DEFAULT_SHARED_DIR})",
    )


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags every script that runs the pipeline accepts."""
    parser.add_argument(
        "--beam-args",
        metavar="ARGS",
        default="",
        help="extra flags for the pipeline, one shell-quoted string, "
        "e.g. --beam-args='--runner=FnApiRunner'",
    )
    parser.add_argument(
        "--output",
        metavar="DIR",
        default=None,
        help="write the pipeline's output into this dataset ROOT and keep it (default: a "
        "temporary folder); the scores are of the run made now, the latest in ROOT",
    )
    parser.add_argument(
        "--reuse-output",
        action="store_true",
        help="do not run the pipeline: score the latest run committed to --output ROOT",
    )


def locate_shared(shared_arg: str | None, required: Sequence[str] = ()) -> Path:
    """The shared data folder, checked to hold every path in `required` (relative to it).

    Exits with code 2 and a message naming what is missing: the evaluation cannot run
    without its data, which is a different failure from a score below the gate.
    """
    shared_dir = Path(shared_arg).expanduser().resolve() if shared_arg else DEFAULT_SHARED_DIR
    if not shared_dir.is_dir():
        exit_missing(
            f"shared data folder not found: {shared_dir}\n"
            "It lives at ../shared beside the repository root; pass --shared DIR to point "
            "elsewhere."
        )
    for relative in required:
        if not (shared_dir / relative).exists():
            exit_missing(f"data missing from the shared folder: {shared_dir / relative}")
    return shared_dir


def exit_missing(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_MISSING_DATA)


# --------------------------------------------------------------------------------------
# Scratch space and running the pipeline


@contextlib.contextmanager
def serve_locally(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 (a free port) answering with `handler` while the
    block runs; yields its base URL ("http://127.0.0.1:PORT")."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A temporary folder, removed on exit whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=f"newsbeam-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def subprocess_environment(tmp_dir: Path) -> dict[str, str]:
    """The current environment with TMPDIR (and its aliases) pointed at `tmp_dir`."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for name in ("TMPDIR", "TEMP", "TMP"):
        env[name] = str(tmp_dir)
    # Unbuffered output so a crash still leaves the last log lines in the captured files.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def pipeline_command(
    inputs: Sequence[str | Path],
    output_dir: Path,
    extra_args: Sequence[str] = (),
    program: Sequence[str] = (),
) -> list[str]:
    """The command line of a pipeline run; `program`: what runs it in place of
    `python -m newsbeam.pipeline` (a wrapper taking the same arguments)."""
    command = list(program) or [sys.executable, "-m", PIPELINE_MODULE]
    for input_path in inputs:
        command += ["--input", str(input_path)]
    return [*command, *extra_args, "--output", str(output_dir)]


def split_beam_args(beam_args: str) -> list[str]:
    return shlex.split(beam_args) if beam_args else []


@dataclass(frozen=True)
class Run:
    """One finished subprocess: exit code, wall time, output, peak memory."""

    command: list[str]
    returncode: int
    wall_seconds: float
    stdout: str
    stderr: str
    output_dir: Path | None
    # The largest single process's maximum RSS (os.wait4: the kernel's ru_maxrss over the
    # child and the descendants it waited for).
    peak_rss_mb: float
    # The peak of the summed RSS of the whole process tree, sampled every 0.1 s (worker
    # processes alive at the same time); 0 unless asked for (`sample_tree=True`).
    tree_rss_mb: float = 0.0
    # The same for the summed PSS (pages shared copy-on-write counted once: the memory the
    # run takes from the machine); 0 unless asked for, or where /proc has no smaps_rollup.
    tree_pss_mb: float = 0.0
    # User + system CPU seconds of the child and the descendants it waited for (Beam's
    # worker processes): what the run cost whatever else the machine was doing.
    cpu_seconds: float = 0.0


RSS_SAMPLE_SECONDS = 0.1
_running: set[subprocess.Popen[bytes]] = set()


def run_measured(
    command: Sequence[str], scratch_dir: Path, sample_tree: bool = False, cwd: Path | None = None
) -> Run:
    """Run `command` to completion in a subprocess (TMPDIR in `scratch_dir/tmp`, stdin
    closed), timed wall-clock from start to exit; stdout and stderr captured through
    temporary files (no pipe to fill up while the child runs)."""
    with tempfile.TemporaryFile() as stdout_file, tempfile.TemporaryFile() as stderr_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            cwd=cwd or scratch_dir,
            env=subprocess_environment(scratch_dir / "tmp"),
            stdin=subprocess.DEVNULL,
            stdout=stdout_file,
            stderr=stderr_file,
        )
        _running.add(process)
        sampler = TreeRssSampler(process.pid) if sample_tree else None
        if sampler is not None:
            sampler.start()
        # wait4 rather than wait(): it returns this child's own resource usage.
        _, status, usage = os.wait4(process.pid, 0)
        wall_seconds = time.perf_counter() - started
        if sampler is not None:
            sampler.stop()
        _running.discard(process)
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout_file.seek(0)
        stderr_file.seek(0)
        stdout = stdout_file.read().decode("utf-8", errors="replace")
        stderr = stderr_file.read().decode("utf-8", errors="replace")
    return Run(
        command=list(command),
        returncode=process.returncode,
        wall_seconds=wall_seconds,
        stdout=stdout,
        stderr=stderr,
        output_dir=None,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
        tree_rss_mb=sampler.peak_bytes / 2**20 if sampler is not None else 0.0,
        tree_pss_mb=sampler.peak_pss_bytes / 2**20 if sampler is not None else 0.0,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
    )


def run_pipeline(
    inputs: Sequence[str | Path],
    output_dir: Path,
    scratch_dir: Path,
    extra_args: Sequence[str] = (),
    sample_tree: bool = False,
) -> Run:
    """Run the pipeline to completion in a subprocess, exactly as a user runs it
    (`python -m newsbeam.pipeline --input ... --output DIR ...`): the one way the scripts
    here run and time it."""
    command = pipeline_command(inputs, output_dir, extra_args)
    run = run_measured(command, scratch_dir, sample_tree)
    return dataclasses.replace(run, output_dir=output_dir)


def stop_runs_on_sigterm() -> None:
    """On SIGTERM, kill the run in progress and exit (so scratch folders are removed)."""

    def stop(signal_number: int, _frame: object) -> None:
        for process in list(_running):
            process.kill()
        sys.exit(128 + signal_number)

    signal.signal(signal.SIGTERM, stop)


def process_memory_mb(pid: int | None = None) -> tuple[float, float]:
    """(VmRSS, VmHWM: its peak) of a process (default: this one) in MiB, from /proc."""
    values = {}
    with open(f"/proc/{pid or os.getpid()}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def process_tree_rss_bytes(root_pid: int) -> int:
    """Summed resident memory of `root_pid` and all its descendants, from /proc."""
    total = 0
    page_size = os.sysconf("SC_PAGE_SIZE")
    for pid in process_tree(root_pid):
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm_file:
                total += int(statm_file.read().split()[1]) * page_size
        except (OSError, IndexError, ValueError):
            continue
    return total


def process_tree_pss_bytes(root_pid: int) -> int:
    """Summed proportional set size (PSS: a page shared by k processes counts 1/k in each,
    so pages the worker template shares copy-on-write count once) of `root_pid` and its
    descendants, from /proc/*/smaps_rollup (Linux 4.14+; 0 where there is none)."""
    total = 0
    for pid in process_tree(root_pid):
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
                for line in rollup:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            continue
    return total


def process_tree(root_pid: int) -> set[int]:
    """`root_pid` and all its descendants, from /proc."""
    parent_of: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue  # exited meanwhile
        # The command name is in parentheses and may hold spaces: split after the last ")".
        fields = stat[stat.rfind(b")") + 2 :].split()
        parent_of[int(entry.name)] = int(fields[1])
    tree = {root_pid}
    grew = True
    while grew:
        grew = False
        for pid, parent in parent_of.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


class TreeRssSampler(threading.Thread):
    """Samples a process tree's summed RSS and PSS until stopped; keeps the peaks."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self._root_pid = root_pid
        self._stop_event = threading.Event()
        self.peak_bytes = 0
        self.peak_pss_bytes = 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_bytes = max(self.peak_bytes, process_tree_rss_bytes(self._root_pid))
            self.peak_pss_bytes = max(self.peak_pss_bytes, process_tree_pss_bytes(self._root_pid))
            self._stop_event.wait(RSS_SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def require_success(run: Run, tail_lines: int = 30, what: str = "the pipeline") -> None:
    """Exit with code 1 and the end of the run's stderr when it failed."""
    if run.returncode == 0:
        return
    print(f"error: {what} exited with code {run.returncode}", file=sys.stderr)
    print("command: " + shlex.join(run.command), file=sys.stderr)
    for line in run.stderr.splitlines()[-tail_lines:]:
        print(f"  | {line}", file=sys.stderr)
    print(f"FAIL: {what} did not run")
    sys.exit(EXIT_FAIL)


@contextlib.contextmanager
def pipeline_output(
    args: argparse.Namespace, inputs: Sequence[str | Path], extra_args: Sequence[str] = ()
) -> Iterator[Path]:
    """The dataset ROOT holding the pipeline's output for `inputs`, running the pipeline if
    asked; the readers below read its latest committed run (this one).

    Uses --output ROOT when given (kept afterwards; the run adds its own files there), a
    temporary folder otherwise; with --reuse-output the latest run committed to --output
    is read as it is.
    """
    if args.reuse_output:
        if not args.output:
            exit_missing("--reuse-output needs --output ROOT")
        output_dir = Path(args.output).resolve()
        if read_manifest(output_dir) is None:
            exit_missing(f"no committed pipeline run to reuse in {output_dir}")
        yield output_dir
        return
    with scratch_directory("eval") as scratch_dir:
        output_dir = Path(args.output).resolve() if args.output else scratch_dir / "out"
        run = run_pipeline(inputs, output_dir, scratch_dir, extra_args)
        require_success(run)
        print(f"pipeline: {run.wall_seconds:.1f} s  ({shlex.join(run.command[1:])})")
        yield output_dir


# --------------------------------------------------------------------------------------
# Reading the output


def read_manifest(output_dir: Path, run_id: str | None = None) -> dict[str, Any] | None:
    """The manifest of one committed run in the dataset `output_dir`: of `run_id`, or of
    the latest run (by finish time); None when there is none."""
    from newsbeam.pipeline import dataset

    root = str(output_dir)
    if not dataset.is_dataset(root):
        return None
    if run_id is not None:
        return dataset.read_manifest(root, run_id)
    runs = dataset.committed_runs(root)
    return runs[-1] if runs else None


def table_files(output_dir: Path, table: str, run_id: str | None = None) -> list[Path]:
    """The Parquet files of `table` one committed run wrote (read_manifest: the latest run
    without `run_id`), as its manifest lists them; none without a committed run."""
    from newsbeam.pipeline import dataset

    manifest = read_manifest(output_dir, run_id)
    if manifest is None:
        return []
    return [Path(path) for path in dataset.data_files(str(output_dir), manifest, table)]


def read_table(
    output_dir: Path, table: str, columns: Sequence[str], run_id: str | None = None
) -> list[dict[str, Any]]:
    """Rows of one table of one committed run (table_files), only the named columns.

    A run without files of the table reads as empty; a missing column is an error that
    names the columns the table does have.
    """
    import pyarrow.dataset as ds

    files = table_files(output_dir, table, run_id)
    if not files:
        return []
    # The files themselves, without the ingest_date partition column of their folders.
    dataset = ds.dataset([str(path) for path in files], format="parquet", partitioning=None)
    missing = [name for name in columns if name not in dataset.schema.names]
    if missing:
        raise SystemExit(
            f"error: table {table!r} has no column(s) {missing}; it has {dataset.schema.names}"
        )
    return dataset.to_table(columns=list(columns)).to_pylist()


def source_path(source: str) -> Path:
    """The file path in a `source` value: without a `file://` scheme or `#L<n>` fragment."""
    if source.startswith("file://"):
        source = source[len("file://") :]
    return Path(source.split("#", 1)[0])


@dataclass
class PageOutcome:
    """What became of one input page.

    `article` is the page's own article row, or for a duplicate the row of its canonical
    article (None when that canonical is not in the articles table).
    """

    kind: str
    article: dict[str, Any] | None = None
    reason: str | None = None  # "<stage>:<reason>" for a rejected page


@dataclass
class PageOutcomes:
    by_page: dict[str, PageOutcome]
    unmatched_sources: list[str] = field(default_factory=list)  # rows no page key matched
    conflicts: list[str] = field(default_factory=list)  # pages found in more than one table
    dangling_duplicates: list[str] = field(default_factory=list)  # canonical_id not found


def collect_outcomes(
    output_dir: Path,
    page_keys: Sequence[str],
    page_key_of_source: Callable[[Path], str],
    article_columns: Sequence[str],
) -> PageOutcomes:
    """Resolve each expected page (by key) to its outcome in the pipeline's output.

    `page_key_of_source` turns a row's source path into the same key the caller uses for
    its pages (e.g. the file name), so absolute, relative or globbed paths all match.
    Pages that appear in no table are MISSING.
    """
    columns = sorted({"article_id", "source", *article_columns})
    articles = read_table(output_dir, "articles", columns)
    duplicates = read_table(output_dir, "duplicates", ["source", "canonical_id", "article_id"])
    rejected = read_table(output_dir, "rejected", ["source", "stage", "reason"])
    article_by_id = {row["article_id"]: row for row in articles}

    wanted = set(page_keys)
    found: dict[str, list[PageOutcome]] = {}
    result = PageOutcomes(by_page={})

    def record(source: str, outcome: PageOutcome) -> None:
        key = page_key_of_source(source_path(source))
        if key not in wanted:
            result.unmatched_sources.append(source)
            return
        found.setdefault(key, []).append(outcome)

    for row in articles:
        record(row["source"], PageOutcome(ARTICLE, article=row))
    for row in duplicates:
        canonical = article_by_id.get(row["canonical_id"])
        if canonical is None:
            result.dangling_duplicates.append(row["source"])
        record(row["source"], PageOutcome(DUPLICATE, article=canonical))
    for row in rejected:
        record(row["source"], PageOutcome(REJECTED, reason=f"{row['stage']}:{row['reason']}"))

    for key in page_keys:
        outcomes = found.get(key)
        if not outcomes:
            result.by_page[key] = PageOutcome(MISSING)
            continue
        outcomes.sort(key=lambda outcome: OUTCOME_KINDS.index(outcome.kind))
        if len(outcomes) > 1:
            result.conflicts.append(key)
        result.by_page[key] = outcomes[0]
    return result


# --------------------------------------------------------------------------------------
# The fundus test pages and their labels (eval_extraction, eval_authors, eval_dates,
# eval_titles)

FUNDUS_RELATIVE = Path("data/pages/fundus-test-pages")
FUNDUS_PAGE_SUFFIX = ".html.gz"


def fundus_labels(fundus_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Each fundus page (<cc>/<Publisher>_<date>.html.gz) with its label: what fundus's
    hand-written parser for the site finds on it (title, authors, publishing_date, body).
    A publisher's JSON holds one version per page: in name order, its pages in date order
    (file name order). Missing or mismatched data exits 2."""
    labelled: list[tuple[Path, dict[str, Any]]] = []
    for truth_file in sorted(fundus_dir.glob("*/*.json")):
        versions = json.loads(truth_file.read_text(encoding="utf-8"))
        pages = sorted(truth_file.parent.glob(f"{truth_file.stem}_*{FUNDUS_PAGE_SUFFIX}"))
        if len(pages) != len(versions):
            exit_missing(f"{truth_file}: {len(versions)} versions, {len(pages)} pages")
        pairs = zip(sorted(versions), pages, strict=True)
        labelled += [(path, versions[name]) for name, path in pairs]
    if not labelled:
        exit_missing(f"no fundus pages in {fundus_dir}")
    return labelled


def fundus_page_key(path: Path) -> str:
    """ "<cc>/<file name>": the country folder and the file, however the path was written."""
    return f"{path.parent.name}/{path.name}"


def fundus_arguments(
    description: str, gates: Sequence[str], argv: Sequence[str] | None
) -> argparse.Namespace:
    """The flags of an evaluation on the fundus labels, parsed: --shared, the pipeline's
    flags, --misses (how many pages that differ to list) and each of `gates` (a figure
    the evaluation fails below; unset, it only prints)."""
    parser = argparse.ArgumentParser(description=description)
    add_shared_argument(parser)
    add_pipeline_arguments(parser)
    parser.add_argument("--misses", type=int, default=15, help="pages that differ to list")
    for gate in gates:
        parser.add_argument(gate, type=float, default=None, metavar="X")
    return parser.parse_args(argv)


def score_fundus(
    args: argparse.Namespace,
    expected_of: Callable[[Path], dict[str, Any]],
    columns: Sequence[str],
) -> tuple[list[tuple[str, Any, dict[str, Any]]], dict[str, int]]:
    """Run the pipeline once over every fundus page (one glob input, `args`' pipeline
    flags) and pair each page's article (its `columns`) with what `expected_of(fundus
    folder)` expects of it (`labelled_articles`); prints the pages' outcomes."""
    shared_dir = locate_shared(args.shared, [str(FUNDUS_RELATIVE)])
    fundus_dir = shared_dir / FUNDUS_RELATIVE
    expected = expected_of(fundus_dir)
    print(f"fundus: {len(expected)} pages in {fundus_dir}")
    page_glob = fundus_dir / "*" / f"*{FUNDUS_PAGE_SUFFIX}"
    with pipeline_output(args, [page_glob], split_beam_args(args.beam_args)) as output_dir:
        outcomes = collect_outcomes(output_dir, sorted(expected), fundus_page_key, columns)
    report_outcomes(outcomes)
    return labelled_articles(outcomes, expected)


def finish_fundus(
    not_scored: dict[str, int],
    misses: Sequence[Sequence[Any]],
    headers: Sequence[str],
    limit: int,
    figure: str,
    gates: Sequence[tuple[bool, str]],
) -> int:
    """The end of an evaluation on the fundus labels: the pages not scored, the first
    `limit` pages that differ, then the figure, as a gate's last line when there are
    `gates` ((passed, name) each); the exit code."""
    print(f"not scored: {not_scored or 'none'}; pages that differ: {len(misses)}")
    if misses and limit:
        print()
        print_table(headers, misses[:limit])
    if not gates:
        print(figure)
        return 0
    names = ", ".join(name for _, name in gates)
    return finish_gate(all(passed for passed, _ in gates), f"{figure} ({names})")


def print_grades(grades: Mapping[str, int], share_of: str) -> tuple[int, float]:
    """A one-row table of the pages scored, the count of each grade and the share of the
    `share_of` grade (the figure an evaluation gates); returns (pages scored, share)."""
    scored = sum(grades.values())
    share = grades[share_of] / scored if scored else 0.0
    print()
    print_table(["pages scored", *grades, f"{share_of} share"], [[scored, *grades.values(), share]])
    return scored, share


def gate_at_least(figure: float, gate: float | None) -> list[tuple[bool, str]]:
    """The one gate of a figure that must reach `gate` (none when it is None), as
    `finish_fundus` takes gates."""
    return [] if gate is None else [(figure >= gate, f"gate {gate}")]


def labelled_articles(
    outcomes: PageOutcomes, expected: dict[str, Any]
) -> tuple[list[tuple[str, Any, dict[str, Any]]], dict[str, int]]:
    """(page key, expected value, article row) of the pages with a label (not None nor "":
    an empty set is a label, "none expected") and an article of their own, in key order;
    the others counted by why."""
    scored: list[tuple[str, Any, dict[str, Any]]] = []
    not_scored: dict[str, int] = {}
    for key, wanted in sorted(expected.items()):
        outcome = outcomes.by_page[key]
        if wanted is None or wanted == "":
            why = "no label"
        elif outcome.kind != ARTICLE or outcome.article is None:
            why = outcome.kind
        else:
            scored.append((key, wanted, outcome.article))
            continue
        not_scored[why] = not_scored.get(why, 0) + 1
    return scored, not_scored


def report_outcomes(outcomes: PageOutcomes, max_listed: int = 10) -> None:
    """Print pages per outcome and anything odd about how rows matched the pages."""
    counts = {kind: 0 for kind in OUTCOME_KINDS}
    for outcome in outcomes.by_page.values():
        counts[outcome.kind] += 1
    print_table(["outcome", "pages"], [[kind, counts[kind]] for kind in OUTCOME_KINDS])
    warnings = [
        (outcomes.unmatched_sources, "output row(s) whose source matched no input page"),
        (outcomes.conflicts, "page(s) found in more than one table (article row used)"),
        (outcomes.dangling_duplicates, "duplicate(s) whose canonical_id is not in articles"),
    ]
    for items, what in warnings:
        if items:
            print(f"warning: {len(items)} {what}, e.g. {items[:3]}")
    not_articles = [
        f"{page} ({outcome.reason or outcome.kind})"
        for page, outcome in outcomes.by_page.items()
        if outcome.kind in (REJECTED, MISSING)
    ]
    if not_articles:
        shown = not_articles[:max_listed]
        more = (
            f" and {len(not_articles) - len(shown)} more" if len(not_articles) > len(shown) else ""
        )
        print(f"pages without an article: {', '.join(shown)}{more}")


# --------------------------------------------------------------------------------------
# Printing


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table: numeric columns right-aligned, floats to 3 decimals unless the
    caller passes them pre-formatted as strings."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}"
        return "" if value is None else str(value)

    text_rows = [[cell(value) for value in row] for row in rows]
    widths = [
        max([len(header)] + [len(row[i]) for row in text_rows]) for i, header in enumerate(headers)
    ]

    def looks_numeric(value: Any) -> bool:
        if isinstance(value, int | float):
            return True
        try:
            float(str(value).rstrip("x%"))
        except ValueError:
            return False
        return True

    numeric = [
        bool(rows) and all(looks_numeric(row[i]) for row in rows) for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if is_number else value.ljust(width)
            for value, width, is_number in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    print(line(list(headers)))
    print(line(["-" * width for width in widths]))
    for row in text_rows:
        print(line(row))


def finish_gate(passed: bool, message: str) -> int:
    """Print the last line of a gated run; the exit code to return (0 or 1)."""
    print(f"{'PASS' if passed else 'FAIL'}: {message}")
    return 0 if passed else EXIT_FAIL


SYNTHETIC_VOCABULARY = 30_000


def synthetic_articles(start: int, count: int, seed: int) -> str:
    """`count` JSON lines of distinct articles: a title and 120 words, the word of rank r
    drawn with weight 1/r (a few words everywhere, most words rare)."""
    rng = random.Random(seed * 1_000_003 + start)
    words = [f"w{rank:05d}" for rank in range(1, SYNTHETIC_VOCABULARY + 1)]
    weights = [1 / rank for rank in range(1, SYNTHETIC_VOCABULARY + 1)]
    lines = []
    for number in range(start, start + count):
        body = " ".join(rng.choices(words, weights, k=120))
        lines.append(json.dumps({"title": f"Story {number}", "text": f"Story {number}. {body}."}))
    return "\n".join(lines) + "\n"
