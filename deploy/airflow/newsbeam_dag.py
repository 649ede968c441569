"""NewsBeam on Apache Airflow: one batch run per day (the data interval), then the
warehouse refresh.

Copy this file into Airflow's dags folder on a machine where NewsBeam is installed, and
set the paths below (or the NEWSBEAM_* variables in the scheduler's environment). Each run
is named after its interval (`--run_id 20261201` for 2026-12-01), so a retried or re-run
day replaces its own rows in the dataset instead of adding them twice; the warehouse then
loads the runs it has not loaded yet (a rerun's rows replaced). With `--state`, only the
latest run can be run again (an older day exits 2: its state has moved on), hence no
catch-up and one run at a time. For Dataflow, Flink or Spark add the runner's flags to
NEWSBEAM_FLAGS with gs:// or s3:// paths (docs/deploying.md). Airflow 3 (`make test-airflow`
loads it with 3.3.2); Airflow 2.4+ through the import fallback below (not tested).
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.timetables.interval import CronDataIntervalTimetable

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.operators.bash import BashOperator  # type: ignore[no-redef]

NEWSBEAM = os.environ.get("NEWSBEAM_BIN", "/opt/newsbeam/.venv/bin/newsbeam")
INBOX = os.environ.get("NEWSBEAM_INBOX", "/srv/news/inbox")
FEEDS = os.environ.get("NEWSBEAM_FEEDS", "/srv/news/feeds.txt")
ROOT = os.environ.get("NEWSBEAM_ROOT", "/srv/news/dataset")
STATE = os.environ.get("NEWSBEAM_STATE", "/srv/news/state")
WAREHOUSE = os.environ.get("NEWSBEAM_WAREHOUSE", "/srv/news/news.duckdb")
# Runner flags and the like, e.g. "--runner DataflowRunner --project P --region R ...".
FLAGS = os.environ.get("NEWSBEAM_FLAGS", "")

# The day the interval covers names the run: the same day run again replaces its rows.
RUN_ID = "{{ data_interval_start | ds_nodash }}"

with DAG(
    dag_id="newsbeam",
    description="NewsBeam: one batch run per day into one dataset, then the warehouse",
    # Daily intervals [00:00, next 00:00) UTC, the run starting when one ends; explicit, as
    # Airflow 3's "@daily" has no interval (its data_interval_start is the trigger time).
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc),
    catchup=False,  # with --state, only the latest day can run (see above)
    max_active_runs=1,  # one run per ROOT and state at a time (an object store has no lock)
    default_args={
        # A failed run commits nothing and leaves the state as it was: retrying is safe.
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=10),
        "retry_exponential_backoff": True,
        "execution_timeout": dt.timedelta(hours=6),
    },
    tags=["newsbeam"],
) as dag:
    # Exit status 1 (failed: nothing committed, recorded in ROOT/_failed_runs/) and 2
    # (usage error) fail the task; 75 (another run holds the lock) too, and the retry runs
    # it once that run is over; 3 (more than --fail_on_rejected rejected) too, after the
    # tables were written: that run is committed, and a retry replaces it.
    batch = BashOperator(
        task_id="batch",
        bash_command=(
            f"{NEWSBEAM} --input {INBOX} --feeds {FEEDS} --state {STATE} --state_keep_days 30 "
            f"--output {ROOT} --run_id {RUN_ID} --fail_on_rejected 0.5 {FLAGS}"
        ).strip(),
    )
    warehouse = BashOperator(
        task_id="warehouse",
        # The same flags: an object store's endpoint and credentials (--s3_*) are the
        # warehouse's to read the dataset with, too.
        bash_command=f"{NEWSBEAM} warehouse --output {ROOT} --db {WAREHOUSE} {FLAGS}".strip(),
    )
    batch >> warehouse
