"""One temporary folder per `newsbeam` process, and the sweep of those of killed processes.

A run makes temporary files and folders as it goes: the progress taps
(`newsbeam-progress-*`), the report's (`newsbeam-report-*`), the worker template's socket
(`newsbeam-workers-*`), the workers' options (`newsbeam-worker-*.json`), the passes' state
(`newsbeam-passes-*`) and Beam's own (`beam-pipeline-temp*`, a job server's `beam-temp*`).
Each is removed as the run ends, failed or interrupted too; a process killed outright
(SIGKILL: the OOM killer, systemd's or Kubernetes' last resort after a stop timed out)
removes nothing, and on a scheduled machine what each such run left piled up in $TMPDIR.

So the command runs inside a folder of its own, `$TMPDIR/newsbeam-run-XXXXXXXX`
(`own_folder`): $TMPDIR and Python's `tempfile` point into it for the whole command, so
everything above, its child processes' included, lands there, and the folder goes as the
command ends. The folder holds `owner.json` (host, pid and the process's identity:
`lock.process_identity`, PID namespace and start time), and each command first sweeps the
folders of processes that are gone (`sweep`). A folder is swept only when its owner is
known and surely gone: a process of this host and PID namespace that no longer runs (not
one given its pid since). Another host's (a shared $TMPDIR), another PID namespace's
(another container), an unreadable owner file or one not written yet are left alone.
Nothing here fails a run: where no folder can be made, the command runs without one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from newsbeam.pipeline import lock

log = logging.getLogger("newsbeam")

PREFIX = "newsbeam-run-"
OWNER = "owner.json"
# Where a folder is made before its owner file is in it: the sweep never sees it half made.
_MAKING = ".newsbeam-run-making-"

_TEMP_VARIABLES = ("TMPDIR", "TEMP", "TMP")


def owner_record(pid: int, host: str, identity: str | None) -> dict[str, Any]:
    """What `owner.json` holds for the process `pid`."""
    return {"host": host, "pid": pid, "process": identity}


def is_leftover(
    owner: dict[str, Any] | None,
    host: str,
    namespace: str | None,
    alive: Callable[[int, str | None], bool],
) -> bool:
    """Whether a folder whose owner file says `owner` (None: missing or unreadable) was left
    by a process that is gone: of this `host`, of this PID `namespace` when the owner
    recorded one, and not `alive` (given its pid and identity)."""
    if not owner:
        return False  # not ours to judge (being made, or someone else's)
    try:
        pid = int(owner["pid"])
        owner_host = str(owner["host"])
    except (KeyError, TypeError, ValueError):
        return False
    identity = owner.get("process")
    identity = str(identity) if identity is not None else None
    if owner_host != host:
        return False
    if identity is not None and identity.split(" ")[0] != namespace:
        return False  # another container's pid: it cannot be checked from here
    return not alive(pid, identity)


def _read_owner(folder: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(folder, OWNER), encoding="utf-8") as handle:
            owner = json.load(handle)
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def sweep(parent: str, host: str | None = None) -> list[str]:
    """Remove the run folders in `parent` whose process is gone (`is_leftover`); their
    paths. Never raises: a folder that cannot be listed or removed stays."""
    host = socket.gethostname() if host is None else host
    namespace = lock.pid_namespace()
    removed: list[str] = []
    try:
        names = sorted(name for name in os.listdir(parent) if name.startswith(PREFIX))
    except OSError:
        return removed
    for name in names:
        folder = os.path.join(parent, name)
        if is_leftover(_read_owner(folder), host, namespace, lock.pid_alive):
            shutil.rmtree(folder, ignore_errors=True)
            if not os.path.exists(folder):
                removed.append(folder)
    return removed


def make_folder(parent: str) -> str:
    """A new run folder in `parent` with its owner file, made under another name first and
    renamed whole (OSError where it cannot be made)."""
    making = tempfile.mkdtemp(prefix=_MAKING, dir=parent)
    try:
        pid = os.getpid()
        record = owner_record(pid, socket.gethostname(), lock.process_identity(pid))
        with open(os.path.join(making, OWNER), "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        folder = os.path.join(parent, PREFIX + os.path.basename(making)[len(_MAKING) :])
        os.rename(making, folder)
    except OSError:
        shutil.rmtree(making, ignore_errors=True)
        raise
    return folder


# Matplotlib (the report) keeps its settings and font list in ~/.config/matplotlib. Where
# that cannot be written (a container's read-only root filesystem and HOME=/, a service
# user's /nonexistent) it made a temporary one itself and logged two WARNING lines on every
# run, telling the operator to set this variable: the run's folder is one already.
MATPLOTLIB_VARIABLE = "MPLCONFIGDIR"


def matplotlib_needs_a_folder(environ: Mapping[str, str]) -> bool:
    """Whether matplotlib would find no writable settings folder of its own under
    `environ` (none named by MPLCONFIGDIR; $XDG_CONFIG_HOME/matplotlib or
    ~/.config/matplotlib not a folder this process can make and write in)."""
    if environ.get(MATPLOTLIB_VARIABLE):
        return False
    xdg = environ.get("XDG_CONFIG_HOME", "")
    home = environ.get("HOME") or os.path.expanduser("~")
    folder = os.path.join(
        xdg if os.path.isabs(xdg) else os.path.join(home, ".config"), "matplotlib"
    )
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return True
    return not os.access(folder, os.W_OK | os.X_OK)


class _Current:
    """The process's run folder and what $TMPDIR and `tempfile` were before it."""

    folder: str | None = None
    pid: int | None = None
    saved: dict[str, str | None] = {}
    saved_tempdir: str | None = None


def release() -> None:
    """Point $TMPDIR and `tempfile` back and remove this process's run folder (nothing in a
    child process that inherited it, nor a second time). For the exits that skip `finally`
    blocks (`os._exit` after an interrupt), as well as `own_folder`'s end."""
    folder = _Current.folder
    if folder is None or _Current.pid != os.getpid():
        return
    _Current.folder = None
    for name, value in _Current.saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    tempfile.tempdir = _Current.saved_tempdir
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def own_folder() -> Iterator[str | None]:
    """Sweep what killed runs left in the temporary folder, then run the body with $TMPDIR
    (and `tempfile`) in a new run folder of this process, removed at the end; the folder,
    or None where none could be made (the body then runs as it would without)."""
    if _Current.folder is not None and _Current.pid == os.getpid():
        yield _Current.folder  # nested (a command run by a command): one folder
        return
    saved_tempdir = tempfile.tempdir  # before gettempdir, which sets it
    try:
        parent = tempfile.gettempdir()
        for gone in sweep(parent):
            log.info("removed %s, left by a NewsBeam run that was killed", gone)
        folder = make_folder(parent)
    except OSError as error:  # no usable temporary folder, a full or read-only disk
        log.debug("no run folder in the temporary folder: %s", error)
        yield None
        return
    _Current.folder, _Current.pid = folder, os.getpid()
    _Current.saved = {name: os.environ.get(name) for name in _TEMP_VARIABLES}
    _Current.saved_tempdir = saved_tempdir
    for name in _TEMP_VARIABLES:  # child processes (the workers) make theirs here too
        if name == "TMPDIR" or name in os.environ:
            os.environ[name] = folder
    if matplotlib_needs_a_folder(os.environ):
        _Current.saved[MATPLOTLIB_VARIABLE] = None
        os.environ[MATPLOTLIB_VARIABLE] = os.path.join(folder, "matplotlib")
    tempfile.tempdir = folder
    try:
        yield folder
    finally:
        release()
