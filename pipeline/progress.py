"""What a running command shows: a progress bar on a terminal, log lines elsewhere.

The pipeline's taps (newsbeam.transforms.support.progress) count documents read, documents through
the language stage, and rows of each table into a local folder; a thread here sums them
while the pipeline runs. On a terminal, tqdm draws one bar; otherwise (cron, systemd) an
INFO line goes to the log every `log_every` seconds.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from types import TracebackType

from newsbeam.transforms.support.progress import read_progress

log = logging.getLogger("newsbeam")

# The taps build.py adds, in the order of the flow.
READ, PROCESSED = "read", "processed"
TABLES = ("articles", "duplicates", "rejected")


def progress_line(
    totals: dict[str, int], seconds: float, before: dict[str, int] | None = None
) -> str:
    """`read 120, processed 100, done 90 (articles 80, duplicates 6, rejected 4), 9.1 docs/s`.

    Rows are written once copies, stories and tags are found over the whole batch: until
    then `done` stays 0 (for many minutes on 100,000 items), so the rate is of the documents
    processed, and once reading has stopped (the counts as in `before`, the previous line's)
    with every document read past the language stage, the line says what the run is doing
    instead of a rate of 0.0 (review 60)."""
    done = sum(totals.get(table, 0) for table in TABLES)
    read, processed = totals.get(READ, 0), totals.get(PROCESSED, 0)
    tables = ", ".join(f"{table} {totals.get(table, 0)}" for table in TABLES)
    line = f"read {read}, processed {processed}, done {done} ({tables})"
    if done:
        return f"{line}, {done / seconds if seconds > 0 else 0.0:.1f} docs/s"
    rate = f"{processed / seconds if seconds > 0 else 0.0:.1f} docs/s processed"
    still = before is not None and (before.get(READ), before.get(PROCESSED)) == (read, processed)
    # Documents rejected before the language stage are never `processed`: most is all.
    if still and read and processed >= _MOST_PROCESSED * read:
        return f"{line}; finding copies and stories over the whole batch, rows next"
    return f"{line}, {rate}"


# The share of the documents read past the language stage from which a batch is taken to be
# in its whole-batch stages (extraction and cleaning reject some: they never get there).
_MOST_PROCESSED = 0.95


class ProgressDisplay:
    """A context manager that shows the run's progress until it exits."""

    def __init__(self, folder: str, terminal: bool | None = None, log_every: float = 30.0) -> None:
        self._folder = folder
        self._terminal = sys.stderr.isatty() if terminal is None else terminal
        self._log_every = log_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="newsbeam-progress", daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> ProgressDisplay:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        if self._terminal:
            self._draw_bar()
        else:
            before: dict[str, int] | None = None
            while not self._stop.wait(self._log_every):
                totals = read_progress(self._folder)
                seconds = time.monotonic() - self._started
                log.info("progress: %s", progress_line(totals, seconds, before))
                before = totals

    def _draw_bar(self) -> None:
        from tqdm import tqdm

        with tqdm(desc="documents done", unit="doc", file=sys.stderr, leave=False) as bar:
            while not self._stop.wait(0.5):
                totals = read_progress(self._folder)
                done = sum(totals.get(table, 0) for table in TABLES)
                bar.update(done - bar.n)
                bar.set_postfix_str(
                    f"read {totals.get(READ, 0)}, processed {totals.get(PROCESSED, 0)}, "
                    + ", ".join(f"{t} {totals.get(t, 0)}" for t in TABLES),
                    refresh=False,
                )
