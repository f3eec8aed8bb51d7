"""signals-batch every night from Apache Airflow (tested with 3.x): run -> test -> sync.

Setup (see README, "Running from Airflow"):

    pip install -e '/path/to/signals-batch[airflow]'   # a checkout of signals-batch
    # the project folder, and the secrets, in a connection (here as an environment variable):
    export AIRFLOW_CONN_SIGNALS_BATCH_DEFAULT='{"conn_type": "signals_batch",
        "extra": {"project_dir": "/opt/signals/my_project"}}'

then copy this file into your DAGs folder.

Each daily run computes the attributes as of its logical date (`--as-of`, the day in UTC):
the midnight run of day D covers the windows up to D-1, the last complete day. `catchup=True`
backfills the missed days one at a time (`max_active_runs=1`; the run lock would make
concurrent runs of the same project wait anyway), oldest first, so the store ends up as of the
newest day. A backfill (`airflow backfill create` on Airflow 3, `airflow dags backfill` on
Airflow 2) or clearing a past run recomputes exactly that day.
"""

from __future__ import annotations

import datetime as dt
import os

from signals_batch.integrations.airflow import signals_batch_task_group

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.9+
    from airflow import DAG

with DAG(
    dag_id="signals_batch_nightly",
    description="Snowplow Signals batch attributes: dbt run, dbt tests, sync to the store",
    schedule="@daily",
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
    catchup=True,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=10)},
    tags=["signals-batch", "snowplow"],
) as dag:
    signals_batch_task_group(
        "signals_batch",
        # None: the connection's extra.project_dir; an environment variable can override it
        project_dir=os.environ.get("SIGNALS_BATCH_PROJECT_DIR"),
        signals_batch_conn_id="signals_batch_default",
    )
