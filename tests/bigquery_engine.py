"""A signals-batch project on BigQuery, run against the bqemulator server.

The emulator (bqemulator, a DuckDB-backed BigQuery REST API translating BigQuery SQL with
sqlglot) runs as a separate process on a loopback port. dbt-bigquery (in-process, through
dbtRunner, as `signals-batch run` does) and the reads below reach it through the profile's
`api_endpoint` with an `oauth-secrets` access token the emulator does not check.

Emulator gaps are worked around ONLY here (the emulator process and the test project's
profile), never in what users install:

- bqemulator loads DuckDB's spatial extension at start, which it downloads (no network
  here): the emulator process runs with that loader replaced by a no-op (no GEOGRAPHY).
- Its streaming insert (insertAll) fails with DuckDB 2: events are loaded with INSERT VALUES.
- LIKE runs as DuckDB's, where a backslash is an ordinary character, while on BigQuery it is
  LIKE's escape character (which `bigquery__like` escapes): the test project's own
  `bigquery__like` (EMULATOR_MACROS) leaves the pattern's backslashes as they are, so the
  emulator matches what BigQuery matches with the escaped pattern.
- It has no load jobs, which dbt-bigquery's seeds use: EMULATOR_SEED_MACROS (for projects
  with seeds, integration_tests/) creates a seed's table with STRING columns and INSERTs
  its rows as literals.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from signals_batch.project import Project, RunSummary
from signals_batch.sample_events import COLUMN_NAMES, EVENT_COLUMNS
from signals_batch.scaffold import init_project

GCP_PROJECT = "signals-test"
STAGING_TABLE = f"{GCP_PROJECT}.staging.events"
TARGET_SCHEMA = "signals"
BIGQUERY_TYPES = {
    "VARCHAR": "STRING",
    "TIMESTAMP": "TIMESTAMP",
    "INTEGER": "INT64",
    "DOUBLE": "FLOAT64",
    "JSON": "JSON",
}

# The emulator process: bqemulator's CLI with the spatial extension loader made a no-op.
_EMULATOR_MAIN = """\
import sys
from bqemulator.storage import engine
engine.DuckDBEngine._load_spatial = lambda self: None
from bqemulator.cli import main
sys.argv = ["bqemulator", *sys.argv[1:]]
main()
"""


EMULATOR_MACROS = """\
{#- Written by tests/bigquery_engine.py: workarounds for the bqemulator emulator only. -#}

{#- The emulator's LIKE has no escape character: the pattern as it is. -#}
{% macro bigquery__like(expr, pattern) -%}
  {{ expr }} LIKE {{ signals_batch.string_literal(pattern) }}
{%- endmacro %}
"""


EMULATOR_SEED_MACROS = """\
{#- Written by the tests: seeds without load jobs, for the bqemulator emulator only. -#}

{#- A seed's table with STRING columns (the seeds' column_types are text), its rows INSERTed
    as literals. -#}
{% macro bigquery__load_csv_rows(model, agate_table) %}
  {%- call statement('seed_table') -%}
    create or replace table {{ this.render() }} (
      {%- for name in agate_table.column_names -%}
        {{ name }} STRING{{ ', ' if not loop.last }}
      {%- endfor -%})
  {%- endcall -%}
  {%- set rows = [] -%}
  {%- for row in agate_table.rows -%}
    {%- set cells = [] -%}
    {%- for value in row -%}
      {%- do cells.append('NULL' if value is none else signals_batch.string_literal(value)) -%}
    {%- endfor -%}
    {%- do rows.append('(' ~ cells | join(', ') ~ ')') -%}
  {%- endfor -%}
  {%- if rows -%}
    {%- call statement('seed_rows') -%}
      insert into {{ this.render() }} values {{ rows | join(', ') }}
    {%- endcall -%}
  {%- endif -%}
{% endmacro %}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """One bqemulator process (in-memory catalog) on loopback ports."""

    def __init__(self, log_path: Path):
        #: id(row) -> its signals_row in STAGING_TABLE (stage_events)
        self.staged: dict[int, int] = {}
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _EMULATOR_MAIN, "start", "--rest-port", str(self.port),
             "--grpc-port", str(_free_port()), "--project", GCP_PROJECT,
             "--log-level", "warning"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"bqemulator exited: see {log_path}")
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=1):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"bqemulator did not start: see {log_path}")
            time.sleep(0.2)

    def client(self):
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(project=GCP_PROJECT, credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=self.endpoint))

    def stage_events(self, rows: list[dict]) -> None:
        """Insert `rows` once into STAGING_TABLE; projects then copy them with SQL (`load`),
        which costs the emulator far less than inserting them again."""
        client = self.client()
        columns = ", ".join(f"{name} {BIGQUERY_TYPES[t]}" for name, t in EVENT_COLUMNS)
        dataset = STAGING_TABLE.rsplit(".", 1)[0]
        client.query(f"CREATE SCHEMA IF NOT EXISTS `{dataset}`").result()
        client.query(f"CREATE TABLE `{STAGING_TABLE}` ({columns}, signals_row INT64)").result()
        ordinals = list(range(len(self.staged), len(self.staged) + len(rows)))
        insert_events(client, STAGING_TABLE, rows, ordinals)
        self.staged.update({id(row): n for row, n in zip(rows, ordinals, strict=True)})

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def emulator_profile(endpoint: str, threads: int = 4) -> dict:
    """The test project's profiles.yml: the emulator's endpoint and a token it does not check
    (the scaffolded profile's oauth / service-account would ask Google for credentials)."""
    return {"signals_batch": {"target": "dev", "outputs": {"dev": {
        "type": "bigquery", "method": "oauth-secrets", "token": "emulator-token",
        "project": GCP_PROJECT,
        "dataset": "{{ env_var('SIGNALS_BATCH_TARGET_SCHEMA', 'signals') }}",
        "location": "US", "threads": threads, "api_endpoint": endpoint, "job_retries": 0,
    }}}}


def _ranges(column: str, ordinals: list[int]) -> str:
    ranges, first = [], ordinals[0]
    for previous, current in zip(ordinals, [*ordinals[1:], None], strict=True):
        if current != previous + 1:
            ranges.append(f"{column} BETWEEN {first} AND {previous}")
            first = current
    return "(" + " OR ".join(ranges) + ")"


def _json_value(value, sql_type: str):
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    if sql_type == "JSON" and not isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _column_from_json(name: str, sql_type: str) -> str:
    text = f"JSON_VALUE(event_row, '$.{name}')"
    bigquery_type = BIGQUERY_TYPES[sql_type]
    if bigquery_type == "JSON":
        return f"PARSE_JSON({text})"
    if bigquery_type == "STRING":
        return text
    return f"CAST({text} AS {bigquery_type})"


def insert_events(client, table: str, rows: list[dict], ordinals: list[int] | None = None,
                  chunk: int = 1000) -> None:
    """INSERT ... SELECT from one JSON text literal per `chunk` rows (the emulator's streaming
    insert fails with DuckDB 2, and its load jobs refuse the client's uploads; a JSON literal
    is one token for its SQL translator, where VALUES rows are many). `ordinals`: an extra
    last column, signals_row."""
    columns = [*COLUMN_NAMES, *(["signals_row"] if ordinals is not None else [])]
    selects = [_column_from_json(name, t) for name, t in EVENT_COLUMNS]
    if ordinals is not None:
        selects.append("CAST(JSON_VALUE(event_row, '$.signals_row') AS INT64)")
    for begin in range(0, len(rows), chunk):
        payload = json.dumps([
            {**{name: _json_value(row.get(name), t) for name, t in EVENT_COLUMNS},
             **({"signals_row": ordinals[begin + i]} if ordinals is not None else {})}
            for i, row in enumerate(rows[begin:begin + chunk])])
        client.query(
            f"INSERT INTO `{table}` ({', '.join(columns)}) SELECT {', '.join(selects)} "
            f"FROM UNNEST(JSON_QUERY_ARRAY(PARSE_JSON({string_literal(payload)}))) AS event_row"
        ).result()


def string_literal(text: str) -> str:
    """A BigQuery string literal (backslash escapes; no raw newline)."""
    return "'" + (text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
                  .replace("\r", "\\r")) + "'"


class BigQueryProject:
    """A project folder initialised for BigQuery, its dataset `dataset` on the emulator."""

    def __init__(self, path: Path, emulator: Emulator, groups: list[dict],
                 start_date: dt.date, include_current_day: bool = False,
                 dataset: str = TARGET_SCHEMA, events_dataset: str = "atomic"):
        init_project(path, warehouse="bigquery", start_date=start_date.isoformat(),
                     examples=False)
        (path / "definitions").mkdir(exist_ok=True)
        (path / "definitions" / "groups.yml").write_text(yaml.safe_dump(groups, sort_keys=False))
        settings = yaml.safe_load((path / "signals_batch.yml").read_text())
        settings["include_current_day"] = include_current_day
        settings["target_schema"] = dataset
        settings["source"] = f"{events_dataset}.events"
        (path / "signals_batch.yml").write_text(yaml.safe_dump(settings))
        (path / "profiles.yml").write_text(yaml.safe_dump(emulator_profile(emulator.endpoint)))
        (path / "macros" / "bqemulator_workarounds.sql").write_text(EMULATOR_MACROS)
        self.path = path
        self.emulator = emulator
        self.dataset = dataset
        self.events_table = f"{GCP_PROJECT}.{events_dataset}.events"
        self.groups = groups
        self.start_date = start_date
        self.include_current_day = include_current_day
        self.loaded: list[dict] = []
        self.client = emulator.client()
        columns = ", ".join(f"{name} {BIGQUERY_TYPES[t]}" for name, t in EVENT_COLUMNS)
        self.execute(f"CREATE SCHEMA IF NOT EXISTS `{GCP_PROJECT}.{events_dataset}`",
                     f"CREATE TABLE IF NOT EXISTS `{self.events_table}` ({columns})")

    def execute(self, *statements: str) -> list[list]:
        results = []
        for statement in statements:
            results.append([tuple(r.values()) for r in self.client.query(statement).result()])
        return results

    def load(self, rows: list[dict]) -> None:
        """Append `rows` to the events table: copied from the emulator's staging table when
        they were staged (`stage_events`), else inserted."""
        names = ", ".join(COLUMN_NAMES)
        staged = self.emulator.staged
        if rows and all(id(row) in staged for row in rows):
            ordinals = sorted(staged[id(row)] for row in rows)
            self.execute(f"INSERT INTO `{self.events_table}` ({names}) SELECT {names} "
                         f"FROM `{STAGING_TABLE}` WHERE {_ranges('signals_row', ordinals)}")
        else:
            insert_events(self.client, self.events_table, rows)
        self.loaded.extend(rows)

    @property
    def project(self) -> Project:
        return Project(self.path)

    def run(self, as_of: dt.date, **options) -> RunSummary:
        return self.project.run(as_of=as_of, **options)

    def test(self):
        return self.project.test()

    def dbt(self, command: list[str]):
        project = self.project
        return project.dbt(command, vars=project.dbt_vars())

    def use_store(self, **store) -> None:
        path = self.path / "signals_batch.yml"
        settings = yaml.safe_load(path.read_text())
        settings["store"] = store
        path.write_text(yaml.safe_dump(settings))

    def sync(self, **options):
        return self.project.sync(**options)

    def status(self) -> list[dict]:
        return self.project.status()

    def rows(self) -> dict[str, dict[str, dict]]:
        """Every attribute table as {key: {attribute: value, updated_at}}."""
        result = {}
        for group in self.groups:
            if group.get("type") == "external_batch":
                continue
            table = f"{group['name']}_v{group.get('version', 1)}_attributes"
            types = {a["name"]: a["type"] for a in group["attributes"]}
            query = self.client.query(f"select * from `{GCP_PROJECT}.{self.dataset}.{table}`")
            rows = {}
            for record in query.result():
                row = dict(record.items())
                key_name = next(iter(row))
                key = row.pop(key_name)
                rows[key] = {k: plain(v, types.get(k)) for k, v in row.items()}
            result[table] = rows
        return result

    def tables(self) -> dict[str, dict[str, dict]]:
        return {table: {key: {k: v for k, v in row.items() if k != "updated_at"}
                        for key, row in rows.items()}
                for table, rows in self.rows().items()}


def plain(value, type_name: str | None):
    """A value read through the client as the oracle writes it (lists and dicts are JSON)."""
    if type_name is None or value is None:
        return _naive(value)
    if type_name.endswith("_list") or type_name == "dict":
        value = json.loads(value) if isinstance(value, str) else value
        if type_name.endswith("_list"):
            return [plain_scalar(item, type_name[:-5]) for item in value]
        return value
    return plain_scalar(value, type_name)


def _naive(value):
    if isinstance(value, dt.datetime) and value.tzinfo:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def plain_scalar(value, type_name: str):
    if value is None:
        return None
    if type_name in ("int32", "int64", "unix_timestamp"):
        return int(value)
    if type_name in ("float", "double"):
        return float(value)
    if type_name == "timestamp" and isinstance(value, str):
        return _naive(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
    return _naive(value)
