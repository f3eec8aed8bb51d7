"""A signals-batch project on Snowflake, run against the fakesnow emulator in-process.

`fakesnow.patch(db_path=...)` replaces `snowflake.connector.connect`, so dbt-snowflake (run
in-process through dbtRunner, as `signals-batch run` does) and the reads below talk to a
DuckDB-backed emulator that keeps its databases in files under `db_path`.

Emulator gaps are worked around ONLY in this test project (EMULATOR_MACROS, written into the
project's own macros/ folder), never in what users install.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from unittest import mock

import yaml

from signals_batch.project import Project, RunSummary
from signals_batch.sample_events import COLUMN_NAMES, EVENT_COLUMNS
from signals_batch.scaffold import init_project

DATABASE = "SIGNALS_TEST"
TARGET_SCHEMA = "signals"
# The profile written by `signals-batch init --warehouse snowflake` reads these.
PROFILE_ENV = {
    "SNOWFLAKE_ACCOUNT": "fakesnow",
    "SNOWFLAKE_USER": "tester",
    "SNOWFLAKE_PASSWORD": "not-a-secret",
    "SNOWFLAKE_ROLE": "SYSADMIN",
    "SNOWFLAKE_WAREHOUSE": "COMPUTE_WH",
    "SNOWFLAKE_DATABASE": DATABASE,
}
SNOWFLAKE_TYPES = {
    "VARCHAR": "VARCHAR",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "INTEGER": "INTEGER",
    "DOUBLE": "DOUBLE",
    "JSON": "VARIANT",  # Snowflake layout: context arrays / unstruct objects as VARIANT
}

# Test-only workarounds for fakesnow 0.12.1 (see docs/warehouses.md, "The emulator").
EMULATOR_MACROS = """\
{#- Written by tests/snowflake_engine.py: workarounds for the fakesnow emulator only. -#}

{#- dbt creates the incremental models' staging table as a TEMPORARY table with a
    fully-qualified name, which fakesnow rejects: use a transient table instead (dbt-snowflake
    drops it after the merge either way). -#}
{% macro dbt_snowflake_get_tmp_relation_type(strategy, unique_key, language) %}
  {{ return('transient') }}
{% endmacro %}
"""


def _string_literal(text: str) -> str:
    """A Snowflake string literal: a backslash is an escape character there."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _payload_value(value):
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    return value


def _select_expression(name: str, sql_type: str) -> str:
    """One events column read from a row object of the JSON payload."""
    text = f"CAST(GET_PATH(event_row.value, '{name}') AS VARCHAR)"
    if sql_type == "JSON":
        return f"PARSE_JSON({text})"
    return f"CAST({text} AS {SNOWFLAKE_TYPES[sql_type]})"


class SnowflakeProject:
    """A project folder initialised for Snowflake, with its emulator databases in `db/`."""

    def __init__(self, path: Path, groups: list[dict], start_date: dt.date,
                 include_current_day: bool = False):
        init_project(path, warehouse="snowflake", start_date=start_date.isoformat(),
                     examples=False)
        (path / "definitions").mkdir(exist_ok=True)
        (path / "definitions" / "groups.yml").write_text(yaml.safe_dump(groups, sort_keys=False))
        settings = yaml.safe_load((path / "signals_batch.yml").read_text())
        settings["include_current_day"] = include_current_day
        settings["target_schema"] = TARGET_SCHEMA
        (path / "signals_batch.yml").write_text(yaml.safe_dump(settings))
        (path / "macros" / "fakesnow_workarounds.sql").write_text(EMULATOR_MACROS)
        # fakesnow's catalog is not safe for concurrent DDL (two models creating tables at
        # once can fail on a duplicate key in its column metadata): one dbt thread.
        profiles = path / "profiles.yml"
        profiles.write_text(profiles.read_text().replace("threads: 4", "threads: 1"))
        self.path = path
        self.db_path = path / "db"
        self.db_path.mkdir()
        self.groups = groups
        self.start_date = start_date
        self.include_current_day = include_current_day
        self.loaded: list[dict] = []
        columns = ", ".join(f"{name} {SNOWFLAKE_TYPES[t]}" for name, t in EVENT_COLUMNS)
        with self.cursor() as cursor:
            cursor.execute("CREATE SCHEMA IF NOT EXISTS atomic")
            cursor.execute(f"CREATE TABLE IF NOT EXISTS atomic.events ({columns})")

    # ------------------------------------------------------------------ emulator

    @contextlib.contextmanager
    def emulator(self) -> Iterator[None]:
        """The fakesnow patch plus the profile's environment, for the duration of a block."""
        import fakesnow

        with mock.patch.dict(os.environ, PROFILE_ENV), fakesnow.patch(db_path=self.db_path):
            yield

    @contextlib.contextmanager
    def cursor(self):
        import snowflake.connector

        with self.emulator():
            connection = snowflake.connector.connect(
                account="fakesnow", user="tester", password="x", database=DATABASE,
                schema="PUBLIC")
            try:
                yield connection.cursor()
            finally:
                connection.close()

    # ------------------------------------------------------------------ data

    def load(self, rows: list[dict], chunk: int = 2000) -> None:
        """INSERT ... SELECT from the rows as one JSON literal per chunk (one statement for the
        emulator to translate, not one per row); context and unstruct columns go through
        PARSE_JSON, so they are VARIANT arrays / objects as Snowplow's loader writes them."""
        names = ", ".join(COLUMN_NAMES)
        selects = ", ".join(_select_expression(name, t) for name, t in EVENT_COLUMNS)
        with self.cursor() as cursor:
            for begin in range(0, len(rows), chunk):
                payload = json.dumps(
                    [{name: _payload_value(row.get(name)) for name in COLUMN_NAMES}
                     for row in rows[begin:begin + chunk]])
                cursor.execute(
                    f"INSERT INTO atomic.events ({names}) SELECT {selects} "
                    f"FROM TABLE(FLATTEN(input => PARSE_JSON({_string_literal(payload)}))) "
                    "AS event_row")
        self.loaded.extend(rows)

    # ------------------------------------------------------------------ runs

    @property
    def project(self) -> Project:
        return Project(self.path)

    def run(self, as_of: dt.date, **options) -> RunSummary:
        with self.emulator():
            return self.project.run(as_of=as_of, **options)

    def test(self):
        with self.emulator():
            return self.project.test()

    def dbt(self, command: list[str]):
        with self.emulator():
            project = self.project
            return project.dbt(command, vars=project.dbt_vars())

    def execute(self, *statements: str) -> None:
        """SQL through the connector, under the emulator (tables of an external batch group,
        deleting rows ...)."""
        with self.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    # ------------------------------------------------------------------ sync

    def use_store(self, **store) -> None:
        path = self.path / "signals_batch.yml"
        settings = yaml.safe_load(path.read_text())
        settings["store"] = store
        path.write_text(yaml.safe_dump(settings))

    def sync(self, **options):
        """`Project.sync` under the emulator: it reads the tables with the Snowflake reader."""
        with self.emulator():
            return self.project.sync(**options)

    def status(self) -> list[dict]:
        with self.emulator():
            return self.project.status()

    # ------------------------------------------------------------------ reading back

    def rows(self) -> dict[str, dict[str, dict]]:
        """Every attribute table as {key: {attribute: value, updated_at}} via the connector."""
        result = {}
        with self.cursor() as cursor:
            for group in self.groups:
                if group.get("type") == "external_batch":  # its own table, not ours
                    continue
                table = f"{group['name']}_v{group.get('version', 1)}_attributes"
                types = {a["name"]: a["type"] for a in group["attributes"]}
                cursor.execute(f"select * from {DATABASE}.{TARGET_SCHEMA}.{table}")
                # Unquoted-style upper-case columns (docs/warehouses.md): back to definition names
                columns = [d[0].lower() for d in cursor.description]
                rows = {}
                for values in cursor.fetchall():
                    row = dict(zip(columns, values, strict=True))
                    key = row.pop(columns[0])
                    rows[key] = {k: plain(v, types.get(k)) for k, v in row.items()}
                result[table] = rows
        return result

    def tables(self) -> dict[str, dict[str, dict]]:
        return {table: {key: {k: v for k, v in row.items() if k != "updated_at"}
                        for key, row in rows.items()}
                for table, rows in self.rows().items()}


def plain(value, type_name: str | None):
    """A value read through the connector as the oracle writes it (ARRAY / OBJECT are JSON)."""
    if type_name is None or value is None:
        return value
    if type_name.endswith("_list") or type_name == "dict":
        value = json.loads(value) if isinstance(value, str) else value
        if type_name.endswith("_list"):
            return [plain_scalar(item, type_name[:-5]) for item in value]
        return value
    return plain_scalar(value, type_name)


def plain_scalar(value, type_name: str):
    if value is None:
        return None
    if type_name in ("int32", "int64", "unix_timestamp"):
        return int(value)
    if type_name in ("float", "double"):
        return float(value)
    if isinstance(value, Decimal):
        return float(value)
    if type_name == "timestamp" and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if type_name == "timestamp" and isinstance(value, dt.datetime) and value.tzinfo:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


@contextlib.contextmanager
def refusing_login_server() -> Iterator[int]:
    """A loopback HTTP server answering Snowflake's login request as Snowflake does for a
    wrong password (code 390100): the real connector, pointed at it with the profile's
    host / port / protocol, fails the way it fails against Snowflake. (The emulator accepts
    any password.) Yields the port."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({
                "data": {"nextAction": None, "authnMethod": "USERNAME_PASSWORD"},
                "code": "390100", "message": "Incorrect username or password was specified.",
                "success": False}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
