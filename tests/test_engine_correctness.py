"""The engine against the independent oracle: every aggregation, operator and window rule,
on generated events with late and duplicate arrivals, full refresh and incremental."""

from __future__ import annotations

import datetime as dt

import pytest
from engine import EngineProject, differences, updated_at_by_key
from engine_groups import ALL_GROUPS, edge_events
from oracle import compute
from warehouse_cases import assert_every_case_is_exercised

from signals_batch import sample_events

pytestmark = pytest.mark.dbt

START = dt.date(2025, 1, 1)
DAYS = 12


@pytest.fixture(scope="session")
def events() -> list[dict]:
    rows = sample_events.generate_events(
        n_events=4000, days=DAYS, users=30, seed=11, start=START)
    rows += edge_events(START)
    rows.sort(key=lambda r: (r["load_tstamp"], r["event_id"]))
    return rows


def _oracle(project: EngineProject, as_of: dt.date) -> dict:
    return compute(project.loaded, project.groups, as_of, project.start_date,
                   project.include_current_day)


def _assert_matches_oracle(project: EngineProject, as_of: dt.date) -> None:
    problems = differences(project.tables(), _oracle(project, as_of), project.groups)
    assert not problems, "engine != oracle:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def full_project(tmp_path_factory, events) -> EngineProject:
    """All events loaded at once, start_date after the first day, windows ending yesterday."""
    project = EngineProject(tmp_path_factory.mktemp("full"), ALL_GROUPS,
                            start_date=START + dt.timedelta(days=1))
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=9))
    return project


def test_every_attribute_matches_the_oracle(full_project):
    _assert_matches_oracle(full_project, START + dt.timedelta(days=9))


def test_the_tables_are_not_trivially_empty(full_project):
    assert_every_case_is_exercised(full_project.tables())


def test_a_rerun_with_no_new_data_changes_no_updated_at(full_project):
    before = full_project.rows()
    summary = full_project.run(as_of=START + dt.timedelta(days=9))
    assert all(g.changed == 0 for g in summary.groups), summary
    assert full_project.rows() == before


@pytest.fixture(scope="session")
def current_day_project(tmp_path_factory, events) -> EngineProject:
    project = EngineProject(tmp_path_factory.mktemp("current_day"), ALL_GROUPS,
                            start_date=START, include_current_day=True)
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=7))
    return project


def test_include_current_day_windows_match_the_oracle(current_day_project):
    _assert_matches_oracle(current_day_project, START + dt.timedelta(days=7))


def test_incremental_runs_equal_the_oracle_and_a_full_refresh(tmp_path_factory, events):
    """Growing data, late and re-delivered events, as-of moving forward: after every run the
    tables equal the oracle; at the end a full refresh gives the same values."""
    project = EngineProject(tmp_path_factory.mktemp("incremental"), ALL_GROUPS,
                            start_date=START + dt.timedelta(days=1))
    batches = sample_events.loads(events, 4)
    as_of_days = [4, 6, 6, 11]
    for batch, day in zip(batches, as_of_days, strict=True):
        project.load(batch)
        as_of = START + dt.timedelta(days=day)
        project.run(as_of=as_of)
        _assert_matches_oracle(project, as_of)
    incremental = project.tables()
    updated_at = updated_at_by_key(project.rows())
    project.run(as_of=as_of, full_refresh=True)
    problems = differences(incremental, project.tables(), project.groups)
    assert not problems, "incremental != full refresh:\n" + "\n".join(problems)
    _assert_matches_oracle(project, as_of)
    # the same values: the full refresh kept every row's updated_at
    assert updated_at_by_key(project.rows()) == updated_at


@pytest.mark.parametrize("full_refresh", [False, True], ids=["incremental", "full_refresh"])
def test_only_rows_whose_values_changed_get_a_new_updated_at(tmp_path_factory, events,
                                                             full_refresh):
    """Also in a full refresh: it rebuilds every row, but a row whose values stay keeps its
    updated_at (SEMANTICS.md section 6), so the next sync resends only what changed."""
    project = EngineProject(tmp_path_factory.mktemp("updated_at"), ALL_GROUPS[:1],
                            start_date=START)
    first, second = sample_events.loads(events, 2)
    project.load(first)
    project.run(as_of=START + dt.timedelta(days=12))
    before = project.rows()["aggregations_v1_attributes"]
    if full_refresh:  # nothing new: nothing changes, not even updated_at
        summary = project.run(as_of=START + dt.timedelta(days=12), full_refresh=True)
        assert all(g.changed == 0 for g in summary.groups), summary
        assert project.rows()["aggregations_v1_attributes"] == before
    project.load(second)
    summary = project.run(as_of=START + dt.timedelta(days=12), full_refresh=full_refresh)
    after = project.rows()["aggregations_v1_attributes"]
    assert summary.groups[0].changed == sum(
        1 for key, row in after.items() if key not in before or row != before[key])
    for key, row in after.items():
        old = before.get(key)
        values_same = old is not None and {k: v for k, v in row.items() if k != "updated_at"} \
            == {k: v for k, v in old.items() if k != "updated_at"}
        if values_same:
            assert row["updated_at"] == old["updated_at"], key
        else:
            assert old is None or row["updated_at"] > old["updated_at"], key


@pytest.mark.parametrize("include_current_day", [False, True])
def test_as_of_moving_without_new_events_updates_exactly_the_keys_whose_windows_moved(
        tmp_path, include_current_day):
    """Sparse keys (a few events each), nothing loaded between runs: a key's values change
    only because a day entered or left one of its windows. Forward by one day, a jump, and
    back: each state is the oracle's, so no key whose window moved is skipped."""
    rows = sample_events.generate_events(n_events=1200, days=DAYS, users=300, seed=5,
                                         start=START)
    project = EngineProject(tmp_path, ALL_GROUPS, start_date=START,
                            include_current_day=include_current_day)
    project.load(rows)
    for day in (5, 6, 9, 7):
        as_of = START + dt.timedelta(days=day)
        project.run(as_of=as_of)
        _assert_matches_oracle(project, as_of)
