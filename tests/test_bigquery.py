"""The generated project on BigQuery: dbt-bigquery against the bqemulator server.

The same independent oracle as tests/test_engine_correctness.py (DuckDB) and
tests/test_snowflake.py checks every aggregation, operator and window rule of
tests/engine_groups.py ALL_GROUPS plus TEXT_EDGES (tests/warehouse_cases.py): a full build,
`include_current_day`, an incremental sequence (late and re-delivered events, as-of moving)
equal to the oracle after every run and to a final full refresh, and a rerun that changes no
`updated_at`. Every compiled model also parses as BigQuery SQL (sqlglot).

Events are in a BigQuery table with JSON columns for the contexts and unstruct events. One
emulator process serves the whole session; each project has its own datasets. What the
emulator cannot show is listed in docs/warehouses.md ("BigQuery", "Tests: the emulator").
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from engine import differences
from oracle import compute
from warehouse_cases import DAYS, GROUPS, START, case_events

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
    every run the tables equal the oracle; a full refresh then gives the same tables."""
    project = _new_project(tmp_path_factory.mktemp("bq_incremental"), emulator,
                           start_date=START + dt.timedelta(days=1))
    batches = sample_events.loads(events, 4)
    for batch, day in zip(batches, (4, 6, 9, DAYS), strict=True):
        project.load(batch)
        as_of = START + dt.timedelta(days=day)
        project.run(as_of=as_of)
        _assert_matches_oracle(project, as_of)
    incremental = project.tables()
    project.run(as_of=START + dt.timedelta(days=DAYS), full_refresh=True)
    assert project.tables() == incremental


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
    assert len(models) == 2 + 2 * len(GROUPS), [p.name for p in models]
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
    incremental = (project.path / "target" / "compiled" / "signals_project" / "models"
                   / "signals_batch" / "network_v2_attributes.sql").read_text()
    assert ("changed or new rows" in incremental) == (state == "incremental")
