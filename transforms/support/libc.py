"""The C library the interpreter runs on, and the calls NewsBeam makes through it: glibc
malloc's settings (pipeline/workers.py), handing the heap's freed pages back (the stories
step, `give_back_freed`), a worker's parent-death signal. One handle and one rule where a
C library lacks a call (not glibc, not Linux): nothing changes and the call says False.
In transforms/ because a stage calls it: the pipeline imports the stages, never back."""

from __future__ import annotations

import ctypes

# What looking up the C library or its function can raise where there is none to find
# (Windows has no CDLL(None): TypeError).
NO_LIBC = (OSError, AttributeError, TypeError)


def handle() -> ctypes.CDLL:
    """The C library the interpreter runs on (its symbols are the process's own: no search
    of the library path, which runs `ldconfig -p` in a child process)."""
    return ctypes.CDLL(None)


def mallopt(*settings: tuple[int, int]) -> bool:
    """glibc's `mallopt(parameter, value)` for each setting; False where the C library has
    no mallopt (nothing changed) or refused one."""
    try:
        call = handle().mallopt
    except NO_LIBC:
        return False
    call.argtypes, call.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(call(parameter, value) == 1 for parameter, value in settings)


def give_back_freed() -> bool:
    """Hand the heap's free pages back to the system (glibc's malloc_trim); False where the
    C library has none. The clustering's temporaries freed into the heap stayed resident
    for the rest of the run: glibc had raised its mmap and trim thresholds to the largest
    block freed, so the next stage grew on top of them. Traced at 20,000 lines (review 92),
    in-process: RSS 788 MB after the clustering, 845 at the next stage's peak (the run's);
    trimmed, 668 and 760 (peak 793, the clustering's own). One call a run: ~ms."""
    try:
        trim = handle().malloc_trim
    except NO_LIBC:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
