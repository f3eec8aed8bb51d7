"""The generated project on Snowflake: dbt-snowflake against the fakesnow emulator, in-process.

The same independent oracle as tests/test_engine_correctness.py (DuckDB) checks every
aggregation, operator and window rule of tests/engine_groups.py ALL_GROUPS, plus TEXT_EDGES
below (values the Snowflake macros read their own way): a full build,
`include_current_day`, an incremental sequence (late and re-delivered events, as-of moving)
equal to the oracle after every run and to a final full refresh, and a rerun that changes no
`updated_at`. Every compiled model also parses as Snowflake SQL (sqlglot).

Events are in Snowflake's layout: contexts as VARIANT arrays, unstruct events as VARIANT
objects (loaded with PARSE_JSON). Attribute tables are read back through the Snowflake
connector under the emulator patch.

What the emulator cannot show (Snowflake's own text of FLOAT and TIMESTAMP values, session
time zones, object key order, real Snowflake semantics of anything fakesnow translates to
DuckDB) is listed in docs/warehouses.md, "The emulator".
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from engine import differences
from engine_groups import ALL_GROUPS, COUPON, PURCHASE_1, _attr, _group, edge_events
from oracle import compute

from signals_batch import sample_events
from signals_batch.sample_events import COLUMN_NAMES, PURCHASE_V1
from signals_batch.scaffold import init_project

pytestmark = pytest.mark.dbt

START = dt.date(2025, 1, 1)
DAYS = 12
SECRETS = ("account", "user", "password", "private_key_path", "private_key_passphrase",
           "authenticator", "role", "warehouse", "database")


STAMP = {"type": "event", "vendor": "com.acme", "name": "purchase", "major_version": 1,
         "path": "stamp"}
AMOUNT = {**STAMP, "path": "amount"}
BACKSLASH_PERCENT = {"all": [{"property": COUPON, "operator": "=", "value": "a\\%"}]}

# Values the Snowflake macros read their own way: backslashes in string literals and LIKE
# patterns (an escape character in Snowflake strings), timestamps with offsets in JSON text,
# numbers with blanks around them.
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
])
GROUPS = [*ALL_GROUPS, TEXT_EDGES]


def text_edge_events(start: dt.date) -> list[dict]:
    midnight = dt.datetime.combine(start, dt.time())
    payloads = [
        {"coupon": "a\\b", "stamp": "2025-01-03T23:30:00-02:00", "amount": "\t7\n"},
        {"coupon": "a\\%", "stamp": "2025-01-03 10:00:00.900+0100", "amount": " 3 "},
        {"coupon": "ab", "stamp": "12345", "amount": "1_000"},
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


@pytest.fixture(scope="session")
def emulator_available() -> None:
    pytest.importorskip(
        "fakesnow", reason="fakesnow (the Snowflake emulator) is not installed: "
        "pip install -e '.[dev]' to run the Snowflake tests")
    pytest.importorskip(
        "dbt.adapters.snowflake", reason="dbt-snowflake is not installed: "
        "pip install -e '.[dev]' (or '.[snowflake]') to run the Snowflake tests")


@pytest.fixture(scope="session")
def events() -> list[dict]:
    rows = sample_events.generate_events(
        n_events=4000, days=DAYS, users=30, seed=11, start=START)
    rows += edge_events(START) + text_edge_events(START)
    rows.sort(key=lambda r: (r["load_tstamp"], r["event_id"]))
    return rows


def _new_project(path: Path, **options):
    from snowflake_engine import SnowflakeProject

    return SnowflakeProject(path, GROUPS, **options)


def _oracle(project, as_of: dt.date) -> dict:
    return compute(project.loaded, project.groups, as_of, project.start_date,
                   project.include_current_day)


def _assert_matches_oracle(project, as_of: dt.date) -> None:
    problems = differences(project.tables(), _oracle(project, as_of), project.groups)
    assert not problems, "snowflake (emulator) != oracle:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- init


def test_init_writes_a_snowflake_profile_reading_every_secret_from_the_environment(
        tmp_path: Path):
    init_project(tmp_path / "p", warehouse="snowflake", examples=False)
    profile = yaml.safe_load((tmp_path / "p" / "profiles.yml").read_text())
    output = profile["signals_batch"]["outputs"][profile["signals_batch"]["target"]]
    assert output["type"] == "snowflake"
    for field in SECRETS:
        assert re.fullmatch(r"\{\{ env_var\('SNOWFLAKE_[A-Z_]+'(, '')?\) \}\}", output[field]), \
            field
    assert "SIGNALS_BATCH_TARGET_SCHEMA" in output["schema"]
    settings = yaml.safe_load((tmp_path / "p" / "signals_batch.yml").read_text())
    assert settings["warehouse"] == "snowflake"


def test_cli_init_accepts_snowflake(tmp_path: Path, capsys):
    from cli_helpers import run_cli

    result = run_cli(capsys, "init", str(tmp_path / "p"), "--warehouse", "snowflake")
    assert result.code == 0, result.err
    assert "type: snowflake" in (tmp_path / "p" / "profiles.yml").read_text()


# --------------------------------------------------------------------------- oracle


@pytest.fixture(scope="session")
def full_project(emulator_available, tmp_path_factory, events):
    """All events loaded at once, start_date after the first day, windows ending yesterday."""
    project = _new_project(tmp_path_factory.mktemp("snowflake_full"),
                           start_date=START + dt.timedelta(days=1))
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=9))
    return project


def test_every_attribute_matches_the_oracle(full_project):
    _assert_matches_oracle(full_project, START + dt.timedelta(days=9))


def test_the_tables_are_not_trivially_empty(full_project):
    tables = full_project.tables()
    aggregations = tables["aggregations_v1_attributes"]
    assert len(aggregations) >= 25
    criteria = tables["criteria_v1_attributes"]
    for name in ("gb", "low_value", "sale_pages", "gb_or_fr", "no_country", "quote_coupon",
                 "injection_coupon", "percent_like", "jinja_looking", "major_two", "gift"):
        assert any(row[name] for row in criteria.values()), name
    assert "x'); drop table y; --" in aggregations  # a key value with SQL in it is data
    assert "it's" in tables["by_device_class_v1_attributes"]
    edges = tables["text_edges_v1_attributes"]["text-edge-user"]
    assert edges["backslash_coupon"] == 1 and edges["backslash_like"] == 2
    assert edges["offset_hours"] == [0, 1, 5, 9]  # -02:00 and +0100 applied, 'Z' is UTC
    assert edges["fraction_unix"] == 1735894800  # 09:00:00.9 UTC, rounded down


def test_columns_are_upper_case_so_users_query_them_without_quotes(full_project):
    from snowflake_engine import DATABASE

    with full_project.cursor() as cursor:
        cursor.execute(
            f"select domain_userid, page_views_7d, categories_7d, struct_actions, updated_at "
            f"from {DATABASE}.signals.aggregations_v1_attributes order by domain_userid")
        assert [d[0] for d in cursor.description] == [
            "DOMAIN_USERID", "PAGE_VIEWS_7D", "CATEGORIES_7D", "STRUCT_ACTIONS", "UPDATED_AT"]
        assert len(cursor.fetchall()) >= 25
        cursor.execute(
            f"select column_name from {DATABASE}.information_schema.columns "
            "where table_name = 'NETWORK_V2_ATTRIBUTES' order by ordinal_position")
        assert [r[0] for r in cursor.fetchall()] == ["NETWORK_USERID", "ORDERS_7D", "UPDATED_AT"]


def test_a_rerun_with_no_new_data_changes_no_updated_at(full_project):
    before = full_project.rows()
    full_project.run(as_of=START + dt.timedelta(days=9))
    assert full_project.rows() == before


@pytest.fixture(scope="session")
def current_day_project(emulator_available, tmp_path_factory, events):
    project = _new_project(tmp_path_factory.mktemp("snowflake_current_day"),
                           start_date=START, include_current_day=True)
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=7))
    return project


def test_include_current_day_windows_match_the_oracle(current_day_project):
    _assert_matches_oracle(current_day_project, START + dt.timedelta(days=7))


def test_incremental_runs_equal_the_oracle_and_a_full_refresh(
        emulator_available, tmp_path_factory, events):
    """Growing data, late and re-delivered events, as-of moving forward: after every run the
    tables equal the oracle; at the end a full refresh gives the same values."""
    project = _new_project(tmp_path_factory.mktemp("snowflake_incremental"),
                           start_date=START + dt.timedelta(days=1))
    batches = sample_events.loads(events, 4)
    as_of_days = [4, 6, 6, 11]
    for batch, day in zip(batches, as_of_days, strict=True):
        project.load(batch)
        as_of = START + dt.timedelta(days=day)
        project.run(as_of=as_of)
        _assert_matches_oracle(project, as_of)
    incremental = project.tables()
    project.run(as_of=as_of, full_refresh=True)
    problems = differences(incremental, project.tables(), project.groups)
    assert not problems, "incremental != full refresh:\n" + "\n".join(problems)
    _assert_matches_oracle(project, as_of)


# --------------------------------------------------------------------------- compiled SQL

# Functions the snowflake__ macros and the templates call that sqlglot does not model as
# typed expressions: each one is a Snowflake function (checked against its reference).
SNOWFLAKE_FUNCTIONS_BY_NAME = {"GREATEST_IGNORE_NULLS", "LEAST_IGNORE_NULLS"}
# DuckDB-only functions of the duckdb__ macros: none may reach a Snowflake model.
DUCKDB_ONLY = {"HISTOGRAM", "MAP_ENTRIES", "STRUCT_PACK", "LIST", "LIST_TRANSFORM",
               "ISFINITE", "CONTAINS", "EPOCH", "JSON_EXTRACT_STRING", "MAP_FROM_ENTRIES",
               "TO_JSON", "ISODOW", "FIRST"}


@pytest.fixture(scope="session")
def fresh_project(emulator_available, tmp_path_factory):
    """No run yet, no events: its models compile to their first-run (full refresh) form."""
    return _new_project(tmp_path_factory.mktemp("snowflake_fresh"), start_date=START)


@pytest.mark.parametrize("state", ["first run", "incremental"])
def test_every_compiled_model_parses_as_snowflake_sql(state, request):
    """`dbt compile` under the emulator, then sqlglot on every compiled model and data test:
    the first-run form (a fresh project) and the incremental form (after runs)."""
    import sqlglot
    from sqlglot import exp

    project = request.getfixturevalue("fresh_project" if state == "first run" else "full_project")
    project.project.generate()
    project.dbt(["compile", "--select", "path:models/signals_batch"])
    # the models, and the data tests of the generated schema.yml (they run on Snowflake too)
    compiled = sorted((project.path / "target" / "compiled").rglob("*.sql"))
    models = [p for p in compiled if p.parent.name == "signals_batch"]
    assert len(models) == 2 + 2 * len(GROUPS), [p.name for p in models]
    assert len(compiled) > len(models)
    unknown = {}
    for path in compiled:
        text = path.read_text()
        statements = [s for s in sqlglot.parse(text, read="snowflake") if s is not None]
        assert len(statements) == 1, path.name
        for function in statements[0].find_all(exp.Anonymous):
            if function.name.upper() not in SNOWFLAKE_FUNCTIONS_BY_NAME:
                unknown.setdefault(function.name.upper(), path.name)
        used = {m.upper() for m in re.findall(r"\b([A-Za-z_]+)\s*\(", text)}
        assert not used & DUCKDB_ONLY, (path.name, used & DUCKDB_ONLY)
    assert not unknown, f"functions sqlglot does not know as Snowflake: {unknown}"
    incremental = (project.path / "target" / "compiled" / "signals_project" / "models"
                   / "signals_batch" / "network_v2_attributes.sql").read_text()
    assert ("changed or new rows" in incremental) == (state == "incremental")
