"""One run at a time per --output and per --state: a lock file beside each folder.

The lock of a folder DIR is the file `.DIR-NAME.newsbeam.lock` beside it (in DIR's parent, so
the swap that replaces DIR never touches it). It holds JSON: host, pid, a random token, the
start time, the last heartbeat and the time it expires (`heartbeat + ttl`).

- Taking it is one exclusive create of the complete file (`create_whole`: written under a
  name of its own, then hard-linked to the lock's name): of two runs, exactly one succeeds.
  The other reads the holder and refuses to start (`LockHeld`, exit 2).
- While the run goes on, a daemon thread rewrites the heartbeat every `ttl / 4` seconds
  (write a temporary file, then an atomic rename), after checking the token is still its own.
- A lock is stale, and is taken over, when its owner is a process of this host that no
  longer exists (SIGKILL, power loss with the same boot; a zombie not yet reaped; a later
  process that was given its pid: the lock records the owner's PID namespace and start
  time), or when its heartbeat expired (an owner on another host, in another container with
  this host name, or a frozen one). A crashed run therefore blocks the next run for
  at most `ttl` (default 5 minutes) when it ran elsewhere, and not at all on the same host.
- Taking over renames the stale file to a unique name first (only one contender's rename
  can succeed on a given file), checks the renamed file is the stale one it read (else it
  puts it back), then creates the lock exclusively as above.
- Before the commit the run checks it still holds both locks (`RunLock.check`): a run whose
  lock was taken over (frozen past its ttl) stops instead of committing over the other.

On object stores (the s3:// and gs:// outputs to come) the same protocol needs a
create-if-absent write: GCS's `ifGenerationMatch=0` and S3's `If-None-Match: *` conditional
PUT give it; Beam's FileSystems does not expose either yet, so this module uses the local
filesystem (os.open with O_EXCL, os.replace) and says so here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("newsbeam")

DEFAULT_TTL_SECONDS = 300.0


class LockHeld(Exception):
    """Another run holds the lock (the message names the holder)."""


def lock_path(target: Path) -> Path:
    """The lock file of the folder `target` (beside it, never inside it)."""
    return target.parent / f".{target.name}.newsbeam.lock"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def process_identity(pid: int) -> str | None:
    """What tells a process from a later one with its pid (Linux: its PID namespace and its
    start time in clock ticks since boot), "zombie" for one that ended and is not yet
    reaped, None where it is gone or /proc does not say."""
    namespace = pid_namespace()  # a pid names a process of this namespace (its /proc)
    if namespace is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):
        return "zombie"
    return f"{namespace} {int(fields[19])}"


def pid_namespace() -> str | None:
    """This process's PID namespace (None where /proc does not say): a lock holder's pid
    names a process of its own namespace only."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def pid_alive(pid: int, identity: str | None = None) -> bool:
    """Whether the process `pid` still runs: one that ended unreaped (a zombie) does not,
    nor, when the lock recorded its `identity`, a later process given the same pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process: alive
    now = process_identity(pid)
    if now == "zombie":
        return False
    return identity is None or now is None or now == identity


def is_stale(
    holder: dict[str, Any],
    now: dt.datetime,
    host: str,
    alive: Any = pid_alive,
) -> bool:
    """Whether the lock content `holder` is stale: its process is gone (same host and, when
    the holder recorded it, the same PID namespace), its heartbeat expired, or it is
    unreadable (a run killed while writing it). A holder in another PID namespace (another
    container with this host name) cannot be checked: only its heartbeat tells."""
    try:
        expires = dt.datetime.fromisoformat(holder["expires_at"])
        pid = int(holder["pid"])
        holder_host = str(holder["host"])
        identity = holder.get("process")
        identity = str(identity) if identity is not None else None
    except (KeyError, TypeError, ValueError):
        return True
    if now >= expires:
        return True
    if holder_host != host:
        return False
    if identity is not None and identity.split(" ")[0] != pid_namespace():
        return False
    return not alive(pid, identity)


def describe(holder: dict[str, Any]) -> str:
    """The holder, for the refusal message."""
    return (
        f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}, started at "
        f"{holder.get('started_at', '?')}, last heartbeat {holder.get('heartbeat_at', '?')}"
    )


def held(target: Path) -> bool:
    """Whether a live run holds the lock of the folder `target` now (a stale lock, as a
    killed run leaves it, is not held)."""
    holder = _read(lock_path(target))
    return holder is not None and not is_stale(holder, _now(), socket.gethostname())


def _read(path: Path) -> dict[str, Any] | None:
    """The lock's content; None when there is no lock, {} when it is unreadable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        content = json.loads(text)
    except ValueError:
        return {}
    return content if isinstance(content, dict) else {}


def write_new(path: Path, text: str) -> None:
    """Write `text` into a new file `path`, never through a link. The lock's folder may be
    shared (a group's folder, /tmp) and the name of a run's next file is known to anyone who
    can read its lock (it holds the token): a symbolic link planted under that name made
    the heartbeat write the lock's JSON into whatever file the link named, with this
    process's rights. Whatever holds the name is removed (unlinking a link removes the link
    only), then the file is created exclusively: a name planted again in between fails the
    create (FileExistsError), and no write follows a link."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, 0o644), "w") as handle:
        handle.write(text)


def create_whole(path: Path, text: str, token: str) -> bool:
    """Create the file `path` holding `text`; False when it exists. The text is written to
    a file of this run's own first and then hard-linked to `path` (a link fails when the
    name exists), so `path` appears complete: a lock created empty and written after was,
    to a run reading it in between, unreadable and so stale, and was taken over from a live
    run (or left empty for good by a full disk). Where hard links are not supported, an
    exclusive create and a write, as before."""
    fresh = path.with_name(f"{path.name}.{token}")
    try:
        write_new(fresh, text)
        try:
            os.link(fresh, path)
        except FileExistsError:
            return False
        except OSError:  # no hard links on this filesystem (some network and FUSE ones)
            try:
                with open(path, "x") as handle:
                    handle.write(text)
            except FileExistsError:
                return False
        return True
    finally:
        fresh.unlink(missing_ok=True)


@dataclasses.dataclass
class _Lock:
    target: Path
    path: Path
    content: dict[str, Any]


class RunLock:
    """The locks of one run on its folders (output, and state when given)."""

    def __init__(self, targets: Sequence[Path], ttl: float = DEFAULT_TTL_SECONDS) -> None:
        self.ttl = ttl
        self.host = socket.gethostname()
        self.token = uuid.uuid4().hex
        self.started = _now()
        # Sorted, so two runs on the same pair always take them in the same order.
        self.targets = sorted(set(targets))
        self._held: list[_Lock] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    def _content(self) -> dict[str, Any]:
        now = _now()
        return {
            "host": self.host,
            "pid": os.getpid(),
            "process": process_identity(os.getpid()),
            "token": self.token,
            "started_at": self.started.isoformat(),
            "heartbeat_at": now.isoformat(),
            "expires_at": (now + dt.timedelta(seconds=self.ttl)).isoformat(),
        }

    def acquire(self) -> None:
        """Take every lock, or none: LockHeld naming the holder when one is held."""
        try:
            for target in self.targets:
                self._held.append(self._take(target))
        except BaseException:
            self.release()
            raise
        self._thread = threading.Thread(target=self._beat, name="newsbeam-lock", daemon=True)
        self._thread.start()

    def _take(self, target: Path) -> _Lock:
        path = lock_path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a take-over can lose a race once or twice; never loops forever
            content = self._content()
            if create_whole(path, json.dumps(content), self.token):
                return _Lock(target, path, content)
            holder = _read(path)
            if holder is None:
                continue  # released meanwhile: try again
            if not is_stale(holder, _now(), self.host):
                raise LockHeld(
                    f"{target} is in use by another NewsBeam run ({describe(holder)}); "
                    f"wait for it to finish (if that run is surely gone, remove {path})"
                )
            self._break(path, holder)
        raise LockHeld(f"{target}: could not take its lock {path} (other runs contending)")

    def _break(self, path: Path, stale: dict[str, Any]) -> None:
        """Move a stale lock out of the way, unless someone replaced it meanwhile."""
        aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:12]}")
        try:
            path.rename(aside)
        except FileNotFoundError:
            return
        moved = _read(aside)
        if moved != stale and moved:
            # A fresh lock was taken between our read and our rename: give it back.
            with contextlib.suppress(OSError):
                os.link(aside, path)
        else:
            log.warning("took over the lock of a run that is gone (%s)", describe(stale))
        aside.unlink(missing_ok=True)

    def _beat(self) -> None:
        failing: set[Path] = set()  # locks whose last renewal failed (said once each)
        while not self._stop.wait(self.ttl / 4):
            with self._mutex:
                for lock in self._held:
                    if _read(lock.path) != lock.content:
                        log.error("the lock %s was taken over by another run", lock.path)
                        continue
                    # A folder made read-only, full or unmounted under a run ended this
                    # thread with a traceback, and with it every later heartbeat: the
                    # lock expired while the run went on (another host could take it).
                    # Tried again at each beat; the run meets the failure where it writes.
                    try:
                        self._renew(lock)
                    except OSError as error:
                        if lock.path not in failing:
                            # The one early sign of a folder gone read-only, full or
                            # unmounted: say what it means for the run (review 55).
                            log.warning(
                                "could not renew the lock %s (%s): the run goes on, and its "
                                "commit will fail unless the folder is writable by then",
                                lock.path,
                                error,
                            )
                        failing.add(lock.path)
                    else:
                        if lock.path in failing:
                            log.warning("renewed the lock %s again", lock.path)
                        failing.discard(lock.path)

    def _renew(self, lock: _Lock) -> None:
        content = self._content()
        fresh = lock.path.with_name(f"{lock.path.name}.{self.token}")
        try:
            write_new(fresh, json.dumps(content))
            os.replace(fresh, lock.path)
        except OSError:
            with contextlib.suppress(OSError):
                fresh.unlink()
            raise
        lock.content = content

    def check(self) -> None:
        """LockHeld unless this run still holds every lock (call before committing)."""
        with self._mutex:
            for lock in self._held:
                if _read(lock.path) != lock.content:
                    holder = _read(lock.path) or {}
                    raise LockHeld(
                        f"{lock.target}: this run's lock was taken over ({describe(holder)}); "
                        "nothing was committed"
                    )

    def release(self) -> None:
        """Stop the heartbeat and remove the locks this run still holds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._mutex:
            for lock in self._held:
                if _read(lock.path) == lock.content:
                    lock.path.unlink(missing_ok=True)
            self._held.clear()


@contextlib.contextmanager
def locked(targets: Sequence[Path], ttl: float = DEFAULT_TTL_SECONDS) -> Iterator[RunLock]:
    """Hold the locks of `targets` for the block; LockHeld when another run holds one."""
    lock = RunLock(targets, ttl)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
