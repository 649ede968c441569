"""The run's HTML report, drawn by a process of its own that loads what drawing needs
while the run starts.

Drawing the report needs matplotlib, its SVG backend and fonts, pyarrow and the IPTC
names: ~0.55 s of CPU to load (`report.preload`), none of it Beam's. The run process first
spends ~0.7 s importing Beam, on one core. The `newsbeam` command therefore forks this
process before that import (`ReportProcess.start`, from pipeline/main.py): it loads the
report's libraries on another core while the run process imports Beam, then waits. When
the stages are done, the run hands it the staged run (`draw`: the staging folder, the
manifest, the target file, as JSON through a pipe); it draws the report and answers with
the seconds it took, or the error, and ends.

Loading them on a thread of the run process instead (as runs without this process do,
`run._preload_report`) competes with the workers for the cores once the stages run. On one
core there is nothing to gain (the same CPU, spent earlier), and a second process would
load pyarrow twice: `start` then gives None and the run draws the report itself.

Started only while the command's process has a single thread (a fork copies no lock
another thread holds), on Linux (fork, PR_SET_PDEATHSIG), with more than one core
available. The process ignores SIGINT (the run decides what an interrupt means), ends
with the run process (SIGTERM when it dies; `close`), and leaves with `os._exit`, so no
exit handler of the run runs twice. A report process that is gone or fails to answer only
means the run draws the report itself (`draw` returns None); a report that fails to draw
is the same `report_error` as in the run process: the run is committed either way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import struct
import sys
import threading
import traceback
from typing import Any

# A job's length, ahead of it in the pipe.
_LENGTH = struct.Struct("!Q")
# How long `close` waits for a process it told to end before it kills it.
STOP_SECONDS = 2.0


def can_start() -> bool:
    """Whether this process may fork a report process now: Linux, more than one core
    available to it, and no thread but this one."""
    if not sys.platform.startswith("linux") or not hasattr(os, "sched_getaffinity"):
        return False
    return len(os.sched_getaffinity(0)) > 1 and threading.active_count() == 1


class ReportProcess:
    """The run process's handle on its report process (`start`)."""

    def __init__(self, pid: int, jobs: int, answers: int) -> None:
        self.pid = pid
        self._jobs: int | None = jobs  # write end: one JSON job, then closed
        self._answers: int | None = answers  # read end: one JSON answer

    @classmethod
    def start(cls) -> ReportProcess | None:
        """Fork the report process (it starts loading at once); None where it cannot
        start (`can_start`) or the fork failed."""
        if not can_start():
            return None
        jobs_read, jobs_write = os.pipe()
        answers_read, answers_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError:
            for end in (jobs_read, jobs_write, answers_read, answers_write):
                os.close(end)
            return None
        if pid == 0:  # the report process: never returns into the command
            status = 1
            try:
                os.close(jobs_write)
                os.close(answers_read)
                _serve(jobs_read, answers_write)
                status = 0
            except BaseException:  # noqa: BLE001  (whatever happens, leave here)
                with contextlib.suppress(Exception):
                    traceback.print_exc()
            finally:
                os._exit(status)
        os.close(jobs_read)
        os.close(answers_write)
        return cls(pid, jobs_write, answers_read)

    def draw(self, base: str, manifest: dict[str, Any], target: str) -> dict[str, Any] | None:
        """Have the report process write the report of the staged run under `base` (the
        `staged` manifest) to the local file `target`; returns what goes into the manifest
        (`report_seconds`, or `report_error`), or None when the process could not draw it
        (gone, or handed a job already): the caller then draws the report itself."""
        if self._jobs is None or self._answers is None:
            return None
        job = json.dumps({"base": base, "manifest": manifest, "target": target}).encode()
        try:
            with open(self._jobs, "wb", closefd=True) as jobs:
                self._jobs = None
                jobs.write(_LENGTH.pack(len(job)) + job)
            with open(self._answers, "rb", closefd=True) as answers:
                self._answers = None
                answer = answers.read()
        except OSError:  # the process is gone (broken pipe)
            answer = b""
        finally:
            self.close()
        try:
            result = json.loads(answer) if answer else None
        except ValueError:
            result = None
        return result if isinstance(result, dict) else None

    def close(self) -> None:
        """End the report process and reap it: one that was handed no job gets SIGTERM
        (it may still be loading); one that drew has answered and is leaving (SIGKILL
        should it not be gone after `STOP_SECONDS`)."""
        unused = self._jobs is not None
        for name in ("_jobs", "_answers"):
            end = getattr(self, name)
            if end is not None:
                with contextlib.suppress(OSError):
                    os.close(end)
                setattr(self, name, None)
        if not self.pid:
            return
        if unused:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGTERM)
        from newsbeam.pipeline.workers import end_child

        end_child(self.pid, STOP_SECONDS)  # waits, then kills; reaps either way
        self.pid = 0


def _serve(jobs: int, answers: int) -> None:
    """The report process: load what drawing needs, then draw the one job the run hands
    over (none when the run closes the pipe without one) and answer."""
    import gc

    from newsbeam.pipeline import workers

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    workers.end_with_parent()
    from newsbeam.pipeline import report

    report.preload()
    gc.enable()  # the command paused it for its imports (workers.pause_collector)
    with open(jobs, "rb", closefd=True) as pipe:
        header = pipe.read(_LENGTH.size)
        # Read to its length, not to the end of the pipe: processes the run forks later (the
        # worker template, its workers) hold copies of the pipe's write end.
        job = pipe.read(_LENGTH.unpack(header)[0]) if len(header) == _LENGTH.size else b""
    if not job:  # the run ended without a report to draw
        return
    request = json.loads(job)
    try:
        seconds = report.write_run_report(request["base"], request["manifest"], request["target"])
        answer: dict[str, Any] = {"report_seconds": round(seconds, 3)}
    except Exception as error:  # the run logs it and commits without a report
        answer = {
            "report_error": f"{type(error).__name__}: {error}",
            "report_traceback": traceback.format_exc(),
        }
    with open(answers, "wb", closefd=True) as pipe:
        pipe.write(json.dumps(answer).encode())
