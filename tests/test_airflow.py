"""The Airflow extra under real Apache Airflow: the example DAG imports, and the operators run
-> test -> sync a DuckDB project in a DAG run (`dag.test()`), secrets out of logs and XComs.

Airflow's pins clash with the main environment's, so `.ci/run` runs this file in its own
virtualenv (`.venv-airflow`-style, with `pip install apache-airflow -e .`); elsewhere it skips.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

if importlib.util.find_spec("airflow") is None:
    pytest.skip(
        "Apache Airflow is not installed in this environment (pip install -e "
        "'.[airflow]'); .ci/run runs these tests in its own Airflow virtualenv",
        allow_module_level=True,
    )

# Airflow reads its settings when first imported: keep them out of ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="signals-batch-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from sample_project import AS_OF, make_sample_project, store_counts, table_counts  # noqa: E402

from signals_batch.integrations.airflow import (  # noqa: E402
    AirflowException,
    SignalsBatchHook,
    SignalsBatchRunOperator,
    SignalsBatchSyncOperator,
    SignalsBatchTestOperator,
)

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parent.parent
SECRET = "sandbox-token-7f3a9c1e-do-not-log"


def _child_env(airflow_home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SIGNALS_BATCH_", "AIRFLOW", "SIGNALS_SANDBOX", "SNOWPLOW_"))
    }
    env.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(airflow_home / "dags"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        **extra,
    )
    return env


# --------------------------------------------------------------------------- the example DAG


def test_the_example_dag_is_imported_by_airflow_without_errors():
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(REPO / "examples"))
    assert bag.import_errors == {}
    dag = bag.dags["signals_batch_nightly"]
    assert dag.catchup is True and dag.max_active_runs == 1
    tasks = {task.task_id: task for task in dag.tasks}
    assert set(tasks) == {"signals_batch.run", "signals_batch.test", "signals_batch.sync"}
    assert tasks["signals_batch.run"].downstream_task_ids == {"signals_batch.test"}
    assert tasks["signals_batch.test"].downstream_task_ids == {"signals_batch.sync"}
    assert isinstance(tasks["signals_batch.run"], SignalsBatchRunOperator)
    assert isinstance(tasks["signals_batch.test"], SignalsBatchTestOperator)
    assert isinstance(tasks["signals_batch.sync"], SignalsBatchSyncOperator)


# --------------------------------------------------------------------------- a real DAG run

DAG_FILE = textwrap.dedent(
    """
    import datetime as dt
    import json
    import sys

    from signals_batch.integrations.airflow import signals_batch_task_group

    try:
        from airflow.sdk import DAG
    except ImportError:
        from airflow import DAG

    with DAG(
        "signals_batch_test_run",
        schedule="@daily",
        start_date=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
        catchup=False,
    ) as dag:
        signals_batch_task_group()

    if __name__ == "__main__":
        when = dt.datetime.fromisoformat(sys.argv[1])
        try:  # Airflow 3 names it logical_date, Airflow 2 execution_date
            run = dag.test(logical_date=when)
        except TypeError:
            run = dag.test(execution_date=when)
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        print("RESULT " + json.dumps({"state": str(run.state), "tasks": states}))
    """
)


def _xcoms(airflow_home: Path) -> dict[str, object]:
    """The return values the tasks pushed, from Airflow's sqlite database."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        rows = db.execute("select task_id, value from xcom where key = 'return_value'").fetchall()
    values = {}
    for task_id, value in rows:
        value = json.loads(value) if isinstance(value, (str, bytes)) else value
        values[task_id] = json.loads(value) if isinstance(value, str) else value
    return values


@pytest.mark.dbt
def test_the_operators_run_test_and_sync_a_duckdb_project_in_a_dag_run(tmp_path):
    project_dir = make_sample_project(tmp_path / "proj")
    airflow_home = tmp_path / "airflow"
    (airflow_home / "dags").mkdir(parents=True)
    dag_file = airflow_home / "dags" / "signals_batch_test_run.py"
    dag_file.write_text(DAG_FILE)
    connection = {
        "conn_type": "signals_batch",
        "password": SECRET,  # the sandbox token; no Signals API url: nothing republished
        "extra": {
            "project_dir": str(project_dir),
            "env": {"SIGNALS_BATCH_STORE__PATH": "airflow-store.sqlite"},
        },
    }
    env = _child_env(airflow_home, AIRFLOW_CONN_SIGNALS_BATCH_DEFAULT=json.dumps(connection))

    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    # the logical date is AS_OF at midnight UTC: the run must compute as of that day
    logical_date = dt.datetime.combine(AS_OF, dt.time(), dt.timezone.utc).isoformat()
    done = subprocess.run(
        [sys.executable, str(dag_file), logical_date],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    assert result["state"].endswith("success"), output[-5000:]
    assert set(result["tasks"]) == {"signals_batch.run", "signals_batch.test", "signals_batch.sync"}
    assert all(state.endswith("success") for state in result["tasks"].values()), result

    # the store holds every row of every attribute table
    tables = table_counts(project_dir)
    assert tables and all(count > 0 for count in tables.values())
    store = project_dir / "airflow-store.sqlite"  # the connection's SIGNALS_BATCH_STORE__PATH
    assert store_counts(project_dir, list(tables), store) == tables

    # XComs: the summaries, as of the logical date, and no secret
    xcoms = _xcoms(airflow_home)
    run = xcoms["signals_batch.run"]
    assert run["as_of"] == AS_OF.isoformat()
    assert {g["group"]: g["rows"] for g in run["groups"]} == tables
    assert xcoms["signals_batch.test"]["tests"] > 0
    assert xcoms["signals_batch.test"]["passed"] == xcoms["signals_batch.test"]["tests"]
    sync = xcoms["signals_batch.sync"]
    assert {g["group"]: g["rows_written"] for g in sync["groups"]} == tables
    assert SECRET not in json.dumps(xcoms)
    # ... and no secret in any log
    assert SECRET not in output
    logs = "".join(
        p.read_text(errors="replace") for p in (airflow_home / "logs").rglob("*") if p.is_file()
    )
    assert SECRET not in logs


# --------------------------------------------------------------------------- operators, hook


def test_as_of_is_the_logical_date_in_utc():
    import pendulum

    operator = SignalsBatchRunOperator(task_id="run", project_dir="/nowhere")
    midnight = pendulum.datetime(2025, 3, 7, tz="UTC")
    assert operator.reference_date({"logical_date": midnight}) == dt.date(2025, 3, 7)
    # a logical date in another time zone is taken in UTC (the engine's days are UTC days)
    paris = pendulum.datetime(2025, 3, 7, 0, 30, tz="Europe/Paris")
    assert operator.reference_date({"logical_date": paris}) == dt.date(2025, 3, 6)

    class Run:
        run_after = pendulum.datetime(2025, 3, 9, 12, tz="UTC")

    # Airflow 3 runs without a logical date (manual, asset-triggered): when they run
    assert operator.reference_date({"logical_date": None, "dag_run": Run()}) == dt.date(2025, 3, 9)

    explicit = SignalsBatchRunOperator(task_id="run2", project_dir="/nowhere", as_of="2025-02-01")
    assert explicit.reference_date({"logical_date": midnight}) == dt.date(2025, 2, 1)
    wrong = SignalsBatchRunOperator(task_id="run3", project_dir="/nowhere", as_of="someday")
    with pytest.raises(AirflowException, match="not a date"):
        wrong.reference_date({})


def test_a_failure_is_an_airflow_exception_with_one_line(tmp_path):
    try:
        from airflow.sdk.exceptions import AirflowSkipException
    except ImportError:  # Airflow 2
        from airflow.exceptions import AirflowSkipException

    operator = SignalsBatchRunOperator(
        task_id="run", project_dir=str(tmp_path), signals_batch_conn_id=None
    )
    with pytest.raises(AirflowException) as raised:
        operator.execute({"logical_date": dt.datetime(2025, 1, 2, tzinfo=dt.timezone.utc)})
    assert not isinstance(raised.value, AirflowSkipException)
    message = str(raised.value)
    assert message.startswith("signals-batch run failed: ")
    assert "not a signals-batch project" in message and "\n" not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__

    sync = SignalsBatchSyncOperator(task_id="sync", signals_batch_conn_id=None)
    with pytest.raises(AirflowException, match="no signals-batch project folder"):
        sync.execute({})


def test_the_hook_sets_the_connection_environment_only_for_the_call(monkeypatch):
    connection = {
        "conn_type": "signals_batch",
        "host": "signals.example.com",
        "login": "key-id-1234",
        "password": "api-key-5678-secret",
        "extra": {
            "project_dir": "/srv/project",
            "auth": "bdp",
            "org_id": "org-abcdef",
            "env": {"DBT_TARGET": "ci"},
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_SB_TEST", json.dumps(connection))
    for name in ("SNOWPLOW_API_KEY", "SNOWPLOW_API_KEY_ID", "SNOWPLOW_ORG_ID", "DBT_TARGET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DBT_TARGET", "outer")

    hook = SignalsBatchHook("sb_test", env={"SIGNALS_BATCH_TARGET_SCHEMA": "nightly"})
    assert hook.project_dir == "/srv/project"
    with hook.environment():
        assert os.environ["SIGNALS_BATCH_SIGNALS_API__URL"] == "https://signals.example.com"
        assert os.environ["SIGNALS_BATCH_SIGNALS_API__AUTH"] == "bdp"
        assert os.environ["SNOWPLOW_API_KEY"] == "api-key-5678-secret"
        assert os.environ["SNOWPLOW_API_KEY_ID"] == "key-id-1234"
        assert os.environ["SNOWPLOW_ORG_ID"] == "org-abcdef"
        assert os.environ["DBT_TARGET"] == "ci"
        assert os.environ["SIGNALS_BATCH_TARGET_SCHEMA"] == "nightly"
    assert "SNOWPLOW_API_KEY" not in os.environ
    assert "SIGNALS_BATCH_SIGNALS_API__URL" not in os.environ
    assert os.environ["DBT_TARGET"] == "outer"
    assert "api-key-5678-secret" not in repr(hook.__dict__.get("_env"))

    # the operator's project_dir wins over the connection's
    assert SignalsBatchHook("sb_test", project_dir="/other").project_dir == "/other"
