"""Cases shared by the warehouse dialect tests (tests/test_snowflake.py, tests/test_bigquery.py):
every group of tests/engine_groups.py plus TEXT_EDGES (values each dialect's macros read their
own way), and the events they run on; TYPED: an external batch group over a table of every
declared type, whose profiles must be the same JSON from every warehouse."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml
from engine_groups import (
    ALL_GROUPS,
    COUPON,
    NETWORK_GROUP,
    PURCHASE_1,
    USER_ID_GROUP,
    _attr,
    _group,
    edge_events,
)

from signals_batch import sample_events
from signals_batch.sample_events import COLUMN_NAMES, PURCHASE_V1

START = dt.date(2025, 1, 1)
DAYS = 12

STAMP = {"type": "event", "vendor": "com.acme", "name": "purchase", "major_version": 1,
         "path": "stamp"}
AMOUNT = {**STAMP, "path": "amount"}
META = {**STAMP, "path": "meta"}
TAGS = {**STAMP, "path": "tags"}
BACKSLASH_PERCENT = {"all": [{"property": COUPON, "operator": "=", "value": "a\\%"}]}

# Values the warehouse macros read their own way: backslashes in string literals and LIKE
# patterns (an escape character in Snowflake strings), timestamps with offsets in JSON text,
# numbers with blanks around them, a path to an object or an array (its compact JSON text).
TEXT_EDGES = _group("text_edges", "domain_userid", [
    _attr("backslash_coupon", "int64", "counter", events=[PURCHASE_1],
          criteria={"all": [{"property": COUPON, "operator": "=", "value": "a\\b"}]}),
    _attr("backslash_like", "int64", "counter", events=[PURCHASE_1],
          criteria={"all": [{"property": COUPON, "operator": "like", "value": "a\\%"}]}),
    _attr("offset_hours", "int32_list", "unique_list", {**STAMP, "date_part": "hour_of_day"}),
    _attr("offset_days", "string_list", "unique_list", {**STAMP, "date_part": "active_day"}),
    _attr("latest_stamp", "timestamp", "max", STAMP),
    _attr("last_stamp_unix", "unix_timestamp", "last", STAMP),
    _attr("fraction_unix", "unix_timestamp", "first", STAMP, events=[PURCHASE_1],
          criteria=BACKSLASH_PERCENT),
    _attr("blank_amounts", "double", "sum", AMOUNT),
    _attr("coupons", "string_list", "unique_list", COUPON),
    _attr("last_meta", "string", "last", META),
    _attr("first_tags", "string", "first", TAGS),
    _attr("all_meta", "string_list", "unique_list", META),
])
GROUPS = [*ALL_GROUPS, TEXT_EDGES]
# models generated for GROUPS: the events of the run, the ledger, each group's daily and
# attribute models, and a lifetime model for each group with a lifetime attribute
MODEL_COUNT = 2 + sum(
    3 if any("period" not in a for a in group["attributes"]) else 2 for group in GROUPS
)


def text_edge_events(start: dt.date) -> list[dict]:
    midnight = dt.datetime.combine(start, dt.time())
    payloads = [
        {"coupon": "a\\b", "stamp": "2025-01-03T23:30:00-02:00", "amount": "\t7\n",
         "meta": {"a": 1, "b": "x"}, "tags": ["p", 2]},
        {"coupon": "a\\%", "stamp": "2025-01-03 10:00:00.900+0100", "amount": " 3 ",
         "tags": []},
        {"coupon": "ab", "stamp": "12345", "amount": "1_000", "meta": {"a": [1.5, None]}},
        {"coupon": "a%", "stamp": "2025-01-04", "amount": "nan"},
        {"coupon": "it's \\'", "stamp": "2025-01-04 05:06Z", "amount": 2},
    ]
    rows = []
    for i, payload in enumerate(payloads):
        derived = midnight + dt.timedelta(days=3, seconds=60 * i)
        row = dict.fromkeys(COLUMN_NAMES)
        row.update(event_id=f"text-edge-{i}", event_vendor="com.acme", event_name="purchase",
                   event_version="1-0-0", event="unstruct", platform="web",
                   derived_tstamp=derived, collector_tstamp=derived, dvce_created_tstamp=derived,
                   load_tstamp=derived + dt.timedelta(minutes=5), domain_userid="text-edge-user",
                   domain_sessionid="text-edge-session", **{PURCHASE_V1: json.dumps(payload)})
        rows.append(row)
    return rows




def case_events() -> list[dict]:
    """Sample events (late and duplicated ones), the edge events and the text edges, in load
    order."""
    rows = sample_events.generate_events(
        n_events=4000, days=DAYS, users=30, seed=11, start=START)
    rows += edge_events(START) + text_edge_events(START)
    rows.sort(key=lambda r: (r["load_tstamp"], r["event_id"]))
    return rows


# One external batch group over a table of every declared type, with the SAME values in a
# DuckDB table and a Snowflake table (each in its warehouse's own column types: BIGINT[] /
# ARRAY, JSON / OBJECT, ...): a profile read back from the store must be the same JSON
# whichever warehouse it was synced from.
TYPED_FIELDS = {
    # name: (type, DuckDB column, Snowflake column, BigQuery column)
    "label": ("string", "VARCHAR", "VARCHAR", "STRING"),
    "big": ("int64", "BIGINT", "NUMBER(38,0)", "INT64"),
    "small": ("int32", "INTEGER", "INTEGER", "INT64"),
    "ratio": ("double", "DOUBLE", "DOUBLE", "FLOAT64"),
    "single": ("float", "FLOAT", "FLOAT", "FLOAT64"),
    "flag": ("bool", "BOOLEAN", "BOOLEAN", "BOOL"),
    "seen_at": ("timestamp", "TIMESTAMP", "TIMESTAMP_NTZ", "TIMESTAMP"),
    "seen_unix": ("unix_timestamp", "BIGINT", "NUMBER(38,0)", "INT64"),
    "tags": ("string_list", "VARCHAR[]", "ARRAY", "JSON"),
    "counts": ("int64_list", "BIGINT[]", "ARRAY", "JSON"),
    "scores": ("double_list", "DOUBLE[]", "ARRAY", "JSON"),
    "flags": ("bool_list", "BOOLEAN[]", "ARRAY", "JSON"),
    "stamps": ("timestamp_list", "TIMESTAMP[]", "ARRAY", "JSON"),
    "props": ("dict", "JSON", "OBJECT", "JSON"),
}
TYPED = {
    "name": "typed", "version": 1, "type": "external_batch", "owner": "t@example.com",
    "attribute_key": "user_id",
    "batch_source": {"name": "typed_rows", "schema": "crm", "table": "typed_rows",
                     "timestamp_field": "changed_at"},
    "fields": [{"name": name, "type": spec[0]} for name, spec in TYPED_FIELDS.items()],
}
_T = dt.datetime
TYPED_ROWS = [
    {"user_id": "u1", "label": "plain", "big": 2**53 + 1, "small": 7, "ratio": 0.1,
     "single": 1.5, "flag": True, "seen_at": _T(2025, 1, 2, 3, 4, 5), "seen_unix": 1735787045,
     "tags": ["a", "b"], "counts": [1, 2**53 + 1], "scores": [0.5, 2.0, 1e-07],
     "flags": [True, False], "stamps": [_T(2025, 1, 1, 10), _T(2025, 1, 1, 10, 0, 0, 500000)],
     "props": {"a": 1, "b": [1, 2.5, "x"], "c": {"d": None}, "e": "ü", "f": 1.0},
     "changed_at": _T(2025, 1, 1)},
    {"user_id": 'u2 "quoted" ü', "label": "it's \"q\" \\ ✓", "big": -1, "small": -2**31,
     "ratio": 1e300, "single": -0.25, "flag": False, "seen_at": _T(2025, 1, 2, 3, 4, 5, 123456),
     "seen_unix": 0, "tags": [], "counts": [], "scores": [], "flags": [], "stamps": [],
     "props": {}, "changed_at": _T(2025, 1, 1)},  # same marker as u1: ordered by key
    {"user_id": "u3", **dict.fromkeys(TYPED_FIELDS), "changed_at": _T(2025, 1, 3, 0, 0, 0, 1)},
    {"user_id": "u4", "label": "", "big": 0, "small": 0, "ratio": 3.0, "single": 0.0,
     "flag": None, "seen_at": None, "seen_unix": None, "tags": ["x", None], "counts": [None, 3],
     "scores": [3.0, None], "flags": [None], "stamps": [None, _T(2024, 12, 31, 23, 59, 59)],
     "props": {"n": [], "m": {}}, "changed_at": _T(2025, 1, 2, 12)},
]


# --------------------------------------------------------------------------- sync

# An external batch group over a table `crm.customers` each test file creates in its warehouse.
CRM = {
    "name": "crm", "version": 1, "type": "external_batch", "owner": "crm@example.com",
    "attribute_key": "user_id",
    "batch_source": {"name": "crm_customers", "schema": "crm", "table": "customers",
                     "timestamp_field": "changed_at"},
    "fields": [{"name": "lifetime_value", "type": "double"},
               {"name": "segment", "type": "string"}],
}


def assert_every_case_is_exercised(tables: dict) -> None:
    """The engine tables are not trivially empty: enough keys, every criterion selects
    something on some key, key values with SQL or quotes in them are data."""
    aggregations = tables["aggregations_v1_attributes"]
    assert len(aggregations) >= 25
    criteria = tables["criteria_v1_attributes"]
    for name in ("gb", "low_value", "sale_pages", "gb_or_fr", "no_country", "quote_coupon",
                 "injection_coupon", "percent_like", "jinja_looking", "major_two", "gift"):
        assert any(row[name] for row in criteria.values()), name
    assert "x'); drop table y; --" in aggregations  # a key value with SQL in it is data
    assert "it's" in tables["by_device_class_v1_attributes"]


def group_ident(group: dict) -> str:
    return f"{group['name']}_v{group.get('version', 1)}"


def store_json(value) -> str:
    """A value as the store's JSON: an int stays an int, a float a float (1 != 1.0 here)."""
    return json.dumps(value, sort_keys=True)


def assert_store_equals_tables(project, store_type: str | None = None) -> None:
    """Every key of every attribute table is in the store with exactly the table's values
    (read back by the test's own client code, not the reader)."""
    from signals_batch.sync.source import _json_ready

    tables = project.rows()
    store = project.project.open_store(store_type)
    try:
        for group in project.groups:
            if group.get("type") == "external_batch":
                continue
            ident = group_ident(group)
            types = {a["name"]: a["type"] for a in group["attributes"]}
            rows = tables[f"{ident}_attributes"]
            assert rows, ident
            for key, row in rows.items():
                stored = store.get(ident, key)
                assert stored is not None, (ident, key)
                assert dt.datetime.fromisoformat(stored["updated_at"]) == row["updated_at"]
                for name, type_name in types.items():
                    expected = _json_ready(row[name], type_name)
                    assert store_json(stored[name]) == store_json(expected), (ident, key, name)
            assert store.count(ident) == len(rows), ident
    finally:
        store.close()


# ------------------------------------------------------------------ sync checks, every warehouse
# Each takes `session`: a context manager factory around anything that connects to the
# warehouse outside the test project's own helpers (Snowflake: the fakesnow patch; BigQuery:
# nothing), and `cli`: run_cli bound to pytest's capsys.

SYNC_GROUPS = [USER_ID_GROUP, NETWORK_GROUP, CRM]


def check_a_first_sync_fills_the_store_then_sends_nothing(project, session, cli) -> None:
    """Every row goes to the local store; a second sync sends nothing and keeps the
    watermarks; `status` reports the rows, as-of, last run and the newest updated_at."""
    project.use_store(type="local", path="store-local.sqlite")
    first = project.sync(chunk_size=50)
    assert sorted(g.group for g in first.groups) == sorted(group_ident(g) for g in GROUPS)
    assert all(g.rows_read == g.rows_written > 0 for g in first.groups), first.groups
    assert_store_equals_tables(project)
    again = project.sync()
    assert all(g.rows_read == 0 and g.rows_written == 0 for g in again.groups)
    assert [g.watermark for g in again.groups] == [g.watermark for g in first.groups]

    with session():
        result = cli("status", "-p", str(project.path), "--json")
    assert result.code == 0, result.err
    report = {row["group"]: row for row in json.loads(result.out)}
    tables = project.rows()
    synced = {g.group: g for g in first.groups}
    for group in GROUPS:
        ident = group_ident(group)
        row, rows = report[ident], tables[f"{ident}_attributes"]
        assert row["rows"] == len(rows) and row["pending"] == 0, row
        assert row["as_of"] == (START + dt.timedelta(days=9)).isoformat()
        assert row["last_run"] is not None
        newest = max(r["updated_at"] for r in rows.values())
        assert row["watermark"] == newest.isoformat()  # the text sync reports
        assert synced[ident].watermark == newest.isoformat()


def check_a_sync_after_an_incremental_run_sends_only_changed_rows(
        project, later_events: list[dict], delete_network_key, session, cli) -> None:
    """After a run over more events, a sync sends exactly the rows the run changed; a key
    deleted from a table (`delete_network_key(key)`: the warehouse's DELETE statement) is
    removed from the store by `sync --full`."""
    project.use_store(type="local", path="store-incremental.sqlite")
    first = {g.group: g for g in project.sync(chunk_size=7).groups}
    assert all(g.rows_read == g.rows_written > 0 for g in first.values())
    assert_store_equals_tables(project)

    project.load(later_events)
    run = project.run(as_of=START + dt.timedelta(days=DAYS - 1))
    # the run summary reads the warehouse's state table too
    assert run.new_events and all(g.rows and g.changed for g in run.groups), run
    changed = {g.group: g.changed for g in run.groups}
    with session():
        dry = cli("sync", "-p", str(project.path), "--dry-run", "--json")
    assert dry.code == 0, dry.err
    assert {g["group"]: g["rows_read"] for g in json.loads(dry.out)["groups"]} == {
        **changed, "crm_v1": 0}
    second = {g.group: g for g in project.sync().groups}
    for ident, count in changed.items():
        assert second[ident].rows_read == second[ident].rows_written == count, ident
    assert second["crm_v1"].rows_read == 0
    assert_store_equals_tables(project)

    gone = sorted(project.rows()["network_v2_attributes"])[0]
    project.execute(delete_network_key(gone))
    with session():
        full = cli("sync", "-p", str(project.path), "--full", "--json")
    assert full.code == 0, full.err
    removed = {g["group"]: g["rows_removed"] for g in json.loads(full.out)["groups"]}
    assert removed == {"logged_in_v1": 0, "network_v2": 1, "crm_v1": 0}
    store = project.project.open_store()
    assert store.get("network_v2", gone) is None
    store.close()
    assert_store_equals_tables(project)


def check_an_external_batch_group_syncs_its_own_table(project, make_u2_platinum,
                                                      session) -> None:
    """The CRM table (crm.customers, see the warehouse's sync_project fixture) syncs by
    its timestamp field; a changed row is sent again; a field or table the warehouse does not
    have is a clear error before anything is sent. `make_u2_platinum`: the warehouse's UPDATE
    setting u2's segment to 'platinum' and its changed_at to 2025-01-03."""
    from signals_batch.errors import InvalidInput

    project.use_store(type="local", path="store-external.sqlite")
    crm = {g.group: g for g in project.sync(chunk_size=1).groups}["crm_v1"]
    assert crm.rows_read == 2 and crm.watermark == "2025-01-02T00:00:00"
    with session():
        assert project.project.get("u1", group="crm")["crm_v1"] == {
            "lifetime_value": 10.5, "segment": "gold", "updated_at": "2025-01-01T00:00:00.000000"}
    project.execute(make_u2_platinum)
    again = {g.group: g for g in project.sync().groups}
    assert again["crm_v1"].rows_read == 1
    assert sum(g.rows_read for g in again.values()) == 1
    store = project.project.open_store()
    assert store.get("crm_v1", "u2")["segment"] == "platinum"
    store.close()
    definitions = project.path / "definitions" / "groups.yml"
    broken = {**CRM, "fields": [*CRM["fields"], {"name": "churn_risk", "type": "double"}]}
    definitions.write_text(yaml.safe_dump([USER_ID_GROUP, NETWORK_GROUP, broken],
                                          sort_keys=False))
    try:
        with pytest.raises(InvalidInput) as error:
            project.sync(full=True)
        assert "crm_v1" in str(error.value) and "churn_risk" in str(error.value)
        assert "crm.customers" in str(error.value)
        missing_table = {**CRM, "batch_source": {**CRM["batch_source"], "table": "nope"}}
        definitions.write_text(yaml.safe_dump([missing_table], sort_keys=False))
        with pytest.raises(InvalidInput, match="table crm.nope not found"):
            project.sync()
    finally:
        definitions.write_text(yaml.safe_dump(SYNC_GROUPS, sort_keys=False))
    store = project.project.open_store()
    assert store.get("crm_v1", "u2")["segment"] == "platinum"  # nothing was resent
    store.close()
