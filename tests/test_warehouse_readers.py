"""The warehouse-reader layer without a warehouse: the adapter dispatch, values written as JSON
text by Snowflake's connector (the forms real Snowflake writes, which the emulator does not),
secrets scrubbed from messages, and the Snowflake reader's queries and chunked reads against a
recording stand-in for the connector."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from signals_batch.definitions.models import AttributeGroup
from signals_batch.errors import InvalidInput
from signals_batch.stores.base import Watermark
from signals_batch.sync.reader import READERS, reader_class
from signals_batch.sync.source import _json_ready, json_text_ready, row_source
from signals_batch.warehouse import DbtTarget, scrub


def test_the_profile_adapter_picks_the_reader_and_an_unknown_one_is_a_clear_error():
    assert reader_class("duckdb").type == "duckdb"
    assert set(READERS) >= {"duckdb", "snowflake"}
    with pytest.raises(InvalidInput, match="'postgres'"):
        reader_class("postgres")


@pytest.mark.parametrize(("text", "type_name", "expected"), [
    # real Snowflake writes TIMESTAMP_NTZ / _TZ inside a VARIANT like this
    ('["2025-01-01 10:00:00.500", "2025-01-01 10:00:00.000"]', "timestamp_list",
     ["2025-01-01T10:00:00.500000", "2025-01-01T10:00:00"]),
    ('["2025-01-01 10:00:00.500 -0800", "2025-01-01T10:00:00Z", "2025-01-01 10:00+01:00"]',
     "timestamp_list", ["2025-01-01T18:00:00.500000", "2025-01-01T10:00:00",
                        "2025-01-01T09:00:00"]),
    ('["2025-01-01 10:00:00.123456789"]', "timestamp_list", ["2025-01-01T10:00:00.123456"]),
    ('["not a time", null]', "timestamp_list", ["not a time", None]),
    # doubles in exponent form, integers where the type says double, and back
    ("[1.300000000000000e+01, 2, null]", "double_list", [13.0, 2.0, None]),
    ("[1, 2.0, 9007199254740993]", "int64_list", [1, 2, 9007199254740993]),
    ('[true, false, null]', "bool_list", [True, False, None]),
    ('["a", "", null]', "string_list", ["a", "", None]),
    ("[]", "string_list", []),
    ('{"b": [1, 2.5], "a": {"c": null}}', "dict", {"b": [1, 2.5], "a": {"c": None}}),
])
def test_json_text_values_become_what_duckdb_gives(text, type_name, expected):
    assert json_text_ready(text, type_name) == expected
    assert [type(v) for v in json_text_ready(text, type_name) or []] == [
        type(v) for v in expected or []]


def test_scalars_are_encoded_as_the_duckdb_path_encodes_them():
    naive = dt.datetime(2025, 1, 2, 3, 4, 5, 600)
    for value, type_name in [(7, "int64"), (0.1, "double"), (True, "bool"), ("x", "string"),
                             (naive, "timestamp"), (None, "double")]:
        assert json_text_ready(value, type_name) == _json_ready(value, type_name)
    # a TIMESTAMP_TZ value: in UTC, as DuckDB gives a TIMESTAMPTZ in its UTC session
    aware = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    assert json_text_ready(aware, "timestamp") == "2025-01-02T11:04:05+00:00"


def test_scrub_removes_every_secret_longest_first():
    assert scrub("pw=abc123 and abc123-long", ("abc123", "abc123-long")) == "pw=*** and ***"


# --------------------------------------------------------------------------- Snowflake reader

GROUP = AttributeGroup.model_validate({
    "name": "crm", "version": 1, "type": "external_batch", "owner": "crm@example.com",
    "attribute_key": "user_id",
    "batch_source": {"name": "crm_rows", "schema": "crm", "table": "customers",
                     "timestamp_field": "changed_at"},
    "fields": [{"name": "segment", "type": "string"}, {"name": "tags", "type": "string_list"}],
})
COLUMNS = [("CRM", "CUSTOMERS", "user_id", "TEXT"), ("CRM", "CUSTOMERS", "SEGMENT", "TEXT"),
           ("CRM", "CUSTOMERS", "TAGS", "ARRAY"), ("CRM", "CUSTOMERS", "CHANGED_AT",
                                                   "TIMESTAMP_TZ")]


class Cursor:
    """Records what the reader asks of the connector; `rows` is the query's result."""

    def __init__(self, log: list, rows: list[tuple]):
        self.log, self.rows = log, rows

    def execute(self, sql, params=None):
        self.log.append(("execute", " ".join(sql.split()), params))
        if "information_schema.columns" in sql:
            self.result = list(COLUMNS)
        elif "count(*)" in sql:
            self.result = [(len(self.rows),)]
        else:
            self.result = list(self.rows)
        return self

    def fetchmany(self, size):
        self.log.append(("fetchmany", size))
        batch, self.result = self.result[:size], self.result[size:]
        return batch

    def fetchone(self):
        return self.result[0]

    def fetchall(self):
        self.log.append(("fetchall",))
        batch, self.result = self.result, []
        return batch

    def close(self):
        pass


class Connection:
    def __init__(self, rows):
        self.log: list = []
        self.rows = rows

    def cursor(self):
        return Cursor(self.log, self.rows)

    def close(self):
        pass


class Credentials:
    account, user, database, query_tag = "acme", "tester", "ANALYTICS", None


def _reader(rows):
    from signals_batch.sync.snowflake_reader import SnowflakeReader

    target = DbtTarget(name="dev", adapter_type="snowflake", credentials=Credentials())
    return SnowflakeReader(Connection(rows), target)


def test_the_snowflake_reader_reads_changed_rows_in_order_a_chunk_at_a_time():
    stamp = dt.datetime(2025, 1, 1, 10)
    rows = [(f"u{i}", stamp, f"s{i}", '["a"]') for i in range(5)]
    reader = _reader(rows)
    source = row_source(GROUP, "signals", reader.default_database)
    reader.check(source)
    chunks = reader.read_changes(source, Watermark(dt.datetime(2025, 1, 1, 9, 0, 0, 5), "u"), 2)
    first = next(chunks)  # a generator: the first chunk before the rest is fetched
    assert [r.key_value for r in first] == ["u0", "u1"]
    assert first[0].values == {"segment": "s0", "tags": ["a"]}
    assert first[0].updated_at == stamp
    assert [len(c) for c in chunks] == [2, 1]
    log = reader.connection.log
    assert log.count(("fetchall",)) == 1  # only the INFORMATION_SCHEMA lookup fetches all
    assert [e for e in log if e[0] == "fetchmany"] == [("fetchmany", 2)] * 4
    query, params = next(
        (e[1], e[2]) for e in log if e[0] == "execute" and "order by 2, 1" in e[1])
    # real names, quoted; the TIMESTAMP_TZ marker compared in UTC with microseconds
    assert query.startswith(
        'select CAST("user_id" AS VARCHAR), CAST(CONVERT_TIMEZONE(\'UTC\', "CHANGED_AT") '
        'AS TIMESTAMP_NTZ(6)), "SEGMENT", "TAGS" from ANALYTICS."CRM"."CUSTOMERS" where')
    assert query.endswith("order by 2, 1")
    assert params == ["2025-01-01 09:00:00.000005", "2025-01-01 09:00:00.000005", "u"]


def test_the_snowflake_reader_names_what_is_missing(tmp_path: Path):
    reader = _reader([])
    broken = GROUP.model_copy(update={"fields": [*GROUP.fields, GROUP.fields[0].model_copy(
        update={"name": "churn"})]})
    with pytest.raises(InvalidInput, match="group crm_v1: table crm.customers has no column "
                                           "churn"):
        reader.check(row_source(broken, "signals", reader.default_database))


# --------------------------------------------------------------------------- BigQuery


class BigQueryClient:
    """A recording stand-in for google.cloud.bigquery.Client: one table, query results in
    pages of the page size asked for."""

    def __init__(self, rows: list[tuple]):
        self.rows, self.log = rows, []

    def get_table(self, name, **kwargs):
        from google.cloud.bigquery import SchemaField, Table

        self.log.append(("get_table", name))
        if not name.endswith(".crm.customers"):
            from google.api_core.exceptions import NotFound

            raise NotFound(name)
        return Table(name, schema=[SchemaField("USER_ID", "STRING"),
                                   SchemaField("Segment", "STRING"),
                                   SchemaField("tags", "JSON"),
                                   SchemaField("changed_at", "DATETIME")])

    def query(self, sql, job_config=None, **kwargs):
        self.log.append(("query", sql, job_config.query_parameters))
        client = self

        class Job:
            def result(self, page_size=None, **kwargs):
                client.log.append(("result", page_size))
                rows = client.rows if "order by" in sql else [(len(client.rows),)]
                size = page_size or len(rows) or 1

                class Rows:
                    pages = (rows[i:i + size] for i in range(0, len(rows), size))

                    def __iter__(self):
                        return iter(rows)

                return Rows()

        return Job()

    def close(self):
        pass


class BigQueryCredentials:
    database, execution_project, method = "analytics-prj", "analytics-prj", "oauth"


def test_the_bigquery_reader_reads_changed_rows_in_order_a_page_at_a_time():
    pytest.importorskip("google.cloud.bigquery")
    from signals_batch.sync.bigquery_reader import BigQueryReader

    reader_type = reader_class("bigquery")
    assert reader_type is BigQueryReader
    stamp = dt.datetime(2025, 1, 1, 10, tzinfo=dt.timezone.utc)
    rows = [(f"u{i}", stamp, f"s{i}", ["a", None]) for i in range(5)]
    target = DbtTarget(name="dev", adapter_type="bigquery", credentials=BigQueryCredentials())
    reader = BigQueryReader(BigQueryClient(rows), target)
    source = row_source(GROUP, "signals", reader.default_database)
    reader.check(source)
    after = Watermark(dt.datetime(2025, 1, 1, 9, 0, 0, 5), "u")
    assert reader.count_changes(source, after) == 5
    chunks = reader.read_changes(source, after, 2)
    first = next(chunks)
    assert [r.key_value for r in first] == ["u0", "u1"]
    assert first[0].values == {"segment": "s0", "tags": ["a", None]}
    assert first[0].updated_at == dt.datetime(2025, 1, 1, 10)  # naive UTC
    assert [len(c) for c in chunks] == [2, 1]
    log = reader.client.log
    assert ("result", 2) in log
    query, params = next((e[1], e[2]) for e in log if e[0] == "query" and "order by" in e[1])
    # real names, quoted; the DATETIME marker read as a UTC TIMESTAMP; the watermark a parameter
    assert query.startswith(
        "select CAST(`USER_ID` AS STRING), TIMESTAMP(`changed_at`), `Segment`, `tags` "
        "from `analytics-prj`.`crm`.`customers` where")
    assert query.endswith("order by 2, 1")
    assert {p.name: p.value for p in params} == {
        "after_stamp": dt.datetime(2025, 1, 1, 9, 0, 0, 5, tzinfo=dt.timezone.utc),
        "after_key": "u"}
    broken = GROUP.model_copy(update={"fields": [*GROUP.fields, GROUP.fields[0].model_copy(
        update={"name": "churn"})]})
    with pytest.raises(InvalidInput, match="group crm_v1: table crm.customers has no column "
                                           "churn"):
        reader.check(row_source(broken, "signals", reader.default_database))
    missing = GROUP.model_copy(update={"batch_source": GROUP.batch_source.model_copy(
        update={"table": "nope"})})
    with pytest.raises(InvalidInput, match="table crm.nope not found"):
        reader.check(row_source(missing, "signals", reader.default_database))


def test_a_sync_waits_for_a_duckdb_file_another_process_has_open(tmp_path: Path):
    """One process at a time may open a DuckDB file for writing: a sync waits up to its
    --lock-timeout for it (as for another sync's store lock), then fails naming the holder."""
    import subprocess
    import sys
    import time

    from signals_batch.scaffold import init_project
    from signals_batch.warehouse import DuckDBFileLocked, connect

    init_project(tmp_path / "p", start_date="2025-01-01", examples=False)
    project = tmp_path / "p"
    with connect(project, create=True) as con:
        con.execute("create table t as select 1 as x")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True);"
         " time.sleep(2)", str(project / "warehouse.duckdb")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        locked = r"is open in another process .*PID \d+.*\(waited 0.3s for it\)"
        with pytest.raises(DuckDBFileLocked, match=locked), connect(project, wait=0.3):
            pass
        assert time.monotonic() - started >= 0.3
        with connect(project, wait=30) as con:  # the holder lets go after 2 s
            assert con.execute("select x from t").fetchone() == (1,)
    finally:
        holder.kill()
        holder.wait()
