"""The generated project on BigQuery: dbt-bigquery against the bqemulator server.

The same independent oracle as tests/test_engine_correctness.py (DuckDB) and
tests/test_snowflake.py checks every aggregation, operator and window rule of
tests/engine_groups.py ALL_GROUPS plus TEXT_EDGES (tests/warehouse_cases.py): a full build,
`include_current_day`, an incremental sequence (late and re-delivered events, as-of moving)
equal to the oracle after every run and to a final full refresh, and a rerun that changes no
`updated_at`. Every compiled model also parses as BigQuery SQL (sqlglot).

Events are in a BigQuery table with JSON columns for the contexts and unstruct events. One
emulator process serves the whole session; each project has its own datasets. The layout of
Snowplow's BigQuery loader (one REPEATED RECORD / RECORD column per full schema version, two
minor versions of one context, then a third added without regenerating the models) has its
own section ("the loader's layout").

Sync from BigQuery (the last sections): the BigQuery reader behind `sync` / `status` / the
run summary, into the local store, incremental, `--full`, an external batch group, and the
failures (an unreachable endpoint, a server refusing the token) without the emulator.

What the emulator cannot show is listed in docs/warehouses.md ("Tests: the bqemulator
emulator").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from functools import partial
from pathlib import Path

import pytest
import yaml
from engine import (
    add_group,
    assert_rows_visible_too_late_are_named,
    differences,
    with_rows_visible_late,
)
from engine_groups import ADDED_LATER_GROUP, NETWORK_GROUP, _attr, _group
from oracle import compute
from warehouse_cases import (
    DAYS,
    GROUPS,
    MODEL_COUNT,
    START,
    SYNC_GROUPS,
    TYPED,
    TYPED_FIELDS,
    TYPED_ROWS,
    assert_every_case_is_exercised,
    case_events,
    check_a_first_sync_fills_the_store_then_sends_nothing,
    check_a_sync_after_an_incremental_run_sends_only_changed_rows,
    check_an_external_batch_group_syncs_its_own_table,
    store_json,
)

from signals_batch import sample_events
from signals_batch.scaffold import init_project

pytestmark = [pytest.mark.dbt, pytest.mark.bigquery]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    pytest.importorskip(
        "bqemulator", reason="bqemulator (the BigQuery emulator) is not installed: "
        "pip install -e '.[dev]' to run the BigQuery tests")
    pytest.importorskip(
        "dbt.adapters.bigquery", reason="dbt-bigquery is not installed: "
        "pip install -e '.[dev]' (or '.[bigquery]') to run the BigQuery tests")
    from bigquery_engine import Emulator

    server = Emulator(tmp_path_factory.mktemp("bqemulator") / "emulator.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def events(emulator) -> list[dict]:
    rows = case_events()
    emulator.stage_events(rows)
    return rows


def _new_project(path: Path, emulator, groups=GROUPS, **options):
    from bigquery_engine import BigQueryProject

    name = re.sub(r"[^a-z0-9_]", "_", path.name.lower())
    return BigQueryProject(path, emulator, groups, dataset=f"signals_{name}",
                           events_dataset=f"atomic_{name}", **options)


def _oracle(project, as_of: dt.date) -> dict:
    return compute(project.loaded, project.groups, as_of, project.start_date,
                   project.include_current_day)


def _assert_matches_oracle(project, as_of: dt.date) -> None:
    problems = differences(project.tables(), _oracle(project, as_of), project.groups)
    assert not problems, "bigquery (emulator) != oracle:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- init


def test_init_writes_a_bigquery_profile_with_no_secret(tmp_path: Path):
    init_project(tmp_path / "p", warehouse="bigquery", examples=False)
    text = (tmp_path / "p" / "profiles.yml").read_text()
    profile = yaml.safe_load(text)
    output = profile["signals_batch"]["outputs"][profile["signals_batch"]["target"]]
    assert output["type"] == "bigquery"
    for field in ("method", "keyfile", "project", "location"):
        assert re.fullmatch(r"\{\{ env_var\('BIGQUERY_[A-Z_]+'(, '[a-z]*')?\) \}\}",
                            output[field]), field
    assert "SIGNALS_BATCH_TARGET_SCHEMA" in output["dataset"]
    assert "keyfile_json" not in text and "private_key" not in text
    settings = yaml.safe_load((tmp_path / "p" / "signals_batch.yml").read_text())
    assert settings["warehouse"] == "bigquery"


def test_cli_init_accepts_bigquery(tmp_path: Path, capsys):
    from cli_helpers import run_cli

    result = run_cli(capsys, "init", str(tmp_path / "p"), "--warehouse", "bigquery")
    assert result.code == 0, result.err
    assert "type: bigquery" in (tmp_path / "p" / "profiles.yml").read_text()


# --------------------------------------------------------------------------- oracle


@pytest.fixture(scope="session")
def full_project(emulator, tmp_path_factory, events):
    """All events loaded at once, start_date after the first day, windows ending yesterday."""
    project = _new_project(tmp_path_factory.mktemp("bq_full"), emulator,
                           start_date=START + dt.timedelta(days=1))
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=9))
    return project


def test_every_attribute_matches_the_oracle(full_project):
    _assert_matches_oracle(full_project, START + dt.timedelta(days=9))


def test_the_tables_are_not_trivially_empty(full_project):
    tables = full_project.tables()
    assert_every_case_is_exercised(tables)
    edges = tables["text_edges_v1_attributes"]["text-edge-user"]
    assert edges["backslash_coupon"] == 1 and edges["backslash_like"] == 2
    assert edges["offset_hours"] == [0, 1, 5, 9]  # -02:00 and +0100 applied, 'Z' is UTC
    assert edges["fraction_unix"] == 1735894800  # 09:00:00.9 UTC, rounded down


def test_a_rerun_with_no_new_events_changes_no_row(full_project):
    before = full_project.rows()
    full_project.run(as_of=START + dt.timedelta(days=9))
    assert full_project.rows() == before


@pytest.fixture(scope="session")
def current_day_project(emulator, tmp_path_factory, events):
    project = _new_project(tmp_path_factory.mktemp("bq_current_day"), emulator,
                           start_date=START, include_current_day=True)
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=7))
    return project


def test_include_current_day_matches_the_oracle(current_day_project):
    _assert_matches_oracle(current_day_project, START + dt.timedelta(days=7))


def test_incremental_runs_match_the_oracle_then_a_full_refresh(emulator, tmp_path_factory,
                                                                events):
    """Four loads (late and re-delivered events among them), the as-of moving forward: after
    every run the tables equal the oracle (also after the ledger was lost: the partials are
    rebuilt); a full refresh then gives the same tables. The last load also holds rows that
    became visible late, with a load_tstamp older than the newest the run before processed:
    within the lookback window, they count, once, also in a group added then (read from
    history)."""
    from bigquery_engine import GCP_PROJECT

    project = _new_project(tmp_path_factory.mktemp("bq_incremental"), emulator,
                           start_date=START + dt.timedelta(days=1))
    batches = with_rows_visible_late(sample_events.loads(events, 4), 3)
    for number, (batch, day) in enumerate(zip(batches, (4, 6, 9, DAYS), strict=True)):
        project.load(batch)
        if number == 2:
            # the API's delete (the emulator's catalog keeps a table dropped by a query)
            project.client.delete_table(
                f"{GCP_PROJECT}.{project.dataset}.signals_batch_event_ids")
        if number == 3:
            add_group(project, ADDED_LATER_GROUP)
        as_of = START + dt.timedelta(days=day)
        project.run(as_of=as_of)
        _assert_matches_oracle(project, as_of)
    incremental = project.tables()
    project.run(as_of=START + dt.timedelta(days=DAYS), full_refresh=True)
    problems = differences(project.tables(), incremental, project.groups)
    assert not problems, "full refresh != incremental:\n" + "\n".join(problems)
    assert_rows_visible_too_late_are_named(project)


# --------------------------------------------------------------------------- the SQL

# DuckDB functions that BigQuery does not have (a default__ macro leaking into BigQuery SQL).
DUCKDB_ONLY = {"TRY_CAST", "STRUCT_PACK", "JSON_EXTRACT_STRING", "EPOCH", "ISODOW",
               "SPLIT_PART", "CONCAT_WS", "LIST", "ARG_MIN", "MAP_FROM_ENTRIES", "ISFINITE"}


@pytest.fixture(scope="session")
def fresh_project(emulator, tmp_path_factory):
    """No run yet, no events: its models compile to their first-run (full refresh) form."""
    return _new_project(tmp_path_factory.mktemp("bq_fresh"), emulator, start_date=START)


@pytest.mark.parametrize("state", ["first run", "incremental"])
def test_every_compiled_model_parses_as_bigquery_sql(state, request):
    """`dbt compile` on the emulator, then sqlglot's BigQuery dialect on every compiled model
    and data test: the first-run form and the incremental form."""
    import sqlglot
    from sqlglot import exp

    project = request.getfixturevalue("fresh_project" if state == "first run" else "full_project")
    project.project.generate()
    project.dbt(["compile", "--select", "path:models/signals_batch"])
    compiled = sorted((project.path / "target" / "compiled").rglob("*.sql"))
    models = [p for p in compiled if p.parent.name == "signals_batch"]
    assert len(models) == MODEL_COUNT, [p.name for p in models]
    unknown = {}
    for path in compiled:
        text = path.read_text()
        statements = [s for s in sqlglot.parse(text, read="bigquery") if s is not None]
        assert len(statements) == 1, path.name
        for function in statements[0].find_all(exp.Anonymous):
            unknown.setdefault(function.name.upper(), path.name)
        used = {m.upper() for m in re.findall(r"\b([A-Za-z_]+)\s*\(", text)}
        assert not used & DUCKDB_ONLY, (path.name, used & DUCKDB_ONLY)
        assert not re.search(r"\bunion\s+(?!all\b|distinct\b)", text, re.IGNORECASE), path.name
        assert " is distinct from " not in text.lower(), path.name
    assert not unknown, f"functions sqlglot does not know as BigQuery: {unknown}"
    compiled_models = project.path / "target" / "compiled" / "signals_project" / "models"
    incremental = (compiled_models / "signals_batch" / "network_v2_attributes.sql").read_text()
    assert ("changed or new rows" in incremental) == (state == "incremental")
    if state == "incremental":  # doubles change beyond a relative 1e-12, other types exactly
        aggregations = (compiled_models / "signals_batch" / "aggregations_v1_attributes.sql")
        changes = aggregations.read_text().split("changed or new rows", 1)[1]
        assert re.search(r"abs\(computed\.a\d+ - previous\.`revenue_30d`\) <= 1e-12", changes)
        assert "TO_JSON_STRING(previous.`page_views_7d`)" in changes


# --------------------------------------------------------------------------- sync
# `signals-batch sync` / `status` reading the attribute tables from BigQuery (the emulator)
# through the BigQuery reader (signals_batch/sync/bigquery_reader.py).


def test_sync_from_bigquery_fills_the_local_store_then_sends_nothing(full_project, capsys):
    from cli_helpers import run_cli

    check_a_first_sync_fills_the_store_then_sends_nothing(
        full_project, contextlib.nullcontext, partial(run_cli, capsys))


@pytest.fixture(scope="module")
def sync_project(emulator, tmp_path_factory, events):
    """Two batch groups built from the first half of the events, and an external batch
    group over a table whose columns are spelled in other cases than the definition's."""
    from bigquery_engine import GCP_PROJECT

    project = _new_project(tmp_path_factory.mktemp("bq_sync"), emulator, SYNC_GROUPS,
                           start_date=START)
    project.load(sample_events.loads(events, 2)[0])
    project.execute(
        f"CREATE SCHEMA IF NOT EXISTS `{GCP_PROJECT}.crm`",
        f"CREATE TABLE `{GCP_PROJECT}.crm.customers` (user_id STRING, LIFETIME_VALUE FLOAT64, "
        "Segment STRING, changed_at TIMESTAMP)",
        f"INSERT INTO `{GCP_PROJECT}.crm.customers` VALUES "
        "('u1', 10.5, 'gold', TIMESTAMP '2025-01-01 00:00:00'), "
        "('u2', 3, 'silver', TIMESTAMP '2025-01-02 00:00:00'), "
        "(NULL, 1, 'x', TIMESTAMP '2025-01-02 00:00:00')")
    project.run(as_of=START + dt.timedelta(days=DAYS - 1))
    return project


def test_sync_from_bigquery_after_an_incremental_run_sends_only_changed_rows(
        sync_project, events, capsys):
    from bigquery_engine import GCP_PROJECT
    from cli_helpers import run_cli

    table = f"`{GCP_PROJECT}.{sync_project.dataset}.network_v2_attributes`"
    check_a_sync_after_an_incremental_run_sends_only_changed_rows(
        sync_project, sample_events.loads(events, 2)[1],
        lambda key: f"DELETE FROM {table} WHERE network_userid = '{key}'",
        contextlib.nullcontext, partial(run_cli, capsys))


def test_an_external_batch_group_syncs_its_own_bigquery_table(sync_project):
    from bigquery_engine import GCP_PROJECT

    check_an_external_batch_group_syncs_its_own_table(
        sync_project,
        f"UPDATE `{GCP_PROJECT}.crm.customers` SET Segment = 'platinum', "
        "changed_at = TIMESTAMP '2025-01-03 00:00:00' WHERE user_id = 'u2'",
        contextlib.nullcontext)


# --------------------------------------------------------------------------- sync: failures

TOKEN = "ya29.Sup3r-Secret-token"


def _offline_project(path: Path, endpoint: str) -> Path:
    from bigquery_engine import emulator_profile

    init_project(path, warehouse="bigquery", examples=False)
    (path / "definitions").mkdir(exist_ok=True)
    (path / "definitions" / "groups.yml").write_text(yaml.safe_dump([NETWORK_GROUP]))
    profile = emulator_profile(endpoint)
    profile["signals_batch"]["outputs"]["dev"]["token"] = TOKEN
    (path / "profiles.yml").write_text(yaml.safe_dump(profile))
    return path


def _assert_one_clear_line(result, code: int, *expected: str) -> None:
    assert result.code == code, (result.code, result.err)
    for text in expected:
        assert text in result.err, result.err
    assert TOKEN not in result.err + result.out
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err


def test_an_unreachable_endpoint_gives_one_clear_line_and_exit_1(emulator, tmp_path, capsys,
                                                                 monkeypatch):
    from bigquery_engine import _free_port
    from cli_helpers import run_cli

    from signals_batch.sync import bigquery_reader

    monkeypatch.setattr(bigquery_reader, "REQUEST_DEADLINE", 2.0)
    path = str(_offline_project(tmp_path / "p", f"http://127.0.0.1:{_free_port()}"))
    for command in (["sync"], ["status", "--json"]):
        result = run_cli(capsys, *command, "-p", path)
        _assert_one_clear_line(result, 1, "could not reach BigQuery project 'signals-test'")


def test_refused_credentials_give_one_clear_line_and_exit_1(tmp_path, capsys, monkeypatch):
    """A loopback server answering every request as BigQuery does an invalid token (401)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cli_helpers import run_cli

    from signals_batch.sync import bigquery_reader

    class Refuse(BaseHTTPRequestHandler):
        def _refuse(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"error": {
                "code": 401, "status": "UNAUTHENTICATED",
                "message": "Request had invalid authentication credentials."}}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _refuse  # noqa: N815 (http.server's names)

        def log_message(self, *args):
            pass

    monkeypatch.setattr(bigquery_reader, "REQUEST_DEADLINE", 5.0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = str(_offline_project(tmp_path / "p",
                                    f"http://127.0.0.1:{server.server_address[1]}"))
        result = run_cli(capsys, "sync", "-p", path)
        _assert_one_clear_line(result, 1, "BigQuery project 'signals-test'",
                               "refused the credentials")
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- sync: encoding


def _bigquery_literal(value, type_name: str) -> str:
    from bigquery_engine import string_literal

    if value is None:
        return "NULL"
    if type_name.endswith("_list") or type_name == "dict":
        # timestamps in a JSON array as the generated lists hold them (TO_JSON_STRING)
        text = json.dumps(value, default=lambda v: v.isoformat() + "Z")
        return f"PARSE_JSON({string_literal(text)})"
    if type_name == "string":
        return string_literal(value)
    if type_name in ("double", "float"):
        return f"CAST({string_literal(repr(value))} AS FLOAT64)"
    if type_name == "bool":
        return "TRUE" if value else "FALSE"
    if type_name == "timestamp":
        return f"TIMESTAMP {string_literal(value.isoformat(sep=' '))}"
    return str(int(value))


def test_a_profile_is_the_same_json_from_duckdb_and_from_bigquery(emulator, tmp_path):
    """The same values (every declared type, NULLs, empty lists, 2^53 + 1, unicode, quotes) in
    a DuckDB table and a BigQuery table: the profiles synced into the local store are the same
    JSON."""
    from bigquery_engine import GCP_PROJECT
    from engine import EngineProject

    from signals_batch.warehouse import connect

    bigquery = _new_project(tmp_path / "bq_typed", emulator, [TYPED], start_date=START)
    table = f"`{GCP_PROJECT}.crm_typed.typed_rows`"
    columns = ", ".join(f"{name} {spec[3]}" for name, spec in TYPED_FIELDS.items())
    bigquery.execute(
        f"CREATE SCHEMA IF NOT EXISTS `{GCP_PROJECT}.crm_typed`",
        f"CREATE TABLE {table} (user_id STRING, {columns}, changed_at TIMESTAMP)",
        *(f"INSERT INTO {table} SELECT {_bigquery_literal(row['user_id'], 'string')}, "
          + ", ".join(_bigquery_literal(row[name], spec[0])
                      for name, spec in TYPED_FIELDS.items())
          + f", {_bigquery_literal(row['changed_at'], 'timestamp')}" for row in TYPED_ROWS))
    typed = {**TYPED, "batch_source": {**TYPED["batch_source"], "schema": "crm_typed"}}
    (bigquery.path / "definitions" / "groups.yml").write_text(yaml.safe_dump([typed]))
    duckdb = EngineProject(tmp_path / "duckdb", [TYPED], start_date=START)
    with connect(duckdb.path) as con:
        con.execute("CREATE SCHEMA crm")
        con.execute(f"CREATE TABLE crm.typed_rows (user_id VARCHAR, "
                    f"{', '.join(f'{n} {s[1]}' for n, s in TYPED_FIELDS.items())}, "
                    "changed_at TIMESTAMP)")
        con.executemany(
            f"INSERT INTO crm.typed_rows VALUES ({', '.join(['?'] * (len(TYPED_FIELDS) + 2))})",
            [[row["user_id"],
              *(json.dumps(row[n]) if s[0] == "dict" and row[n] is not None else row[n]
                for n, s in TYPED_FIELDS.items()),
              row["changed_at"]] for row in TYPED_ROWS])
    bigquery.use_store(type="local", path="profiles.sqlite")
    from_bigquery = bigquery.sync(chunk_size=2).groups[0]
    from_duckdb = duckdb.project.sync(chunk_size=2).groups[0]
    assert from_bigquery.rows_read == from_duckdb.rows_read == len(TYPED_ROWS)
    assert from_bigquery.watermark == from_duckdb.watermark == "2025-01-03T00:00:00.000001"
    stores = [bigquery.project.open_store(), duckdb.project.open_store()]
    try:
        for row in TYPED_ROWS:
            read_back = [s.get("typed_v1", row["user_id"]) for s in stores]
            assert read_back[0] is not None, row["user_id"]
            assert store_json(read_back[0]) == store_json(read_back[1]), row["user_id"]
        assert stores[0].get("typed_v1", "u1")["counts"] == [1, 9007199254740993]
    finally:
        for store in stores:
            store.close()


# --------------------------------------------------------------------------- the loader's layout
# Snowplow's BigQuery loader writes one column per FULL schema version: REPEATED RECORD for
# contexts, RECORD for self-describing events, field names in snake_case. The models read all
# minor versions of a major together, finding the columns when they run.

PRODUCT = {"type": "entity", "vendor": "com.acme", "name": "product", "major_version": 1}
PURCHASE = {"type": "event", "vendor": "com.acme", "name": "purchase", "major_version": 1}
VIEW_EVENT = {"vendor": "com.acme", "name": "product_view"}
PURCHASE_EVENT = {"vendor": "com.acme", "name": "purchase", "version": "1-0-0"}
LAYOUT_GROUP = _group("loader_layout", "domain_userid", [
    _attr("views", "int64", "counter", events=[VIEW_EVENT]),
    _attr("skus", "string_list", "unique_list", {**PRODUCT, "path": "sku"}, events=[VIEW_EVENT]),
    _attr("last_target", "string", "last", {**PRODUCT, "path": "targetUrl"},
          events=[VIEW_EVENT]),
    _attr("price_sum", "double", "sum", {**PRODUCT, "path": "unitPrice"}, events=[VIEW_EVENT]),
    _attr("colours", "string_list", "unique_list", {**PRODUCT, "path": "colour"},
          events=[VIEW_EVENT]),
    _attr("sizes", "string_list", "unique_list", {**PRODUCT, "path": "sizeCode"},
          events=[VIEW_EVENT]),
    _attr("purchases", "int64", "counter", events=[PURCHASE_EVENT]),
    _attr("revenue", "double", "sum", {**PURCHASE, "path": "orderTotal"},
          events=[PURCHASE_EVENT]),
    _attr("first_item", "string", "first", {**PURCHASE, "path": "items[0].itemSKU"},
          events=[PURCHASE_EVENT]),
    _attr("big_purchases", "int64", "counter", events=[PURCHASE_EVENT],
          criteria={"all": [{"property": {**PURCHASE, "path": "orderTotal"},
                             "operator": ">", "value": 50}]}),
])

# column -> (SQL type of the RECORD, its fields as (JSON key, RECORD field, SQL type))
PRODUCT_FIELDS = [("sku", "sku", "STRING"), ("unitPrice", "unit_price", "FLOAT64"),
                  ("targetUrl", "target_url", "STRING")]
LAYOUT_COLUMNS = {
    "contexts_com_acme_product_1_0_0": PRODUCT_FIELDS,
    "contexts_com_acme_product_1_1_0": [*PRODUCT_FIELDS, ("colour", "colour", "STRING")],
    "unstruct_event_com_acme_purchase_1_0_2": [("orderTotal", "order_total", "FLOAT64"),
                                               ("items", "items", "ITEMS")],
}
NEW_MINOR = ("contexts_com_acme_product_1_2_0",
             [*PRODUCT_FIELDS, ("colour", "colour", "STRING"), ("sizeCode", "size_code", "STRING")])
ITEMS_TYPE = "ARRAY<STRUCT<item_sku STRING>>"


def _record_type(fields) -> str:
    return "STRUCT<" + ", ".join(
        f"{field} {ITEMS_TYPE if sql == 'ITEMS' else sql}" for _, field, sql in fields) + ">"


def _column_type(column: str, fields) -> str:
    record = _record_type(fields)
    return f"ARRAY<{record}>" if column.startswith("contexts_") else record


def _record_literal(value: dict, fields) -> str:
    from bigquery_engine import string_literal

    parts = []
    for key, field, sql in fields:
        item = value.get(key)
        if sql == "ITEMS":
            text = ("[" + ", ".join(f"STRUCT({string_literal(i['itemSKU'])} AS item_sku)"
                                    for i in item) + "]") if item else f"CAST([] AS {ITEMS_TYPE})"
        elif item is None:
            text = f"CAST(NULL AS {sql})"
        else:
            text = repr(float(item)) if sql == "FLOAT64" else string_literal(str(item))
        parts.append(f"{text} AS {field}")
    return "STRUCT(" + ", ".join(parts) + ")"


def _micros(value: dt.datetime) -> str:
    return f"TIMESTAMP_MICROS({(value - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)})"


def _layout_events(first_day: dt.date, versions: list[str], count: int, seed: int) -> list[dict]:
    """Product views (the product context in one of `versions` of the schema, in camelCase as
    the tracker sends it: the oracle reads these rows) and purchases (1-0-2)."""
    import random

    rng = random.Random(seed)
    rows = []
    for n in range(count):
        day = first_day + dt.timedelta(days=rng.randrange(3))
        tstamp = dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)))
        user = f"layout-user-{rng.randrange(6)}"
        row = {"event_id": f"layout-{seed}-{n}", "domain_userid": user,
               "event_vendor": "com.acme", "collector_tstamp": tstamp, "derived_tstamp": tstamp,
               "load_tstamp": tstamp + dt.timedelta(minutes=5)}
        if rng.random() < 0.7:
            version = rng.choice(versions)
            product = {"sku": f"sku-{rng.randrange(5)}", "unitPrice": rng.choice([5, 12.5, 99.99]),
                       "targetUrl": f"https://shop.acme.com/p/{n}"}
            if version >= "1-1-0":
                product["colour"] = rng.choice(["red", "blue"])
            if version >= "1-2-0":
                product["sizeCode"] = rng.choice(["S", "XL"])
            row.update(event_name="product_view", event_version="1-0-0",
                       contexts_com_acme_product_1=[product], product_version=version)
        else:
            purchase = {"orderTotal": rng.choice([20.0, 75.5, 130.25]),
                        "items": [{"itemSKU": f"sku-{rng.randrange(5)}"}]}
            row.update(event_name="purchase", event_version="1-0-2",
                       unstruct_event_com_acme_purchase_1=purchase)
        rows.append(row)
    return rows


LAYOUT_BASE = [("event_id", "STRING"), ("domain_userid", "STRING"), ("event_vendor", "STRING"),
               ("event_name", "STRING"), ("event_version", "STRING"),
               ("collector_tstamp", "TIMESTAMP"), ("derived_tstamp", "TIMESTAMP"),
               ("load_tstamp", "TIMESTAMP")]


def _insert_layout_events(project, rows: list[dict], columns: dict) -> None:
    """INSERT VALUES in the loader's layout: the event's version column filled, the other
    context columns empty arrays (as the loader leaves them), the unstruct NULL."""
    from bigquery_engine import string_literal

    names = [name for name, _ in LAYOUT_BASE] + list(columns)
    values = []
    for row in rows:
        items = []
        for name, sql in LAYOUT_BASE:
            value = row[name]
            items.append(_micros(value) if sql == "TIMESTAMP" else string_literal(value))
        for column, fields in columns.items():
            if column.startswith("contexts_"):
                version = column.removeprefix("contexts_com_acme_product_").replace("_", "-")
                if row.get("product_version") == version:
                    items.append("[" + _record_literal(row["contexts_com_acme_product_1"][0],
                                                       fields) + "]")
                else:
                    items.append(f"CAST([] AS {_column_type(column, fields)})")
            elif row.get("unstruct_event_com_acme_purchase_1"):
                items.append(_record_literal(row["unstruct_event_com_acme_purchase_1"], fields))
            else:
                items.append(f"CAST(NULL AS {_column_type(column, fields)})")
        values.append("(" + ", ".join(items) + ")")
    project.execute(f"INSERT INTO `{project.events_table}` ({', '.join(names)}) VALUES "
                    + ", ".join(values))
    project.loaded.extend(rows)


def _add_column(project, column: str, fields) -> None:
    """A new minor version's column, as the loader adds it. The emulator keeps a table's
    storage and its schema metadata apart: ALTER TABLE changes the first, tables.patch the
    second (real BigQuery does both with either)."""
    from google.cloud import bigquery

    project.execute(f"ALTER TABLE `{project.events_table}` ADD COLUMN {column} "
                    f"{_column_type(column, fields)}")
    table = project.client.get_table(project.events_table)
    if column not in {f.name for f in table.schema}:
        sub = [bigquery.SchemaField(field, "FLOAT" if sql == "FLOAT64" else sql)
               for _, field, sql in fields]
        table.schema = [*table.schema, bigquery.SchemaField(column, "RECORD", mode="REPEATED",
                                                            fields=sub)]
        project.client.update_table(table, ["schema"])


def _assert_partitioned_and_clustered(project, ident: str) -> None:
    """The daily table is partitioned by event_day and clustered by signals_key, the attribute
    table clustered by its key: dbt's configs (manifest), and the daily table's partitioning as
    the emulator reports it (it does not report clustering)."""
    from bigquery_engine import GCP_PROJECT

    manifest = json.loads((project.path / "target" / "manifest.json").read_text())
    configs = {node["name"]: node["config"] for node in manifest["nodes"].values()
               if node["resource_type"] == "model"}
    daily, attributes = configs[f"{ident}_daily"], configs[f"{ident}_attributes"]
    assert daily["partition_by"] == {"field": "event_day", "data_type": "date",
                                     "granularity": "day"}, daily["partition_by"]
    assert daily["cluster_by"] == ["signals_key"]
    assert attributes["cluster_by"] == ["domain_userid"]
    assert attributes.get("partition_by") is None
    table = project.client.get_table(f"{GCP_PROJECT}.{project.dataset}.{ident}_daily")
    assert table.time_partitioning is not None
    assert table.time_partitioning.field == "event_day"
    assert table.time_partitioning.type_ == "DAY"


@pytest.fixture(scope="module")
def layout_project(emulator, tmp_path_factory):
    project = _new_project(tmp_path_factory.mktemp("bq_layout"), emulator,
                           groups=[LAYOUT_GROUP], start_date=START)
    columns = ", ".join(f"{name} {sql}" for name, sql in LAYOUT_BASE) + ", " + ", ".join(
        f"{column} {_column_type(column, fields)}" for column, fields in LAYOUT_COLUMNS.items())
    project.execute(f"DROP TABLE `{project.events_table}`",
                    f"CREATE TABLE `{project.events_table}` ({columns})")
    return project


def test_the_loader_layout_two_minor_versions_then_a_third_without_regenerating(layout_project):
    project = layout_project
    first = _layout_events(START, ["1-0-0", "1-1-0"], 60, seed=1)
    assert {r.get("product_version") for r in first} >= {"1-0-0", "1-1-0"}
    _insert_layout_events(project, first, LAYOUT_COLUMNS)
    as_of = START + dt.timedelta(days=4)
    project.run(as_of=as_of)
    _assert_matches_oracle(project, as_of)
    row = next(iter(project.tables()["loader_layout_v1_attributes"].values()))
    assert row["views"] and row["skus"] and row["last_target"], row  # not trivially NULL
    tables = project.tables()["loader_layout_v1_attributes"]
    assert any(r["colours"] for r in tables.values())  # only in 1-1-0
    assert any(r["first_item"] for r in tables.values())  # items[0].itemSKU -> item_sku
    assert any(r["big_purchases"] for r in tables.values())  # a criterion on a RECORD field
    _assert_partitioned_and_clustered(project, "loader_layout_v1")
    models = sorted((project.path / "models" / "signals_batch").glob("*.sql"))
    generated = {p.name: p.read_text() for p in models}

    # a new minor version: a new column, new events in it, no regeneration of the models
    column, fields = NEW_MINOR
    _add_column(project, column, fields)
    later = _layout_events(START + dt.timedelta(days=3), ["1-2-0"], 30, seed=2)
    _insert_layout_events(project, later, {**LAYOUT_COLUMNS, column: fields})
    as_of = START + dt.timedelta(days=7)
    signals = project.project
    result = signals.dbt(["run"], vars=signals.dbt_vars(), as_of=as_of)  # dbt only
    assert result.success, result
    assert {p.name: p.read_text() for p in models} == generated
    _assert_matches_oracle(project, as_of)
    tables = project.tables()["loader_layout_v1_attributes"]
    assert any(r["sizes"] for r in tables.values())  # only in 1-2-0
    _assert_parses_as_bigquery(project.path / "target" / "compiled")


def _assert_parses_as_bigquery(compiled: Path) -> None:
    """The models reading the loader's columns parse as BigQuery SQL (sqlglot), with every
    function one sqlglot knows as BigQuery's."""
    import sqlglot
    from sqlglot import exp

    paths = sorted(compiled.rglob("*.sql"))
    events = next(p for p in paths if p.name == "signals_batch_events_this_run.sql").read_text()
    for version in ("1_0_0", "1_1_0", "1_2_0"):
        assert f"TO_JSON(contexts_com_acme_product_{version})" in events, version
    for path in paths:
        statements = [s for s in sqlglot.parse(path.read_text(), read="bigquery") if s]
        assert len(statements) == 1, path.name
        unknown = {f.name for f in statements[0].find_all(exp.Anonymous)}
        assert not unknown, (path.name, unknown)


def test_a_missing_context_names_the_loader_columns(emulator, tmp_path):
    """check_source: a major version column is there when any of its full versions is; the
    error names the one that is not."""
    basket = {"type": "entity", "vendor": "com.acme", "name": "basket", "major_version": 2,
              "path": "id"}
    group = _group("missing", "domain_userid", [
        _attr("sku", "string", "last", {**PRODUCT, "path": "sku"}),
        _attr("basket", "string", "last", basket)])
    project = _new_project(tmp_path / "missing", emulator, groups=[group], start_date=START)
    column, fields = "contexts_com_acme_product_1_0_0", PRODUCT_FIELDS
    columns = ", ".join(f"{name} {sql}" for name, sql in LAYOUT_BASE)
    project.execute(f"DROP TABLE `{project.events_table}`",
                    f"CREATE TABLE `{project.events_table}` ({columns}, "
                    f"{column} {_column_type(column, fields)})")
    with pytest.raises(Exception) as failure:
        project.run(as_of=START + dt.timedelta(days=4))
    message = str(failure.value)
    assert "has no column contexts_com_acme_basket_2 (nor any contexts_com_acme_basket_2_" in (
        message), message
    assert "contexts_com_acme_product_1" not in message, message


def test_partitioning_and_clustering_are_changed_with_vars(emulator, tmp_path):
    """dbt_project.yml vars replace the defaults (the models' config reads them)."""
    project = _new_project(tmp_path / "vars", emulator, groups=[LAYOUT_GROUP], start_date=START)
    settings = project.path / "dbt_project.yml"
    settings.write_text(settings.read_text() + yaml.safe_dump({"vars": {
        "signals_daily_partition_by": {"field": "event_day", "data_type": "date",
                                       "granularity": "month"},
        "signals_daily_cluster_by": [],
        "signals_attributes_cluster_by": None}}))
    project.project.generate()
    assert project.dbt(["parse"]).success
    manifest = json.loads((project.path / "target" / "manifest.json").read_text())
    configs = {node["name"]: node["config"] for node in manifest["nodes"].values()
               if node["resource_type"] == "model"}
    daily, attributes = configs["loader_layout_v1_daily"], configs["loader_layout_v1_attributes"]
    assert daily["partition_by"]["granularity"] == "month"
    assert daily["cluster_by"] is None  # [] is no clustering (not an empty `cluster by`)
    assert attributes["cluster_by"] is None


def test_a_major_version_record_column_and_full_version_columns_together(emulator, tmp_path):
    """A table migrated from loader 1.x to 2.x: `contexts_com_acme_product_1` (2.x, REPEATED
    RECORD) beside `contexts_com_acme_product_1_0_0` (1.x); events in each count."""
    project = _new_project(tmp_path / "migrated", emulator, groups=[LAYOUT_GROUP],
                           start_date=START)
    columns = {"contexts_com_acme_product_1": [*PRODUCT_FIELDS, ("colour", "colour", "STRING")],
               "contexts_com_acme_product_1_0_0": PRODUCT_FIELDS,
               "unstruct_event_com_acme_purchase_1_0_2":
                   LAYOUT_COLUMNS["unstruct_event_com_acme_purchase_1_0_2"]}
    base = ", ".join(f"{name} {sql}" for name, sql in LAYOUT_BASE)
    project.execute(f"DROP TABLE `{project.events_table}`",
                    f"CREATE TABLE `{project.events_table}` ({base}, " + ", ".join(
                        f"{c} {_column_type(c, f)}" for c, f in columns.items()) + ")")
    rows = _layout_events(START, ["1-0-0", "1"], 50, seed=3)
    for row in rows:  # the 2.x column holds every field of the newest 1-x schema
        if row.get("product_version") == "1":
            row["contexts_com_acme_product_1"][0]["colour"] = "green"
    _insert_layout_events(project, rows, columns)
    as_of = START + dt.timedelta(days=4)
    project.run(as_of=as_of)
    _assert_matches_oracle(project, as_of)
    tables = project.tables()["loader_layout_v1_attributes"]
    assert any("green" in (r["colours"] or []) for r in tables.values())
    assert sum(r["views"] for r in tables.values()) == sum(
        1 for r in rows if r.get("product_version"))
