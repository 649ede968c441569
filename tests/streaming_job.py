"""A streaming job run bounded on Beam's in-process runner, as `newsbeam --streaming` builds
it from its flags (pipeline/streaming.py `streaming_config`, `build_streaming`), for the
restart tests (tests/test_streaming_restart.py): the sources stop after `--stop_after`
seconds, every window is then committed. Run as a process so that a test can kill it
(SIGKILL, or NEWSBEAM_CRASH_AT at a step of a commit) and start it again.

    python -m tests.streaming_job --stop_after 2 --input INBOX --output ROOT ...
"""

from __future__ import annotations

import dataclasses
import sys
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from newsbeam.pipeline.streaming import build_streaming, streaming_config


def run(argv: list[str]) -> int:
    """Run the job the flags describe for `--stop_after` seconds of polls; 0 when done."""
    stop_after = float(argv[argv.index("--stop_after") + 1])
    flags = [a for i, a in enumerate(argv) if "--stop_after" not in (a, argv[i - 1] if i else "")]
    config = streaming_config(PipelineOptions(flags))
    config = dataclasses.replace(config, stop_at=time.time() + stop_after)
    pipeline = beam.Pipeline(runner="FnApiRunner")
    build_streaming(pipeline, config)
    pipeline.run().wait_until_finish()
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
