"""Apache Airflow operators for signals-batch: `run -> test -> sync` as tasks of a DAG.

    pip install -e '.[airflow]'    # in the signals-batch checkout

    from signals_batch.integrations.airflow import signals_batch_task_group

    with DAG("signals_batch_nightly", schedule="@daily", catchup=True, max_active_runs=1, ...):
        signals_batch_task_group(project_dir="/opt/signals/my_project")

The operators call the Python API (`signals_batch.project.Project`) in the task's process,
not a subprocess. Their settings come from an Airflow connection (default id
`signals_batch_default`, read by `SignalsBatchHook`):

- `extra.project_dir`: the project folder (an operator's `project_dir` wins);
- `host`: the Signals API url, `SIGNALS_BATCH_SIGNALS_API__URL` (`https://` when no scheme);
- `extra.auth`: `sandbox`, `bdp` or `none`, `SIGNALS_BATCH_SIGNALS_API__AUTH`;
- `password`: the sandbox token, `SIGNALS_SANDBOX_TOKEN` (also the http store's token); with
  `auth: bdp`, the API key, `SNOWPLOW_API_KEY`;
- `login`: with `auth: bdp`, the API key id, `SNOWPLOW_API_KEY_ID`;
- `extra.org_id`: `SNOWPLOW_ORG_ID`;
- `extra.env`: more environment variables: settings (`SIGNALS_BATCH_STORE__URL`...),
  `DBT_TARGET`, the secrets your profiles.yml reads with `env_var()`.

These are set in `os.environ` only for the duration of one call and restored after it; the
secrets are registered with Airflow's secrets masker, never logged, and never part of a
return value (the XCom is the run / test / sync summary).

`as_of`: `SignalsBatchRunOperator` runs `--as-of logical_date.date()` (in UTC, the engine's
day) unless given one. With Airflow 3's default cron timetable the logical date of a daily run
is the moment it is scheduled, so the midnight run of day D computes as of D - the windows end
on D-1, the last complete day - exactly what `signals-batch run` from cron at that moment
computes. A backfill or a cleared past run recomputes exactly the as-of date of its logical
date. With a data-interval timetable (Airflow 2's default) the logical date is the start of
the interval: pass `as_of="{{ data_interval_end | ds }}"` to keep the same meaning.

Failures raise `AirflowException` with signals-batch's one-line message; the operators never
raise a skip.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any

try:
    import airflow  # noqa: F401
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError(
        "signals_batch.integrations.airflow needs Apache Airflow, which is not installed: "
        "pip install -e '.[airflow]' in the signals-batch checkout"
    ) from error

try:  # Airflow 3: the Task SDK
    from airflow.sdk import BaseHook, BaseOperator, TaskGroup
except ImportError:  # Airflow 2.9 - 2.11
    from airflow.hooks.base import BaseHook
    from airflow.models import BaseOperator
    from airflow.utils.task_group import TaskGroup

try:
    from airflow.sdk.exceptions import AirflowException
except ImportError:
    from airflow.exceptions import AirflowException

from signals_batch.project import DEFAULT_RUN_LOCK_TIMEOUT
from signals_batch.sync.syncer import DEFAULT_CHUNK_SIZE, DEFAULT_LOCK_TIMEOUT

__all__ = [
    "DEFAULT_CONN_ID",
    "SignalsBatchHook",
    "SignalsBatchRunOperator",
    "SignalsBatchSyncOperator",
    "SignalsBatchTestOperator",
    "signals_batch_task_group",
]

DEFAULT_CONN_ID = "signals_batch_default"
_SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "ORG_ID")


def _mask_secret(value: str) -> None:
    """Tell Airflow's secrets masker to redact `value` from every log line."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:
        try:
            from airflow.utils.log.secrets_masker import mask_secret
        except ImportError:  # pragma: no cover
            return
    mask_secret(value)


def _json_safe(data: Any) -> Any:
    """Plain JSON types only (dates as ISO strings): what any XCom backend stores."""
    return json.loads(json.dumps(data, default=str))


class SignalsBatchHook(BaseHook):
    """The settings of one signals-batch project, from an Airflow connection (see the module).

    `run`, `test` and `sync` call the Python API with the connection's environment set,
    and return a summary dict; a failure is an AirflowException with a one-line message.
    """

    conn_name_attr = "signals_batch_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "signals_batch"
    hook_name = "Snowplow signals-batch"

    def __init__(
        self,
        signals_batch_conn_id: str | None = DEFAULT_CONN_ID,
        project_dir: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
    ):
        super().__init__()
        self.signals_batch_conn_id = signals_batch_conn_id
        self._project_dir = project_dir
        self._env = dict(env or {})

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema"],
            "relabeling": {
                "host": "Signals API url (optional)",
                "login": "API key id (auth: bdp)",
                "password": "Sandbox token, or API key (auth: bdp)",
            },
            "placeholders": {
                "extra": json.dumps({"project_dir": "/opt/signals/my_project", "auth": "sandbox"}),
            },
        }

    # ------------------------------------------------------------------ settings

    @cached_property
    def _connection_settings(self) -> tuple[str | None, dict[str, str], set[str]]:
        """(project_dir, environment, names of the secret variables) from the connection."""
        if not self.signals_batch_conn_id:
            return None, {}, set()
        conn = self.get_connection(self.signals_batch_conn_id)
        extra = conn.extra_dejson or {}
        env: dict[str, str] = {}
        secrets: set[str] = set()
        auth = extra.get("auth")
        if conn.host:
            url = conn.host if "://" in conn.host else f"{conn.schema or 'https'}://{conn.host}"
            env["SIGNALS_BATCH_SIGNALS_API__URL"] = url + (f":{conn.port}" if conn.port else "")
        if auth:
            env["SIGNALS_BATCH_SIGNALS_API__AUTH"] = str(auth)
        if conn.password:
            name = "SNOWPLOW_API_KEY" if auth == "bdp" else "SIGNALS_SANDBOX_TOKEN"
            env[name] = conn.password
            secrets.add(name)
        if conn.login and auth == "bdp":
            env["SNOWPLOW_API_KEY_ID"] = conn.login
            secrets.add("SNOWPLOW_API_KEY_ID")
        if extra.get("org_id"):
            env["SNOWPLOW_ORG_ID"] = str(extra["org_id"])
            secrets.add("SNOWPLOW_ORG_ID")
        more = extra.get("env") or {}
        if not isinstance(more, dict):
            raise AirflowException(
                f"connection {self.signals_batch_conn_id!r}: extra.env must be a mapping of "
                "environment variables"
            )
        env.update({str(k): str(v) for k, v in more.items()})
        project_dir = extra.get("project_dir")
        return (str(project_dir) if project_dir else None), env, secrets

    @property
    def project_dir(self) -> str:
        project_dir = self._project_dir or self._connection_settings[0]
        if not project_dir:
            raise AirflowException(
                "no signals-batch project folder: pass project_dir= to the operator or set "
                f'"project_dir" in the extra of the connection {self.signals_batch_conn_id!r}'
            )
        return str(project_dir)

    def environment_variables(self) -> dict[str, str]:
        """What is set in os.environ during a call: the connection's, then the operator's."""
        return {**self._connection_settings[1], **self._env}

    @contextmanager
    def environment(self) -> Iterator[None]:
        """The connection's variables in os.environ for the duration of the block only."""
        values = self.environment_variables()
        secret_names = self._connection_settings[2]
        for name, value in values.items():
            if value and (name in secret_names or any(w in name.upper() for w in _SECRET_WORDS)):
                _mask_secret(value)
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    # ------------------------------------------------------------------ calls

    @contextmanager
    def _project(self, command: str) -> Iterator[Any]:
        """A Project inside the environment; our errors become one-line AirflowExceptions."""
        from signals_batch.errors import SignalsBatchError
        from signals_batch.project import Project

        project_dir = self.project_dir
        with self.environment():
            try:
                yield Project(project_dir)
            except SignalsBatchError as error:
                # `from None`: the message is the whole story, and a chained traceback could
                # show the values of local variables to a log.
                raise AirflowException(f"signals-batch {command} failed: {error}") from None

    def _progress(self) -> Callable[[str, str, int, int], None]:
        def log_node(node: str, status: str, index: int, total: int) -> None:
            if status != "started":
                self.log.info("[%s] %s: %s", f"{index}/{total}" if total else index, node, status)

        return log_node

    def run(
        self,
        as_of: dt.date | None = None,
        full_refresh: bool = False,
        select: Sequence[str] | None = None,
        lock_timeout: float = DEFAULT_RUN_LOCK_TIMEOUT,
    ) -> dict[str, Any]:
        """`signals-batch run`; the RunSummary as a dict."""
        with self._project("run") as project:
            summary = project.run(
                as_of=as_of,
                full_refresh=full_refresh,
                select=list(select) if select else None,
                progress=self._progress(),
                lock_timeout=lock_timeout,
            )
        for notice in summary.notices:
            self.log.info("%s", notice)
        self.log.info(
            "run ok: as of %s, %s, %s group(s), %s rows, %s changed, %s new events, %ss",
            summary.as_of,
            "full refresh" if summary.full_refresh else "incremental",
            len(summary.groups),
            sum(g.rows or 0 for g in summary.groups),
            sum(g.changed or 0 for g in summary.groups),
            summary.new_events,
            summary.seconds,
        )
        return _json_safe(summary.to_dict())

    def test(self, lock_timeout: float = DEFAULT_RUN_LOCK_TIMEOUT) -> dict[str, Any]:
        """`signals-batch test` (the generated files must be fresh); counts by status."""
        with self._project("test") as project:
            result = project.test(progress=self._progress(), lock_timeout=lock_timeout)
        counts: dict[str, int] = {}
        for node in result.nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        summary = {
            "tests": len(result.nodes),
            "passed": counts.get("pass", 0),
            "warned": counts.get("warn", 0),
            "statuses": counts,
        }
        self.log.info("test ok: %s dbt tests, %s passed", summary["tests"], summary["passed"])
        return summary

    def sync(
        self,
        store: str | None = None,
        full: bool = False,
        dry_run: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> dict[str, Any]:
        """`signals-batch sync`; the SyncSummary as a dict."""
        with self._project("sync") as project:
            summary = project.sync(
                store_type=store,
                full=full,
                dry_run=dry_run,
                chunk_size=chunk_size,
                lock_timeout=lock_timeout,
                progress=lambda message: self.log.info("%s", message),
            )
        for notice in summary.notices:
            self.log.info("%s", notice)
        self.log.info(
            "sync %s: %s group(s), %s rows %s, %s removed, to the %s, %ss",
            "dry run" if dry_run else "ok",
            len(summary.groups),
            sum(g.rows_read for g in summary.groups),
            "would be sent" if dry_run else "sent",
            sum(g.rows_removed for g in summary.groups),
            summary.store,
            summary.seconds,
        )
        return _json_safe(summary.to_dict())


# ---------------------------------------------------------------------------- operators


class _SignalsBatchOperator(BaseOperator):
    """What the three operators share: the project folder, the connection, extra env."""

    template_fields: Sequence[str] = ("project_dir",)
    ui_color = "#e8e0f8"

    def __init__(
        self,
        *,
        project_dir: str | None = None,
        signals_batch_conn_id: str | None = DEFAULT_CONN_ID,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.signals_batch_conn_id = signals_batch_conn_id
        self.env = dict(env or {})

    def get_hook(self) -> SignalsBatchHook:
        return SignalsBatchHook(
            signals_batch_conn_id=self.signals_batch_conn_id,
            project_dir=self.project_dir or None,
            env=self.env,
        )


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise AirflowException(f"as_of {value!r} is not a date (YYYY-MM-DD)") from None


class SignalsBatchRunOperator(_SignalsBatchOperator):
    """`signals-batch run --as-of <logical date>`: build the models incrementally.

    `as_of` (templated): a date, a datetime or "YYYY-MM-DD"; default: the run's logical date,
    in UTC (see the module docstring). Returns the run summary (XCom).
    """

    template_fields: Sequence[str] = ("project_dir", "as_of", "select")

    def __init__(
        self,
        *,
        as_of: str | dt.date | None = None,
        full_refresh: bool = False,
        select: Sequence[str] | None = None,
        lock_timeout: float = DEFAULT_RUN_LOCK_TIMEOUT,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.as_of = as_of
        self.full_refresh = full_refresh
        self.select = list(select) if select else None
        self.lock_timeout = lock_timeout

    def reference_date(self, context: Mapping[str, Any]) -> dt.date:
        """`as_of` if given, else the logical date (else, for a run without one, run_after)."""
        if self.as_of:
            return _as_date(self.as_of)
        logical_date = context.get("logical_date")
        if logical_date is None:  # Airflow 3: manual and asset-triggered runs may have none
            dag_run = context.get("dag_run")
            logical_date = getattr(dag_run, "run_after", None)
        if logical_date is None:
            return dt.datetime.now(dt.timezone.utc).date()
        return _as_date(logical_date)

    def execute(self, context: Any) -> dict[str, Any]:
        as_of = self.reference_date(context)
        self.log.info("signals-batch run as of %s", as_of)
        return self.get_hook().run(
            as_of=as_of,
            full_refresh=self.full_refresh,
            select=self.select,
            lock_timeout=self.lock_timeout,
        )


class SignalsBatchTestOperator(_SignalsBatchOperator):
    """`signals-batch test`: the dbt tests of the generated models. Returns the counts."""

    def __init__(self, *, lock_timeout: float = DEFAULT_RUN_LOCK_TIMEOUT, **kwargs: Any):
        super().__init__(**kwargs)
        self.lock_timeout = lock_timeout

    def execute(self, context: Any) -> dict[str, Any]:
        return self.get_hook().test(lock_timeout=self.lock_timeout)


class SignalsBatchSyncOperator(_SignalsBatchOperator):
    """`signals-batch sync`: push the changed rows into the Profiles Store, republish.

    Returns the sync summary (XCom).
    """

    template_fields: Sequence[str] = ("project_dir", "store")

    def __init__(
        self,
        *,
        store: str | None = None,
        full: bool = False,
        dry_run: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.store = store
        self.full = full
        self.dry_run = dry_run
        self.chunk_size = chunk_size
        self.lock_timeout = lock_timeout

    def execute(self, context: Any) -> dict[str, Any]:
        return self.get_hook().sync(
            store=self.store or None,
            full=self.full,
            dry_run=self.dry_run,
            chunk_size=self.chunk_size,
            lock_timeout=self.lock_timeout,
        )


def signals_batch_task_group(
    group_id: str = "signals_batch",
    *,
    project_dir: str | None = None,
    signals_batch_conn_id: str | None = DEFAULT_CONN_ID,
    env: Mapping[str, str] | None = None,
    as_of: str | dt.date | None = None,
    full_refresh: bool = False,
    select: Sequence[str] | None = None,
    store: str | None = None,
    run_tests: bool = True,
    run_kwargs: Mapping[str, Any] | None = None,
    test_kwargs: Mapping[str, Any] | None = None,
    sync_kwargs: Mapping[str, Any] | None = None,
    **task_group_kwargs: Any,
) -> TaskGroup:
    """A TaskGroup `group_id` of `run >> test >> sync` (`run >> sync` without run_tests).

    Call it inside a DAG. `run_kwargs`, `test_kwargs`, `sync_kwargs` go to each operator
    (retries, pool, lock_timeout, dry_run...); `task_group_kwargs` to the TaskGroup.
    """
    common: dict[str, Any] = {
        "project_dir": project_dir,
        "signals_batch_conn_id": signals_batch_conn_id,
        "env": env,
    }
    with TaskGroup(group_id=group_id, **task_group_kwargs) as group:
        tasks: list[BaseOperator] = [
            SignalsBatchRunOperator(
                task_id="run",
                as_of=as_of,
                full_refresh=full_refresh,
                select=select,
                **common,
                **(run_kwargs or {}),
            )
        ]
        if run_tests:
            tasks.append(SignalsBatchTestOperator(task_id="test", **common, **(test_kwargs or {})))
        tasks.append(
            SignalsBatchSyncOperator(task_id="sync", store=store, **common, **(sync_kwargs or {}))
        )
        for index in range(1, len(tasks)):
            tasks[index - 1] >> tasks[index]
    return group
