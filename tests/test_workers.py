"""Local worker processes: when a run gets them and how many (the user's flags first), that
a default run with them gives the same tables and counters as an in-process run, and that
signals and kills leave no worker process behind."""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import apache_beam as beam
import duckdb
import pytest
from apache_beam.coders import VarIntCoder
from apache_beam.runners.worker import statesampler
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import userstate
from apache_beam.transforms.environments import SubprocessSDKEnvironment
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.counters import CounterFactory

from newsbeam.pipeline import run as pipeline_run
from newsbeam.pipeline import worker_template as worker_template_module
from newsbeam.pipeline import workers
from newsbeam.transforms.support import libc
from tests.helpers import (
    make_test_pipeline,
    run_manifest,
    start_pipeline,
    table_sql,
    wait_for,
    write_seed_copies,
)


def test_worker_count_by_cores_and_memory() -> None:
    gigabyte = workers.WORKER_BYTES
    assert workers.worker_count(2) == 2
    assert workers.worker_count(1) == 1  # taskset -c 0
    assert workers.worker_count(32, 8 * gigabyte) == 8
    assert workers.worker_count(2, 3 * gigabyte) == 2
    assert workers.worker_count(4, gigabyte // 2) == 1


def test_the_flags_the_user_named() -> None:
    given = workers.given_flags
    assert given([]) == workers.Given()
    assert given(["--input", "x", "--direct_running_mode", "multi_processing"]) == workers.Given(
        "multi_processing"
    )
    assert given(["--direct-num-workers=3"]) == workers.Given(None, 3)
    assert given(["--direct_num_workers", "2", "--direct_num_workers", "4"]).num_workers == 4
    assert given(["--direct_running_mode=in_memory"]).running_mode == "in_memory"


def _planned(given: workers.Given, **facts: Any) -> int | None:
    """The number `worker_plan` plans (its rule aside)."""
    return workers.worker_plan(given, **facts)[0]


@pytest.mark.parametrize(
    ("given", "inputs", "follow", "cores", "planned"),
    [
        # Nothing named: worker processes for a run of many files, one per core.
        (workers.Given(), workers.MIN_INPUTS, False, 2, 2),
        (workers.Given(), 10_000, False, 4, 4),
        (workers.Given(), workers.MIN_INPUTS - 1, False, 2, 1),  # too few to pay
        (workers.Given(), 10_000, False, 1, 1),  # taskset -c 0
        (workers.Given(), 10_000, True, 2, 1),  # follow mode keeps one process
        # The user's flags win.
        (workers.Given("multi_processing"), 0, False, 2, 2),
        (workers.Given("multi_processing", 3), 0, False, 2, 3),
        (workers.Given("multi_processing", 1), 10_000, False, 2, 1),
        (workers.Given(None, 3), 0, False, 2, 3),  # a count alone means processes
        (workers.Given(None, 1), 10_000, False, 2, 1),
        (workers.Given(None, 0), 0, False, 2, 2),  # Beam's 0: one per core
        (workers.Given("in_memory"), 10_000, False, 2, None),
        (workers.Given("multi_threading", 2), 10_000, False, 2, None),
    ],
)
def test_when_a_run_gets_worker_processes(
    given: workers.Given, inputs: int, follow: bool, cores: int, planned: int | None
) -> None:
    memory = 8 * workers.WORKER_BYTES
    plan = _planned(given, cores=cores, memory=memory, inputs=inputs, follow=follow)
    assert plan == planned


def test_a_busy_machine_keeps_the_default_run_in_process() -> None:
    plan = _planned
    memory = 8 * workers.WORKER_BYTES
    assert plan(workers.Given(), cores=2, memory=memory, inputs=10_000, load=1.9) == 2
    assert plan(workers.Given(), cores=2, memory=memory, inputs=10_000, load=3.0) == 1
    assert plan(workers.Given(), cores=2, memory=memory, inputs=10_000, load=None) == 2
    chosen = workers.Given("multi_processing")
    assert plan(chosen, cores=2, memory=memory, inputs=0, load=9.0) == 2  # the user's choice
    load = workers.load_average()
    assert load is None or load >= 0


def test_memory_caps_the_default_workers() -> None:
    plan = _planned
    assert plan(workers.Given(), cores=8, memory=3 * workers.WORKER_BYTES, inputs=10_000) == 3
    assert plan(workers.Given(), cores=2, memory=workers.WORKER_BYTES // 2, inputs=10_000) == 1
    assert plan(workers.Given(), cores=2, memory=None, inputs=10_000) == 2


def test_inputs_counted_up_to_the_threshold(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    (folder / "deeper").mkdir(parents=True)
    for index in range(7):
        (folder / ("deeper" if index % 2 else "") / f"{index}.html").write_text("x")
    single = tmp_path / "one.txt"
    single.write_text("x")
    assert workers.count_inputs([str(folder)], limit=100) == 7
    assert workers.count_inputs([str(folder)], limit=5) == 5  # stops there
    assert workers.count_inputs([str(folder), str(single)], limit=100) == 8
    assert workers.count_inputs([str(folder / "*.html")], limit=100) == 4
    assert workers.count_inputs([str(folder / "**" / "*.html")], limit=100) == 7
    assert workers.count_inputs([f"file://{single}", "gs://bucket/pages/"], limit=100) == 1
    assert workers.count_inputs([str(tmp_path / "missing")], limit=100) == 0


def test_workers_start_by_newsbeams_entry_point() -> None:
    runner, told = workers.local_runner(3)
    environment = runner._default_environment  # noqa: SLF001  (what the runner will start)
    assert isinstance(environment, SubprocessSDKEnvironment)
    assert environment.command_string == workers.worker_command()
    assert workers.worker_command().endswith("-m newsbeam.pipeline.workers")
    assert told == {"direct_running_mode": None, "direct_num_workers": 3}


# In a fresh interpreter: Beam's sampling period before and after prompt_bundle_ends, a
# sampler's time for a step that lasted 0.3 s, as sampled, and the wall time from the
# sampler's start to its end (a loaded machine stretches it: the bound is relative).
_SAMPLER = """
import time
from apache_beam.runners.worker import statesampler
from apache_beam.utils.counters import CounterFactory, CounterName
from newsbeam.pipeline import workers

before = statesampler.StateSampler("s", CounterFactory()).sampling_period_ms
changed = workers.prompt_bundle_ends()
sampler = statesampler.StateSampler("s", CounterFactory())
started = time.monotonic()
sampler.start()
with sampler.scoped_state(CounterName("step"), "process"):
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
sampler.stop()
elapsed = time.monotonic() - started
busy = sum(s.sampled_msecs_int() for s in sampler._states_by_name.values()) / 1000
print(before, changed, sampler.sampling_period_ms, round(busy, 3), round(elapsed, 3))
"""


def test_bundle_ends_wait_at_most_a_short_sampling_period() -> None:
    """Beam's harness joins each bundle's sampler thread as the bundle ends, and that thread
    sleeps up to 200 ms between samples: after `prompt_bundle_ends` it sleeps at most
    SAMPLING_PERIOD_MS, and still times the steps (a 0.3 s step sampled as ~0.3 s)."""
    done = subprocess.run(
        [sys.executable, "-c", _SAMPLER], capture_output=True, text=True, timeout=60, check=True
    )
    before, changed, after, busy, elapsed = done.stdout.split()
    assert (before, changed, after) == ("200", "True", str(workers.SAMPLING_PERIOD_MS))
    # Sampled: most of the 0.3 s step, and never more than the sampler ran (one period of
    # rounding); a wall-clock bound would fail on a loaded machine.
    assert 0.2 <= float(busy) <= float(elapsed) + workers.SAMPLING_PERIOD_MS / 1000


_TOTAL = userstate.BagStateSpec("total", VarIntCoder())
_FLUSH = userstate.TimerSpec("flush", userstate.TimeDomain.WATERMARK)
_TOTAL_PARAM = beam.DoFn.StateParam(_TOTAL)
_FLUSH_PARAM = beam.DoFn.TimerParam(_FLUSH)


class _Counted(beam.DoFn):
    """A stateful DoFn (a bag state and an event-time timer): Beam must see both."""

    def process(  # type: ignore[override]
        self, element: tuple[str, int], total: Any = _TOTAL_PARAM, flush: Any = _FLUSH_PARAM
    ) -> None:
        total.add(element[1])
        flush.set(GlobalWindow().max_timestamp())

    @userstate.on_timer(_FLUSH)
    def flushed(self, key: Any = beam.DoFn.KeyParam, total: Any = _TOTAL_PARAM) -> Any:
        yield key, sum(total.read())


def test_dofn_specs_are_computed_once_per_dofn(monkeypatch: pytest.MonkeyPatch) -> None:
    """`remember_dofn_specs`: Beam's answer for each DoFn object, computed once (Beam asked
    ~6 times per DoFn while building and translating a pipeline); the same answers, stateful
    pipelines run as before, and a DoFn object that is gone is forgotten."""
    asked: list[str] = []
    original = userstate.get_dofn_specs

    def counting(dofn: Any) -> Any:
        asked.append(type(dofn).__name__)
        return original(dofn)

    def run_pipeline() -> None:
        with make_test_pipeline() as pipeline:
            totals = (
                pipeline
                | beam.Create([("a", 1), ("b", 5), ("a", 2)])
                | beam.ParDo(_Counted())
                | beam.Map(list)
            )
            assert_that(totals, equal_to([["a", 3], ["b", 5]]))

    monkeypatch.setattr(userstate, "get_dofn_specs", counting)  # restored after the test
    run_pipeline()
    asked_each_time = len(asked)
    assert workers.remember_dofn_specs()
    remembered = userstate.get_dofn_specs
    assert workers.remember_dofn_specs() and userstate.get_dofn_specs is remembered  # once
    asked.clear()
    run_pipeline()  # the stateful pipeline runs as before, Beam's function asked far less
    assert 0 < len(asked) < asked_each_time * 0.6, (len(asked), asked_each_time)

    asked.clear()
    counted, mapped = _Counted(), beam.Map(len).fn
    for dofn in (counted, mapped):
        answers = [remembered(dofn) for _ in range(3)]
        assert answers == [original(dofn)] * 3
        answers[0][0].clear()  # a caller's set is its own
        assert remembered(dofn) == original(dofn)
    assert [len(states) for states, _ in (remembered(counted), remembered(mapped))] == [1, 0]
    assert [len(timers) for _, timers in (remembered(counted), remembered(mapped))] == [1, 0]
    assert sorted(asked) == ["CallableWrapperDoFn", "_Counted"]  # the first time each
    assert userstate.is_stateful_dofn(counted) and not userstate.is_stateful_dofn(mapped)
    userstate.validate_stateful_dofn(counted)
    assert len(asked) == 2
    del counted, answers
    gc.collect()  # the DoFns gone (the pipelines', this one) are forgotten
    assert list(remembered._answers) == [id(mapped)]  # noqa: SLF001


# A pipeline on two cold worker processes (the worker command, no template): each element
# answered with the worker's pid and its sampler's period; the runner's pid first.
_COLD_WORKERS = """
import os
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.worker import statesampler
from apache_beam.transforms import userstate
from newsbeam.pipeline import workers

def period(element):
    remembers = getattr(userstate.get_dofn_specs, "_newsbeam_remembers", False)
    return os.getpid(), statesampler.get_current_tracker().sampling_period_ms, remembers

runner, told = workers.local_runner(2)
options = PipelineOptions([], **{k: v for k, v in told.items() if v is not None})
found = []
with beam.Pipeline(runner=runner, options=options) as pipeline:
    # One write per answer: two workers print to the same pipe (print writes the newline
    # apart, so two workers' lines could interleave).
    _ = pipeline | beam.Create(range(8)) | beam.Map(period) | beam.Map(
        lambda answer: os.write(1, f"{answer}\\n".encode())
    )
print("runner", os.getpid())
"""


def test_cold_worker_processes_adjust_beam() -> None:
    """A worker process started by the worker command itself (no template to fork it) sets
    the short sampling period, and remembers DoFn specs, before Beam's harness makes its
    first bundle."""
    done = subprocess.run(
        [sys.executable, "-c", _COLD_WORKERS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.split("\n")
    runner = next(line.split()[1] for line in lines if line.startswith("runner "))
    answers = [line.strip("()").split(", ") for line in lines if line.startswith("(")]
    assert len(answers) == 8
    assert all(pid != runner for pid, _, _ in answers)  # in the workers
    assert {(period, remembers) for _, period, remembers in answers} == {
        (str(workers.SAMPLING_PERIOD_MS), "True")
    }


def test_available_cores_follow_affinity() -> None:
    assert workers.available_cores() == len(os.sched_getaffinity(0))
    memory = workers.available_memory()
    assert memory is None or memory > 0


# The threads of a fresh interpreter once numpy (and its OpenBLAS) is imported, after
# one_blas_thread() when the first argument is "one".
_THREADS_AFTER_NUMPY = """
import os, sys
from newsbeam.pipeline import workers

if sys.argv[1] == "one":
    workers.one_blas_thread()
import numpy

print(os.environ.get(workers.BLAS_THREADS), len(os.listdir("/proc/self/task")))
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="counts threads in /proc")
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="OpenBLAS adds threads per core")
def test_one_blas_thread_unless_the_user_set_it() -> None:
    def threads(mode: str, **variables: str) -> list[str]:
        environment = {k: v for k, v in os.environ.items() if k != workers.BLAS_THREADS}
        command = [sys.executable, "-c", _THREADS_AFTER_NUMPY, mode]
        done = subprocess.run(
            command, env=environment | variables, capture_output=True, text=True, check=True
        )
        return done.stdout.split()

    unset, threads_by_default = threads("default")
    assert unset == "None" and int(threads_by_default) > 1  # OpenBLAS's thread per core
    assert threads("one") == ["1", "1"]
    assert threads("one", **{workers.BLAS_THREADS: "2"}) == ["2", "2"]  # the user's choice


def test_the_c_library_is_looked_up_in_one_module() -> None:
    """glibc's handle (mallopt for the workers, malloc_trim after the stories clustering,
    prctl for a worker's end) was looked up twice, in pipeline/workers.py and in
    transforms/stories.py, each with its own rule for a C library without the call. One
    home now, below both layers: transforms/support/libc.py."""
    repo = Path(__file__).resolve().parents[1]
    lookups = sorted(
        str(path.relative_to(repo))
        for folder in ("pipeline", "transforms", "schemas")
        for path in (repo / folder).rglob("*.py")
        if "CDLL(" in path.read_text("utf-8")
    )
    assert lookups == ["transforms/support/libc.py"]
    assert libc.mallopt() is True  # glibc on this machine: no settings, all of them taken
    assert libc.give_back_freed() is True


# glibc's malloc statistics (mallinfo2) in a fresh interpreter: the preamble of the scripts
# below.
_MALLINFO2 = """
import ctypes, sys
from newsbeam.pipeline import workers

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
"""


# Whether a block of `size` bytes, allocated after a larger one was freed, is mmapped (given
# back when freed) rather than taken from the heap: with "bound", after bound_malloc().
_MMAPPED_AFTER_A_LARGER_FREE = (
    _MALLINFO2
    + """
bound = sys.argv[1] == "bound" and workers.bound_malloc()
size = 2 * workers.MALLOC_MMAP_THRESHOLD
larger = bytearray(2 * size)
del larger  # glibc's own threshold now rises to this size
before = libc.mallinfo2().hblkhd
block = bytearray(size)
print(bound, libc.mallinfo2().hblkhd - before >= size)
"""
)


def _glibc() -> tuple[int, ...]:
    name, version = platform.libc_ver()
    return tuple(int(part) for part in version.split(".")[:2]) if name == "glibc" else ()


@pytest.mark.skipif(_glibc() < (2, 33), reason="mallopt and mallinfo2 are glibc's (2.33+)")
def test_bound_malloc_keeps_large_blocks_mmapped() -> None:
    def mmapped(mode: str) -> str:
        command = [sys.executable, "-c", _MMAPPED_AFTER_A_LARGER_FREE, mode]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    # glibc alone takes the block from the heap, where it stays once freed; bound, it does not
    assert mmapped("default").split() == ["False", "False"]
    assert mmapped("bound").split() == ["True", "True"]


# How many MB the heaps grow (mallinfo2's `arena`) while a new thread allocates 10 MB in
# 2 KB blocks, after the main thread freed 20 MB of them (one block kept at the heap's top,
# so none of it is given back): with "bound", after bound_malloc(); "one arena", after
# one_malloc_arena().
_THREAD_HEAP_GROWTH = (
    _MALLINFO2
    + """
import threading
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "bound":
    workers.bound_malloc()
elif sys.argv[1] == "one arena":
    workers.one_malloc_arena()
freed = [libc.malloc(2048) for _ in range(10_000)]
kept = libc.malloc(2048)
for block in freed:
    libc.free(block)
before = libc.mallinfo2().arena
thread = threading.Thread(target=lambda: [libc.malloc(2048) for _ in range(5_000)])
thread.start()
thread.join()
print((libc.mallinfo2().arena - before) >> 20)
"""
)


@pytest.mark.skipif(_glibc() < (2, 33), reason="mallopt and mallinfo2 are glibc's (2.33+)")
def test_bound_malloc_gives_threads_the_heap_freed_before() -> None:
    """With glibc's arenas a new thread (a worker's bundle thread) allocates from a heap of its
    own, not from the memory freed before it; bound, it reuses that memory."""

    def growth_mb(mode: str) -> int:
        command = [sys.executable, "-c", _THREAD_HEAP_GROWTH, mode]
        return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)

    assert growth_mb("default") >= 5
    assert growth_mb("bound") == 0
    assert growth_mb("one arena") == 0  # what the newsbeam command sets as it starts


def _rows(output: Path, table: str) -> list[tuple]:
    relation = duckdb.sql(f"SELECT * FROM {table_sql(output, table)}")
    volatile = [i for i, name in enumerate(relation.columns) if name == "ingested_at"]
    rows = [tuple(v for i, v in enumerate(row) if i not in volatile) for row in relation.fetchall()]
    return sorted(rows, key=repr)


@pytest.mark.slow
def test_the_default_run_uses_worker_processes_and_gives_the_same_output(
    monkeypatch: pytest.MonkeyPatch,
    seeds_dir: Path,
    bad_inputs: dict[str, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With 2 cores and enough files the default command runs on 2 worker processes (Beam's
    FnApiRunner with subprocess workers), and its tables and counters (summed over the
    workers by the runner) equal those of an in-process run."""
    inputs = tmp_path / "inputs"
    shutil.copytree(seeds_dir, inputs / "seeds")
    bad_inputs["fifo"].unlink()  # a FIFO cannot be copied; test_pipeline covers it
    shutil.copytree(bad_inputs["good_html"].parent, inputs / "bad")
    assert workers.count_inputs([str(inputs)], limit=1000) >= 10
    monkeypatch.setattr(workers, "MIN_INPUTS", 10)  # a modest input, quick to run
    monkeypatch.setattr(workers, "available_cores", lambda: 2)
    monkeypatch.setattr(workers, "available_memory", lambda: 8 * workers.WORKER_BYTES)
    monkeypatch.setattr(workers, "load_average", lambda: 0.5)  # however busy the tests are
    started = []
    real_local_runner = workers.local_runner

    def local_runner(count: int):  # noqa: ANN202
        runner, told = real_local_runner(count)
        started.append(runner)
        return runner, told

    monkeypatch.setattr(workers, "local_runner", local_runner)
    templates: list[tuple[bool, list[str]]] = []
    real_template = pipeline_run.worker_template

    @contextlib.contextmanager
    def worker_template(enabled: bool):  # noqa: ANN202
        with real_template(enabled) as template:
            hand = template.warm

            def warm_dofns(dofns: list) -> None:
                warmed = sorted(type(fn).__name__ for fn in dofns)
                templates.append((template.running, warmed))
                hand(dofns)

            template.warm = warm_dofns  # type: ignore[method-assign]
            yield template

    monkeypatch.setattr(pipeline_run, "worker_template", worker_template)
    frozen: list[str] = []
    real_frozen_heap = pipeline_run.frozen_heap

    def frozen_heap():  # noqa: ANN202
        frozen.append("frozen")
        return real_frozen_heap()

    monkeypatch.setattr(pipeline_run, "frozen_heap", frozen_heap)
    manifests = {}
    for mode, extra in (("default", []), ("in-process", ["--direct_running_mode", "in_memory"])):
        output = tmp_path / mode
        argv = ["--input", str(inputs), "--output", str(output), *extra]
        manifests[mode] = pipeline_run.run(argv)
        committed = run_manifest(output)  # the manifest returned is the one committed
        assert (committed["run_id"], committed["attempt"]) == (
            manifests[mode]["run_id"],
            manifests[mode]["attempt"],
        )
        assert manifests[mode]["counts"]["balanced"]
    (runner,) = started  # the default run only
    # run() shortened Beam's sampling period and had DoFn specs remembered before the
    # template forked (its workers have both)
    sampler = statesampler.StateSampler("s", CounterFactory())
    assert sampler.sampling_period_ms == workers.SAMPLING_PERIOD_MS
    assert isinstance(userstate.get_dofn_specs, workers._RememberedDofnSpecs)  # noqa: SLF001
    # Its workers forked from a template with the models loaded; the in-process run: none.
    warmed = ["_ClusterAll", "_DetectLanguage", "_Extract", "_TagPlaces", "_TagTopics"]
    assert templates == [(True, warmed), (False, [])]
    assert frozen == ["frozen", "frozen"]  # each run's heap is frozen while it runs
    assert runner._num_workers == 2  # noqa: SLF001  (as Beam's run read it)
    assert isinstance(runner._default_environment, SubprocessSDKEnvironment)  # noqa: SLF001
    assert manifests["default"]["options"]["direct_running_mode"] == "multi_processing"
    assert manifests["default"]["options"]["direct_num_workers"] == 2
    assert manifests["in-process"]["options"].get("direct_running_mode", "in_memory") == "in_memory"
    assert manifests["default"]["counters"] == manifests["in-process"]["counters"]
    # The workers parse the options they are handed without a word on the terminal.
    assert "unparseable" not in caplog.text
    assert (
        manifests["default"]["counters"]["read_inputs"] == manifests["default"]["counts"]["inputs"]
    )
    assert manifests["default"]["counts"] == manifests["in-process"]["counts"]
    for table in ("articles", "duplicates", "rejected"):
        assert _rows(tmp_path / "default", table) == _rows(tmp_path / "in-process", table), table


# In a process forked after `freeze_heap`: whether the collector still tracks the parent's
# objects (lists made before the fork), and whether a full collection frees the
# child's own cyclic garbage.
_FORKED_AFTER_FREEZE = """
import gc, os, sys
from newsbeam.pipeline import workers

held = [[n] for n in range(1000)]
if sys.argv[1].startswith("frozen"):
    workers.freeze_heap(collect=sys.argv[1] == "frozen")  # the template's: collect=False
child = os.fork()
if child == 0:
    tracked = {id(o) for o in gc.get_objects()}
    cycle = []
    cycle.append(cycle)
    del cycle
    print(id(held) in tracked, sum(id(o) in tracked for o in held), gc.collect() >= 1)
    sys.stdout.flush()
    os._exit(0)
os.waitpid(child, 0)
"""


@pytest.mark.skipif(not worker_template_module.available(), reason="workers fork on Linux")
def test_workers_forked_from_the_template_leave_its_heap_to_it() -> None:
    """A worker's full collections no longer walk (and write to) the objects it inherits
    from the template; its own garbage is still collected."""

    def forked(mode: str) -> list[str]:
        command = [sys.executable, "-c", _FORKED_AFTER_FREEZE, mode]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()

    assert forked("unfrozen") == ["True", "1000", "True"]
    assert forked("frozen") == ["False", "0", "True"]
    assert forked("frozen-uncollected") == ["False", "0", "True"]


@pytest.mark.skipif(not worker_template_module.available(), reason="workers fork on Linux")
def test_the_template_listens_where_a_deep_temporary_folder_leaves_no_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket's path has at most 107 bytes: under a deep $TMPDIR the template's socket goes
    to /tmp (the run failed with "AF_UNIX path too long"), and a client reaches it."""
    import socket
    import tempfile

    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    listening = worker_template_module._listen()
    assert listening is not None
    server, folder, address = listening
    try:
        assert Path(folder).parent == Path("/tmp") and len(os.fsencode(address)) <= 107
        assert oct(os.stat(folder).st_mode & 0o777) == oct(0o700)  # only this user connects
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(address)
        client.close()
    finally:
        server.close()
        shutil.rmtree(folder)
    assert list(deep.iterdir()) == []  # the folder it could not use is gone


@pytest.mark.parametrize("paused", [False, True])
def test_frozen_heap_thaws_after_the_run(paused: bool) -> None:
    """frozen_heap freezes what exists while its block runs and thaws it after (a process
    that goes on, as in follow mode, collects it again); the collector runs in the block
    and after it, also when the command paused it at start-up (pause_collector)."""
    import gc

    gc.unfreeze()
    try:
        if paused:
            workers.pause_collector()
            assert not gc.isenabled()
        with workers.frozen_heap():
            assert gc.get_freeze_count() > 1000
            assert gc.isenabled()
        assert gc.get_freeze_count() == 0
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()


# A template that ignores SIGTERM once warmed up (a warm-up that sets SIG_IGN): leaving the
# block must still end it, killed after STOP_SECONDS; prints whether it is gone, and when.
_STUCK_TEMPLATE = """
import os, signal, sys, time
from newsbeam.pipeline import worker_template

class IgnoresStop:
    def warm_up(self):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(sys.argv[1], "w").close()

worker_template.STOP_SECONDS = 0.5
with worker_template.worker_template(True) as handle:
    handle.warm([IgnoresStop()])
    (template,) = worker_template._RUNNING
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.01)
    leaving = time.monotonic()
try:
    os.kill(template, 0)
    gone = False
except ProcessLookupError:
    gone = True
print(gone, 0.4 < time.monotonic() - leaving < 5)
"""


@pytest.mark.skipif(not worker_template_module.available(), reason="workers fork on Linux")
def test_a_template_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    command = [sys.executable, "-c", _STUCK_TEMPLATE, str(tmp_path / "warm")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["True", "True"]


# A template whose DoFn class has a warm_ahead() and whose worker only notes that it ran:
# what the template did, in order, goes to the file argv[1]. argv[2]: "hand" hands it two
# DoFns once it has warmed ahead; "close" closes the handle without any (a run that failed
# before its pipeline was built). Prints the worker's status.
_WARM_AHEAD = """
import gc, os, sys, time, types
import apache_beam as beam
from apache_beam.runners.worker import sdk_worker_main
from newsbeam.pipeline import worker_template

def note(word):
    with open(sys.argv[1], "a") as handle:
        handle.write(word + "\\n")

class Probe(beam.DoFn):
    def __init__(self, name):
        self.name = name

    @classmethod
    def warm_ahead(cls):
        note("ahead")

    def warm_up(self):
        note("warm " + self.name)

# As if defined in NewsBeam's package (the template warms ahead NewsBeam's DoFns only).
module = types.ModuleType("newsbeam.probe")
module.Probe, Probe.__module__ = Probe, module.__name__
sys.modules[module.__name__] = module
sdk_worker_main.main = lambda argv: note(f"worker collects={gc.isenabled()}")
gc.disable()  # as the command runs until the run starts (workers.pause_collector)
with worker_template.worker_template(True) as template:
    while not os.path.exists(sys.argv[1]):  # the template warms ahead before it has DoFns
        time.sleep(0.01)
    if sys.argv[2] == "hand":
        template.warm([Probe("a"), Probe("b")])
    else:
        template.close()
    print(worker_template.run_client(os.environ[worker_template.TEMPLATE_ENV]))
"""


@pytest.mark.skipif(not worker_template_module.available(), reason="workers fork on Linux")
@pytest.mark.parametrize(
    ("handing", "done"),
    [
        ("hand", ["ahead", "warm a", "warm b", "worker collects=True"]),
        ("close", ["ahead", "worker collects=True"]),
    ],
)
def test_the_template_warms_ahead_then_the_dofns_it_is_handed(
    tmp_path: Path, handing: str, done: list[str]
) -> None:
    """The template runs NewsBeam's DoFn classes' warm_ahead() as soon as it starts (the
    runner is still building the pipeline), then the warm_up() of the DoFns it is handed,
    before it forks a worker; handed none, it forks workers all the same. Forked from a
    runner whose collector is paused, its workers collect their garbage."""
    steps = tmp_path / "steps"
    command = [sys.executable, "-c", _WARM_AHEAD, str(steps), handing]
    ran = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert ran.stdout.split() == ["0"]
    assert steps.read_text().split("\n")[:-1] == done


# A template whose forked worker ends as argv[1] says, in place of Beam's SDK worker (which
# needs a runner to talk to); the client prints the status it got back.
_CLIENT_STATUS = """
import os, signal, sys
from apache_beam.runners.worker import sdk_worker_main
from newsbeam.pipeline import worker_template

def worker(argv):
    if sys.argv[1] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.exit(7)

sdk_worker_main.main = worker
with worker_template.worker_template(True) as handle:
    handle.warm([])
    asked_before = worker_template.workers_requested()
    print(worker_template.run_client(os.environ[worker_template.TEMPLATE_ENV]))
    print(asked_before, worker_template.workers_requested())
print(worker_template.workers_requested())
"""


@pytest.mark.parametrize(("ending", "status"), [("exits", "7"), ("killed", "-9")])
def test_the_client_gets_its_workers_status(ending: str, status: str) -> None:
    """The worker command exits with its forked worker's status: the one the worker reports
    as it leaves, or, for a worker killed before it could, the one the template saw. The
    runner's process sees that a worker was asked for (`workers_requested`) once one was,
    and while its template runs."""
    command = [sys.executable, "-c", _CLIENT_STATUS, ending]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == [status, "False", "True", "False"]


# A template that dies while it warms up, after a worker command asked it for a worker (as
# the OOM killer or a crash in a library's warm-up would end it): what the client returns,
# and the SIGTERM handler it leaves for the cold worker it then runs.
_TEMPLATE_DIES = """
import os, signal, sys, threading, time, types
import apache_beam as beam
from newsbeam.pipeline import worker_template

class Doomed(beam.DoFn):
    @classmethod
    def warm_ahead(cls):
        while not os.path.exists(sys.argv[1]):  # until a worker command has asked
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)

module = types.ModuleType("newsbeam.doomed")
module.Doomed, Doomed.__module__ = Doomed, module.__name__
sys.modules[module.__name__] = module
def once_asked():
    while not worker_template.workers_requested():
        time.sleep(0.01)
    time.sleep(0.1)
    open(sys.argv[1], "w").close()

with worker_template.worker_template(True) as template:
    threading.Thread(target=once_asked, daemon=True).start()
    answer = worker_template.run_client(os.environ[worker_template.TEMPLATE_ENV])
    print(answer, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
"""


@pytest.mark.skipif(not worker_template_module.available(), reason="workers fork on Linux")
def test_a_worker_whose_template_died_starts_cold(tmp_path: Path) -> None:
    """A template that ends before it forks the worker asked for (killed while it warms up)
    sends the worker command to a cold worker (None), its SIGTERM handling Beam's again:
    Beam's runner waits for every worker it started, and a worker command that ended
    without one left the run waiting for good."""
    command = [sys.executable, "-c", _TEMPLATE_DIES, str(tmp_path / "asked")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["None", "True"]


def test_a_worker_without_its_template_starts_cold(tmp_path: Path) -> None:
    """The worker command falls back to a cold worker (None) when no template answers."""
    assert worker_template_module.run_client(str(tmp_path / "no-template")) is None


def _descendants(pid: int) -> list[int]:
    """The processes under `pid` (Linux /proc), depth first."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _start_long_run(seeds: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    """The command on two worker processes over enough pages to act on mid-run, once it
    holds its lock; the process and its output folder."""
    inputs, output = tmp_path / "in", tmp_path / "out"
    write_seed_copies(seeds, inputs, copies=80)
    process = start_pipeline(inputs, output, "--direct_num_workers", "2")
    if not wait_for(tmp_path, ".out.newsbeam.lock"):
        process.kill()
        pytest.fail(f"the run never took its lock: {process.communicate()}")
    return process, output


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)]
)
def test_signals_and_kills_leave_no_worker_process(
    seeds_dir: Path, tmp_path: Path, signum: int, status: int
) -> None:
    """A run signalled while its worker processes work: SIGINT/SIGTERM end it cleanly
    (nothing committed) and its workers with it; after SIGKILL (no cleanup possible) the
    workers end themselves once the runner's control channel is gone."""
    process, output = _start_long_run(seeds_dir, tmp_path)
    try:
        deadline = time.monotonic() + 120
        started: list[int] = []
        while len(started) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
            started = [
                pid
                for pid in _descendants(process.pid)
                if "newsbeam.pipeline.workers" in _cmdline(pid) and "/bin/sh" not in _cmdline(pid)
            ]
        if process.poll() is not None:
            pytest.fail(f"the run ended ({process.returncode}) first: {process.communicate()}")
        assert len(started) == 2, "the run's two worker processes never started"
        time.sleep(1.0)  # at work on the pages, not starting up
        assert process.poll() is None, "the run ended before it could be signalled"
        tree = _descendants(process.pid)
        process.send_signal(signum)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == status, err
    if signum != signal.SIGKILL:
        assert "nothing was committed; the dataset and state are as they were" in err
        assert "Traceback" not in err

    def left() -> list[int]:
        # Warm workers are forks of the run (its command line, with this test's own output
        # path), and may have started after `tree` was taken.
        forks = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and str(output) in _cmdline(int(entry.name))
        ]
        return [pid for pid in {*tree, *forks} if _alive(pid)]

    deadline = time.monotonic() + 30
    while left() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left(), "worker processes outlived the run"
    assert not list(output.glob("_runs/*.json"))  # nothing committed


def test_worker_exit_statuses_in_words() -> None:
    assert workers.describe_exit(3) == "exited with status 3"
    assert workers.describe_exit(-15) == "was killed by SIGTERM"
    assert workers.describe_exit(128 + 15) == "was killed by SIGTERM"  # a shell's (and ours)
    killed = workers.describe_exit(-9)
    assert killed.startswith("was killed by SIGKILL") and "out-of-memory" in killed


# The command with cold workers (no template) whose start fails: a sitecustomize on the
# workers' PYTHONPATH ends them (status 3) before they connect to the runner.
_WORKERS_FAIL_TO_START = """
import os, sys
from newsbeam.pipeline import main, worker_template

worker_template.available = lambda: False
os.environ["PYTHONPATH"] = sys.argv[1]
sys.exit(main.main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_workers_that_fail_to_start_fail_the_run(seeds_dir: Path, tmp_path: Path) -> None:
    """Beam's runner waits for every worker it started to connect: a worker process that
    ended before it did kept the run waiting for good. The run now fails at once, saying how
    the worker ended."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "sitecustomize.py").write_text(
        "import os, sys\n"
        "if 'newsbeam.pipeline.workers' in ' '.join(getattr(sys, 'orig_argv', [])):\n"
        "    os._exit(3)\n"
    )
    inputs, output = tmp_path / "in", tmp_path / "out"
    write_seed_copies(seeds_dir, inputs, copies=2)
    argv = ["--input", str(inputs), "--output", str(output), "--direct_num_workers", "2"]
    command = [sys.executable, "-c", _WORKERS_FAIL_TO_START, str(broken), *argv]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-3000:]
    assert time.monotonic() - started < 60
    assert "the run failed: a worker process exited with status 3" in done.stderr
    assert "nothing was committed" in done.stderr
    assert not list(output.glob("_runs/*.json"))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_worker_killed_mid_run_fails_it_clearly(seeds_dir: Path, tmp_path: Path) -> None:
    """A worker process killed while it works (as the out-of-memory killer does): the run
    fails at once, naming the signal and what to do, commits nothing and leaves no worker
    process behind."""
    process, output = _start_long_run(seeds_dir, tmp_path)
    try:
        deadline = time.monotonic() + 120
        working: list[int] = []
        while not working and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
            # Warm workers are forks of the run (its command line) by the template: the
            # run's child whose children have that command line too.
            forks = [pid for pid in _descendants(process.pid) if str(output) in _cmdline(pid)]
            working = [pid for pid in forks if _parent(pid) in forks]
        if process.poll() is not None:
            pytest.fail(f"the run ended ({process.returncode}) first: {process.communicate()}")
        assert working, "the run's worker processes never started"
        time.sleep(1.0)  # at work on the pages, not starting up
        assert process.poll() is None, "the run ended before a worker could be killed"
        tree = _descendants(process.pid)
        os.kill(working[0], signal.SIGKILL)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, err
    assert "the run failed: a worker process was killed by SIGKILL" in err
    assert "--direct_num_workers 1" in err
    assert not list(output.glob("_runs/*.json"))
    deadline = time.monotonic() + 30
    while [pid for pid in tree if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in tree if _alive(pid)], "worker processes outlived the run"


def test_worker_options_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from apache_beam.options.pipeline_options import PipelineOptions

    def options(mode: str) -> PipelineOptions:
        flags = ["--direct_running_mode", mode, "--s3_endpoint_url=http://x", "--input", "a"]
        return PipelineOptions(flags)

    monkeypatch.delenv("PIPELINE_OPTIONS_FILE", raising=False)
    with workers.worker_options(options("multi_processing")):
        path = Path(os.environ["PIPELINE_OPTIONS_FILE"])
        given = json.loads(path.read_text())["options"]
        assert given["default_sdk_harness_log_level"] in ("WARNING", "DEBUG")
        # The options the user set reach the workers (Beam's local runner hands them none).
        assert given["s3_endpoint_url"] == "http://x"
        # Not --input's `inputs`: no flag of that name (the worker warned "Discarding
        # unparseable args" on the terminal).
        assert "inputs" not in given
        assert path.stat().st_mode & 0o077 == 0  # credentials: this user's only
    assert "PIPELINE_OPTIONS_FILE" not in os.environ and not path.exists()
    with workers.worker_options(options("in_memory")):
        assert "PIPELINE_OPTIONS_FILE" not in os.environ
    monkeypatch.setenv("PIPELINE_OPTIONS_FILE", "/the/users/own.json")
    with workers.worker_options(options("multi_processing")):
        assert os.environ["PIPELINE_OPTIONS_FILE"] == "/the/users/own.json"


# --- A container's limits (cgroup) ----------------------------------------------------------


def test_cgroup_limit_files_read_as_cpus_and_bytes() -> None:
    assert workers.cpu_max_cpus("200000 100000\n") == 2.0
    assert workers.cpu_max_cpus("50000 100000") == 0.5
    assert workers.cpu_max_cpus("max 100000\n") is None
    assert workers.cfs_cpus("150000", "100000") == 1.5
    assert workers.cfs_cpus("-1", "100000") is None
    assert workers.memory_bytes("2147483648\n") == 2 << 30
    assert workers.memory_bytes("max\n") is None
    assert workers.memory_bytes("9223372036854771712") is None  # v1's "no limit"


def _files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_a_pods_cgroup_v2_limits_bound_the_workers(tmp_path: Path) -> None:
    """A pod limited to 2 CPUs and 2 GiB on a 64-core node: affinity says 64 and the node's
    free memory is large, so a run started 64 workers (~0.4 GB each) and was OOM-killed.
    The limits come from the process's cgroup and its parents (the tightest), in a cgroup
    namespace ("0::/") or not (a host path the mount does not have: the mount's root)."""
    _files(
        tmp_path,
        {
            "cgroup.controllers": "cpu memory\n",
            "cpu.max": "max 100000\n",
            "memory.max": "max\n",
            "kubepods/cpu.max": "max 100000\n",
            "kubepods/memory.max": "2147483648\n",
            "kubepods/pod1/newsbeam/cpu.max": "200000 100000\n",
            "kubepods/pod1/newsbeam/memory.max": "4294967296\n",
            "kubepods/pod1/newsbeam/memory.current": "536870912\n",
        },
    )
    limits = workers.cgroup_limits(str(tmp_path), "0::/kubepods/pod1/newsbeam\n")
    assert limits == workers.CgroupLimits(cpus=2.0, memory=2 << 30, memory_used=512 << 20)
    # In its own namespace the container's group is the mount's root.
    _files(tmp_path / "ns", {"cgroup.controllers": "", "cpu.max": "150000 100000\n"})
    assert workers.cgroup_limits(str(tmp_path / "ns"), "0::/\n").cpus == 1.5
    assert workers.cgroup_limits(str(tmp_path / "ns"), "0::/elsewhere\n").cpus == 1.5
    # 1.5 GiB left of the limit: one worker per GB of it, and no more than the 2 CPUs.
    left = limits.memory - limits.memory_used
    assert workers.worker_count(min(64, math.ceil(limits.cpus)), left) == 1
    assert workers.worker_count(64, 200 << 30) == 64  # what the run planned before


def test_cgroup_v1_limits_and_none_without_a_cgroup_file_system(tmp_path: Path) -> None:
    _files(
        tmp_path,
        {
            "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "300000\n",
            "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
            "memory/docker/abc/memory.limit_in_bytes": "1073741824\n",
            "memory/docker/abc/memory.usage_in_bytes": "104857600\n",
            "memory/memory.limit_in_bytes": "9223372036854771712\n",
        },
    )
    proc = "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n"
    assert workers.cgroup_limits(str(tmp_path), proc) == workers.CgroupLimits(
        cpus=3.0, memory=1 << 30, memory_used=100 << 20
    )
    assert workers.cgroup_limits(str(tmp_path / "none"), proc) == workers.CgroupLimits()
    assert workers.cgroup_limits(str(tmp_path), "") == workers.CgroupLimits()


# --- Memory available: the page cache the kernel gives back counts (review 82) ------------


def test_memory_available_counts_the_page_cache_the_kernel_reclaims() -> None:
    """Free memory was `SC_AVPHYS_PAGES` (MemFree): on a host up for a while most memory is
    page cache, so a machine with 22 GB available counted 0.3-4.8 GB and a default run of
    many files planned 0-2 workers by the minute. MemAvailable counts what can be had."""
    text = "MemTotal:       24684000 kB\nMemFree:          312000 kB\nMemAvailable:   22116756 kB\n"
    assert workers.meminfo_available(text) == 22116756 * 1024
    assert workers.meminfo_available("MemTotal: 1 kB\nMemFree: 1 kB\n") is None  # Linux < 3.14
    if not os.path.exists(workers.MEMINFO) or workers.cgroup_limits().memory is not None:
        return
    with open(workers.MEMINFO) as handle:
        fields = dict(line.split(":", 1) for line in handle)
    if "MemAvailable" not in fields:
        return
    available = int(fields["MemAvailable"].split()[0]) * 1024
    memory = workers.available_memory()
    assert memory is not None and memory >= available // 2  # the host's, as it moves


def test_a_containers_page_cache_does_not_count_as_memory_used(tmp_path: Path) -> None:
    """A cgroup's usage counts the page cache of the files it read; its inactive file pages
    are reclaimed before an allocation fails, so they are no memory the workers lack."""
    assert workers.working_set(2 << 30, 1 << 30) == 1 << 30
    assert workers.working_set(1 << 30, None) == 1 << 30
    assert workers.working_set(None, 5) is None
    assert workers.stat_bytes("cache 9\ninactive_file 42\n", "inactive_file") == 42
    _files(
        tmp_path / "v2",
        {
            "cgroup.controllers": "cpu memory\n",
            "box/memory.max": "4294967296\n",
            "box/memory.current": "3221225472\n",
            "box/memory.stat": "anon 536870912\nfile 2684354560\ninactive_file 2147483648\n",
        },
    )
    v2 = workers.cgroup_limits(str(tmp_path / "v2"), "0::/box\n")
    assert v2.memory_used == 1 << 30  # 3 GiB in use, 2 GiB of it cache not touched lately
    assert workers.worker_count(4, v2.memory - v2.memory_used) == 3  # 1 before
    _files(
        tmp_path / "v1",
        {
            "memory/box/memory.limit_in_bytes": "2147483648\n",
            "memory/box/memory.usage_in_bytes": "1610612736\n",
            "memory/box/memory.stat": "inactive_file 1\ntotal_inactive_file 1073741824\n",
        },
    )
    v1 = workers.cgroup_limits(str(tmp_path / "v1"), "4:memory:/box\n")
    assert v1.memory_used == 512 << 20


def test_the_worker_plan_names_its_rule() -> None:
    given = workers.Given()
    plan = workers.worker_plan
    assert plan(given, cores=2, memory=8 << 30, inputs=3) == (
        1,
        f"in-process: 3 local input files, fewer than {workers.MIN_INPUTS}",
    )
    count, rule = plan(given, cores=2, memory=8 << 30, inputs=50, load=3.5)
    assert count == 1 and rule.startswith("in-process: load average 3.5 >= 2 cores + 1")
    count, rule = plan(given, cores=8, memory=3 << 30, inputs=50)
    assert count == 3 and "3.0 GiB available holds 3 of 1 GiB each, fewer than the 8" in rule
    assert plan(given, cores=2, memory=None, inputs=50) == (
        2,
        "50 local input files counted, at least 50: one per core available: 2",
    )
    assert plan(workers.Given("in_memory"), cores=2, memory=None, inputs=9)[0] is None
    assert plan(workers.Given(num_workers=3), cores=2, memory=None, inputs=0) == (
        3,
        "--direct_num_workers 3 as given",
    )


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_a_run_logs_and_records_its_worker_plan(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    for number in range(3):
        words = "The council voted on the budget for the new library today. " * 20
        (source / f"story{number}.txt").write_text(f"Story {number}\n\n{words}{number}")
    output = tmp_path / "out"
    command = ["taskset", "-c", "0", sys.executable, "-m", "newsbeam.pipeline"]
    command += ["--input", str(source), "--output", str(output), "--run_id", "planned"]
    command += ["--log_level", "INFO"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    rule = f"in-process: 3 local input files, fewer than {workers.MIN_INPUTS}"
    started = [line for line in run.stderr.splitlines() if "run started" in line]
    assert started[0].endswith(f"; run id planned; workers planned: 1 ({rule})"), started
    manifest = json.loads((output / "_runs" / "planned.json").read_text())
    plan = manifest["config"]["workers"]
    assert plan["workers"] == 1 and plan["rule"] == rule
    assert plan["cores_available"] == 1 and plan["cpu_affinity"] == 1  # taskset -c 0
    assert plan["memory_available_bytes"] > 0
    assert {"cpu_quota", "memory_limit_bytes", "load_average"} <= set(plan)
    page = (output / "_runs" / "planned.html").read_text()
    assert f'<p id="workers">Workers planned: 1 ({rule}).</p>' in page
