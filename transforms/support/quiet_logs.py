"""NewsBeam's own calls into trafilatura and htmldate, without their log lines.

Each page they cannot use is already a rejected row with its reason (or an article), so
their per-page lines ("parsed tree length: 0, wrong data type or not valid HTML", at ERROR,
on a third of some crawls' files) would only flood a run's log. The extraction stage once
set those libraries' loggers to CRITICAL in its `setup()`: process-wide, so a library
user's own logging of trafilatura, in their own code and in every process that ran the
stage, was changed for good. Now only the records made while NewsBeam's own extraction
runs on this thread are dropped (a filter on those loggers, consulted for the records made
on them); their levels stay the user's, and the user's own calls log as the user set.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Iterator

QUIET_LIBRARIES = ("trafilatura", "htmldate")


class _Local(threading.local):
    depth = 0  # how many quiet() blocks this thread is in


_local = _Local()


class _DuringOwnCalls(logging.Filter):
    """Drops a record made on this thread inside `quiet()`, keeps any other."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _local.depth == 0


FILTER = _DuringOwnCalls()
_loggers_seen = -1  # how many loggers existed when the filter was last put on


def is_quieted(name: str) -> bool:
    """Whether a logger of that name is one of the quieted libraries' (or their modules')."""
    return name.split(".", 1)[0] in QUIET_LIBRARIES


def install() -> None:
    """Put the filter on every quieted library's logger that exists (each module has its own:
    a filter on a parent is not consulted for a child's records); again only when new
    loggers were made since, which costs a length check per page."""
    global _loggers_seen
    loggers = logging.Logger.manager.loggerDict
    if len(loggers) == _loggers_seen:
        return
    for library in QUIET_LIBRARIES:  # their modules make their loggers as they are imported
        with contextlib.suppress(ImportError):
            importlib.import_module(library)
    for name, logger in list(loggers.items()):
        if isinstance(logger, logging.Logger) and is_quieted(name) and FILTER not in logger.filters:
            logger.addFilter(FILTER)
    _loggers_seen = len(loggers)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Run the body with the quieted libraries' records of this thread dropped."""
    install()
    _local.depth += 1
    try:
        yield
    finally:
        _local.depth -= 1
