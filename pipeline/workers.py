"""How many local worker processes a run gets when the user did not say.

Beam's local runner (the FnApiRunner) runs every bundle in the calling process by default:
one core. With `--direct_running_mode multi_processing --direct_num_workers N` it starts N
SDK worker processes and splits each stage's input between them, which is Beam's own
parallelism (the same code spreads over Dataflow or Flink workers). Each worker costs
about 2 s of start-up (imports, DoFn set-up: trafilatura, langdetect profiles, the topic
model: about 4 s of CPU for two), so a small run is faster in-process; on an idle 2-core
machine the workers win from about 150 pages on, on a machine already busy with other jobs
they may not win at all (README, "Speed"; benchmarks/bench_pipeline.py).

`local_worker_defaults` fills the two flags in only when the runner is the local
FnApiRunner, the user set neither flag, more than one core is available to this process
(`os.sched_getaffinity`: `taskset -c 0` gives one), the inputs hold enough documents,
and at most as many workers as fit in the memory available (`WORKER_BYTES` each).
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence

# Documents from which worker processes pay off on an idle 2-core machine: together they
# cost ~4 s more CPU (start-up), a page ~30 ms; break-even is at about 100-150 pages.
MIN_DOCUMENTS = 200
# A JSON-lines file holds many documents: counted as one per this many bytes (BBC records
# are ~2.2 KB of text).
JSONL_BYTES_PER_DOCUMENT = 2048
# Peak resident memory of one worker process on the 439 distinct pages of the benchmark:
# ~530 MB (720 MB on ten times as many); workers are capped so that they fit in the
# memory available (a 32-core machine with 8 GB free gets 8, not 32).
WORKER_BYTES = 1 << 30
# The runners whose `--direct_*` flags these are.
LOCAL_RUNNERS = frozenset({"FnApiRunner"})
_OPTIONS_FILE = "PIPELINE_OPTIONS_FILE"
_WORKER_FLAGS = ("--direct_num_workers", "--direct_running_mode")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not every platform has affinity
        return max(1, os.cpu_count() or 1)


def sets_worker_flags(argv: Sequence[str]) -> bool:
    """True when the command line names `--direct_num_workers` or `--direct_running_mode`."""
    for arg in argv:
        name = arg.split("=", 1)[0].replace("-", "_")
        if name in (flag.replace("-", "_") for flag in _WORKER_FLAGS):
            return True
    return False


def count_documents(paths: Iterable[str], enough: int = MIN_DOCUMENTS) -> int:
    """About how many documents local `paths` (files or folders, walked recursively) hold,
    counting up to `enough` only (a huge folder is not walked to its end). URLs and other
    filesystems count nothing: such runs stay in-process, as before."""
    found = 0
    for path in paths:
        if "://" in path:
            continue
        for file in _local_files(os.path.expanduser(path)):
            found += _documents_in(file)
            if found >= enough:
                return found
    return found


def _local_files(path: str) -> Iterator[str]:
    """The files a local input names, lazily: a file, a folder's files (recursively) or
    the files a glob matches (folders it matches are walked by the read stage, not here)."""
    if any(char in path for char in "*?["):
        yield from (match for match in glob.iglob(path, recursive=True) if os.path.isfile(match))
    elif os.path.isfile(path):
        yield path
    else:
        for folder, _, files in os.walk(path):
            for name in files:
                yield os.path.join(folder, name)


def _documents_in(path: str) -> int:
    if not path.lower().removesuffix(".gz").endswith(".jsonl"):
        return 1
    try:
        return max(1, os.path.getsize(path) // JSONL_BYTES_PER_DOCUMENT)
    except OSError:
        return 1


def available_memory() -> int | None:
    """Bytes of memory available now (None where the platform does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def worker_flags(runner: str, cores: int, documents: int, memory: int | None = None) -> list[str]:
    """The flags to add for `runner` with `cores` available, about `documents` to read and
    `memory` bytes free: multi-process workers, one per core (as many as fit in memory),
    or none (stay in-process)."""
    workers = cores if memory is None else min(cores, memory // WORKER_BYTES)
    if runner.rsplit(".", 1)[-1] not in LOCAL_RUNNERS or workers < 2:
        return []
    if documents < MIN_DOCUMENTS:
        return []
    return ["--direct_running_mode", "multi_processing", "--direct_num_workers", str(workers)]


def local_worker_defaults(argv: Sequence[str], runner: str, inputs: Sequence[str]) -> list[str]:
    """Worker flags to append to `argv` (empty when the user set them or it does not pay)."""
    if sets_worker_flags(argv):
        return []
    cores = available_cores()
    if cores < 2 or runner.rsplit(".", 1)[-1] not in LOCAL_RUNNERS:
        return []
    return worker_flags(runner, cores, count_documents(inputs), available_memory())


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
