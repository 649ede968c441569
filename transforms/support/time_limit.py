"""Time limits on a page's work, in any thread of a Beam worker.

`with time_limit(30): ...` raises `TimeLimitExceeded` in the thread that runs past it, at
its next Python instruction. `in_child(f, x, 30)` runs `f(x)` in a forked child process
and kills it at the limit: the one bound on a single long C call, which no exception
interrupts (libxml2's XPath `//p//text()` over a paragraph of 20,000 inline elements ran
11 s in one call).

Why a watchdog thread and not a signal: Beam runs a DoFn in whatever thread its worker
chooses (the SDK harness runs bundles in a thread pool, never the main thread, and a
signal's handler runs only in the main thread), and a child process per page would cost
more than the page. One daemon thread per process keeps the deadlines of the threads that
armed one and, past a deadline, raises the exception in that thread
(`PyThreadState_SetAsyncExc`), which sees it at its next Python instruction: trafilatura's
extraction is Python code over lxml, so it stops within milliseconds. A single C call (lxml
parsing a page) cannot be interrupted: the bounds on a page's bytes and tags keep those short.

`TimeLimitExceeded` is a BaseException, so that the libraries' own `except Exception`
guards do not swallow it; a thread still armed a second after it was raised gets it again
(a bare `except:` that swallowed it once), and a block that ends after swallowing it
raises it as it ends. Arming and disarming cost a lock and a dict
update, about a microsecond: the watchdog is woken only by a deadline earlier than the one
it waits for.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

_T = TypeVar("_T")

# How long after raising it the watchdog raises the exception again in a thread that is
# still inside its limit (it was swallowed).
_AGAIN_SECONDS = 1.0


class TimeLimitExceeded(BaseException):
    """The code under `time_limit` ran past its limit (a BaseException: see the module)."""


class _Watchdog:
    def __init__(self) -> None:
        self.wake = threading.Condition(threading.Lock())
        # thread id -> (deadline on the monotonic clock, token of that arming)
        self.armed: dict[int, tuple[float, int]] = {}
        self.fired: set[int] = set()  # tokens whose thread was sent the exception
        self.waiting_until = float("inf")  # the deadline the watchdog sleeps towards
        self.thread: threading.Thread | None = None

    def arm(self, thread: int, deadline: float, token: int) -> None:
        with self.wake:
            self.armed[thread] = (deadline, token)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._watch, name="newsbeam-time-limit", daemon=True
                )
                self.thread.start()
            elif deadline < self.waiting_until:
                self.wake.notify()

    def disarm(self, thread: int, token: int) -> bool:
        """Whether the exception was sent to this arming; a sent one not yet raised in the
        thread is withdrawn (the code finished first)."""
        with self.wake:
            if self.armed.get(thread, (0.0, token))[1] == token:
                self.armed.pop(thread, None)
            if token not in self.fired:
                return False
            self.fired.discard(token)
        _send(thread, None)
        return True

    def _watch(self) -> None:
        with self.wake:
            while True:
                now = time.monotonic()
                soonest = float("inf")
                for thread, (deadline, token) in list(self.armed.items()):
                    if deadline <= now:
                        self.fired.add(token)
                        _send(thread, TimeLimitExceeded)
                        deadline = now + _AGAIN_SECONDS
                        self.armed[thread] = (deadline, token)
                    soonest = min(soonest, deadline)
                self.waiting_until = soonest
                self.wake.wait(None if soonest == float("inf") else soonest - now)


def _send(thread: int, exception: type[BaseException] | None) -> None:
    """Raise `exception` in `thread` at its next Python instruction (None: withdraw one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), ctypes.py_object(exception) if exception else None
    )


_WATCHDOG = _Watchdog()
_TOKENS = itertools.count()


def _after_fork() -> None:
    # A forked child (the worker template forks Beam's workers) has no watchdog thread, and
    # the parent's lock may have been held at the fork.
    global _WATCHDOG
    _WATCHDOG = _Watchdog()


os.register_at_fork(after_in_child=_after_fork)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimitExceeded in this thread once the block has run `seconds` (0 or less:
    no limit). Limits do not nest: an inner one replaces the outer for the rest of it."""
    if seconds <= 0:
        yield
        return
    thread, token = threading.get_ident(), next(_TOKENS)
    _WATCHDOG.arm(thread, time.monotonic() + seconds, token)
    try:
        yield
    finally:
        fired = _WATCHDOG.disarm(thread, token)
    # Sent while a long C call ran, the exception was withdrawn when the block ended before
    # the thread saw it: the block still ran past its limit (a page's result depended on
    # where its last C call ended).
    if fired:
        raise TimeLimitExceeded


# A child's answer is pickled through a pipe: read it this much at a time.
_CHUNK = 1 << 20


class ChildFailed(RuntimeError):
    """The child of `in_child` ended without an answer (a crash, a signal)."""


def can_fork() -> bool:
    return hasattr(os, "fork")


def in_child(function: Callable[[Any], _T], argument: Any, seconds: float) -> _T:
    """`function(argument)` computed in a forked child process that is killed (SIGKILL) once
    it has run `seconds`: then TimeLimitExceeded. The child's exception is raised here (if
    it pickles; else ChildFailed naming it), and ChildFailed when it ended with no answer.

    A fork costs a few milliseconds and starts with everything the worker has loaded; the
    child writes its answer and leaves by `os._exit`, running none of the parent's exit
    handlers. Beam counters the child increments are lost with it."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer, then leave whatever happens
        try:
            os.close(read_end)
            try:
                answer = pickle.dumps((True, function(argument)))
            except BaseException as error:  # noqa: BLE001 (handed to the parent as it is)
                try:
                    answer = pickle.dumps((False, error))
                except Exception:  # an exception that does not pickle: its words
                    answer = pickle.dumps((False, ChildFailed(repr(error))))
            view = memoryview(answer)
            while view:
                view = view[os.write(write_end, view) :]
        finally:
            os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                raise TimeLimitExceeded
            chunk = os.read(read_end, _CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)  # answered or killed: reaped at once, no zombie left
    if not chunks:
        raise ChildFailed("the child process ended without an answer (killed or crashed)")
    ok, value = pickle.loads(b"".join(chunks))
    if not ok:
        raise value
    return value
