"""Heavy read-only objects (models, lexicons, language profiles) loaded once per process.

A DoFn's setup() runs again for every pipeline a process runs: follow mode
(pipeline/follow.py) runs one pipeline per micro-batch in one process, and without this
cache each batch would load the topic model, the gazetteer and langdetect's profiles again
(~3 s on this machine). `load_once(name, key, load)` returns the object loaded for that
name and key (a config: frozen, hashable) earlier in this process, or loads it.

Why not `apache_beam.utils.shared.Shared`: its process-wide map keeps only the object
acquired last alive once no DoFn holds the others, so between two pipelines all but one
of the three loads would be collected and paid again. This cache keeps one object per
name (the latest key: a changed config replaces it, so memory stays bounded). The objects
must not change after loading: every DoFn instance of the process, in any thread, shares
them (as with Shared).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
P = TypeVar("P", bound=Hashable)

_LOCK = threading.Lock()
# name -> (key, object); a lock per name so two threads never load the same thing twice.
_LOADED: dict[str, tuple[Hashable, Any]] = {}
_NAME_LOCKS: dict[str, threading.Lock] = {}
# name -> {part key: object}: the parts of one thing loaded piece by piece (load_parts).
_PARTS: dict[str, dict[Hashable, Any]] = {}
# Loads under way in this process (threads), and whether the collector ran before the first.
_pauses = 0
_resume = False


def load_once(name: str, key: Hashable, load: Callable[[], T]) -> T:
    """The object `load()` made for (`name`, `key`) earlier in this process, else a new one
    (which then replaces any other key's object under `name`)."""
    with _LOCK:
        name_lock = _NAME_LOCKS.setdefault(name, threading.Lock())
    with name_lock:
        found = _LOADED.get(name)
        if found is not None and found[0] == key:
            return found[1]
        with collector_paused():
            value = load()
        _LOADED[name] = (key, value)
        return value


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the block runs (threads may nest; the
    last one out turns it back on if it was on). A model load allocates hundreds of
    thousands of small lists and dicts, and each of them counts towards the next collection,
    which in a worker holding Beam walks a large heap: langdetect's profiles load in ~0.18 s
    instead of ~0.24 s in a fresh worker, 0.16 s instead of 0.27 s with more on the heap
    (benchmarks/README.md). The objects are the same."""
    global _pauses, _resume
    with _LOCK:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _LOCK:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


def load_parts(name: str, parts: Sequence[P], load: Callable[[P], T]) -> list[T]:
    """The objects for `parts` (hashable descriptions, e.g. a file's name and size), in
    their order: those loaded for the same part earlier in this process, `load(part)` for
    the others. Parts no longer asked for are dropped, so memory follows the last call.
    For state that changes a piece at a time: follow mode's next batch reads a state
    version that keeps most of the previous one's files (support/state_index.py)."""
    with _LOCK:
        name_lock = _NAME_LOCKS.setdefault(name, threading.Lock())
    with name_lock:
        held = _PARTS.get(name, {})
        loaded: dict[Hashable, Any] = {
            part: held[part] if part in held else load(part) for part in dict.fromkeys(parts)
        }
        _PARTS[name] = loaded
        return [loaded[part] for part in parts]


def forget(name: str | None = None) -> None:
    """Drop the object loaded under `name` (None: all of them); for tests and memory."""
    with _LOCK:
        if name is None:
            _LOADED.clear()
            _PARTS.clear()
        else:
            _LOADED.pop(name, None)
            _PARTS.pop(name, None)
