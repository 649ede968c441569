"""deploy/airflow/newsbeam_dag.py loaded by Apache Airflow itself (its DagBag), in an
environment of its own: Airflow's dependencies must not meet NewsBeam's.

Opt-in (installing Airflow takes minutes): `make test-airflow`, which .ci/run starts beside
the main suite, sets NEWSBEAM_TEST_AIRFLOW=1. The environment is made under the checkout's
.tmp/ and reused while its Airflow requirement is the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from newsbeam.pipeline import cli
from newsbeam.pipeline import run as pipeline_run
from tests.helpers import package_install_env

REPO = Path(__file__).resolve().parents[1]
AIRFLOW = "apache-airflow==3.3.2"
VENV = REPO / ".tmp" / "airflow-venv"

pytestmark = pytest.mark.skipif(
    os.environ.get("NEWSBEAM_TEST_AIRFLOW") != "1",
    reason="installs Apache Airflow (minutes): run by `make test-airflow`",
)

# Run by the Airflow environment's Python: the DAG as the scheduler parses it, one data
# interval as its timetable makes it, and the commands rendered for that interval.
PROBE = textwrap.dedent(
    """
    import json, sys
    import pendulum
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3
    except ImportError:
        from airflow.models.dagbag import DagBag
    try:
        bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
    except TypeError:  # Airflow 3.1+ has no examples flag
        bag = DagBag(dag_folder=sys.argv[1])
    dag = bag.dags.get("newsbeam")
    out = {"errors": {str(k): str(v) for k, v in bag.import_errors.items()},
           "dags": sorted(bag.dags)}
    if dag is not None:
        run_after = pendulum.parse(sys.argv[2])
        interval = dag.timetable.infer_manual_data_interval(run_after=run_after)
        context = {"data_interval_start": interval.start, "data_interval_end": interval.end}
        out.update(
            schedule=type(dag.timetable).__name__,
            cron=getattr(dag.timetable, "_expression", None),
            interval=[interval.start.isoformat(), interval.end.isoformat()],
            catchup=dag.catchup,
            max_active_runs=dag.max_active_runs,
            tasks={
                t.task_id: {
                    "operator": type(t).__name__,
                    "retries": t.retries,
                    "downstream": sorted(t.downstream_task_ids),
                    "command": t.render_template(t.bash_command, context),
                }
                for t in dag.tasks
            },
        )
    print(json.dumps(out))
    """
)


def airflow_python() -> Path:
    """The Airflow environment's Python, made (minutes) or reused."""
    python = VENV / "bin" / "python"
    marker = VENV / "newsbeam-requirement.txt"
    if python.exists() and marker.exists() and marker.read_text() == AIRFLOW:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    # From the package registry, as `make setup` installs: the one contact the network guard
    # (tests/offline) does not cover. Its output is shown should it fail.
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", AIRFLOW],
        capture_output=True,
        text=True,
        env=package_install_env(),
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    marker.write_text(AIRFLOW)
    return python


def test_dag_loads_and_renders_one_run_per_day(tmp_path: Path) -> None:
    python = airflow_python()
    paths = {
        "NEWSBEAM_INBOX": tmp_path / "inbox",
        "NEWSBEAM_FEEDS": tmp_path / "feeds.txt",
        "NEWSBEAM_ROOT": tmp_path / "dataset",
        "NEWSBEAM_STATE": tmp_path / "state",
        "NEWSBEAM_WAREHOUSE": tmp_path / "news.duckdb",
    }
    paths["NEWSBEAM_INBOX"].mkdir()
    paths["NEWSBEAM_FEEDS"].write_text("https://news.example.com/feed.xml\n")
    env = {
        **os.environ,
        **{name: str(path) for name, path in paths.items()},
        "NEWSBEAM_BIN": "newsbeam",
        # An object store's flags reach both tasks (the warehouse's was without them).
        "NEWSBEAM_FLAGS": "--s3_endpoint_url=http://127.0.0.1:9",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    done = subprocess.run(
        [str(python), str(probe), str(REPO / "deploy" / "airflow"), "2026-12-02T00:30:00+00:00"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["errors"] == {} and loaded["dags"] == ["newsbeam"], loaded
    # Daily intervals, midnight to midnight UTC; one run at a time, no catch-up.
    assert loaded["schedule"] == "CronDataIntervalTimetable" and loaded["cron"] == "0 0 * * *"
    assert loaded["interval"] == ["2026-12-01T00:00:00+00:00", "2026-12-02T00:00:00+00:00"]
    assert (loaded["catchup"], loaded["max_active_runs"]) == (False, 1)
    tasks = loaded["tasks"]
    assert set(tasks) == {"batch", "warehouse"}
    assert tasks["batch"]["downstream"] == ["warehouse"] and tasks["warehouse"]["downstream"] == []
    assert all(
        task["retries"] >= 1 and task["operator"] == "BashOperator" for task in tasks.values()
    )
    # The batch is named after the day it covers: a retry or re-run replaces that day's rows.
    batch = tasks["batch"]["command"].split()
    assert batch[0] == "newsbeam" and batch[batch.index("--run_id") + 1] == "20261201"
    # ... and is a command NewsBeam accepts as it stands (flags and paths).
    argv = cli.check_flags(batch[1:])
    options = pipeline_run.parse_options(argv).view_as(pipeline_run.NewsBeamOptions)
    assert options.output == str(paths["NEWSBEAM_ROOT"])
    assert options.state == str(paths["NEWSBEAM_STATE"])
    assert options.run_id == "20261201"
    warehouse = tasks["warehouse"]["command"].split()
    assert warehouse[:2] == ["newsbeam", "warehouse"]
    assert warehouse[warehouse.index("--output") + 1] == str(paths["NEWSBEAM_ROOT"])
    assert warehouse[warehouse.index("--db") + 1] == str(paths["NEWSBEAM_WAREHOUSE"])
    assert batch[-1] == warehouse[-1] == "--s3_endpoint_url=http://127.0.0.1:9"
