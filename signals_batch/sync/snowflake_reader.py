"""The Snowflake reader: the attribute tables (and external batch sources) read through the
Snowflake connector.

Connecting. The connection is made from the SAME dbt profile target the run uses: dbt renders
it (`warehouse.dbt_target`: env_var(), secret env vars, the target chosen as dbt chooses it)
and dbt-snowflake turns it into its `SnowflakeCredentials`, whose `auth_args()` gives the
connector arguments of every auth method dbt-snowflake supports (password, key pair from a
path or a string with its passphrase, OAuth with a token or a refresh token exchanged for one,
JWT, externalbrowser / Okta SSO, host / port / protocol / proxy overrides). We call
`snowflake.connector.connect` with those arguments ourselves, rather than through
dbt-snowflake's connection manager (`SnowflakeConnectionManager.open`), because the reader
needs what that manager does not let a caller set: a bounded login timeout (an unreachable
account fails in `LOGIN_TIMEOUT` seconds, not the connector's default of minutes), the
session's TIMEZONE pinned to UTC, no schema (the connector would otherwise make the profile's
schema current, which a read-only role may not be allowed to use) and no dbt query-retry /
recorder machinery around a streaming cursor. Reimplementing the auth options from the raw
profile fields instead would drift from what `run` accepts; `auth_args()` does not.

Reading. One query per group: the changed rows ordered by (change marker, key) on the
warehouse, fetched `chunk_size` rows at a time with `fetchmany`. The connector downloads the
result in the chunks Snowflake splits it into, as they are consumed (with a few prefetch
threads), so memory stays bounded whatever the table's size, and the result is one consistent
snapshot of the table. (DuckDB's reader splits the read into ranges because its sort is local;
Snowflake sorts on the warehouse.)

Names. Snowflake folds unquoted names to upper case and the generated tables have upper-case
columns (docs/warehouses.md); an external table may have quoted lower-case ones. Each table
and column is found in the database's INFORMATION_SCHEMA case-insensitively (the definition's
spelling first, then upper case), and queried quoted with its real name.

Values. The connector returns ARRAY / OBJECT / VARIANT as JSON text and NUMBER(38,0) as int;
`source.json_text_ready` turns each value into exactly what the DuckDB reader gives for the
same table (see tests/test_snowflake_sync.py, which compares the profiles of both).

The change marker is compared and returned as TIMESTAMP_NTZ(6) in UTC (a TIMESTAMP_TZ / _LTZ
marker converted to UTC first): the watermark is a Python datetime (microseconds), and the rows
must be compared at the precision the watermark keeps, or a row with nanoseconds would be
after its own watermark and sent again by every sync.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signals_batch.errors import InvalidInput
from signals_batch.stores.base import ProfileRow, Watermark
from signals_batch.sync.reader import WarehouseReader, WarehouseUnavailable, state_rows
from signals_batch.sync.source import RowSource, _as_datetime, json_text_ready
from signals_batch.warehouse import DbtTarget, dbt_target, one_line

#: seconds a login may take before the reader gives up (the connector's default is minutes)
LOGIN_TIMEOUT = 60
#: the change marker's bound, as text with an explicit format (whatever the account's
#: TIMESTAMP_INPUT_FORMAT)
_STAMP_PARAM = "TO_TIMESTAMP_NTZ(%s, 'YYYY-MM-DD HH24:MI:SS.FF6')"
_STAMP_TEXT = "%Y-%m-%d %H:%M:%S.%f"
#: INFORMATION_SCHEMA data types a change marker may have, and how each becomes naive UTC
_MARKER_TYPES = {
    "TIMESTAMP_NTZ": "{}",
    "DATE": "{}",
    "TIMESTAMP_TZ": "CONVERT_TIMEZONE('UTC', {})",
    "TIMESTAMP_LTZ": "CONVERT_TIMEZONE('UTC', {})",
}
#: server error codes of a login the account refused (wrong password or key, expired or
#: invalid token, locked user)
_REFUSED = ("390100", "390144", "390318", "390303", "390186", "390422")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _database_sql(name: str) -> str:
    """A database as the profile names it: unquoted (so Snowflake folds it as dbt-snowflake's
    default quoting does) unless it is not a plain identifier."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name) else _quote(name)


@dataclass(frozen=True)
class _Table:
    """A table found in INFORMATION_SCHEMA: its quoted relation and real column names."""

    relation: str
    columns: dict[str, str]  # lower-case name -> real name
    types: dict[str, str]  # real name -> data type


def _pick(candidates: list[str], wanted: str) -> str | None:
    """The candidate spelled as `wanted`, else the upper-case one, else the only one."""
    for choice in (wanted, wanted.upper()):
        if choice in candidates:
            return choice
    return candidates[0] if len(candidates) == 1 else None


class SnowflakeReader(WarehouseReader):
    type = "snowflake"

    def __init__(self, connection: Any, target: DbtTarget):
        self.connection = connection
        self.target = target
        self._tables: dict[tuple[str, str, str], _Table] = {}

    # ------------------------------------------------------------------ connecting

    @classmethod
    def open(cls, project_dir: Path, env: Mapping[str, str], wait: float = 0.0
             ) -> SnowflakeReader:
        target = dbt_target(project_dir, env)
        if target.adapter_type != "snowflake":
            raise InvalidInput(f"profile target {target.name!r} is not a Snowflake target")
        return cls(cls.connect(target), target)

    @staticmethod
    def connect(target: DbtTarget, login_timeout: int | None = None) -> Any:
        import snowflake.connector

        creds = target.credentials
        try:
            auth = creds.auth_args()  # reads the private key: a wrong path or passphrase
        except Exception as error:
            raise InvalidInput(
                f"profiles.yml target {target.name!r}: {target.scrub(one_line(error))}"
            ) from None
        if creds.insecure_mode:  # only when set: the connector deprecates the name
            auth["insecure_mode"] = True
        session = {"TIMEZONE": "UTC"}
        if creds.query_tag:
            session["QUERY_TAG"] = creds.query_tag
        try:
            return snowflake.connector.connect(
                account=creds.account,
                database=creds.database,
                warehouse=creds.warehouse,
                role=creds.role,
                autocommit=True,
                client_session_keep_alive=False,
                session_parameters=session,
                login_timeout=login_timeout or LOGIN_TIMEOUT,
                **auth,
            )
        except snowflake.connector.errors.Error as error:
            raise WarehouseUnavailable(_connect_failure(error, target)) from None

    @property
    def description(self) -> str:
        creds = self.target.credentials
        return f"Snowflake account {creds.account}, database {creds.database}"

    @property
    def default_database(self) -> str | None:
        return self.target.credentials.database

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    # ------------------------------------------------------------------ queries

    def _execute(self, sql: str, params: list[Any] | None = None, cursor: Any = None) -> Any:
        """Run a query; a failure is one line naming the warehouse (no secret)."""
        import snowflake.connector

        cursor = cursor or self.connection.cursor()
        try:
            cursor.execute(sql, params or None)
        except snowflake.connector.errors.ProgrammingError:
            raise  # SQL the caller explains (a missing database, table)
        except snowflake.connector.errors.Error as error:
            raise WarehouseUnavailable(
                f"{self.description}: a query failed: "
                f"{self.target.scrub(one_line(getattr(error, 'msg', None) or error))}"
            ) from None
        return cursor

    def _find(self, database: str, schema: str, table: str) -> _Table | None:
        """The table in INFORMATION_SCHEMA, names matched case-insensitively; None if absent."""
        import snowflake.connector

        key = (database, schema, table)
        if key in self._tables:
            return self._tables[key]
        try:
            found = self._execute(
                f"select table_schema, table_name, column_name, data_type "
                f"from {_database_sql(database)}.information_schema.columns "
                f"where upper(table_schema) = upper(%s) and upper(table_name) = upper(%s) "
                f"order by ordinal_position",
                [schema, table],
            ).fetchall()
        except snowflake.connector.errors.ProgrammingError as error:
            raise InvalidInput(
                f"Snowflake database {database} cannot be read with the profile's role: "
                f"{self.target.scrub(one_line(getattr(error, 'msg', None) or error))}"
            ) from None
        if not found:
            return None
        schemas = sorted({row[0] for row in found})
        real_schema = _pick(schemas, schema)
        tables = sorted({row[1] for row in found if row[0] == real_schema})
        real_table = _pick(tables, table) if real_schema else None
        if real_schema is None or real_table is None:
            raise InvalidInput(
                f"{schema}.{table} is ambiguous in Snowflake database {database}: "
                f"{', '.join(f'{r[0]}.{r[1]}' for r in sorted({(r[0], r[1]) for r in found}))}"
                " differ only in case; name it with its exact case in the definition"
            )
        rows = [row for row in found if row[0] == real_schema and row[1] == real_table]
        spellings: dict[str, list[str]] = {}
        for row in rows:
            spellings.setdefault(row[2].lower(), []).append(row[2])
        result = _Table(
            relation=f"{_database_sql(database)}.{_quote(real_schema)}.{_quote(real_table)}",
            columns={lower: names[0] for lower, names in spellings.items()},
            types={row[2]: str(row[3]).upper() for row in rows},
        )
        # two columns differing only in case: resolve each name by its own spelling
        result.columns.update({
            f"{lower}\0{name}": name
            for lower, names in spellings.items() if len(names) > 1 for name in names
        })
        self._tables[key] = result
        return result

    def _column(self, table: _Table, name: str) -> str | None:
        exact = table.columns.get(f"{name.lower()}\0{name}") or table.columns.get(
            f"{name.lower()}\0{name.upper()}")
        return exact or table.columns.get(name.lower())

    def _table(self, source: RowSource) -> _Table:
        database = source.database or self.default_database
        where = f"group {source.group.ident}"
        if not database:
            raise InvalidInput(f"{where}: no Snowflake database: set `database` in profiles.yml")
        table = self._find(database, source.schema, source.table)
        if table is None:
            hint = (
                "run `signals-batch run` first"
                if source.group.type == "batch"
                else "check batch_source in the definition"
            )
            raise InvalidInput(
                f"{where}: table {source.label} not found in Snowflake database {database}; "
                f"{hint}")
        needed = [source.key_column, source.timestamp_column, *source.columns]
        missing = [c for c in needed if self._column(table, c) is None]
        if missing:
            raise InvalidInput(
                f"{where}: table {source.label} has no column "
                f"{', '.join(missing)}; check the definition's fields"
            )
        marker = self._column(table, source.timestamp_column)
        if table.types.get(marker, "").split("(")[0] not in _MARKER_TYPES:
            raise InvalidInput(
                f"{where}: {source.label}.{source.timestamp_column} is "
                f"{table.types.get(marker)}, not a timestamp or date: the change marker must "
                "be one")
        return table

    def _parts(self, source: RowSource) -> tuple[_Table, str, str, str]:
        """The table, and the SQL of its key as text, its change marker as naive UTC with
        microseconds, and the filter of non-null keys and markers."""
        table = self._table(source)
        key_column = _quote(self._column(table, source.key_column))
        marker = self._column(table, source.timestamp_column)
        convert = _MARKER_TYPES[table.types[marker].split("(")[0]]
        stamp = f"CAST({convert.format(_quote(marker))} AS TIMESTAMP_NTZ(6))"
        present = f"{key_column} IS NOT NULL AND {_quote(marker)} IS NOT NULL"
        return table, f"CAST({key_column} AS VARCHAR)", stamp, present

    def _changed(
        self, source: RowSource, after: Watermark | None
    ) -> tuple[_Table, str, str, str, list[Any]]:
        """`_parts`, the filter extended to the rows after `after`, and its parameters."""
        table, key, stamp, where = self._parts(source)
        params: list[Any] = []
        if after is not None:
            where += (f" AND ({stamp} > {_STAMP_PARAM} "
                      f"OR ({stamp} = {_STAMP_PARAM} AND {key} > %s))")
            bound = after.updated_at.strftime(_STAMP_TEXT)
            params += [bound, bound, after.key_value]
        return table, key, stamp, where, params

    # ------------------------------------------------------------------ the interface

    def check(self, source: RowSource) -> None:
        self._table(source)

    def count_changes(self, source: RowSource, after: Watermark | None) -> int:
        table, _key, _stamp, where, params = self._changed(source, after)
        cursor = self._execute(f"select count(*) from {table.relation} where {where}", params)
        try:
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()

    def read_changes(
        self, source: RowSource, after: Watermark | None, chunk_size: int
    ) -> Iterator[list[ProfileRow]]:
        table, key, stamp, where, params = self._changed(source, after)
        names = source.columns
        types = [source.types[n] for n in names]
        columns = "".join(f", {_quote(self._column(table, n))}" for n in names)
        cursor = self._execute(
            f"select {key}, {stamp}{columns} from {table.relation} where {where} "
            "order by 2, 1",
            params,
        )
        try:
            while batch := cursor.fetchmany(chunk_size):
                yield [
                    ProfileRow(
                        row[0],
                        {n: json_text_ready(v, t)
                         for n, v, t in zip(names, row[2:], types, strict=True)},
                        _as_datetime(row[1]),
                    )
                    for row in batch
                ]
        finally:
            cursor.close()

    def read_state(self, schema: str) -> dict[str, dict[str, Any]]:
        database = self.default_database
        if not database:
            return {}
        state = self._find(database, schema, "signals_batch_state")
        if state is None:
            return {}
        cursor = self._execute(
            f"select model, as_of, run_started_at, row_count, changed_count, settings "
            f"from {state.relation}")
        rows = cursor.fetchall()
        events = self._find(database, schema, "signals_batch_events_this_run")
        new_events = None
        if events is not None:
            new_events = self._execute(f"select count(*) from {events.relation}").fetchone()[0]
        return state_rows(rows, new_events)


def _connect_failure(error: Exception, target: DbtTarget) -> str:
    """One line for a failed login: who was refused, or what could not be reached."""
    creds = target.credentials
    where = (f"Snowflake account {creds.account!r} (profiles.yml target {target.name!r}, "
             f"user {creds.user!r})")
    text = target.scrub(one_line(getattr(error, "msg", None) or error))
    code = str(getattr(error, "errno", "") or "")
    if any(marker in f"{code}: {text}" for marker in _REFUSED) or "Incorrect username" in text:
        return (f"{where} refused the credentials: {text} - check the password, key pair or "
                "token the profile reads from the environment")
    return f"could not connect to {where}: {text}"
