"""SIGINT and SIGTERM stop a run: turned into exceptions, and remembered (the exception may
surface wrapped in Beam's own). The command (main.py), one run (run.py) and follow mode
(follow.py) all read them: they live here, below all three, so that none imports the entry
point."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

log = logging.getLogger("newsbeam")


class Terminated(BaseException):
    """SIGTERM arrived (systemd, Kubernetes and cron wrappers stop jobs with it). Like
    KeyboardInterrupt, not an Exception: code that turns errors into rejected rows must not
    swallow it."""


class RunSignals:
    """Turns SIGINT/SIGTERM into exceptions and remembers them: the exception may surface
    wrapped (Beam re-raises a DoFn's failure as its own), the remembered signal decides."""

    STATUS: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}
    # The signal the run in progress received, if any: what its failed-run record says
    # (pipeline/run.py), when Beam has wrapped the exception as a step's failure.
    current: int | None = None
    # True while a run commits (pipeline/run.py): a stop then waits for the commit's end.
    holding: ClassVar[bool] = False

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> RunSignals:
        RunSignals.current = None
        RunSignals.holding = False
        if threading.current_thread() is threading.main_thread():
            for signum in self.STATUS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        RunSignals.current = None

    def _handle(self, signum: int, frame: object) -> None:
        self.received = signum
        RunSignals.current = signum
        if RunSignals.holding:
            # Raised between the manifest and the state's publication, the stop left a
            # committed run whose state version the clean-up then deleted (review 107).
            log.warning(
                "%s received during the commit: the commit is finished first",
                signal.Signals(signum).name,
            )
            return
        # A multi-process local run: its workers end now (pipeline/workers.py), and what
        # Beam's threads and logs report about them is the stop, not an error.
        from newsbeam.pipeline.workers import quiet_beam_logs, stop_worker_processes

        threading.excepthook = lambda args: None
        quiet_beam_logs()
        stop_worker_processes()
        raise self.exception()

    def exception(self) -> BaseException:
        """What the signal received raises: KeyboardInterrupt for SIGINT, else Terminated."""
        return stop_exception(self.received)

    @classmethod
    def check(cls) -> None:
        """Raise the stop the run in progress received, if its exception was lost. Python
        only prints `Exception ignored in: ...` for an exception raised where nothing can
        take it (an at-fork callback, a `__del__`, a weakref callback) and goes on: measured,
        a SIGTERM met in logging's at-fork callback as the run forked a process (its worker
        processes, its report process), and the run committed and exited 0. The run asks
        before it commits."""
        if cls.current is not None:
            raise stop_exception(cls.current)

    @classmethod
    @contextlib.contextmanager
    def committing(cls) -> Iterator[None]:
        """Hold SIGINT/SIGTERM while a run commits (its files moved, its manifest, its
        state published): a stop that arrives then is remembered (`current`) and obeyed
        once the run has committed. The commit is short (milliseconds locally; each call to
        an object store is bounded by --store_retry_seconds), and a stop inside it would
        leave what a SIGKILL leaves there at best, at worst the commit's clean-up undoing
        half of it. SIGKILL still ends it anywhere (the next run finishes the commit)."""
        cls.holding = True
        try:
            yield
        finally:
            cls.holding = False

    def exit_status(self, error: BaseException | None = None) -> int | None:
        """130 or 143 once a signal arrived, else None. `error`: what the stop raised
        (passes committed before it: `committed_words`)."""
        if self.received is None:
            return None
        name = "interrupted" if self.received == signal.SIGINT else "terminated"
        print(f"newsbeam: {name}; {committed_words(error)}", file=sys.stderr)
        return self.STATUS[self.received]


# The attribute a run's exception carries when part of the command committed (passes).
COMMITTED = "newsbeam_committed"
NOTHING_COMMITTED = "nothing was committed; the dataset and state are as they were"


def committed_words(error: BaseException | None) -> str:
    """What a failed or stopped command committed: nothing, or (--max_files_per_run) the
    passes before the one that failed (pipeline/passes.py puts them on the exception).
    Before review 108 a stop in pass 3 said "nothing was committed; the dataset and state
    are as they were" of a command whose passes 1-2 had committed and moved the state."""
    return str(getattr(error, COMMITTED, None) or NOTHING_COMMITTED)


def stop_exception(signum: int | None) -> BaseException:
    """KeyboardInterrupt for SIGINT, else Terminated."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()
