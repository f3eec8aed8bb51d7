"""The fast path of a sync: DuckDB encodes each row's values as JSON (`read_encoded`), which
must give exactly the values the Python path (`read_changes`, `_json_ready`) gives, for every
column type it takes on; any other type falls back to the Python path."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import duckdb
import pytest

from signals_batch.definitions.models import AttributeGroup
from signals_batch.stores.base import Watermark
from signals_batch.sync.source import (
    encoded_values_sql,
    read_changes,
    read_encoded,
    row_source,
)

# column -> (DuckDB type, declared type, SQL values of the rows, in order)
COLUMNS: dict[str, tuple[str, str, list[str]]] = {
    "s": ("VARCHAR", "string", [
        "'h\u00e9llo \"q\" \\ /' || chr(10) || chr(9) || chr(0) || chr(8232) || chr(1) || "
        "chr(127) || '\U0001f600'", "''", "NULL", "'plain'"]),
    "i": ("BIGINT", "int64", ["-7", "9223372036854775807", "NULL", "0"]),
    "n": ("INTEGER", "int32", ["42", "-2147483648", "NULL", "1"]),
    "h": ("HUGEINT", "int64", ["170141183460469231731687303715884105727", "0", "NULL", "1"]),
    "ub": ("UBIGINT", "int64", ["18446744073709551615", "0", "NULL", "1"]),
    "d": ("DOUBLE", "double", ["0.1", "2.0", "5e-324", "1.7976931348623157e308"]),
    "d2": ("DOUBLE", "double", ["-0.0", "1e22", "'nan'", "'-inf'"]),
    "f": ("FLOAT", "float", ["0.1", "2.5", "NULL", "3.4028235e38"]),
    "dec": ("DECIMAL(18,3)", "double", ["1.5", "-0.001", "NULL", "123456789012345.678"]),
    "dec0": ("DECIMAL(10,0)", "double", ["3", "0", "NULL", "-9999999999"]),
    "b": ("BOOLEAN", "bool", ["true", "false", "NULL", "true"]),
    "ts": ("TIMESTAMP", "timestamp", ["'2025-01-02 03:04:05'", "'2025-01-02 03:04:05.000100'",
                                      "NULL", "'0900-12-31 23:59:59.999999'"]),
    "day": ("DATE", "timestamp", ["'2025-01-02'", "NULL", "'1999-12-31'", "'0001-01-01'"]),
    "sl": ("VARCHAR[]", "string_list", ["['a', 'b\"c', NULL]", "[]", "NULL", "['\u00fc']"]),
    "il": ("BIGINT[]", "int64_list", ["[1, 2, NULL]", "[]", "NULL", "[-1]"]),
    "fl": ("FLOAT[]", "float_list", ["[0.1, NULL]", "[]", "NULL", "[1.0]"]),
    "tl": ("TIMESTAMP[]", "timestamp_list", ["['2025-01-01', '2025-01-01 00:00:00.5']", "[]",
                                             "NULL", "[NULL]"]),
    "nested": ("BIGINT[][]", "int64_list", ["[[1], [], NULL]", "[]", "NULL", "[[2, 3]]"]),
    "j": ("JSON", "dict", ["'{\"a\": 1, \"b\": [1.5, \"x\", null], \"c\": {\"d\": true}}'",
                           "'{}'", "NULL", "'{\"k\": 2.50}'"]),
    "jv": ("VARCHAR", "dict", ["'{\"a\": 1}'", "'{}'", "NULL", "'{\"n\": {\"m\": [1]}}'"]),
    "js": ("JSON", "string", ["'{\"a\": 1}'", "'[1,2]'", "NULL", "'\"text\"'"]),
}
KEYS = ["u2", "u1", "\u00fcser", "u/4:x"]
STAMPS = ["2025-03-01 00:00:00", "2025-03-01 00:00:00", "2025-03-02 10:11:12.000001",
          "2025-02-28 23:59:59.5"]


def group_over(columns: dict[str, tuple[str, str, list[str]]]) -> AttributeGroup:
    return AttributeGroup.model_validate({
        "name": "crm_user", "type": "external_batch", "owner": "crm@example.com",
        "attribute_key": {"name": "user_id"},
        "fields": [{"name": n, "type": declared} for n, (_, declared, _) in columns.items()],
        "batch_source": {"name": "crm_users", "schema": "crm", "table": "users",
                         "timestamp_field": "modified_at"},
    })


def make_table(con, columns: dict[str, tuple[str, str, list[str]]]) -> None:
    con.execute("create schema crm")
    typed = ", ".join(f'"{n}" {t}' for n, (t, _, _) in columns.items())
    con.execute(f"create table crm.users (user_id VARCHAR, modified_at TIMESTAMP, {typed})")
    for i, key in enumerate(KEYS):
        values = ", ".join(f"CAST({v[i]} AS {t})" for t, _, v in columns.values())
        con.execute(f"insert into crm.users values (?, ?, {values})", [key, STAMPS[i]])


def same_json(got, expected) -> bool:
    """Equal as JSON text: tells 1, 1.0 and true apart (and NaN from None)."""
    return json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.fixture
def con():
    connection = duckdb.connect()
    make_table(connection, COLUMNS)
    yield connection
    connection.close()


@pytest.mark.parametrize("after", [None, Watermark(dt.datetime(2025, 3, 1), "u1")])
@pytest.mark.parametrize("chunk_size", [1, 3, 10])
def test_encoded_rows_equal_the_python_rows(con, after, chunk_size) -> None:
    source = row_source(group_over(COLUMNS), "main", None)
    values_sql = encoded_values_sql(con, source)
    assert values_sql is not None
    python = list(read_changes(con, source, after, chunk_size))
    encoded = list(read_encoded(con, source, after, chunk_size, values_sql))
    assert [len(c) for c in encoded] == [len(c) for c in python]
    assert len(python) >= 1
    for rows, chunk in zip(python, encoded, strict=True):
        assert chunk.position == rows[-1].position
        assert chunk.keys == [r.key_value for r in rows]
        for i, row in enumerate(rows):
            assert chunk.updated_at[i] == row.updated_at.isoformat(timespec="microseconds")
            micros = (row.updated_at - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
            assert chunk.updated_ms[i] == -(-micros // 1000)
            got = json.loads(chunk.values[i])
            assert list(got) == list(row.values)
            for name, value in row.values.items():
                assert same_json(got[name], value), (row.key_value, name, got[name], value)


@pytest.mark.parametrize("data_type", ["BLOB", "TIMESTAMPTZ", "STRUCT(a INTEGER)",
                                       "MAP(VARCHAR, INTEGER)", "INTERVAL", "TIME"])
def test_other_types_go_through_python(data_type) -> None:
    columns = {"ok": COLUMNS["i"], "other": (data_type, "string", ["NULL"] * 4)}
    con = duckdb.connect()
    make_table(con, columns)
    assert encoded_values_sql(con, row_source(group_over(columns), "main", None)) is None


def test_only_duckdb_connections_encode() -> None:
    columns = {"ok": COLUMNS["i"]}
    con = sqlite3.connect(":memory:")
    assert encoded_values_sql(con, row_source(group_over(columns), "main", None)) is None


@pytest.mark.parametrize("after_row", [None, 0, 137, 499])
def test_rows_are_read_in_ranges_in_order(monkeypatch, after_row) -> None:
    """Many rows share a timestamp (a run stamps its changed rows alike): the ranges split
    them by key, and together give every row once, in (timestamp, key) order."""
    from signals_batch.sync import source as module

    monkeypatch.setattr(module, "RANGE_ROWS", 40)
    monkeypatch.setattr(module, "SAMPLE_PER_RANGE", 5)
    ranges: list[int] = []
    all_ranges = module._ranges
    monkeypatch.setattr(module, "_ranges", lambda *args: (
        r for r in all_ranges(*args) if not ranges.append(1)))
    columns = {"i": COLUMNS["i"]}
    con = duckdb.connect()
    con.execute("create schema crm")
    con.execute(
        "create table crm.users as select 'k' || (hash(r) % 100000) || '/' || r as user_id, "
        "TIMESTAMP '2025-03-01' + to_hours(CAST(r % 3 AS BIGINT)) as modified_at, "
        "CAST(r AS BIGINT) as i from range(500) t(r)")
    expected = con.execute(
        "select user_id, modified_at, i from crm.users order by modified_at, user_id").fetchall()
    after = None
    if after_row is not None:
        after = Watermark(expected[after_row][1], expected[after_row][0])
        expected = expected[after_row + 1:]
    source = row_source(group_over(columns), "main", None)
    python = [r for chunk in read_changes(con, source, after, 7) for r in chunk]
    assert [(r.key_value, r.updated_at, r.values["i"]) for r in python] == expected
    values_sql = encoded_values_sql(con, source)
    chunks = list(read_encoded(con, source, after, 7, values_sql))
    assert [(k, dt.datetime.fromisoformat(u), json.loads(v)["i"]) for c in chunks
            for k, u, v in zip(c.keys, c.updated_at, c.values, strict=True)] == expected
    if len(expected) > 40:
        assert len(ranges) >= 2 * (len(expected) // 40)  # both reads, in several ranges
    if expected:
        assert chunks[-1].position == Watermark(expected[-1][1], expected[-1][0])


def test_read_ahead_gives_every_chunk_in_order_and_stops_its_reader() -> None:
    import threading

    from signals_batch.sync.syncer import read_ahead

    assert list(read_ahead(iter(range(50)))) == list(range(50))
    read: list[int] = []

    def chunks():
        for i in range(1000):
            read.append(i)
            yield i

    ahead = read_ahead(chunks())
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()  # the consumer stops early (a store error): the reader stops too
    assert len(read) <= 6
    assert not [t for t in threading.enumerate() if t.name == "signals-batch-sync-reader"]

    def failing():
        yield 1
        raise ValueError("the warehouse failed")

    ahead = read_ahead(failing())
    assert next(ahead) == 1
    with pytest.raises(ValueError, match="the warehouse failed"):
        next(ahead)
