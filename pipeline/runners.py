"""Where a runner's workers run, and what that means for the local paths on the command line.

Every path on the command line is made absolute at launch (`absolute_paths`): a portable
runner's SDK workers are other processes, started in another working directory, and a
relative `--input seeds` there names nothing (it was read as `not_found` rows, exit 0).

A local path is only of use where the workers run on this machine and see its filesystem
(`local_paths_visible`). On other runners a local --input, --feeds, --output or --state is
a usage error before anything runs; the output and state are also read and written by the
launching process (the commit), so they must be a place both reach: an object store.
`--local_paths_shared` says the paths are on a filesystem every worker mounts at the same
path (NFS on a Flink or Spark cluster) and skips the check.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from dataclasses import dataclass
from typing import Any

# Runners whose SDK workers are threads or child processes of the launching process.
IN_PROCESS_RUNNERS = frozenset(
    {
        "FnApiRunner",
        "DirectRunner",
        "SwitchingDirectRunner",
        "BundleBasedDirectRunner",
        "TestDirectRunner",
        "InteractiveRunner",
    }
)
# Runners that start SDK workers as their --environment_type says (Beam's portability layer).
PORTABLE_RUNNERS = frozenset({"PortableRunner", "FlinkRunner", "SparkRunner", "PrismRunner"})
# Runners whose workers are machines elsewhere, whatever the flags.
CLOUD_RUNNERS = frozenset({"DataflowRunner", "TestDataflowRunner"})


@dataclass(frozen=True)
class Workers:
    """The flags that decide where a run's SDK workers are (Beam's PortableOptions,
    FlinkRunnerOptions, SparkRunnerOptions)."""

    runner: str
    environment_type: str | None = None
    environment_config: str | None = None
    job_endpoint: str | None = None
    flink_master: str | None = None
    spark_master_url: str | None = None


def runner_name(runner: object) -> str:
    """`apache_beam.runners....FlinkRunner`, `flink`, `flinkrunner`, a runner object or its
    class -> `FlinkRunner` (Beam matches names as these, case aside, `Runner` optional)."""
    if isinstance(runner, str):
        name = runner.rsplit(".", 1)[-1]
    else:
        name = (runner if isinstance(runner, type) else type(runner)).__name__
    known = IN_PROCESS_RUNNERS | PORTABLE_RUNNERS | CLOUD_RUNNERS
    by_key = {known_name.lower(): known_name for known_name in known}
    key = name.lower()
    return by_key.get(key) or by_key.get(key + "runner") or name


def unknown_runner(runner: object) -> str | None:
    """What is wrong with a `--runner` Beam would refuse only once the pipeline is built: a
    bare name of no runner Beam knows (a dotted name is a PipelineRunner subclass's path,
    imported by Beam; a runner object is taken as it is). None when it is fine."""
    if not isinstance(runner, str) or "." in runner:
        return None
    from apache_beam.options.pipeline_options import StandardOptions

    names = {name.lower() for name in StandardOptions.KNOWN_RUNNER_NAMES}
    key = runner.lower()
    if key in names or key + "runner" in names:
        return None
    return (
        f"--runner {runner}: not a runner Beam knows; give one of "
        f"{', '.join(sorted(StandardOptions.KNOWN_RUNNER_NAMES))}, or the module path of a "
        "PipelineRunner subclass (mypackage.runners.MyRunner)"
    )


def is_local_path(value: str) -> bool:
    """A path on this machine's filesystem: no scheme (gs://, s3://, http://), or file://."""
    return "://" not in value or value.startswith("file://")


def absolute(value: str) -> str:
    """A local path or glob made absolute against the working directory ('~' expanded);
    anything with a scheme (file:// included) as it is."""
    if "://" in value:
        return value
    return os.path.abspath(os.path.expanduser(value))


def is_loopback_host(address: str) -> bool:
    """Whether `host:port` (or `[v6]:port`, or a bare host) names this machine."""
    host = address.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _job_server_is_here(workers: Workers, name: str) -> bool:
    """Whether the runner's job server (which starts PROCESS workers) runs on this machine."""
    if name == "PrismRunner":
        return True  # Prism is a local binary
    if name == "FlinkRunner":
        master = workers.flink_master or "[auto]"
        return master in ("[auto]", "[local]") or is_loopback_host(master.split("://")[-1])
    if name == "SparkRunner":
        master = workers.spark_master_url or "local[4]"
        return master.startswith("local")
    endpoint = workers.job_endpoint or ""
    return endpoint == "embed" or (bool(endpoint) and is_loopback_host(endpoint))


def local_paths_visible(workers: Workers) -> tuple[bool, str]:
    """Whether the runner's workers see this machine's files, and where they run (for the
    message). In-process runners: yes. Portable runners by environment: LOOPBACK (workers
    in this process) yes; EXTERNAL yes when its worker pool is on a loopback address;
    PROCESS yes when the job server that starts them is on this machine; DOCKER (Beam's
    default) no: a container sees its image's filesystem. Dataflow and unknown runners: no."""
    name = runner_name(workers.runner)
    if name in IN_PROCESS_RUNNERS:
        return True, "in this process"
    if name in CLOUD_RUNNERS:
        return False, f"the {name}'s workers run on machines in the cloud"
    if name not in PORTABLE_RUNNERS:
        return False, f"the workers of {name} may run on other machines"
    default = "LOOPBACK" if name == "PrismRunner" else "DOCKER"
    environment = (workers.environment_type or default).upper()
    if environment == "LOOPBACK":
        return True, "in this process (LOOPBACK)"
    if environment == "EXTERNAL":
        pool = workers.environment_config or ""
        if pool and is_loopback_host(pool):
            return True, f"in a worker pool on this machine ({pool})"
        return False, f"the EXTERNAL worker pool {pool or '(unset)'} is on another machine"
    if environment == "PROCESS":
        if _job_server_is_here(workers, name):
            return True, "in processes on this machine (PROCESS, local job server)"
        return False, f"{name} starts its PROCESS workers on the cluster's machines"
    return False, f"{name} runs its workers in {environment} containers"


def invisible_paths(named: list[tuple[str, str]], workers: Workers) -> str | None:
    """None when the workers can use every (flag, path) named; else the usage error."""
    visible, where = local_paths_visible(workers)
    local = [(flag, path) for flag, path in named if is_local_path(path)]
    if visible or not local:
        return None
    listed = ", ".join(f"{flag} {path}" for flag, path in local)
    what, it = ("a local path", "it") if len(local) == 1 else ("local paths", "them")
    return (
        f"{listed}: {what}, but {where} and cannot read {it}; put inputs, --output and "
        "--state on a filesystem both the workers and this machine reach (gs://, s3://, "
        "hdfs://), or add --local_paths_shared if every worker mounts it at the same path"
    )


def remove_scratch(pipeline: Any) -> None:
    """Remove the scratch folder Beam makes in the temporary folder for each Pipeline it
    builds (`local_tempdir`). Beam removes it only at the end of `run()`: a run that fails
    while its pipeline is built, before `run()`, would leave one behind each time."""
    shutil.rmtree(pipeline.local_tempdir, ignore_errors=True)
