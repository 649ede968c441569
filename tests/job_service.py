"""Beam's own local job service, with jobs that run on as many SDK workers as they ask for.

`python -m tests.job_service --port PORT` serves Beam's `LocalJobServicer` (what
`--job_endpoint embed` starts in-process) for the PortableRunner. Beam 2.77's job type runs
every job on an FnApiRunner with one worker: its `_invoke_runner` skips the step of
`FnApiRunner.run_pipeline` that reads `--direct_num_workers`. The job type here takes that
step, so a job sent with `--direct_num_workers 2 --environment_type EXTERNAL` gets two SDK
workers from the external worker pool, and its bundles are spread over them: the portable
path as a cluster runs it, on one machine. Used by tests/test_runners.py and
benchmarks/bench_runners.py; not part of NewsBeam.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import threading
from collections.abc import Sequence

from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.portability.api import beam_job_api_pb2
from apache_beam.runners.portability import local_job_service
from apache_beam.runners.portability.fn_api_runner import fn_runner


class WorkersBeamJob(local_job_service.BeamJob):
    """Beam's local job, run on `--direct_num_workers` SDK workers (at least one)."""

    def _invoke_runner(self):  # type: ignore[no-untyped-def]
        self.set_state(beam_job_api_pb2.JobState.RUNNING)
        options = self.pipeline_options()
        runner = fn_runner.FnApiRunner(provision_info=self._provision_info)
        # What FnApiRunner.run_pipeline does before it reaches run_via_runner_api.
        # (Options come back from the job's struct as text; 0 is one worker per core.)
        asked = options.view_as(DirectOptions).direct_num_workers
        workers = 1 if asked in (None, "") else int(asked)
        runner._num_workers = workers if workers > 0 else multiprocessing.cpu_count()
        return runner.run_via_runner_api(self._pipeline_proto, options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--staging_dir", default=None, help="where staged artifacts go")
    args = parser.parse_args(argv)
    staging = args.staging_dir or tempfile.mkdtemp(prefix="newsbeam-jobs-")
    servicer = local_job_service.LocalJobServicer(staging, beam_job_type=WorkersBeamJob)
    port = servicer.start_grpc_server(args.port)
    print(f"job service on localhost:{port}", flush=True)
    threading.Event().wait()  # until the test ends the process
    return 0


if __name__ == "__main__":
    sys.exit(main())
