"""integration_tests/: the signals_batch dbt package installed from a packages.yml (as a user
would, `dbt deps` from a local path) and every value macro checked against hand-written cases,
with `dbt build`, on DuckDB, on Snowflake (the fakesnow emulator) and on BigQuery (the
bqemulator emulator)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from unittest import mock

import pytest
import yaml

from signals_batch.errors import SignalsBatchError
from signals_batch.runner.dbt import invoke_dbt

pytestmark = pytest.mark.dbt

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "integration_tests"
MODELS = sorted(p.stem for p in (SOURCE / "models").glob("*.sql"))
SNOWFLAKE_ENV = {
    "SNOWFLAKE_ACCOUNT": "fakesnow",
    "SNOWFLAKE_USER": "tester",
    "SNOWFLAKE_PASSWORD": "not-a-secret",
    "SNOWFLAKE_DATABASE": "SIGNALS_BATCH_IT",
}


def _project(tmp_path: Path) -> Path:
    """A copy of integration_tests/ whose packages.yml points at this checkout."""
    project = tmp_path / "integration_tests"
    shutil.copytree(SOURCE, project, ignore=shutil.ignore_patterns(
        "target", "logs", "dbt_packages", "*.duckdb*", "package-lock.yml"))
    (project / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    return project


def _deps(project: Path) -> None:
    """`dbt deps` (the runner below passes --target-path, which deps does not take)."""
    from dbt.cli.main import dbtRunner

    outcome = dbtRunner().invoke(["deps", "--project-dir", str(project), "--profiles-dir",
                                  str(project), "--log-level", "none"])
    assert outcome.success, outcome.exception


def _dbt(project: Path, *command: str) -> list:
    """dbt through the runner `signals-batch` uses (raises, naming the failing node)."""
    return invoke_dbt(list(command), project).nodes


def _check(nodes: list) -> None:
    """Every model built, and both tests of each ran and passed."""
    statuses = {node.name: node.status for node in nodes}
    assert {m: statuses.get(m) for m in MODELS} == dict.fromkeys(MODELS, "success")
    tests = [name for name in statuses if name.startswith(("matches_expected_", "has_cases_"))]
    assert len(tests) == 2 * len(MODELS) and all(statuses[t] == "pass" for t in tests)


def test_the_package_macros_give_the_expected_values_on_duckdb(tmp_path, monkeypatch):
    project = _project(tmp_path)
    monkeypatch.setenv("SIGNALS_BATCH_IT_DUCKDB", str(tmp_path / "it.duckdb"))
    _deps(project)
    _check(_dbt(project, "build", "--target", "duckdb"))


def test_a_wrong_expectation_fails_the_build(tmp_path, monkeypatch):
    """The checks bite: one expected value changed in a seed makes `dbt build` fail on it,
    and on nothing else."""
    project = _project(tmp_path)
    seed = project / "seeds" / "number_cases.csv"
    seed.write_text(seed.read_text().replace("plus,+5,5", "plus,+5,6"))
    monkeypatch.setenv("SIGNALS_BATCH_IT_DUCKDB", str(tmp_path / "it.duckdb"))
    _deps(project)
    with pytest.raises(SignalsBatchError) as failure:
        _dbt(project, "build", "--target", "duckdb")
    assert str(failure.value).startswith("dbt build failed in matches_expected_numbers_: ")


def test_the_package_macros_give_the_expected_values_on_snowflake(tmp_path):
    fakesnow = pytest.importorskip("fakesnow")
    pytest.importorskip("dbt.adapters.snowflake")
    project = _project(tmp_path)
    (tmp_path / "fakesnow").mkdir()
    with mock.patch.dict(os.environ, SNOWFLAKE_ENV), fakesnow.patch(db_path=tmp_path / "fakesnow"):
        _deps(project)
        _check(_dbt(project, "build", "--target", "snowflake"))


@pytest.mark.bigquery
def test_the_package_macros_give_the_expected_values_on_bigquery(tmp_path):
    pytest.importorskip("bqemulator")
    pytest.importorskip("dbt.adapters.bigquery")
    from bigquery_engine import EMULATOR_MACROS, EMULATOR_SEED_MACROS, Emulator, emulator_profile

    project = _project(tmp_path)
    profiles = yaml.safe_load((project / "profiles.yml").read_text())
    target = emulator_profile("")["signals_batch"]["outputs"]["dev"]
    emulator = Emulator(tmp_path / "emulator.log")
    try:
        target.update(api_endpoint=emulator.endpoint, dataset="integration_tests")
        profiles["signals_batch_integration_tests"]["outputs"]["bigquery"] = target
        (project / "profiles.yml").write_text(yaml.safe_dump(profiles))
        # the emulator's gaps, worked around in this copy only (tests/bigquery_engine.py)
        (project / "macros" / "bqemulator_workarounds.sql").write_text(
            EMULATOR_MACROS + EMULATOR_SEED_MACROS)
        _deps(project)
        _check(_dbt(project, "build", "--target", "bigquery"))
    finally:
        emulator.stop()
