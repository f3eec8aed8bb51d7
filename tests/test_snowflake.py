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

Sync from Snowflake (the last sections): the Snowflake reader behind `sync` / `status` / the
run summary, into the local store and redis, incremental, `--full`, an external batch group,
the same JSON as from DuckDB, and the failures (refused credentials, unreachable account,
invalid profile) against the real connector without the emulator.

What the emulator cannot show (Snowflake's own text of FLOAT and TIMESTAMP values, session
time zones, object key order, real Snowflake semantics of anything fakesnow translates to
DuckDB) is listed in docs/warehouses.md, "The emulator".
"""

from __future__ import annotations

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
    updated_at_by_key,
    with_rows_visible_late,
)
from engine_groups import ADDED_LATER_GROUP, NETWORK_GROUP
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
    assert_store_equals_tables,
    case_events,
    check_a_first_sync_fills_the_store_then_sends_nothing,
    check_a_sync_after_an_incremental_run_sends_only_changed_rows,
    check_an_external_batch_group_syncs_its_own_table,
    store_json,
)

from signals_batch import sample_events
from signals_batch.scaffold import init_project

pytestmark = pytest.mark.dbt

SECRETS = ("account", "user", "password", "private_key_path", "private_key_passphrase",
           "authenticator", "role", "warehouse", "database")


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
    return case_events()


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
    assert_every_case_is_exercised(tables)
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
    tables equal the oracle (also after the ledger was lost: the partials are rebuilt); at the
    end a full refresh gives the same values. The last load also holds rows that became
    visible late, with a load_tstamp older than the newest the run before processed: within
    the lookback window, they count, once, also in a group added then (read from history)."""
    project = _new_project(tmp_path_factory.mktemp("snowflake_incremental"),
                           start_date=START + dt.timedelta(days=1))
    batches = with_rows_visible_late(sample_events.loads(events, 4), 3)
    as_of_days = [4, 6, 6, 11]
    for number, (batch, day) in enumerate(zip(batches, as_of_days, strict=True)):
        project.load(batch)
        if number == 2:
            project.execute("DROP TABLE signals.signals_batch_event_ids")
        if number == 3:
            add_group(project, ADDED_LATER_GROUP)
        as_of = START + dt.timedelta(days=day)
        project.run(as_of=as_of)
        _assert_matches_oracle(project, as_of)
    incremental = project.tables()
    updated_at = updated_at_by_key(project.rows())
    project.run(as_of=as_of, full_refresh=True)
    problems = differences(incremental, project.tables(), project.groups)
    assert not problems, "incremental != full refresh:\n" + "\n".join(problems)
    _assert_matches_oracle(project, as_of)
    # The same values: the full refresh kept the rows' updated_at. Except, on the emulator,
    # a dict whose keys came out in another order (an OBJECT is JSON text there: it compares
    # as changed; Snowflake compares OBJECTs by value).
    rows = project.rows()
    for table, after in updated_at_by_key(rows).items():
        group = next(g for g in project.groups if table.startswith(f"{g['name']}_v"))
        dicts = [a["name"] for a in group["attributes"] if a["type"] == "dict"]
        moved = [key for key, at in after.items() if at != updated_at[table][key]]
        # (a table without a dict attribute keeps every updated_at)
        assert all(any(rows[table][key][d] for d in dicts) for key in moved), (table, moved)
    assert_rows_visible_too_late_are_named(project)


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
    assert len(models) == MODEL_COUNT, [p.name for p in models]
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


# --------------------------------------------------------------------------- sync
# `signals-batch sync` / `status` reading the attribute tables from Snowflake (the emulator)
# through the Snowflake reader (signals_batch/sync/snowflake_reader.py).


def test_sync_from_snowflake_fills_the_local_store_then_sends_nothing(full_project, capsys):
    from cli_helpers import run_cli

    check_a_first_sync_fills_the_store_then_sends_nothing(
        full_project, full_project.emulator, partial(run_cli, capsys))


@pytest.mark.server
def test_sync_from_snowflake_into_redis_equals_the_tables(full_project, redis_url):
    full_project.use_store(type="redis", url=redis_url, lock_lease_seconds=2)
    first = full_project.sync(chunk_size=500)
    assert all(g.rows_read == g.rows_written > 0 for g in first.groups)
    assert_store_equals_tables(full_project, "redis")
    assert all(g.rows_read == 0 for g in full_project.sync().groups)
    full = full_project.sync(full=True)
    assert sum(g.rows_removed for g in full.groups) == 0
    assert all(g.rows_read == g.rows_written > 0 for g in full.groups)
    assert_store_equals_tables(full_project, "redis")


@pytest.fixture(scope="module")
def sync_project(emulator_available, tmp_path_factory, events):
    """Two batch groups built from the first half of the events, and an external batch
    group over a table whose columns are spelled three ways (quoted lower case, unquoted,
    quoted upper case): the definitions' names are matched case-insensitively."""
    from snowflake_engine import SnowflakeProject

    project = SnowflakeProject(tmp_path_factory.mktemp("snowflake_sync"), SYNC_GROUPS,
                               start_date=START)
    project.load(sample_events.loads(events, 2)[0])
    project.execute(
        "CREATE SCHEMA crm",
        'CREATE TABLE crm.customers ("user_id" VARCHAR, lifetime_value DOUBLE, '
        '"SEGMENT" VARCHAR, changed_at TIMESTAMP_NTZ)',
        "INSERT INTO crm.customers VALUES ('u1', 10.5, 'gold', '2025-01-01 00:00:00'), "
        "('u2', 3, 'silver', '2025-01-02 00:00:00'), (NULL, 1, 'x', '2025-01-02 00:00:00')")
    project.run(as_of=START + dt.timedelta(days=DAYS - 1))
    return project


def test_sync_from_snowflake_after_an_incremental_run_sends_only_changed_rows(
        sync_project, events, capsys):
    from cli_helpers import run_cli

    check_a_sync_after_an_incremental_run_sends_only_changed_rows(
        sync_project, sample_events.loads(events, 2)[1],
        lambda key: f"DELETE FROM signals.network_v2_attributes WHERE network_userid = '{key}'",
        sync_project.emulator, partial(run_cli, capsys))


def test_an_external_batch_group_syncs_its_own_snowflake_table(sync_project):
    check_an_external_batch_group_syncs_its_own_table(
        sync_project,
        "UPDATE crm.customers SET \"SEGMENT\" = 'platinum', "
        "changed_at = '2025-01-03 00:00:00' WHERE \"user_id\" = 'u2'",
        sync_project.emulator)


# --------------------------------------------------------------------------- sync: failures

PASSWORD = "Sup3r-Secret-pw"


@pytest.fixture
def offline_project(emulator_available, tmp_path, monkeypatch):
    """A Snowflake project whose profile points the real connector at a loopback port
    (dbt-snowflake's host / port / protocol fields), with a password in the environment."""
    from snowflake_engine import PROFILE_ENV

    path = tmp_path / "offline"
    init_project(path, warehouse="snowflake", examples=False)
    (path / "definitions").mkdir(exist_ok=True)
    (path / "definitions" / "groups.yml").write_text(yaml.safe_dump([NETWORK_GROUP]))
    for name, value in {**PROFILE_ENV, "SNOWFLAKE_ACCOUNT": "acme-test",
                        "SNOWFLAKE_PASSWORD": PASSWORD}.items():
        monkeypatch.setenv(name, value)

    def at_port(port: int) -> Path:
        profiles = path / "profiles.yml"
        profile = yaml.safe_load(profiles.read_text())
        profile["signals_batch"]["outputs"]["dev"].update(
            host="127.0.0.1", port=port, protocol="http", connect_retries=0)
        profiles.write_text(yaml.safe_dump(profile))
        return path

    return at_port


def _assert_one_clear_line(result, code: int, *expected: str) -> None:
    assert result.code == code, (result.code, result.err)
    for text in expected:
        assert text in result.err, result.err
    assert PASSWORD not in result.err + result.out
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err


def test_wrong_credentials_give_one_clear_line_and_exit_1(offline_project, capsys):
    from cli_helpers import run_cli
    from snowflake_engine import refusing_login_server

    with refusing_login_server() as port:
        path = str(offline_project(port))
        for command in (["sync"], ["status", "--json"], ["sync", "--dry-run", "--json"]):
            result = run_cli(capsys, *command, "-p", path)
            _assert_one_clear_line(result, 1, "Snowflake account 'acme-test'",
                                   "refused the credentials", "Incorrect username or password")
        logged = run_cli(capsys, "--log-format", "json", "sync", "-p", path)
        dbt_run = run_cli(capsys, "run", "-p", path)
    assert logged.code == 1 and PASSWORD not in logged.err
    # dbt's own log file (logs/dbt.log, debug level) does not keep the password either
    assert dbt_run.code == 1 and PASSWORD not in dbt_run.err + dbt_run.out
    dbt_log = (Path(path) / "logs" / "dbt.log").read_text()
    assert "Incorrect username or password" in dbt_log and PASSWORD not in dbt_log
    assert json.loads(logged.err.strip().splitlines()[-1])["level"] == "error"


def test_an_unreachable_account_gives_one_clear_line_and_exit_1(offline_project, capsys):
    from cli_helpers import run_cli
    from servers import free_port

    path = str(offline_project(free_port()))  # nothing listens there
    result = run_cli(capsys, "sync", "-p", path)
    _assert_one_clear_line(result, 1, "could not connect to Snowflake account 'acme-test'")


def test_an_invalid_snowflake_profile_exits_2_naming_what_is_wrong(
        offline_project, capsys, monkeypatch):
    from cli_helpers import run_cli
    from servers import free_port

    path = str(offline_project(free_port()))
    monkeypatch.delenv("SNOWFLAKE_ACCOUNT")
    _assert_one_clear_line(run_cli(capsys, "sync", "-p", path), 2, "SNOWFLAKE_ACCOUNT")
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme-test")
    profiles = Path(path) / "profiles.yml"
    profile = yaml.safe_load(profiles.read_text())
    profile["signals_batch"]["outputs"]["dev"]["port"] = PASSWORD  # a secret where it fails
    profiles.write_text(yaml.safe_dump(profile))
    _assert_one_clear_line(run_cli(capsys, "status", "-p", path), 2, "not a valid snowflake")


# --------------------------------------------------------------------------- sync: encoding

def _snowflake_literal(value, type_name: str) -> str:
    from snowflake_engine import _string_literal

    if value is None:
        return "NULL"
    if type_name.endswith("_list") or type_name == "dict":
        # timestamps in an ARRAY as Snowflake writes them (TIMESTAMP_NTZ in a VARIANT)
        text = json.dumps(value, default=lambda v: v.isoformat(sep=" ", timespec="milliseconds"))
        kind = "OBJECT" if type_name == "dict" else "ARRAY"
        return f"PARSE_JSON({_string_literal(text)})::{kind}"
    if type_name == "string":
        return _string_literal(value)
    if type_name in ("double", "float"):
        return f"CAST({_string_literal(repr(value))} AS DOUBLE)"
    if type_name == "bool":
        return "TRUE" if value else "FALSE"
    if type_name == "timestamp":
        return f"TO_TIMESTAMP_NTZ({_string_literal(value.isoformat(sep=' '))})"
    return str(int(value))


@pytest.mark.parametrize("store", ["local", pytest.param("redis", marks=pytest.mark.server)])
def test_a_profile_is_the_same_json_from_duckdb_and_from_snowflake(
        store, emulator_available, tmp_path, request):
    from engine import EngineProject
    from snowflake_engine import SnowflakeProject

    from signals_batch.warehouse import connect

    snowflake = SnowflakeProject(tmp_path / "snowflake", [TYPED], start_date=START)
    columns = ", ".join(f"{name} {spec[2]}" for name, spec in TYPED_FIELDS.items())
    snowflake.execute(
        "CREATE SCHEMA crm",
        f'CREATE TABLE crm.typed_rows ("user_id" VARCHAR, {columns}, changed_at TIMESTAMP_NTZ)',
        *(f"INSERT INTO crm.typed_rows SELECT {_snowflake_literal(row['user_id'], 'string')}, "
          + ", ".join(_snowflake_literal(row[name], spec[0])
                      for name, spec in TYPED_FIELDS.items())
          + f", {_snowflake_literal(row['changed_at'], 'timestamp')}" for row in TYPED_ROWS))
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

    if store == "redis":  # one server, a database per warehouse
        url = request.getfixturevalue("redis_url")
        snowflake.use_store(type="redis", url=url.rsplit("/", 1)[0] + "/1")
        duckdb_store = {"type": "redis", "url": url}
    else:
        snowflake.use_store(type="local", path="profiles.sqlite")
        duckdb_store = {"type": "local", "path": "profiles.sqlite"}
    settings = yaml.safe_load((duckdb.path / "signals_batch.yml").read_text())
    (duckdb.path / "signals_batch.yml").write_text(yaml.safe_dump({**settings,
                                                                   "store": duckdb_store}))
    from_snowflake = snowflake.sync(chunk_size=2).groups[0]
    from_duckdb = duckdb.project.sync(chunk_size=2).groups[0]
    assert from_snowflake.rows_read == from_duckdb.rows_read == len(TYPED_ROWS)
    assert from_snowflake.watermark == from_duckdb.watermark == "2025-01-03T00:00:00.000001"

    stores = [snowflake.project.open_store(), duckdb.project.open_store()]
    try:
        for row in TYPED_ROWS:
            read_back = [s.get("typed_v1", row["user_id"]) for s in stores]
            assert read_back[0] is not None, row["user_id"]
            assert store_json(read_back[0]) == store_json(read_back[1]), row["user_id"]
        # and what they are (not only the same on both sides): JSON of each declared type
        assert stores[0].get("typed_v1", "u1") == {
            "label": "plain", "big": 9007199254740993, "small": 7, "ratio": 0.1, "single": 1.5,
            "flag": True, "seen_at": "2025-01-02T03:04:05", "seen_unix": 1735787045,
            "tags": ["a", "b"], "counts": [1, 9007199254740993], "scores": [0.5, 2.0, 1e-07],
            "flags": [True, False],
            "stamps": ["2025-01-01T10:00:00", "2025-01-01T10:00:00.500000"],
            "props": {"a": 1, "b": [1, 2.5, "x"], "c": {"d": None}, "e": "ü", "f": 1.0},
            "updated_at": "2025-01-01T00:00:00.000000"}
        assert store_json(stores[0].get("typed_v1", "u4")["scores"]) == "[3.0, null]"
    finally:
        for s in stores:
            s.close()
