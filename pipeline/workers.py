"""How many local worker processes a multi-process run gets when the user did not say.

Beam's local runner (the FnApiRunner) runs every bundle in the calling process by default:
one core. With `--direct_running_mode multi_processing` it starts `--direct_num_workers`
SDK worker processes (Beam's default: 1) and splits each stage's input between them, which
is Beam's own parallelism (the same code spreads over Dataflow or Flink workers). NewsBeam
stays in-process unless told: each worker process costs ~2-3 s of CPU to start (imports,
models) and ~350 MB, and every element crosses the runner's data plane, so two workers
won on 439 pages only when the 2-core machine was otherwise idle (14.7 s against 21.3 s)
and lost when other jobs shared it, and on small runs (benchmarks/README.md "Speed").
When the user names the mode but not the count, `local_worker_defaults` gives one worker
per core available to this process (`os.sched_getaffinity`: `taskset -c 0` gives one), as
many as fit in the memory available (`WORKER_BYTES` each).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence

# Peak resident memory of one worker process on the 439 distinct pages of the benchmark:
# ~530 MB (720 MB on ten times as many); workers are capped so that they fit in the
# memory available (a 32-core machine with 8 GB free gets 8, not 32).
WORKER_BYTES = 1 << 30
# The runners whose `--direct_*` flags these are.
LOCAL_RUNNERS = frozenset({"FnApiRunner"})
_OPTIONS_FILE = "PIPELINE_OPTIONS_FILE"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not every platform has affinity
        return max(1, os.cpu_count() or 1)


def available_memory() -> int | None:
    """Bytes of memory available now (None where the platform does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def worker_count(cores: int, memory: int | None = None) -> int:
    """Workers for `cores` available and `memory` bytes free: one per core, as many as fit
    in memory, at least one."""
    workers = cores if memory is None else min(cores, memory // WORKER_BYTES)
    return max(1, workers)


def local_worker_defaults(argv: Sequence[str], runner: str, running_mode: str | None) -> list[str]:
    """`--direct_num_workers N` to add for a local multi-process run whose count the user
    did not give; nothing otherwise (in-process, or the user chose)."""
    if runner.rsplit(".", 1)[-1] not in LOCAL_RUNNERS or running_mode != "multi_processing":
        return []
    names = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    if {"--direct_num_workers", "--direct-num-workers"} & names:
        return []
    return ["--direct_num_workers", str(worker_count(available_cores(), available_memory()))]


@contextlib.contextmanager
def worker_log_level(running_mode: str) -> Iterator[None]:
    """Worker processes log at the level of the command's libraries (WARNING unless
    --log_level DEBUG), not at INFO on the user's terminal.

    The FnApiRunner hands its SDK worker processes no pipeline options, so their
    `--default_sdk_harness_log_level` cannot be set by flag; the worker reads a
    `PIPELINE_OPTIONS_FILE` from its environment (inherited from this process) instead.
    A file the user set is left alone."""
    if running_mode != "multi_processing" or _OPTIONS_FILE in os.environ:
        yield
        return
    debug = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    level = "DEBUG" if debug else "WARNING"
    with tempfile.NamedTemporaryFile("w", prefix="newsbeam-worker-", suffix=".json") as handle:
        json.dump({"options": {"default_sdk_harness_log_level": level}}, handle)
        handle.flush()
        os.environ[_OPTIONS_FILE] = handle.name
        try:
            yield
        finally:
            os.environ.pop(_OPTIONS_FILE, None)
