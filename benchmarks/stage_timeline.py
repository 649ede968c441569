"""The `newsbeam` command with a timeline of its stages: when each of the local runner's
fused stages started and ended, from the process's start (bench_pipeline.py --timeline).

    .venv/bin/python benchmarks/stage_timeline.py TIMELINE.json --input DIR --output OUT

Beam's step times (the manifest's `stage_seconds`) count the time inside each step's
DoFns, summed over the workers; they leave out the wait for the workers, the data plane
between stages and a stage that runs on one worker while the other idles. This records
the wall-clock boundaries instead, by wrapping the FnApiRunner's method that runs one
stage's bundle (`FnApiRunner._execute_bundle`, Beam 2.77): a measuring harness only, never
the product's code path. The JSON gets `stages` ([name, start s, end s], in order) and
`end` (s, when the command's exit handlers ran), all from the process's start.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from typing import Any


def seconds_since_start() -> float:
    """Seconds since this process started (/proc: its start time in clock ticks since boot,
    against the system's uptime)."""
    ticks = float(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
    uptime = float(open("/proc/uptime").read().split()[0])
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    target, argv = sys.argv[1], sys.argv[2:]
    origin = time.monotonic() - seconds_since_start()
    stages: list[list[Any]] = []
    from newsbeam.pipeline.workers import settle_process

    settle_process()  # as the command does first, before Beam's import below (again there)
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    execute = fn_runner.FnApiRunner._execute_bundle

    def timed(self: Any, context: Any, bundle: Any, bundle_input: Any) -> Any:
        started = time.monotonic() - origin
        try:
            return execute(self, context, bundle, bundle_input)
        finally:
            stages.append([bundle.stage.name, started, time.monotonic() - origin])

    fn_runner.FnApiRunner._execute_bundle = timed

    def write() -> None:
        with open(target, "w") as handle:
            json.dump({"stages": stages, "end": time.monotonic() - origin}, handle)

    atexit.register(write)  # the command's last step runs the exit handlers, then os._exit
    sys.argv = [sys.argv[0], *argv]
    from newsbeam.pipeline.main import command

    command()


if __name__ == "__main__":
    main()
