"""Progress of a running pipeline, for the command's display (not a stage: a tap).

Beam's counters are read after a run; an operator wants to see a long run move. Each tap
counts the elements of one PCollection and, about twice a second, writes its count to a
small JSON file of its own in a local folder; the command sums those files while the
pipeline runs (newsbeam.pipeline.progress). Works in-process and with local worker
processes; on remote workers the folder is not set and no tap is added.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import apache_beam as beam

# How often a tap rewrites its file, seconds: often enough for a display, rarely enough to
# cost nothing per element.
WRITE_EVERY = 0.5


class _CountElements(beam.DoFn):
    def __init__(self, folder: str, name: str) -> None:
        self._folder = folder
        self._name = name

    def setup(self) -> None:
        # One file per DoFn instance: instances never share a file, so no locking.
        self._path = os.path.join(self._folder, f"{self._name}.{uuid.uuid4().hex}.json")
        self._count = 0
        self._written_at = 0.0
        self._file: int | None = None

    def process(self, element: Any) -> None:
        self._count += 1
        if time.monotonic() - self._written_at >= WRITE_EVERY:
            self._write()

    def finish_bundle(self) -> None:
        self._write()

    def teardown(self) -> None:
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def _write(self) -> None:
        self._written_at = time.monotonic()
        try:
            if self._file is None:
                flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)  # Windows' too
                self._file = os.open(self._path, flags, 0o644)
            # Seek and write, not os.pwrite: Windows has none. One writer per file.
            os.lseek(self._file, 0, os.SEEK_SET)
            os.write(self._file, tap_record(self._name, self._count))
        except OSError:  # the display is a nicety; the run must not depend on it
            pass


def tap_record(name: str, count: int) -> bytes:
    """A tap's file content, written over its start in place (`_CountElements._write`).

    In place, not a new file renamed over the old one: on ext4 (auto_da_alloc) a rename
    over a file, like a truncation, starts writing the new file to disk, which a busy disk
    makes the worker wait for (3-4 ms a write measured on a loaded host, against a few us
    for this), and the taps write at every bundle's end. The count only grows, so the
    record never gets shorter and nothing of an older one is left past its end; a look
    that reads a record while it is being written skips that file (bad JSON) or is off for
    one look, the next corrects it: the display is a nicety."""
    return json.dumps({"name": name, "count": count}).encode()


class CountProgress(beam.PTransform):
    """{name: PCollection} -> nothing: counts each collection's elements into `folder`
    under its name."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self._folder = folder

    def expand(self, pcolls: dict[str, beam.PCollection[Any]]) -> None:
        for name, pcoll in pcolls.items():
            _ = pcoll | f"Count {name}" >> beam.ParDo(_CountElements(self._folder, name))


def read_progress(folder: str) -> dict[str, int]:
    """The counts written so far in `folder`, summed by name."""
    totals: dict[str, int] = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return totals
    for file_name in names:
        if not file_name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, file_name)) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue  # being replaced right now; the next look sees it
        totals[data["name"]] = totals.get(data["name"], 0) + int(data["count"])
    return totals
