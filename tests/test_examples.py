"""examples/definitions/: every example is valid and compiles; the ones that read only what the
sample events hold run on them and equal the oracle."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from engine import EngineProject, differences
from oracle import compute

from signals_batch import sample_events
from signals_batch.compiler import compile_project
from signals_batch.definitions import load_definitions

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "definitions"
START = dt.date(2025, 1, 1)


def test_every_example_definition_is_valid_and_compiles():
    loaded = load_definitions(EXAMPLES)
    assert {g.ident for g in loaded.groups} == {
        "marketing_user_v1", "customer_value_v1", "crm_user_v1"}
    compiled = compile_project(loaded.groups)
    assert "marketing_user_v1_attributes" in compiled.model_names
    assert "customer_value_v1_attributes" in compiled.model_names


def test_the_sdk_example_module_loads_its_groups():
    pytest.importorskip("snowplow_signals")
    loaded = load_definitions(EXAMPLES / "sdk_groups.py")
    assert [g.ident for g in loaded.groups] == ["session_engagement_v1"]
    assert "session_engagement_v1_attributes" in compile_project(loaded.groups).model_names


@pytest.mark.dbt
def test_the_marketing_example_runs_on_the_sample_events_and_equals_the_oracle(tmp_path):
    group = yaml.safe_load((EXAMPLES / "marketing.yml").read_text())
    project = EngineProject(tmp_path, [group], start_date=START)
    project.load(sample_events.generate_events(
        n_events=3000, days=20, users=40, seed=3, start=START))
    as_of = START + dt.timedelta(days=20)
    project.run(as_of=as_of)
    tables = project.tables()
    expected = compute(project.loaded, project.groups, as_of, START)
    assert not differences(tables, expected, project.groups)
    rows = tables["marketing_user_v1_attributes"]
    # the example exercises what it says: touches, paid visits and channel mixes are found
    assert any(r["first_touch"] for r in rows.values())
    assert any(r["paid_visits_30d"] for r in rows.values())
    assert any(r["visits_per_channel"] for r in rows.values())
