"""The BigQuery reader: the attribute tables (and external batch sources) read with
google-cloud-bigquery.

Connecting. From the SAME dbt profile target the run uses: dbt renders it
(`warehouse.dbt_target`) and dbt-bigquery validates it into its `BigQueryCredentials`; its own
`create_google_credentials` turns them into Google credentials for every method dbt-bigquery
supports (oauth / application default credentials, service-account key file or JSON,
oauth-secrets tokens, impersonation, workload identity federation). The client uses the
profile's execution project, location, quota project and `api_endpoint` (an emulator in the
tests). Requests are retried for at most `REQUEST_DEADLINE` seconds, so an unreachable
endpoint fails in that time, not in the client's default ten minutes.

Reading. One query per group: the changed rows ordered by (change marker, key as STRING) on
BigQuery, then read page by page (`page_size` = the chunk size): only one page of the result
is in memory at a time, and the query's result is one snapshot of the table.

Names. BigQuery column names are case-insensitive, table names are not: tables are named as
the definitions and the generated models name them; columns are found case-insensitively in
the table's schema and queried with their real spelling.

Values. The client gives INT64 as int, FLOAT64 as float, TIMESTAMP as an aware datetime (made
naive UTC, as DuckDB's TIMESTAMP columns give them), JSON as parsed Python values; every value
goes through `source.json_text_ready`, so the store holds the same JSON as from DuckDB.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signals_batch.errors import InvalidInput
from signals_batch.stores.base import ProfileRow, Watermark
from signals_batch.sync.reader import WarehouseReader, WarehouseUnavailable, state_rows
from signals_batch.sync.source import RowSource, _as_datetime, json_text_ready
from signals_batch.warehouse import DbtTarget, dbt_target, one_line

#: seconds a request (with the client's retries) may take before the reader gives up
REQUEST_DEADLINE = 60.0
#: column types a change marker may have, and how each becomes a UTC TIMESTAMP
_MARKER_TYPES = {
    "TIMESTAMP": "{}",
    "DATETIME": "TIMESTAMP({})",
    "DATE": "TIMESTAMP({})",
}


def _quote(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _naive_utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class _Table:
    relation: str
    columns: dict[str, str]  # lower-case name -> real name
    types: dict[str, str]  # real name -> field type


class BigQueryReader(WarehouseReader):
    type = "bigquery"

    def __init__(self, client: Any, target: DbtTarget):
        self.client = client
        self.target = target
        self._tables: dict[tuple[str, str, str], _Table | None] = {}

    # ------------------------------------------------------------------ connecting

    @classmethod
    def open(cls, project_dir: Path, env: Mapping[str, str], wait: float = 0.0
             ) -> BigQueryReader:
        target = dbt_target(project_dir, env)
        if target.adapter_type != "bigquery":
            raise InvalidInput(f"profile target {target.name!r} is not a BigQuery target")
        return cls(cls.connect(target), target)

    @staticmethod
    def connect(target: DbtTarget) -> Any:
        from dbt.adapters.bigquery.credentials import create_google_credentials
        from google.api_core.client_options import ClientOptions
        from google.cloud import bigquery

        creds = target.credentials
        try:
            google_credentials = create_google_credentials(creds)
        except Exception as error:  # a missing key file, no application default credentials
            raise WarehouseUnavailable(
                f"BigQuery project {creds.execution_project!r} (profiles.yml target "
                f"{target.name!r}, method {creds.method}): no usable credentials: "
                f"{target.scrub(one_line(error))}") from None
        return bigquery.Client(
            project=creds.execution_project,
            credentials=google_credentials,
            location=creds.location,
            client_options=ClientOptions(
                api_endpoint=creds.api_endpoint, quota_project_id=creds.quota_project),
        )

    @property
    def description(self) -> str:
        return f"BigQuery project {self.target.credentials.database}"

    @property
    def default_database(self) -> str | None:
        return self.target.credentials.database

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    # ------------------------------------------------------------------ requests

    def _failure(self, error: Exception) -> WarehouseUnavailable:
        from google.api_core import exceptions

        creds = self.target.credentials
        where = (f"BigQuery project {creds.database!r} (profiles.yml target "
                 f"{self.target.name!r}, method {creds.method})")
        text = self.target.scrub(one_line(getattr(error, "message", None) or error))
        if isinstance(error, exceptions.Unauthorized | exceptions.Forbidden) or (
                type(error).__name__ in ("RefreshError", "DefaultCredentialsError")):
            return WarehouseUnavailable(
                f"{where} refused the credentials: {text} - check the credentials the "
                "profile uses and the roles they have (BigQuery Job User, Data Viewer)")
        return WarehouseUnavailable(f"could not reach {where}: {text}")

    def _retry(self):
        from google.cloud.bigquery import DEFAULT_RETRY

        return DEFAULT_RETRY.with_deadline(REQUEST_DEADLINE)

    def _query(self, sql: str, params: list[Any] | None = None, page_size: int | None = None):
        """The rows of a query (a RowIterator, read a page at a time)."""
        from google.api_core import exceptions
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=params or [])
        try:
            job = self.client.query(sql, job_config=config, retry=self._retry(),
                                    job_retry=None, timeout=REQUEST_DEADLINE)
            return job.result(page_size=page_size, retry=self._retry())
        except exceptions.BadRequest as error:
            raise InvalidInput(
                f"{self.description}: a query failed: "
                f"{self.target.scrub(one_line(getattr(error, 'message', None) or error))}"
            ) from None
        except Exception as error:
            raise self._failure(error) from None

    def _find(self, project: str, dataset: str, table: str) -> _Table | None:
        from google.api_core import exceptions

        key = (project, dataset, table)
        if key not in self._tables:
            try:
                found = self.client.get_table(f"{project}.{dataset}.{table}",
                                              retry=self._retry(), timeout=REQUEST_DEADLINE)
            except exceptions.NotFound:
                found = None
            except Exception as error:
                raise self._failure(error) from None
            self._tables[key] = None if found is None else _Table(
                relation=f"{_quote(project)}.{_quote(dataset)}.{_quote(table)}",
                columns={f.name.lower(): f.name for f in found.schema},
                types={f.name: str(f.field_type).upper() for f in found.schema},
            )
        return self._tables[key]

    def _table(self, source: RowSource) -> _Table:
        project = source.database or self.default_database
        where = f"group {source.group.ident}"
        table = self._find(project, source.schema, source.table)
        if table is None:
            hint = (
                "run `signals-batch run` first"
                if source.group.type == "batch"
                else "check batch_source in the definition"
            )
            raise InvalidInput(
                f"{where}: table {source.label} not found in BigQuery project {project}; {hint}")
        needed = [source.key_column, source.timestamp_column, *source.columns]
        missing = [c for c in needed if c.lower() not in table.columns]
        if missing:
            raise InvalidInput(
                f"{where}: table {source.label} has no column "
                f"{', '.join(missing)}; check the definition's fields")
        marker = table.columns[source.timestamp_column.lower()]
        if table.types[marker] not in _MARKER_TYPES:
            raise InvalidInput(
                f"{where}: {source.label}.{source.timestamp_column} is {table.types[marker]}, "
                "not a timestamp or date: the change marker must be one")
        return table

    def _changed(self, source: RowSource, after: Watermark | None):
        """The table, the SQL of its key as text and its change marker as a UTC TIMESTAMP,
        the filter of the rows after `after`, and its query parameters."""
        from google.cloud import bigquery

        table = self._table(source)
        key_column = _quote(table.columns[source.key_column.lower()])
        marker = table.columns[source.timestamp_column.lower()]
        stamp = _MARKER_TYPES[table.types[marker]].format(_quote(marker))
        key = f"CAST({key_column} AS STRING)"
        where = f"{key_column} IS NOT NULL AND {_quote(marker)} IS NOT NULL"
        params: list[Any] = []
        if after is not None:
            where += (f" AND ({stamp} > @after_stamp"
                      f" OR ({stamp} = @after_stamp AND {key} > @after_key))")
            params = [
                bigquery.ScalarQueryParameter(
                    "after_stamp", "TIMESTAMP",
                    after.updated_at.replace(tzinfo=dt.timezone.utc)),
                bigquery.ScalarQueryParameter("after_key", "STRING", after.key_value),
            ]
        return table, key, stamp, where, params

    # ------------------------------------------------------------------ the interface

    def check(self, source: RowSource) -> None:
        self._table(source)

    def count_changes(self, source: RowSource, after: Watermark | None) -> int:
        table, _key, _stamp, where, params = self._changed(source, after)
        rows = self._query(f"select count(*) from {table.relation} where {where}", params)
        return int(next(iter(rows))[0])

    def read_changes(
        self, source: RowSource, after: Watermark | None, chunk_size: int
    ) -> Iterator[list[ProfileRow]]:
        table, key, stamp, where, params = self._changed(source, after)
        names = source.columns
        types = [source.types[n] for n in names]
        columns = "".join(f", {_quote(table.columns[n.lower()])}" for n in names)
        rows = self._query(
            f"select {key}, {stamp}{columns} from {table.relation} where {where} "
            "order by 2, 1", params, page_size=chunk_size)
        pages = iter(rows.pages)
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except Exception as error:
                raise self._failure(error) from None
            batch = [
                ProfileRow(
                    row[0],
                    {n: json_text_ready(_naive_utc(v), t)
                     for n, v, t in zip(names, list(row)[2:], types, strict=True)},
                    _as_datetime(row[1]),
                )
                for row in page
            ]
            if batch:
                yield batch

    def read_state(self, schema: str) -> dict[str, dict[str, Any]]:
        project = self.default_database
        state = self._find(project, schema, "signals_batch_state")
        if state is None:
            return {}
        rows = [
            (r[0], r[1], _naive_utc(r[2]), r[3], r[4], r[5])
            for r in self._query(
                f"select model, as_of, run_started_at, row_count, changed_count, settings "
                f"from {state.relation}")
        ]
        events = self._find(project, schema, "signals_batch_events_this_run")
        new_events = None
        if events is not None:
            new_events = next(iter(self._query(f"select count(*) from {events.relation}")))[0]
        return state_rows(rows, new_events)
