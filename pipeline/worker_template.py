"""Warm SDK worker processes: forked from a template that already has Beam and NewsBeam
imported, instead of each starting a cold interpreter.

Beam's FnApiRunner starts each SDK worker with its worker command (pipeline/workers.py
`worker_command`) and waits on that process. With a template running, the command is a
thin client: it hands its environment (the runner's control address, ...) and its
standard streams to the template over a Unix socket, the template forks a worker that runs
Beam's `sdk_worker_main` with them, and the client waits for that worker, passes on
SIGTERM, and exits with its status. The worker reports its status itself as it leaves, so
the runner does not wait on the kernel tearing down a large process (~40 ms a worker, and
Beam stops its workers one after the other); the template reports it too, for a worker
that ended without a word (killed). The worker is still one of Beam's SDK workers, started
by the runner, with Beam splitting the work between them; what the fork saves is each
worker's imports (~1.3 s of CPU, on the run's critical path).

The template is forked by the runner process once Beam and NewsBeam are imported, before
the pipeline is built and before Beam's runner starts its gRPC servers and threads
(`worker_template`). It warms up while the runner builds and translates the pipeline, on
the core that would otherwise idle: first what needs no config (`warm_ahead` of NewsBeam's
DoFn classes), then the DoFns the runner hands it once the pipeline is built
(`Template.warm`), and only then forks workers. It ends with the run (SIGTERM; SIGKILL
after `STOP_SECONDS` should it not end), and gets SIGTERM if the runner dies (Linux); it and
its workers never return into the runner's code (they leave with `os._exit`, so no
`finally` or `atexit` of the run runs twice). Where the platform has no fork or Unix
sockets, or the template cannot be reached, the client starts a cold worker.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

from newsbeam.pipeline import workers

TEMPLATE_ENV = "NEWSBEAM_WORKER_TEMPLATE"
_HEADER = struct.Struct("!I")
# Templates this process runs (their pids): a stop signal ends them and their workers.
_RUNNING: set[int] = set()
# What a client hears back, one line each: "pid N" (the forked worker, from the template),
# then "exit N" (its status: first from the worker as it leaves, again from the template).
_PID = "pid"
_EXIT = "exit"
# Made in the template's folder by the first worker command that asks for a worker: Beam's
# runner has then translated the pipeline and waits on its workers (`workers_requested`).
_REQUESTED = "requested"


def available() -> bool:
    """Whether this platform forks workers from a template: Linux (fork of a process with
    threads is unsafe on macOS), with Unix sockets that pass file descriptors."""
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds")


# A DoFn with a `warm_up()` method says what of its setup() is safe to run in the template:
# read-only models loaded into the process-wide cache (transforms/support/loaded.py) and
# libraries imported. The template runs it once, so the workers forked from it find the
# models loaded (shared copy-on-write).
WARM_UP = "warm_up"
# A DoFn class with a `warm_ahead()` class method says what of its warm-up it can do before
# it has its config: libraries imported, tables they build once, the default config's
# models (the run's unless its flags changed them; loaded.py keys each model by its config,
# so another config's DoFn loads its own). The template runs it as soon as it is forked,
# while the runner process builds and translates the pipeline, before it is handed the
# DoFns themselves (`Template.warm`).
WARM_AHEAD = "warm_ahead"


def warmable_dofns(pipeline: Any) -> list[Any]:
    """The DoFns of `pipeline`'s ParDos that have a `warm_up()` (unwrapped from the
    rejecting wrapper), one per class and config."""
    import apache_beam as beam

    found: dict[tuple[str, str], Any] = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, applied: Any) -> None:
            fn = getattr(applied.transform, "fn", None)
            fn = getattr(fn, "_fn", fn)  # support/failures.py's _RejectCrashes
            if callable(getattr(fn, WARM_UP, None)):
                found.setdefault((type(fn).__name__, repr(vars(fn))), fn)

        def enter_composite_transform(self, applied: Any) -> None:
            self.visit_transform(applied)

    pipeline.visit(Visitor())
    return list(found.values())


def ahead_warmers() -> list[type]:
    """NewsBeam's DoFn classes imported in this process that have a `warm_ahead()`, in a
    stable order (module, name)."""
    import apache_beam as beam

    found: set[type] = set()
    pending = [beam.DoFn]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                pending.append(sub)
                if sub.__module__.startswith("newsbeam.") and callable(
                    getattr(sub, WARM_AHEAD, None)
                ):
                    found.add(sub)
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


class Template:
    """The runner process's handle on its worker template (`worker_template`)."""

    def __init__(self, folder: str | None = None, ready: int | None = None) -> None:
        self._folder = folder  # None: no template runs (`worker_template` was not enabled)
        self._ready = ready  # a pipe's write end: one byte once the DoFns are written

    @property
    def running(self) -> bool:
        return self._folder is not None

    def warm(self, dofns: list[Any]) -> None:
        """Hand the template the DoFns whose `warm_up()` it runs before it forks a worker
        (`warmable_dofns` of the built pipeline), once; the workers wait for it. Pickled as
        Beam pickles DoFns for its workers, through a file in the template's folder (a
        pipe's buffer could fill and block this process while the template is busy)."""
        if self._folder is None or self._ready is None:  # no template, or handed already
            return
        from apache_beam.internal import pickler

        try:
            with open(os.path.join(self._folder, _DOFNS), "wb") as handle:
                handle.write(pickler.dumps(dofns))
        except Exception:  # noqa: BLE001  (the workers then load what they need themselves)
            logging.getLogger(__name__).debug("warm-up DoFns not handed over", exc_info=True)
        finally:
            with contextlib.suppress(OSError):
                os.write(self._ready, b"1")
            self.close()

    def close(self) -> None:
        """Tell the template nothing more is coming (it then serves without them)."""
        if self._ready is not None:
            with contextlib.suppress(OSError):
                os.close(self._ready)
            self._ready = None


# The file in the template's folder that holds the pickled DoFns to warm up.
_DOFNS = "dofns"


@contextlib.contextmanager
def worker_template(enabled: bool) -> Iterator[Template]:
    """While the block runs, worker commands started by this process fork from a template
    (its address in the environment they inherit).

    The template first runs the `warm_ahead()` of NewsBeam's DoFn classes (`ahead_warmers`),
    then the `warm_up()` of the DoFns it is handed (`Template.warm`, or none once the handle is
    closed), then forks workers. Entered once Beam and the transforms are imported and before the
    pipeline is built, its warm-up runs on another core while this process builds and
    translates the pipeline."""
    listening = _listen() if enabled and available() else None
    if listening is None:
        yield Template()
        return
    server, folder, address = listening
    ready_read, ready_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork in a process with threads: the template's child
        # runs only this thread's code, and never takes a lock those threads hold.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the template: never returns into the run
        status = 1
        try:
            os.close(ready_write)
            _serve(server, folder, ready_read)
        except BaseException:  # noqa: BLE001  (whatever happens, leave here)
            traceback.print_exc()
        finally:
            os._exit(status)
    server.close()
    os.close(ready_read)
    template = Template(folder, ready_write)
    os.environ[TEMPLATE_ENV] = address
    _RUNNING.add(pid)
    try:
        yield template
    finally:
        template.close()
        _RUNNING.discard(pid)
        os.environ.pop(TEMPLATE_ENV, None)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        workers.end_child(pid, STOP_SECONDS)
        shutil.rmtree(folder, ignore_errors=True)


# The longest path a Unix socket binds to (Linux's sun_path: 108 bytes with the final NUL).
_SOCKET_PATH_MAX = 107


def _listen() -> tuple[socket.socket, str, str] | None:
    """The template's listening socket, in a folder of its own (only this user may connect),
    with the folder and the socket's path. The folder is made in the temporary folder, or in
    /tmp where that folder's path is too long for a socket (a deep $TMPDIR: a run there
    failed with "AF_UNIX path too long"). None where no socket can be made: the workers then
    start cold."""
    for parent in (None, "/tmp"):
        try:
            folder = tempfile.mkdtemp(prefix="newsbeam-workers-", dir=parent)
        except OSError:
            continue
        address = os.path.join(folder, "template")
        if len(os.fsencode(address)) <= _SOCKET_PATH_MAX:
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                server.bind(address)
                server.listen(64)
                return server, folder, address
            except OSError:
                server.close()
        shutil.rmtree(folder, ignore_errors=True)
    logging.getLogger(__name__).debug("no socket for a worker template: cold workers")
    return None


# How long a template has, once sent SIGTERM, to end before it is killed: it ends at once
# (its workers with it), but a run must not wait on a template that failed to.
STOP_SECONDS = 5.0


def stop_templates() -> None:
    """SIGTERM to this process's templates, which end their workers (SIGTERM) and exit."""
    for pid in list(_RUNNING):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


def workers_requested() -> bool:
    """Whether the runner in this process has asked its template (`worker_template`) for a
    worker yet: it is then past translating the pipeline, and waits while the template
    finishes warming up and forks the workers (run.py's report preload uses that wait)."""
    address = os.environ.get(TEMPLATE_ENV)
    if not address:
        return False
    return os.path.exists(os.path.join(os.path.dirname(address), _REQUESTED))


def run_client(address: str) -> int | None:
    """The worker command's side: have the template fork a worker with this process's
    environment and streams, wait for it, return its exit status; None when the template
    cannot be reached, or ended before it forked the worker (the caller then starts a cold
    worker: Beam's runner waits for every worker it started to connect, and a worker
    command that ended without one left the run waiting for good)."""
    try:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(address)
    except OSError:
        return None
    with contextlib.suppress(OSError):
        open(os.path.join(os.path.dirname(address), _REQUESTED), "a").close()  # noqa: SIM115
    payload = json.dumps(dict(os.environ)).encode()
    worker: list[int] = []
    stopping: list[int] = []  # a SIGTERM that came before the worker's pid

    def stop(pid: int) -> None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)

    def forward(signum: int, frame: object) -> None:
        stopping.append(signum)
        for pid in worker:
            stop(pid)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        with connection:
            socket.send_fds(connection, [_HEADER.pack(len(payload)) + payload], [0, 1, 2])
            for line in connection.makefile("r"):
                kind, _, value = line.partition(" ")
                if kind == _PID:
                    worker.append(int(value))
                    if stopping:
                        stop(worker[-1])
                elif kind == _EXIT:
                    return int(value)
    except (OSError, ValueError):  # the template ended (the run is stopping, or it failed)
        pass
    if not worker and not stopping:  # it ended before it forked this worker (killed, failed)
        signal.signal(signal.SIGTERM, previous)  # a cold worker ends on SIGTERM as Beam's does
        return None
    return 1  # the template ended before the worker did


# --- the template process ---------------------------------------------------------------


def _serve(server: socket.socket, folder: str, ready: int) -> None:
    """Warm up, then accept clients forever; fork one worker per client."""
    children: dict[int, socket.socket] = {}

    def stop(signum: int, frame: object) -> None:
        for child in list(children):
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGTERM)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    workers.end_with_parent()
    _quiet_logging()
    _fresh_beam_state()
    # What every worker needs, imported once here rather than in each worker.
    from apache_beam.runners.worker import sdk_worker_main  # noqa: F401

    # The heap as forked (Beam, NewsBeam: in use for the run), frozen as it is: the runner
    # forks this with its collector paused (`pause_collector`), and a full collection of
    # everything took ~0.15 s, with the workers waiting.
    gc.freeze()
    for cls in ahead_warmers():
        with contextlib.suppress(Exception):  # a worker imports what it needs itself
            getattr(cls, WARM_AHEAD)()
    for fn in _handed_dofns(folder, ready):
        with contextlib.suppress(Exception):  # a worker whose cache is cold loads it itself
            fn.warm_up()
    # Frozen uncollected too: the warm-up leaves ~350 objects of garbage, and collecting
    # them took ~0.03 s on the way to the workers' first bundle (the runner waits for this).
    workers.freeze_heap(collect=False)
    gc.enable()  # the runner may have forked this with its collector paused (pause_collector)
    while True:
        connection, _ = server.accept()
        try:
            environment, streams = _receive(connection)
        except (OSError, ValueError):
            connection.close()
            continue
        template = os.getpid()
        child = os.fork()
        if child == 0:
            server.close()
            for other in children.values():
                other.close()
            _run_worker(environment, streams, template, connection)  # never returns
        children[child] = connection
        for stream in streams:
            os.close(stream)
        with contextlib.suppress(OSError):
            connection.sendall(f"{_PID} {child}\n".encode())
        threading.Thread(target=_report_exit, args=(child, children), daemon=True).start()


def _handed_dofns(folder: str, ready: int) -> list[Any]:
    """The DoFns the runner process handed over (`Template.warm`), once it has; none when it
    closed the pipe without (the run failed before its pipeline was built)."""
    try:
        if not os.read(ready, 1):
            return []
        from apache_beam.internal import pickler

        with open(os.path.join(folder, _DOFNS), "rb") as handle:
            return list(pickler.loads(handle.read()))
    except Exception:  # noqa: BLE001  (the workers then load what they need themselves)
        return []
    finally:
        os.close(ready)


def _receive(connection: socket.socket) -> tuple[dict[str, str], list[int]]:
    message, streams, _, _ = socket.recv_fds(connection, 1 << 16, 3)
    if len(message) < _HEADER.size or len(streams) != 3:
        for stream in streams:
            os.close(stream)
        raise ValueError("not a worker request")
    (length,) = _HEADER.unpack(message[: _HEADER.size])
    payload = message[_HEADER.size :]
    while len(payload) < length:
        more = connection.recv(length - len(payload))
        if not more:
            raise ValueError("request cut short")
        payload += more
    environment: dict[str, Any] = json.loads(payload)
    return {str(k): str(v) for k, v in environment.items()}, list(streams)


def _report_exit(child: int, children: dict[int, socket.socket]) -> None:
    # SIGTERM must reach the main thread: Python runs its handler (`_serve`'s stop) there,
    # and a signal the kernel handed to this thread would leave it blocked in accept().
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    _, status = os.waitpid(child, 0)
    connection = children.pop(child, None)
    if connection is not None:
        with contextlib.suppress(OSError), connection:
            connection.sendall(f"{_EXIT} {os.waitstatus_to_exitcode(status)}\n".encode())


def _run_worker(
    environment: dict[str, str], streams: list[int], template: int, client: socket.socket
) -> None:
    """A forked SDK worker: the client's streams and environment, then Beam's worker; its
    status goes to the client before the process ends."""
    status = 1
    try:
        for target, stream in enumerate(streams):
            os.dup2(stream, target)
            os.close(stream)
        os.environ.clear()
        os.environ.update(environment)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        workers.end_with_parent()
        if os.getppid() != template:  # the template ended before this could watch it
            return
        from apache_beam.runners.worker import sdk_worker_main

        sdk_worker_main.main([])
        status = 0
    except SystemExit as error:
        status = error.code if isinstance(error.code, int) else 1
    except BaseException:  # noqa: BLE001  (reported, then this process ends)
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            client.sendall(f"{_EXIT} {status}\n".encode())
        os._exit(status)


def _quiet_logging() -> None:
    """The runner's handlers print to its terminal in its format; a worker's logs go to
    the runner through Beam's log service instead (pipeline/workers.py `worker_main`)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(logging.NullHandler())
    for name in list(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        if isinstance(logger, logging.Logger):
            logger.setLevel(logging.NOTSET)
    logging.getLogger("apache_beam.runners.worker.sdk_worker_main").setLevel(logging.ERROR)


def _fresh_beam_state() -> None:
    """Beam's shared thread pool may hold threads of the runner, which a fork does not
    copy: the workers get a pool of their own."""
    from apache_beam.utils import thread_pool_executor

    fresh = thread_pool_executor._SharedUnboundedThreadPoolExecutor()  # noqa: SLF001
    thread_pool_executor._SHARED_UNBOUNDED_THREAD_POOL_EXECUTOR = fresh  # noqa: SLF001
