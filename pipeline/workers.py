"""Where a local run's work runs: in this process, or in SDK worker processes of Beam's
local runner, and how many.

Beam's local runner (the FnApiRunner) runs every bundle in the calling process unless
`--direct_running_mode multi_processing` starts `--direct_num_workers` SDK worker
processes; its ParallelBundleManager then splits each stage's input between them. That is
Beam's own parallelism, the same code that spreads over Dataflow or Flink workers: no pool
of NewsBeam's own. The rule (`worker_plan`, applied at launch by pipeline/run.py):

- The user's `--direct_running_mode` / `--direct_num_workers` always win: multi_processing
  without a count gets one worker per core available (below); a count above 1 without a
  mode means multi_processing; in_memory, multi_threading or a count of 1 stay as given.
- Otherwise a local FnApiRunner run uses one worker process per core available to this
  process (`os.sched_getaffinity`: `taskset -c 0` gives one, hence in-process; no more
  than a container's CPU limit, `cgroup_limits`), as many as fit in the memory available
  (`WORKER_BYTES` each of MemAvailable; within a container's memory limit less its working
  set), when the --input paths hold at least
  `MIN_INPUTS` files (counted at launch, stopping there; paths on object stores and feeds
  do not count; with --state, files the state has read, unchanged since, do not either:
  pipeline/run.py `_unread_inputs`) and other jobs do not already keep every core busy
  (1-minute load average below the cores + `BUSY_LOAD_MARGIN`): workers cost ~1 s of CPU
  in all (forked warm; ~2 s each cold) and the data plane a little per element, which a
  few dozen pages on a free core pay back. Follow mode stays in-process (one process
  keeps the models and the state index loaded between batches); streaming runs are a
  runner's own.

Beam starts each worker process with `python -m newsbeam.pipeline.workers` (`worker_main`:
Beam's `sdk_worker_main`, its start-up logging kept off the user's terminal), which has
the run's template fork a warm worker (pipeline/worker_template.py: Beam, NewsBeam and the
models already loaded) or, with no template, runs a cold one. A worker logs at the level
`PIPELINE_OPTIONS_FILE` sets (`worker_options`). The runner, the template and the
workers keep glibc's mmap threshold fixed and one malloc arena (`bound_malloc`): the data
plane's large buffers go back to the system when freed instead of piling up with the input,
and a worker's bundle thread reuses the heap freed before it; and one OpenBLAS thread each
(`one_blas_thread`). On SIGINT or SIGTERM the runner ends its workers before it unwinds
(`stop_worker_processes`); when the runner is killed outright its workers get SIGTERM
(Linux) or exit when their control channel closes (tests/test_workers.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import glob
import inspect
import itertools
import json
import logging
import math
import os
import re
import select
import shlex
import signal
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from newsbeam.transforms.support import libc

if TYPE_CHECKING:
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.runner import PipelineRunner

# Peak resident memory of one worker process on the 439 distinct pages of the benchmark:
# ~400 MB (~490 MB on ten times as many; `bound_malloc`); workers are capped so that they
# fit in the memory available (a 32-core machine with 8 GB free gets 8, not 32).
WORKER_BYTES = 1 << 30
# The runners whose `--direct_*` flags these are.
LOCAL_RUNNERS = frozenset({"FnApiRunner"})
_OPTIONS_FILE = "PIPELINE_OPTIONS_FILE"
# Input files from which a local run starts worker processes by default. Warm workers
# (pipeline/worker_template.py) cost ~0.5 s of wall and ~1 s of CPU more than one process
# on 2 cores; measured with one core often taken by another job (`bench_pipeline.py
# --scaling`, load 2-2.8), in-process against 2 workers: 25 pages 4.3 / 4.8 s, 50: 5.2 /
# 4.7, 100: 7.0 / 5.6, 200: 10.2 / 7.0 (benchmarks/README.md "Speed on distinct pages").
MIN_INPUTS = 50
# A default run stays in-process while the load average is at least the cores plus this:
# other jobs then keep every core busy, and measured on 2 cores at a load of 3-5, two
# (cold) workers were 0.86-0.97x the in-process run.
BUSY_LOAD_MARGIN = 1.0


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, and no more than its control group's
    CPU quota (a container's CPU limit) rounded up; at least 1."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not every platform has affinity
        cores = max(1, os.cpu_count() or 1)
    quota = cgroup_limits().cpus
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


# What the machine has free for new processes is the kernel's MemAvailable, not MemFree
# (`SC_AVPHYS_PAGES`): MemFree leaves out the page cache the kernel gives back on demand,
# which on a machine up for a while holds most of its memory. Counted as MemFree, a host
# with 22 GB available showed 0.3-4.8 GB "free" as its cache came and went, and a default
# run of 50 files or more planned 0 to 2 workers from one minute to the next.
MEMINFO = "/proc/meminfo"


def meminfo_available(text: str) -> int | None:
    """/proc/meminfo's `MemAvailable` (free memory plus the page cache and slabs the kernel
    can reclaim without swapping) -> bytes; None where it has none (Linux before 3.14)."""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "MemAvailable":
            number, _, unit = value.strip().partition(" ")
            with contextlib.suppress(ValueError):
                return int(number) * (1024 if unit.strip().lower() == "kb" else 1)
    return None


def available_memory() -> int | None:
    """Bytes of memory available now (None where the platform does not say): the machine's
    (MemAvailable, else free pages), and no more than what its control group's limit (a
    container's memory limit) leaves."""
    free = meminfo_available(_read(MEMINFO) or "")
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            free = None
    limits = cgroup_limits()
    if limits.memory is None:
        return free
    left = max(0, limits.memory - (limits.memory_used or 0))
    return left if free is None else min(free, left)


def address_space_limit() -> int | None:
    """This process's soft address-space limit in bytes (`ulimit -v`, `prlimit --as`,
    inherited by the processes it starts); None when it has none."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, AttributeError, ValueError, OSError):  # not a POSIX system
        return None
    return None if soft == resource.RLIM_INFINITY or soft <= 0 else soft


def address_space_note(limit: int | None) -> str | None:
    """What a run under an address-space limit of `limit` bytes should know (None: no limit).

    The limit counts address space reserved, not memory used: Beam's runtime (gRPC, upb,
    threads' stacks) reserves far more than it touches, ~1.5 GB of address space for
    ~0.3 GB resident on the seeds. A run that reaches it does not fail cleanly: under
    `prlimit --as` of 700 MB a run of 20,000 short JSON lines died of SIGSEGV (exit 139) in
    upb's allocation of a data-plane message, at 335 MB resident, with no message of its own
    (nothing committed, the state as it was). A cgroup limit counts what is used, and the
    workers are planned by it."""
    if limit is None:
        return None
    return (
        f"an address-space limit (ulimit -v, prlimit --as) of {limit / 2**20:,.0f} MB: it "
        "counts address space reserved, about 5x the memory a run uses, and a run that "
        "reaches it crashes (SIGSEGV, exit 139) without a message, nothing committed; bound "
        "memory with --max_files_per_run N and a container's memory limit (cgroup) instead"
    )


# A container's limits are its control group's, which affinity and the machine's free memory
# do not show: in a pod limited to 2 CPUs and 2 GiB on a 64-core node, a run counted 64
# cores and the node's free memory and started 64 workers of ~0.4 GB each (OOM-killed).
CGROUP_ROOT = "/sys/fs/cgroup"
# cgroup v1 writes "no limit" as the largest page-aligned 64-bit number.
_NO_V1_LIMIT = 1 << 62


@dataclasses.dataclass(frozen=True)
class CgroupLimits:
    """The tightest limits of a process's control group and its ancestors (None: none);
    `memory_used`: its working set (`working_set`)."""

    cpus: float | None = None
    memory: int | None = None
    memory_used: int | None = None


def stat_bytes(text: str, key: str) -> int | None:
    """One counter of a cgroup's `memory.stat` ("KEY VALUE" lines) -> its value."""
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return memory_bytes(value)
    return None


def working_set(usage: int | None, inactive_file: int | None) -> int | None:
    """A cgroup's memory in use as its limit sees it: its usage less the file pages it has
    not touched lately (`inactive_file`), which the kernel reclaims before it would fail an
    allocation (what `docker stats` and Kubernetes count). The usage alone counts the page
    cache of every file the group read: in a container that had read its inputs (1.4 of
    its 2.7 GB of usage inactive file pages, measured here), a run counted that memory as
    taken and planned fewer workers than fit."""
    if usage is None:
        return None
    return max(0, usage - (inactive_file or 0))


def cpu_max_cpus(text: str) -> float | None:
    """cgroup v2 `cpu.max` ("QUOTA PERIOD"; "max PERIOD": no limit) -> CPUs."""
    quota, _, period = text.strip().partition(" ")
    return cfs_cpus(quota, period or "100000") if quota != "max" else None


def cfs_cpus(quota: str, period: str) -> float | None:
    """A CFS quota and period in microseconds (v1 `cpu.cfs_quota_us`, -1: no limit) -> CPUs."""
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def memory_bytes(text: str) -> int | None:
    """A memory limit or usage file (`memory.max`: "max"; v1: a huge number) -> bytes."""
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if 0 <= value < _NO_V1_LIMIT else None


def _read(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return None


def _own_and_ancestors(mount: str, path: str) -> list[str]:
    """The folders of a cgroup under its hierarchy's mount, the process's own first, then
    each parent up to the mount. A container with its own cgroup namespace sees its group
    as "/"; one without sees the host's path, which its mount does not have: the mount's
    root is then its group."""
    own = os.path.normpath(os.path.join(mount, path.lstrip("/")))
    if not os.path.isdir(own):
        return [mount]
    folders = [own]
    while folders[-1] != mount and folders[-1].startswith(mount):
        folders.append(os.path.dirname(folders[-1]))
    return folders


def _tightest(values: Iterator[Any]) -> Any:
    found = [value for value in values if value is not None]
    return min(found) if found else None


def cgroup_limits(root: str = CGROUP_ROOT, self_cgroup: str | None = None) -> CgroupLimits:
    """The CPU and memory limits of this process's control group (v2, or v1's cpu and
    memory controllers) under `root`; `self_cgroup`: /proc/self/cgroup's text. No limits
    where there is no cgroup file system (another platform, nothing mounted)."""
    if self_cgroup is None:
        self_cgroup = _read("/proc/self/cgroup") or ""
    paths: dict[str, str] = {}
    for line in self_cgroup.splitlines():
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    if "" in paths and os.path.exists(os.path.join(root, "cgroup.controllers")):  # v2
        folders = _own_and_ancestors(root, paths[""])
        return CgroupLimits(
            cpus=_tightest(cpu_max_cpus(_read(f"{d}/cpu.max") or "max") for d in folders),
            memory=_tightest(memory_bytes(_read(f"{d}/memory.max") or "") for d in folders),
            memory_used=working_set(
                memory_bytes(_read(f"{folders[0]}/memory.current") or ""),
                stat_bytes(_read(f"{folders[0]}/memory.stat") or "", "inactive_file"),
            ),
        )
    cpus = memory = used = None
    for mount_name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        mount = os.path.join(root, mount_name)
        if "cpu" in paths and os.path.isdir(mount):
            cpus = _tightest(
                cfs_cpus(
                    _read(f"{d}/cpu.cfs_quota_us") or "", _read(f"{d}/cpu.cfs_period_us") or ""
                )
                for d in _own_and_ancestors(mount, paths["cpu"])
            )
            break
    mount = os.path.join(root, "memory")
    if "memory" in paths and os.path.isdir(mount):
        folders = _own_and_ancestors(mount, paths["memory"])
        memory = _tightest(memory_bytes(_read(f"{d}/memory.limit_in_bytes") or "") for d in folders)
        used = working_set(
            memory_bytes(_read(f"{folders[0]}/memory.usage_in_bytes") or ""),
            stat_bytes(_read(f"{folders[0]}/memory.stat") or "", "total_inactive_file"),
        )
    return CgroupLimits(cpus, memory, used)


def worker_count(cores: int, memory: int | None = None) -> int:
    """Workers for `cores` available and `memory` bytes free: one per core, as many as fit
    in memory, at least one."""
    workers = cores if memory is None else min(cores, memory // WORKER_BYTES)
    return max(1, workers)


MULTI_PROCESSING = "multi_processing"


@dataclasses.dataclass(frozen=True)
class Given:
    """What the command line said about the local runner's workers (None: not named)."""

    running_mode: str | None = None
    num_workers: int | None = None


def given_flags(argv: Sequence[str]) -> Given:
    """`--direct_running_mode` and `--direct_num_workers` as the user named them, either
    spelling (`--direct-num-workers=3`); the last one named wins, as with argparse."""
    mode: str | None = None
    count: int | None = None
    args = list(argv)
    for index, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        name = name.replace("-", "_")
        if name not in ("__direct_running_mode", "__direct_num_workers"):
            continue
        if not equals:
            value = args[index + 1] if index + 1 < len(args) else ""
        if name == "__direct_running_mode":
            mode = value
        else:
            with contextlib.suppress(ValueError):
                count = int(value)
    return Given(mode, count)


def worker_plan(
    given: Given,
    *,
    cores: int,
    memory: int | None,
    inputs: int,
    follow: bool = False,
    load: float | None = None,
) -> tuple[int | None, str]:
    """Worker processes of a local FnApiRunner run: N > 1 (multi_processing with N
    workers), 1 (in-process), or None (the user chose in_memory or multi_threading: their
    settings stay as they are); `inputs`: files counted at launch (at most MIN_INPUTS);
    `load`: the 1-minute load average (None: unknown). With the rule that chose it, in
    words: an operator reads it in the log and the manifest to see why a run used one
    process or N workers."""
    mode, count = given.running_mode, given.num_workers
    if mode is not None and mode != MULTI_PROCESSING:
        return None, f"--direct_running_mode {mode} as given"
    fitted = worker_count(cores, memory)
    fit = _fit_words(cores, memory, fitted)
    if count is not None:  # 0 is Beam's "one per core"
        if count > 0:
            return count, f"--direct_num_workers {count} as given"
        return fitted, f"--direct_num_workers 0: {fit}"
    if mode == MULTI_PROCESSING:
        return fitted, f"--direct_running_mode multi_processing: {fit}"
    if follow:
        return 1, "in-process: follow mode keeps one process between batches"
    if inputs < MIN_INPUTS:
        # Files on object stores and feeds are not counted (`count_inputs`): said so.
        return 1, f"in-process: {inputs} local input files, fewer than {MIN_INPUTS}"
    if load is not None and load >= cores + BUSY_LOAD_MARGIN:
        # Other jobs keep every core busy: a worker would only take their share.
        return 1, (
            f"in-process: load average {load:.1f} >= {cores} cores + {BUSY_LOAD_MARGIN:g} "
            "(other jobs keep every core busy)"
        )
    return fitted, f"{inputs} local input files counted, at least {MIN_INPUTS}: {fit}"


def _fit_words(cores: int, memory: int | None, fitted: int) -> str:
    """Why `worker_count` gave `fitted`: the cores, or the memory when it held fewer."""
    if memory is None:
        return f"one per core available: {cores}"
    fit = memory // WORKER_BYTES
    if fit < cores:
        return (
            f"{fitted}: {memory / (1 << 30):.1f} GiB available holds {fit} of "
            f"{WORKER_BYTES / (1 << 30):g} GiB each, fewer than the {cores} cores"
        )
    return f"one per core available: {cores}, memory holds {fit}"


def plan_record(
    planned: int | None, rule: str, *, cores: int, memory: int | None, load: float | None
) -> dict[str, Any]:
    """The plan as the manifest and the log keep it: what the planner read and its rule."""
    limits = cgroup_limits()
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "workers": planned,  # None: threads or in_memory, as the user chose
        "rule": rule,
        "cores_available": cores,
        "cpu_affinity": affinity,
        "cpu_quota": limits.cpus,
        "memory_available_bytes": memory,
        "memory_limit_bytes": limits.memory,
        "load_average": None if load is None else round(load, 2),
    }


def load_average() -> float | None:
    """The 1-minute load average (runnable processes), None where the platform has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def count_inputs(paths: Sequence[str], limit: int | None = None) -> int:
    """Files under the local --input paths (folders walked, globs expanded), counted up to
    `limit` (default MIN_INPUTS: enough to tell whether worker processes pay): cheap on any
    input. Paths with a scheme (gs://, s3://, http://) count nothing."""
    from newsbeam.transforms.read import local_files  # imports Beam: not at start-up

    limit = MIN_INPUTS if limit is None else limit
    counted = 0
    for path in local_files(paths):
        if counted >= limit:
            break
        counted += _documents_of_file(path)
    return min(counted, limit)


def _documents_of_file(path: str) -> int:
    """A file's documents as counted before reading: one, or a WARC file's pages by its
    size (`pages_at_most`): one 1 GB CC-NEWS file ran in one process, its parts never
    spread, since it was one input file (review 101)."""
    from newsbeam.transforms.read import is_gzip, kind_of
    from newsbeam.transforms.support.warc import pages_at_most

    if kind_of(path) != "warc":
        return 1
    try:
        return pages_at_most(os.path.getsize(path), is_gzip(path))
    except OSError:  # unreadable: the run says so, as one row
        return 1


def count_documents(paths: Sequence[str], limit: int) -> int:
    """Documents under the local --input paths, counted up to `limit`: a file is one, a
    JSON-lines file (gzipped too) one per line, read only as far as the count needs. The
    runner holds every document's outputs, so a run's memory follows its documents: one
    process took 1,080 MB on one file of 20,000 short JSON lines (and 1,301 MB on 13,170
    pages), while a count of files saw one and said nothing of memory."""
    import gzip

    from newsbeam.transforms.read import is_gzip, kind_of, local_files

    counted = 0
    for path in local_files(paths):
        if counted >= limit:
            break
        if kind_of(path) != "jsonl":
            counted += _documents_of_file(path)
            continue
        try:
            with gzip.open(path, "rb") if is_gzip(path) else open(path, "rb") as handle:
                lines = sum(1 for _ in itertools.islice(handle, limit - counted))
        except (OSError, EOFError):  # unreadable: the run says so, as one row
            lines = 1
        counted += max(1, lines)
    return min(counted, limit)


WORKER_MODULE = "newsbeam.pipeline.workers"


def worker_command() -> str:
    """The shell command the FnApiRunner starts each SDK worker process with (`exec`: the
    process the runner waits for is the worker itself, not a shell above it)."""
    return f"exec {shlex.quote(sys.executable)} -m {WORKER_MODULE}"


def worker_processes(root: int | None = None) -> list[int]:
    """Ids of the worker processes under `root` (this process), by their command line;
    empty where the platform has no /proc."""
    found: list[int] = []
    pending = [os.getpid() if root is None else root]
    while pending:
        pid = pending.pop()
        for task in glob.glob(f"/proc/{pid}/task/*/children"):
            try:
                with open(task) as handle:
                    children = [int(child) for child in handle.read().split()]
            except (OSError, ValueError):
                continue
            pending += children
            for child in children:
                try:
                    with open(f"/proc/{child}/cmdline", "rb") as handle:
                        words = handle.read().split(b"\0")
                except OSError:
                    continue
                if WORKER_MODULE.encode() in words:
                    found.append(child)
    return found


def stop_worker_processes() -> None:
    """SIGTERM to this process's worker processes: a run stopped by a signal must not wait
    on them. Beam's runner, unwinding, joins each worker's process; one still starting up
    (connecting after the runner stopped listening) would never end, and neither would the
    run."""
    from newsbeam.pipeline.worker_template import stop_templates

    stop_templates()  # the warm workers forked from a template end with it
    for pid in worker_processes():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


class WorkerEnded(Exception):
    """A worker process of the run ended before the run did (killed, or failed to start)."""


# Beam's local runner starts each SDK worker process from a thread of its own ("run_worker",
# local_job_service.SubprocessSdkWorker.run), which raises this in that thread, and only
# there, when the process ends with a non-zero status.
_BEAM_WORKER_EXIT = re.compile(r"Worker subprocess exited with return code (-?\d+)")
# How long a failed run on worker processes waits for the report of a worker that ended,
# when the failure Beam raised may come from it (its data channel breaks as the worker
# goes; the report came ~0.05 s after a kill).
_EXIT_REPORT_SECONDS = 0.5
_ENDED_SIGNAL: int | None = getattr(signal, "SIGUSR1", None)  # None: not a POSIX system


def describe_exit(code: int) -> str:
    """A worker process's exit status in words: a signal (negative, or a shell's 128 + N)
    named, SIGKILL with its usual sender."""
    number = -code if code < 0 else code - 128 if 128 < code < 128 + signal.NSIG else 0
    if not number:
        return f"exited with status {code}"
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGKILL:
        name += " (sent by the system's out-of-memory killer when memory runs out)"
    return f"was killed by {name}"


# Beam's and gRPC's loggers: what their threads log once a run is ending is its end again.
BEAM_LOGGERS = ("apache_beam", "grpc")


def quiet_beam_logs() -> dict[str, int]:
    """Beam's and gRPC's loggers at CRITICAL from now on; their levels before."""
    levels = {name: logging.getLogger(name).level for name in BEAM_LOGGERS}
    for name in BEAM_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return levels


class _WorkerWatch:
    """`workers_watched`'s state: the first worker end Beam's threads reported, and whether
    the block still runs (a signal then reaches the main thread; under `lock`)."""

    def __init__(self, ended_signal: int) -> None:
        self.ended_signal = ended_signal
        self.main = threading.main_thread().ident
        self.ended = ""  # "a worker process ..." once one ended
        self.reported = threading.Event()
        self.watching = True
        self.lock = threading.Lock()
        self.previous_hook = threading.excepthook
        self.levels: dict[str, int] = {}

    def hook(self, args: threading.ExceptHookArgs) -> None:
        """threading.excepthook while the block runs."""
        found = None
        if args.thread is not None and args.thread.name == "run_worker":
            found = _BEAM_WORKER_EXIT.search(str(args.exc_value))
        if found is not None and not self.ended:
            self.ended = f"a worker process {describe_exit(int(found[1]))}"
            self.levels = quiet_beam_logs()
            self.reported.set()
            with self.lock:
                if self.watching and self.main is not None:
                    signal.pthread_kill(self.main, self.ended_signal)  # wakes the runner's wait
        elif self.ended or type(args.exc_value).__module__.startswith("grpc"):
            # Beam's channel threads as a worker's channel breaks (the run's failure is the
            # main thread's to report), or the worker that ended again.
            logging.getLogger("newsbeam").debug(
                "in thread %s", getattr(args.thread, "name", "?"), exc_info=args.exc_value
            )
        else:
            self.previous_hook(args)

    def raise_ended(self, signum: int, frame: object) -> None:
        """The handler of `ended_signal` in the main thread while the block runs."""
        if self.watching and self.ended:
            raise WorkerEnded(self.ended)

    def stop(self) -> None:
        with self.lock:
            self.watching = False


@contextlib.contextmanager
def workers_watched() -> Iterator[None]:
    """While the block runs a local pipeline (in the main thread): a worker process that
    ends with a failure status ends the run with `WorkerEnded`, which says how it ended.

    Beam's runner only raises, in the thread that started the worker, that it ended: one
    that ended before it connected (a worker that could not start, or was killed while it
    did) was waited for with no end, and a run it was working for failed with whatever its
    broken channel raised first (`queue.Empty`). The block's other failures are its own."""
    if threading.current_thread() is not threading.main_thread() or _ENDED_SIGNAL is None:
        yield
        return
    watch = _WorkerWatch(_ENDED_SIGNAL)
    previous_handler = signal.signal(watch.ended_signal, watch.raise_ended)
    threading.excepthook = watch.hook
    try:
        yield
    except Exception as error:
        watch.stop()
        on_workers = any(thread.name == "run_worker" for thread in threading.enumerate())
        if not isinstance(error, WorkerEnded) and not (
            watch.reported.is_set() or (on_workers and watch.reported.wait(_EXIT_REPORT_SECONDS))
        ):
            raise
        logging.getLogger("newsbeam").debug("the run failed: a worker ended", exc_info=True)
        stop_worker_processes()  # the others: Beam's runner would wait for them too
        raise WorkerEnded(watch.ended) from None
    finally:
        watch.stop()
        if threading.excepthook == watch.hook:
            threading.excepthook = watch.previous_hook
        signal.signal(watch.ended_signal, previous_handler)
        for name, level in watch.levels.items():  # a process that goes on keeps Beam's logs
            logging.getLogger(name).setLevel(level)


def local_runner(workers: int) -> tuple[PipelineRunner, dict[str, Any]]:
    """An FnApiRunner whose `workers` SDK worker processes start by `worker_command`, and
    the options it must see: Beam replaces the environment of a runner that is told
    `--direct_running_mode multi_processing` by its own command, so it is told nothing
    (the manifest keeps the options as given)."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    environment = SubprocessSDKEnvironment.from_command_string(worker_command())
    runner = FnApiRunner(default_environment=environment)
    return runner, {"direct_running_mode": None, "direct_num_workers": workers}


def worker_main(argv: Sequence[str]) -> None:
    """An SDK worker process: Beam's `sdk_worker_main`, without its start-up chatter.

    Importing Beam logs a root warning ("apitools not found"), which gives the root logger
    a stderr handler, and sdk_worker_main then logs at INFO to it until the pipeline
    options set the level. A handler that drops everything keeps that off the terminal;
    what the worker logs after start-up goes to the runner (Beam's log service), which
    prints it at the level `worker_options` set."""
    logging.getLogger().addHandler(logging.NullHandler())
    # Ctrl-C reaches the whole process group: the runner decides, and stops its workers
    # (`stop_worker_processes`) rather than each printing an interrupted traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    end_with_parent()
    if os.getppid() == 1:  # the runner died before this process could watch it
        sys.exit(1)
    from newsbeam.pipeline import worker_template

    address = os.environ.get(worker_template.TEMPLATE_ENV)
    if address:  # a warm worker forked by the run's template, this process its client
        status = worker_template.run_client(address)
        if status is not None:
            # Nothing here to clean up, and Beam waits for this process as it stops the
            # run's workers one by one: skip the interpreter's teardown (~20 ms).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status if status >= 0 else 128 - status)  # killed by N: 128 + N
    bound_malloc()  # a cold worker (a warm one has these from the runner, forked)
    from newsbeam.pipeline.deferred_imports import defer_client_imports

    defer_client_imports()
    adjust_beam()
    from apache_beam.runners.worker import sdk_worker_main

    # "No semi_persistent_directory found": a local worker has none, and needs none.
    logging.getLogger(sdk_worker_main.__name__).setLevel(logging.ERROR)
    sdk_worker_main.main(list(argv))


@contextlib.contextmanager
def worker_options(options: PipelineOptions) -> Iterator[None]:
    """Worker processes get the run's pipeline options, and log at the level of the
    command's libraries (WARNING unless --log_level DEBUG), not at INFO on the terminal.

    The FnApiRunner hands its SDK worker processes no pipeline options: a worker read an
    object store without the run's `--s3_*` (or Google Cloud, Azure) credentials and
    endpoint ("Unable to locate credentials" on every file of a run with workers), and its
    `--default_sdk_harness_log_level` could not be set by flag. The worker reads a
    `PIPELINE_OPTIONS_FILE` from its environment (inherited from this process): the options
    the user set, as a runner hands them to its workers on a cluster, in a file only this
    user can read, removed when the stages end. A file the user set is left alone."""
    from apache_beam.options.pipeline_options import DirectOptions

    running_mode = options.view_as(DirectOptions).direct_running_mode
    if running_mode != MULTI_PROCESSING or _OPTIONS_FILE in os.environ:
        yield
        return
    from newsbeam.pipeline.cli import known_flags

    debug = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    # Options whose name is no flag (--input's `inputs`) the worker would parse as unknown
    # flags, with a warning on the terminal; the workers need none of NewsBeam's own.
    flags = known_flags()
    given = {
        name: value
        for name, value in options.get_all_options(drop_default=True).items()
        if f"--{name}" in flags
    }
    given["default_sdk_harness_log_level"] = "DEBUG" if debug else "WARNING"
    with tempfile.NamedTemporaryFile("w", prefix="newsbeam-worker-", suffix=".json") as handle:
        json.dump({"options": given}, handle, default=_option_value)
        handle.flush()
        os.environ[_OPTIONS_FILE] = handle.name
        try:
            yield
        finally:
            os.environ.pop(_OPTIONS_FILE, None)


def _option_value(value: Any) -> Any:
    """A value JSON has no type for: a ValueProvider's value (None if not yet known), else
    its text."""
    if hasattr(value, "is_accessible"):
        return value.get() if value.is_accessible() else None
    return str(value)


# The mmap threshold of glibc's malloc in the processes of a run with workers (`bound_malloc`).
# glibc raises its threshold to the largest block freed (up to 32 MiB), after which
# megabyte buffers (data-plane messages, the runner's encoded bundles) come from the heap,
# and what is freed there stays with the process, fragmented: measured on 4,390 pages (10x
# the benchmark's, 2 workers), peak PSS of the process tree 1.62 GB, ~0.1 GB of it the data
# the runner holds between stages. A fixed threshold keeps blocks above it mmapped, given
# back when freed: 1.15 GB. Fixing it also stops glibc raising its trim threshold with it
# (twice the mmap threshold, as glibc's own rule has it): left at 128 KiB, the heaps shrink
# and grow back all the time, faulting their pages in again.
MALLOC_MMAP_THRESHOLD = 4 << 20
MALLOC_TRIM_THRESHOLD = 2 * MALLOC_MMAP_THRESHOLD
# glibc's malloc arenas in those processes: one, the heap every thread allocates from.
# By default each thread that allocates gets an arena of its own (up to 8 per core), and
# what is freed in one arena serves that arena only. A forked worker runs its bundles on a
# pool thread of its own, so its extraction grew a fresh arena page by page, fault by fault,
# beside the heap it inherited from the template (~18 MB free in it) and the gRPC threads'
# arenas: measured on the 439 pages, 38-40 MB lay free in a worker's arenas after the
# extract stage, 54-65 MB at the end of the run; with one arena 14-26 and 21-23 MB. Most
# allocations come from Python threads, which hold the GIL anyway: one arena's lock costs
# them little waiting.
MALLOC_ARENAS = 1
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # mallopt's, <malloc.h>


def freeze_heap(collect: bool = True) -> None:
    """Move every object the template holds now (Beam, NewsBeam, the warmed models, the
    runner's: ~236k objects) out of the cyclic garbage collector's reach, for this process
    and the workers it forks (`gc.freeze`, as Python's docs advise before a fork).

    Unfrozen, each worker's full collection walked that whole inherited heap (0.15-0.2 s of
    CPU on the 439 pages) and wrote to every object's collector header, copying on write
    pages the worker only read: frozen, the 2 workers of that run fault ~12% fewer pages and
    the run's peak PSS is ~50 MB lower. With `collect`, garbage is collected first, so what
    is frozen is in use (it lives as long as the process anyway). A worker's own objects are
    collected as before."""
    if collect:
        gc.collect()
    gc.freeze()


def pause_collector() -> None:
    """Called first by the `newsbeam` command: the cyclic garbage collector waits until the
    run starts (`frozen_heap`). What importing Beam and NewsBeam, parsing the options and
    building the pipeline make lives for the whole run, and collecting while it is made
    took ~0.16 s of the ~0.9 s of CPU the imports take, all on the run's critical path
    (its ~270 collections, 2 of them full, found little to free)."""
    gc.disable()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """While a run's stages run, what existed when they started (Beam, NewsBeam, the built
    pipeline) is frozen: the collector (`gc.freeze`, as Python's docs advise before a fork)
    walks only what the run makes. In-process runs (one core, follow mode, small inputs)
    collected ~0.35 s of CPU instead of ~0.68 s on the 439 pages; the runner process of a
    run on worker processes, and the worker template forked inside the block, skip the
    heap too. Thawed after, for a process that goes on (follow mode runs a pipeline per
    batch), with the collector running.

    When `pause_collector` held the collector since start-up, the heap is frozen as it is:
    collecting it first would walk every object (~0.12 s) to free a few thousand."""
    if gc.isenabled():
        freeze_heap()
    else:
        gc.freeze()
        gc.enable()
    try:
        yield
    finally:
        gc.unfreeze()


def bound_malloc() -> bool:
    """Fix glibc malloc's mmap and trim thresholds (`MALLOC_MMAP_THRESHOLD`) and its arenas
    (`MALLOC_ARENAS`) in this process and those it forks later (the template, its warm
    workers); False where the C library has no mallopt (not glibc: nothing changed)."""
    return libc.mallopt(
        (_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD),
        (_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD),
        (_M_ARENA_MAX, MALLOC_ARENAS),
    )


def one_malloc_arena() -> bool:
    """Cap glibc's arenas (`MALLOC_ARENAS`) now, at start-up: glibc fixes its arena limit
    for good when a thread first finds 8 arenas taken, which the imports' threads may do
    before `bound_malloc` runs (a worker's bundle thread then still got an arena of its
    own). False where the C library has no mallopt."""
    return libc.mallopt((_M_ARENA_MAX, MALLOC_ARENAS))


# OpenBLAS (under numpy and scipy) starts a thread per core when it is imported, and after
# each call those threads spin a while waiting for more: in a run's processes, which Beam's
# workers already keep busy, they took CPU from the workers (~0.5 s of the ~11 s of CPU of
# a run on the 439 pages, 2 workers). NewsBeam's matrix products are small; its parallelism
# is the runner's workers.
BLAS_THREADS = "OPENBLAS_NUM_THREADS"


def one_blas_thread() -> None:
    """Keep OpenBLAS to the calling thread (`BLAS_THREADS`) in this process and those it
    starts, unless the user set it: before numpy is first imported, at start-up."""
    os.environ.setdefault(BLAS_THREADS, "1")


# Beam's SDK harness times each step with a sampler thread that sleeps between samples, the
# sleep growing from 2 ms by 1.2x a sample to 200 ms (statesampler_fast), and ends every
# bundle by joining that thread: a bundle that ran for a second then waits up to 200 ms
# more, in each worker, the stage with it (~0.3-0.4 s a run over the 439 distinct pages).
SAMPLING_PERIOD_MS = 10


def prompt_bundle_ends(period_ms: int = SAMPLING_PERIOD_MS) -> bool:
    """Beam's state samplers made from now on in this process, and in processes forked from
    it, sleep at most `period_ms` between samples, so a bundle's end waits at most that long
    for its sampler's thread (the steps' times are sampled more often, no less accurately).
    False, and nothing changed, where this Beam's StateSampler is not as expected."""
    try:
        from apache_beam.runners.worker import statesampler

        init = statesampler.StateSampler.__init__
        if init.__defaults__ is None or len(init.__defaults__) != 1:
            return False
        init.__defaults__ = (period_ms,)
    except Exception:  # another Beam: its own sampling, as it was
        return False
    return True


# Beam asks for a DoFn object's state and timer specs (`userstate.get_dofn_specs`) again and
# again: ~6 times per DoFn while a pipeline is built and translated, twice more where a stage's
# bundle processor is made. Each call inspects the signature of every method the DoFn has
# (~35 with DoFn's own), ~0.6 ms: 318 calls and ~0.18 s before a run's first stage, ~0.24 s
# in all for a run in one process, for the same answers each time.
# The memo's mark (not its class: a cold worker runs this module as __main__, a second copy).
_REMEMBERS = "_newsbeam_remembers"


class _RememberedDofnSpecs:
    """`get_dofn_specs` answering each DoFn object as Beam's did the first time it was
    asked. The answer is a function of the object (its methods' default arguments, fixed
    with its class; a Map's function, fixed when it is made), kept while the object lives."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self._answers: dict[int, tuple[Any, tuple[frozenset[Any], frozenset[Any]]]] = {}
        setattr(self, _REMEMBERS, True)

    def __call__(self, dofn: Any) -> tuple[set[Any], set[Any]]:
        key = id(dofn)
        known = self._answers.get(key)
        if known is not None and known[0]() is dofn:
            states, timers = known[1]
            return set(states), set(timers)  # fresh sets, as Beam's function returns
        states, timers = self.original(dofn)
        try:
            alive = weakref.ref(dofn, functools.partial(self._forget, key))
        except TypeError:  # an object without weak references: asked again each time
            return states, timers
        self._answers[key] = (alive, (frozenset(states), frozenset(timers)))
        return set(states), set(timers)

    def _forget(self, key: int, _: object) -> None:
        self._answers.pop(key, None)  # the object is gone: its id may be another's next


def remember_dofn_specs() -> bool:
    """Beam's `userstate.get_dofn_specs`, in this process and those forked from it, computes
    each DoFn object's answer once (`_RememberedDofnSpecs`). False, and nothing changed,
    where this Beam's function is not as expected."""
    try:
        from apache_beam.transforms import userstate

        original = userstate.get_dofn_specs
        if getattr(original, _REMEMBERS, False):
            return True
        if list(inspect.signature(original).parameters) != ["dofn"]:
            return False
        userstate.get_dofn_specs = _RememberedDofnSpecs(original)
    except Exception:  # another Beam: asked as it asks
        return False
    return True


def adjust_beam() -> None:
    """Before a run builds its pipeline (and before the worker template forks, so its
    workers inherit both): bundles that end promptly (`prompt_bundle_ends`) and DoFn specs
    computed once (`remember_dofn_specs`)."""
    prompt_bundle_ends()
    remember_dofn_specs()
    quiet_worker_tracebacks()


_TRACEBACK = "Traceback (most recent call last):"


def _quiet_print(*values: Any, file: Any = None, **kwargs: Any) -> None:
    """`print` for Beam's SDK worker module: a traceback for stderr is left out below
    DEBUG (the runner's log says it in one line: main.py `one_line_worker_error`)."""
    if (
        file is sys.stderr
        and values
        and isinstance(values[0], str)
        and values[0].startswith(_TRACEBACK)
        and logging.getLogger().getEffectiveLevel() > logging.DEBUG
    ):
        return
    print(*values, file=file, **kwargs)


def quiet_worker_tracebacks() -> bool:
    """Beam's SDK worker prints a failed bundle's traceback to its own stderr (the run's
    terminal or journal: ~3 KB of raw lines a bundle, a full disk on two workers) and then
    logs the same text to the runner, whose log says it in one line below DEBUG: the
    print goes. In this process and the workers forked from it (cold ones call this too).
    False, nothing changed, where this Beam's worker module does not print so."""
    try:
        from apache_beam.runners.worker import sdk_worker

        source = inspect.getsource(sdk_worker.SdkHarness._execute)
    except Exception:  # another Beam: its own output, as it was
        return False
    if "print(traceback_string, file=sys.stderr)" not in source:
        return False
    setattr(sdk_worker, "print", _quiet_print)  # noqa: B010  (a module global over the builtin)
    return True


def settle_process() -> None:
    """What the `newsbeam` command does first, before anything imports numpy or starts a
    thread: one OpenBLAS thread (`BLAS_THREADS`), one malloc arena (`MALLOC_ARENAS`), the
    collector paused until the run starts (`pause_collector`), and the HTTP and cloud clients
    Beam imports with itself imported on first use (pipeline/deferred_imports.py)."""
    from newsbeam.pipeline.deferred_imports import defer_client_imports

    defer_client_imports()
    one_blas_thread()
    one_malloc_arena()
    pause_collector()


def end_child(pid: int, seconds: float) -> None:
    """Wait up to `seconds` for this process's child `pid` (told to end) to end, then
    SIGKILL it; reaped either way (the worker template, the report process)."""
    deadline = time.monotonic() + seconds
    try:
        handle: int | None = os.pidfd_open(pid)  # readable once it has ended (Linux 5.3+)
    except (OSError, AttributeError):
        handle = None  # polled instead
    try:
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            left = deadline - time.monotonic()
            if left <= 0:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
            if handle is not None:
                select.select([handle], [], [], left)
            else:
                time.sleep(min(left, 0.005))
    except ChildProcessError:  # already reaped
        pass
    finally:
        if handle is not None:
            os.close(handle)


def end_with_parent() -> None:
    """On Linux, this process gets SIGTERM when the thread that started it ends (the
    runner killed outright: no channel left to work for). Elsewhere a worker ends when its
    control channel breaks."""
    with contextlib.suppress(*libc.NO_LIBC):
        libc.handle().prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


if __name__ == "__main__":  # the FnApiRunner's worker processes (`worker_command`)
    worker_main(sys.argv)
