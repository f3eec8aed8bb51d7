"""Run sequences a scheduler produces: groups added later, one group at a time, as-of dates
moving back, runs that stopped half way, random loads. After each, tables == the oracle."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli
from engine import EngineProject, differences, with_rows_visible_late
from engine_groups import (
    AGGREGATIONS,
    ALL_GROUPS,
    CRITERIA,
    NETWORK_GROUP,
    RECENT_GROUP,
    USER_ID_GROUP,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import compute

from signals_batch import sample_events
from signals_batch.errors import InvalidInput, SignalsBatchError
from signals_batch.project import Project
from signals_batch.warehouse import connect

pytestmark = pytest.mark.dbt

START = dt.date(2025, 1, 1)


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return sample_events.generate_events(n_events=1500, days=10, users=15, seed=5, start=START)


def _check(project: EngineProject, as_of: dt.date) -> None:
    expected = compute(project.loaded, project.groups, as_of, project.start_date,
                       project.include_current_day)
    problems = differences(project.tables(), expected, project.groups)
    assert not problems, "engine != oracle:\n" + "\n".join(problems)


def _set_groups(project: EngineProject, groups: list[dict]) -> None:
    path = project.path / "definitions" / "groups.yml"
    path.write_text(yaml.safe_dump(groups, sort_keys=False))
    project.groups = groups


def test_a_group_whose_attributes_all_have_windows_reads_only_the_longest_window(
        tmp_path, events):
    """An incremental run recomputes a key of such a group from the last 14 days of partials
    (its longest window), yet every key with an event since start_date keeps its row: keys
    whose events were after the last window end, and keys whose events all left the windows
    (jumps of 10 and 28 days)."""
    project = EngineProject(tmp_path, [RECENT_GROUP], start_date=START)
    project.load(events)
    for day in (2, 12, 40):
        project.run(as_of=START + dt.timedelta(days=day))
        _check(project, START + dt.timedelta(days=day))
    compiled = (project.path / "target" / "compiled" / "signals_project" / "models"
                / "signals_batch" / "recent_v1_attributes.sql").read_text()
    recent_first = START + dt.timedelta(days=39 - 13)  # window end (as-of - 1) - 13 days
    d = compiled.split("\nd as (", 1)[1].split("),", 1)[0]
    assert f"event_day between DATE '{recent_first}'" in d, d
    assert "kept_keys" in compiled
    rows = project.tables()["recent_v1_attributes"]
    assert len(rows) == len({e["domain_userid"] for e in events if e["domain_userid"]})
    assert all(row["views_7d"] == 0 for row in rows.values())


def test_lifetime_attributes_read_a_key_s_history_from_the_lifetime_state(tmp_path, events):
    """A group with lifetime attributes keeps each key's lifetime partials combined in
    `<group>_lifetime`: an incremental run reads that one row per key, this run's partials
    and the partials of the longest window, not every day since start_date. Checked against
    the oracle as the as-of moves forward, back and jumps, and after a daily table is
    rebuilt (dropped by hand) right after a run: the state must not take the rebuilt rows
    for rows it already holds."""
    project = EngineProject(tmp_path, [CRITERIA, USER_ID_GROUP], start_date=START)
    loads = sample_events.loads(events, 5)
    for load, day in [(loads[0], 4), (loads[1], 6), ([], 5), (loads[2], 7), (loads[3], 19)]:
        project.load(load)
        project.run(as_of=START + dt.timedelta(days=day))
        _check(project, START + dt.timedelta(days=day))
    with connect(project.path) as con:
        con.execute("drop table signals.logged_in_v1_daily")
    project.load(loads[4])
    project.run(as_of=START + dt.timedelta(days=21))
    _check(project, START + dt.timedelta(days=21))
    compiled = (project.path / "target" / "compiled" / "signals_project" / "models"
                / "signals_batch" / "criteria_v1_attributes.sql").read_text()
    d = compiled.split("\nd as (", 1)[1].split("\nbase as (", 1)[0]
    window_first = START + dt.timedelta(days=20 - 6)  # window end (as-of - 1) - 6 days
    assert "criteria_v1_lifetime" in d, d
    assert f"and event_day between DATE '{window_first}'" in d, d
    assert f"and event_day < DATE '{window_first}'\n      and signals_batch_run = " in d, d
    with connect(project.path) as con:
        rows, keys = con.execute("select count(*), count(distinct signals_key) from "
                                 "signals.criteria_v1_lifetime").fetchone()
    assert rows == keys > 0  # one row per key (this group counts no values)


def test_a_group_edited_without_a_new_version_is_rebuilt_from_all_events(tmp_path, events):
    """Signals wants a new version for a changed definition, but a YAML file is easily edited
    in place: the partials of the old definition must not keep counting. A description-only
    edit changes no value and rebuilds nothing."""
    first, second = sample_events.loads(events, 2)
    project = EngineProject(tmp_path, [USER_ID_GROUP, NETWORK_GROUP], start_date=START)
    project.load(first)
    project.run(as_of=START + dt.timedelta(days=6))
    edited = json.loads(json.dumps(USER_ID_GROUP))
    edited["attributes"][0]["events"] = [{"name": "page_view"}]  # purchases -> page views
    _set_groups(project, [edited, NETWORK_GROUP])
    project.load(second)
    summary = project.run(as_of=START + dt.timedelta(days=8))
    assert [n for n in summary.notices if "definition changed" in n] == [
        "group logged_in_v1: its definition changed since its last run: rebuilding it from all "
        "events (Signals expects a new version for a changed definition)"]
    _check(project, START + dt.timedelta(days=8))
    before = project.tables()
    edited["description"] = "logged-in users"
    edited["attributes"][1]["description"] = "the first page they saw"
    _set_groups(project, [edited, NETWORK_GROUP])
    summary = project.run(as_of=START + dt.timedelta(days=8))
    assert not [n for n in summary.notices if "definition changed" in n], summary.notices
    assert project.tables() == before  # not one updated_at moved


def test_a_group_added_later_is_built_from_the_whole_history(tmp_path, events):
    project = EngineProject(tmp_path, [NETWORK_GROUP], start_date=START)
    first, second = sample_events.loads(events, 2)
    project.load(first)
    project.run(as_of=START + dt.timedelta(days=6))
    _set_groups(project, [NETWORK_GROUP, USER_ID_GROUP])
    project.load(second)
    project.run(as_of=START + dt.timedelta(days=8))
    _check(project, START + dt.timedelta(days=8))


def test_a_group_removed_from_the_definitions_is_left_alone_and_named_by_status(
        tmp_path, events, capsys):
    """Like dbt with a deleted model: the remaining groups run as before, the removed group's
    tables are not touched (nor dropped), and `status` names it with what to do."""
    first, second = sample_events.loads(events, 2)
    project = EngineProject(tmp_path, [USER_ID_GROUP, NETWORK_GROUP], start_date=START)
    project.load(first)
    project.run(as_of=START + dt.timedelta(days=6))
    removed_table = project.tables()["logged_in_v1_attributes"]
    assert project.project.status_report().removed == []
    _set_groups(project, [NETWORK_GROUP])
    project.load(second)
    project.run(as_of=START + dt.timedelta(days=8))
    _check(project, START + dt.timedelta(days=8))
    project.groups = [USER_ID_GROUP, NETWORK_GROUP]  # read the removed group's table too
    assert project.tables()["logged_in_v1_attributes"] == removed_table
    assert Project(tmp_path).status_report().removed == ["logged_in_v1"]
    result = run_cli(capsys, "status", "-p", str(tmp_path), "--json")
    assert result.code == 0, result.err
    listed = {g["group"]: g for g in json.loads(result.out)}
    assert listed.keys() == {"network_v2", "logged_in_v1"}
    assert listed["network_v2"]["defined"] is True
    removed = listed["logged_in_v1"]
    assert removed["defined"] is False and removed["pending"] is None
    assert removed["as_of"] == (START + dt.timedelta(days=6)).isoformat()
    assert removed["rows"] == len(removed_table)
    assert ("logged_in_v1: no longer in the definitions; its tables (logged_in_v1_daily, "
            "logged_in_v1_attributes, ...) remain in signals: drop them when nothing reads "
            "them") in result.err


def test_one_group_at_a_time_then_all_groups(tmp_path, events):
    project = EngineProject(tmp_path, [NETWORK_GROUP, USER_ID_GROUP], start_date=START)
    first, second = sample_events.loads(events, 2)
    project.load(first)
    project.run(as_of=START + dt.timedelta(days=5))
    project.load(second)
    project.run(as_of=START + dt.timedelta(days=9), select=["logged_in"])
    project.run(as_of=START + dt.timedelta(days=9))
    _check(project, START + dt.timedelta(days=9))
    # and a rebuild of one group alone leaves the others as they are (logged_in has a
    # lifetime table: rebuilt with its daily table, then used by the next run)
    project.run(as_of=START + dt.timedelta(days=9), select=["network_v2"], full_refresh=True)
    _check(project, START + dt.timedelta(days=9))
    project.run(as_of=START + dt.timedelta(days=9), select=["logged_in"], full_refresh=True)
    _check(project, START + dt.timedelta(days=9))
    project.run(as_of=START + dt.timedelta(days=11))
    _check(project, START + dt.timedelta(days=11))


def test_as_of_moving_back_drops_keys_that_have_no_events_yet(tmp_path, events):
    project = EngineProject(tmp_path, [USER_ID_GROUP, NETWORK_GROUP], start_date=START)
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=10))
    late_keys = len(project.tables()["logged_in_v1_attributes"])
    project.run(as_of=START + dt.timedelta(days=3))
    assert len(project.tables()["logged_in_v1_attributes"]) < late_keys
    _check(project, START + dt.timedelta(days=3))


def test_a_run_that_stopped_half_way_is_completed_by_the_next(tmp_path, events):
    project = EngineProject(tmp_path, [AGGREGATIONS], start_date=START)
    first, second = sample_events.loads(events, 2)
    project.load(first)
    project.run(as_of=START + dt.timedelta(days=6))
    project.load(second)
    # The new events reach the daily partials, then the run dies before the attribute
    # table and the event ledger are written.
    p = project.project
    p.dbt(["run", "--select", "signals_batch_events_this_run", "aggregations_v1_daily"],
          vars=p.dbt_vars(), as_of=START + dt.timedelta(days=9))
    project.run(as_of=START + dt.timedelta(days=9))
    _check(project, START + dt.timedelta(days=9))


def test_a_first_run_that_stopped_half_way_is_completed_by_the_next(tmp_path, events):
    """The first run dies after the daily partials (no ledger yet): the next run, with more
    events loaded meanwhile, starts those tables over instead of failing."""
    project = EngineProject(tmp_path, [AGGREGATIONS, NETWORK_GROUP], start_date=START)
    first, second = sample_events.loads(events, 2)
    project.load(first)
    p = project.project
    p.generate()
    p.dbt(["run", "--select", "signals_batch_events_this_run", "aggregations_v1_daily",
           "network_v2_daily", "network_v2_attributes"],
          vars=p.dbt_vars(), as_of=START + dt.timedelta(days=6))
    project.load(second)
    project.run(as_of=START + dt.timedelta(days=9))
    _check(project, START + dt.timedelta(days=9))


def _run_until_models_finished(project_dir, as_of: dt.date, models: int):
    """`signals-batch run` as a process, read until its `models`-th model finished (or it
    ended): (the process, models finished, stderr lines read)."""
    command = [sys.executable, "-m", "signals_batch.cli", "run", "-p", str(project_dir),
               "--as-of", as_of.isoformat()]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    done, lines = 0, []
    for line in process.stderr:
        lines.append(line)
        done += bool(re.match(r"\[\d+/\d+\] \w+: OK", line))
        if done == models:
            break
    return process, done, lines


@pytest.mark.slow
def test_a_run_killed_after_any_model_is_completed_by_the_next(tmp_path, events):
    """SIGKILL `signals-batch run` right after its k-th model finished, for every k but the
    last (the first run dies after both daily tables), more events loaded before each: the
    next run equals the oracle."""
    project = EngineProject(tmp_path, [AGGREGATIONS, NETWORK_GROUP], start_date=START)
    models = 6  # events_this_run, two daily, two attribute tables, the ledger
    batches = sample_events.loads(events, models - 1)
    for finished, batch in zip([3, 1, 5, 2, 4], batches, strict=True):
        project.load(batch)
        as_of = START + dt.timedelta(days=4 + len(project.loaded) * 5 // len(events))
        process, done, _ = _run_until_models_finished(tmp_path, as_of, finished)
        process.kill()
        process.communicate()
        assert done == finished, f"the run ended after {done} models"
        project.run(as_of=as_of)
        _check(project, as_of)


@pytest.mark.slow
def test_ctrl_c_during_a_run_exits_130_at_once_and_the_next_run_completes_it(tmp_path, events):
    """SIGINT to `signals-batch run` right after its k-th model finished: it says
    `interrupted`, exits 130 and does not hang in the interpreter's exit handlers (dbt's
    worker pool once did); the next run equals the oracle."""
    project = EngineProject(tmp_path, [AGGREGATIONS, NETWORK_GROUP], start_date=START)
    for finished, batch in zip([2, 4], sample_events.loads(events, 2), strict=True):
        project.load(batch)
        as_of = START + dt.timedelta(days=4 + len(project.loaded) * 5 // len(events))
        process, done, lines = _run_until_models_finished(tmp_path, as_of, finished)
        if done == finished:
            process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
        lines.append(rest)
        assert process.returncode == 130, "".join(lines)
        assert "".join(lines).strip().endswith("interrupted")
        project.run(as_of=as_of)
        _check(project, as_of)


def test_a_lost_ledger_rebuilds_the_partials_and_moves_only_changed_rows(tmp_path, events):
    project = EngineProject(tmp_path, [AGGREGATIONS, NETWORK_GROUP], start_date=START)
    first, second = sample_events.loads(events, 2)
    project.load(first)
    as_of = START + dt.timedelta(days=6)
    project.run(as_of=as_of)
    before = project.tables()
    with connect(project.path) as con:
        con.execute("drop table signals.signals_batch_event_ids")
    summary = project.run(as_of=as_of)
    assert project.tables() == before  # same values, and not one updated_at moved
    assert all(g.changed == 0 for g in summary.groups), summary.groups
    with connect(project.path) as con:
        con.execute("drop table signals.signals_batch_event_ids")
    project.load(second)
    project.run(as_of=START + dt.timedelta(days=9))
    _check(project, START + dt.timedelta(days=9))


def test_ids_that_are_not_canonical_uuids_count_once_and_a_text_ledger_is_upgraded(
        tmp_path, events):
    """The DuckDB ledger stores each id as a UUID, and an id that is not a canonical UUID as
    the UUID of its MD5: such ids (upper case, not a UUID at all) re-delivered in a later run
    still count once, and an upper-case id is another event than its lower-case twin, as an
    id that is the MD5 of another one, written as a UUID, is another event than that one. A
    ledger of text ids (earlier builds) is converted in place by the next run, keeping
    every id it held."""
    first, second = sample_events.loads(events, 2)
    odd_ids = {}
    for n, row in enumerate(first[:60]):
        odd_id = row["event_id"].upper() if n % 2 else f"tracker-{n}-it's"
        odd_ids[row["event_id"]] = odd_id
        row_twin = dict(row, event_id=odd_id)  # another event, same content
        first.append(row_twin)
    # every odd id delivered again after the first run, some altered, all ignored
    late = max(row["load_tstamp"] for row in first) + dt.timedelta(minutes=5)
    second = second + [
        dict(row, event_id=odd_ids[row["event_id"]], load_tstamp=late,
             derived_tstamp=row["derived_tstamp"] + dt.timedelta(hours=n % 3))
        for n, row in enumerate(first[:60])]
    # new events whose ids are the MD5 of an id of the first run, written as a canonical
    # UUID: other events, which count (they used to be taken for that id, already seen)
    md5_twins = [
        dict(row, event_id=str(uuid.UUID(hashlib.md5(odd_ids[row["event_id"]].encode())
                                         .hexdigest())), load_tstamp=late)
        for row in first[:60:2]]
    assert any(twin["event_id"][19] not in "ef" for twin in md5_twins)
    second = second + md5_twins
    project = EngineProject(tmp_path, [AGGREGATIONS, NETWORK_GROUP], start_date=START)
    project.load(first)
    as_of = START + dt.timedelta(days=6)
    project.run(as_of=as_of)
    _check(project, as_of)
    with connect(project.path) as con:
        ledger = "signals.signals_batch_event_ids"
        assert con.execute(f"select typeof(event_id) from {ledger} limit 1").fetchone() == ("UUID",)
        assert con.execute(f"select count(*), count(distinct event_id) from {ledger}").fetchone() \
            == (len({row["event_id"] for row in first}),) * 2
        # the ledger as earlier builds wrote it: the ids as text
        con.execute(f"create or replace table {ledger} as select distinct on (event_id) "
                    f"event_id, load_tstamp from atomic.events order by event_id, load_tstamp")
    project.load(second)
    as_of = START + dt.timedelta(days=9)
    project.run(as_of=as_of)
    _check(project, as_of)
    with connect(project.path) as con:
        assert con.execute(f"select typeof(event_id) from {ledger} limit 1").fetchone() == ("UUID",)
        assert con.execute(f"select count(*), count(distinct event_id) from {ledger}").fetchone() \
            == (len({row["event_id"] for row in first + second}),) * 2


def test_rows_visible_after_a_run_with_an_older_load_time_count_within_the_lookback_window(
        tmp_path, events):
    """Loaders that commit in parallel make a row visible after a run with a load_tstamp older
    than the newest that run processed. The next run counts such a row once when it is at most
    lookback_window_hours older (here 4), in every group, a group added in that run included
    (its history and this run's events share the row); an older one only a full refresh
    counts (docs/incremental.md)."""
    first, second = sample_events.loads(events, 2)
    first_ids = {row["event_id"] for row in first}
    newest = max(row["load_tstamp"] for row in first)
    new_events = [row for row in second if row["event_id"] not in first_ids]
    within = [dict(row, load_tstamp=newest - dt.timedelta(minutes=1 + 9 * n))
              for n, row in enumerate(new_events[:25])]
    # an earlier copy of one of them, with another event time: the earliest load counts
    within.append(dict(within[3], load_tstamp=newest - dt.timedelta(hours=3, minutes=50),
                       derived_tstamp=within[3]["derived_tstamp"] - dt.timedelta(hours=30)))
    beyond = [dict(row, load_tstamp=newest - dt.timedelta(hours=4, minutes=1 + n))
              for n, row in enumerate(new_events[25:35])]
    held = {row["event_id"] for row in within + beyond}
    project = EngineProject(tmp_path, [AGGREGATIONS, NETWORK_GROUP], start_date=START)
    settings_file = project.path / "signals_batch.yml"
    settings_file.write_text(settings_file.read_text() + "lookback_window_hours: 4\n")
    project.load(first)
    project.run(as_of=START + dt.timedelta(days=6))
    _set_groups(project, [AGGREGATIONS, NETWORK_GROUP, dict(AGGREGATIONS, name="added")])
    project.load([row for row in second if row["event_id"] not in held] + within + beyond)
    as_of = START + dt.timedelta(days=9)
    project.run(as_of=as_of)
    everything = project.loaded
    project.loaded = [row for row in everything if row not in beyond]
    _check(project, as_of)
    # `signals-batch test` names the rows no incremental run will count, and the fix
    with pytest.raises(SignalsBatchError) as missed:
        project.project.test()
    assert "10 source rows were not counted" in str(missed.value)
    assert "lookback_window_hours (4 h)" in str(missed.value)
    assert "signals-batch run --full-refresh" in str(missed.value)
    project.loaded = everything
    project.run(as_of=as_of, full_refresh=True)
    _check(project, as_of)
    # a row visible late that the next run still reads is pending, not missed
    newest = max(row["load_tstamp"] for row in everything)
    project.load([dict(new_events[40], event_id=str(uuid.UUID(int=40)),
                       load_tstamp=newest - dt.timedelta(hours=3, minutes=59))])
    assert all(n.status == "pass" for n in project.project.test().nodes)


def test_a_full_refresh_that_failed_is_redone_by_the_next_run(tmp_path, events):
    project = EngineProject(tmp_path, [NETWORK_GROUP], start_date=START)
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=9))
    (project.path / ".signals_batch" / "full_refresh_pending").write_text("interrupted")
    summary = project.run(as_of=START + dt.timedelta(days=9))
    assert summary.full_refresh
    assert any("full refresh did not finish" in n for n in summary.notices)
    _check(project, START + dt.timedelta(days=9))


def test_rows_without_load_tstamp_or_event_id_never_count_and_full_runs_say_how_many(
        tmp_path, events):
    start = START + dt.timedelta(days=2)
    project = EngineProject(tmp_path, [NETWORK_GROUP], start_date=start)
    picked = [i for i, row in enumerate(events) if row["derived_tstamp"].date() >= start][:5]
    unusable = [dict(events[i]) for i in picked]
    for row in unusable[:3]:
        row["load_tstamp"] = None
    for row in unusable[3:]:
        row["event_id"] = None
    before_start = dict(events[0], event_id="before-start", load_tstamp=None,
                        derived_tstamp=dt.datetime.combine(START, dt.time(12)))
    project.load([row for i, row in enumerate(events) if i not in picked]
                 + unusable + [before_start])
    counted_from_start = len(unusable)

    def said(summary) -> list[str]:
        return [n for n in summary.notices if "no event_id or no load_tstamp" in n]

    first = project.run(as_of=START + dt.timedelta(days=9))
    assert said(first) == [
        f"{counted_from_start:,} row(s) of atomic.events from start_date on have no event_id "
        'or no load_tstamp: they never count (docs/incremental.md, "Rows that never count")']
    _check(project, START + dt.timedelta(days=9))
    assert said(project.run(as_of=START + dt.timedelta(days=9))) == []  # incremental: not read
    assert len(said(project.run(as_of=START + dt.timedelta(days=9), full_refresh=True))) == 1
    _check(project, START + dt.timedelta(days=9))


def test_changing_start_date_rebuilds_from_scratch(tmp_path, events):
    project = EngineProject(tmp_path, [NETWORK_GROUP], start_date=START + dt.timedelta(days=4))
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=9))
    settings_file = project.path / "signals_batch.yml"
    data = yaml.safe_load(settings_file.read_text())
    data["start_date"] = START.isoformat()
    settings_file.write_text(yaml.safe_dump(data))
    project.start_date = START
    summary = project.run(as_of=START + dt.timedelta(days=9))
    assert summary.full_refresh
    start = START + dt.timedelta(days=4)
    assert (f"settings changed since the last run (start_date {start} -> {START}): "
            "rebuilding from scratch") in summary.notices
    assert not any("before start_date" in n for n in summary.notices)
    _check(project, START + dt.timedelta(days=9))
    # as of start_date the windows end the day before: legal, empty, and said
    summary = project.run(as_of=START)
    assert (f"as of {START} the windows end on {START - dt.timedelta(days=1)}, before "
            f"start_date {START}: no event counts, every table is empty") in summary.notices
    assert all(g.rows == 0 for g in summary.groups)


def test_a_missing_source_table_is_a_clear_input_error(tmp_path):
    project = EngineProject(tmp_path, [NETWORK_GROUP], start_date=START)
    project.path.joinpath("signals_batch.yml").write_text(
        project.path.joinpath("signals_batch.yml").read_text().replace(
            "source: atomic.events", "source: atomic.no_such_table"))
    with pytest.raises(InvalidInput) as error:
        project.run(as_of=START)
    message = str(error.value)
    assert "atomic.no_such_table" in message and "not found" in message
    assert "signals_batch.yml" in message


def test_a_missing_column_names_the_attribute_that_needs_it(tmp_path, events):
    group = {**NETWORK_GROUP, "attributes": [
        {"name": "shoe_size", "type": "int64", "aggregation": "max",
         "property": "contexts_com_acme_shoe_1[0]:size", "events": []}]}
    project = EngineProject(tmp_path, [group], start_date=START)
    project.load(events[:10])
    with pytest.raises(InvalidInput) as error:
        project.run(as_of=START)
    message = str(error.value)
    assert "contexts_com_acme_shoe_1" in message and "network_v2.shoe_size" in message
    assert "Check the property names in the definitions" in message
    assert "atomic events table" not in message


def test_a_table_without_snowplow_columns_is_not_the_atomic_events(tmp_path, events):
    project = EngineProject(tmp_path, [NETWORK_GROUP], start_date=START)
    project.load(events[:10])
    with connect(project.path) as con:
        con.execute("alter table atomic.events drop column load_tstamp")
    with pytest.raises(InvalidInput) as error:
        project.run(as_of=START)
    message = str(error.value)
    assert "has no column load_tstamp (used by signals-batch)" in message
    assert "Point `source` in signals_batch.yml (or SIGNALS_BATCH_SOURCE) at Snowplow's " \
        "atomic events table" in message
    assert "property names" not in message


def test_a_camel_case_schema_name_reads_the_loaders_snake_case_column(tmp_path, events):
    """org.w3/PerformanceTiming: the loaders' column is contexts_org_w3_performance_timing_1."""
    column = "contexts_org_w3_performance_timing_1"
    timing = {"type": "entity", "vendor": "org.w3", "name": "PerformanceTiming",
              "major_version": 1, "path": "domComplete"}
    group = {**NETWORK_GROUP, "attributes": [
        {"name": "slowest_page", "type": "int64", "aggregation": "max", "property": timing,
         "events": []},
        {"name": "timed_pages", "type": "int64", "aggregation": "counter", "events": [],
         "criteria": {"all": [{"property": {**timing, "path": "loadEventEnd"},
                               "operator": "is not null"}]}}]}
    project = EngineProject(tmp_path, [group], start_date=START)
    with connect(tmp_path) as con:
        con.execute(f"ALTER TABLE atomic.events ADD COLUMN {column} JSON")
    rows = [dict(row) for row in events[:300]]
    for row in rows:
        number = int(row["event_id"][-3:], 16)
        if number % 3:
            row[column] = json.dumps([{"domComplete": number, "loadEventEnd": number % 2 or None}])
    project.load(rows)
    with connect(tmp_path) as con:
        for row in rows:
            if column in row:
                con.execute(f"UPDATE atomic.events SET {column} = ? WHERE event_id = ?",
                            [row[column], row["event_id"]])
    project.run(as_of=START + dt.timedelta(days=9))
    _check(project, START + dt.timedelta(days=9))
    values = [r["slowest_page"] for r in project.tables()["network_v2_attributes"].values()]
    assert any(v is not None for v in values)

    broken = {**group, "attributes": [{**group["attributes"][0], "property": {
        **timing, "name": "PaintTiming"}}]}
    _set_groups(project, [broken])
    with pytest.raises(InvalidInput, match="contexts_org_w3_paint_timing_1"):
        project.run(as_of=START + dt.timedelta(days=9))


def _spend_group(*attributes: tuple[str, str, str, str | None]) -> dict:
    """Group `spend`: (name, type, aggregation, period) over the purchases' total."""
    purchase = {"vendor": "com.acme", "name": "purchase"}
    total = f"{sample_events.PURCHASE_V1}:total"
    return {"name": "spend", "version": 1, "type": "batch", "attribute_key": "domain_userid",
            "owner": "tests@example.com", "attributes": [
                {"name": name, "type": type_name, "aggregation": aggregation,
                 "property": total, "events": [purchase], **({"period": period} if period else {})}
                for name, type_name, aggregation, period in attributes]}


def test_sums_of_doubles_do_not_depend_on_the_order_threads_add_them(tmp_path):
    """Enough purchases per key and day for DuckDB to add them on several threads: two full
    refreshes give bit-identical sums and means (a plain SUM differs in the last bits, which
    would move updated_at for nothing), equal to an exact sum within 1e-12."""
    import math

    group = _spend_group(("revenue", "double", "sum", None), ("basket", "double", "mean", None))
    project = EngineProject(tmp_path, [group], start_date=START)
    count, users = 600_000, 16
    with connect(tmp_path) as con:
        con.execute(f"""
            INSERT INTO atomic.events (event_id, event_vendor, event_name, event_version,
                derived_tstamp, collector_tstamp, load_tstamp, domain_userid,
                {sample_events.PURCHASE_V1})
            SELECT 'e' || i, 'com.acme', 'purchase', '1-0-0',
                   TIMESTAMP '2025-01-02 10:00:00' + to_seconds(i % 7200),
                   TIMESTAMP '2025-01-02 10:00:00', TIMESTAMP '2025-01-02 12:00:00',
                   'u' || (i % {users}),
                   json_object('total', ((i * 7919) % 100003) / 97.0 + 1e-7 * (i % 13))
            FROM range({count}) AS r(i)""")
    values = {f"u{u}": [] for u in range(users)}
    for i in range(count):
        values[f"u{i % users}"].append(((i * 7919) % 100003) / 97.0 + 1e-7 * (i % 13))
    as_of = START + dt.timedelta(days=3)
    results = []
    for _ in range(2):
        project.run(as_of=as_of, full_refresh=True)
        results.append(project.tables()["spend_v1_attributes"])
    assert results[0] == results[1]
    for user, numbers in values.items():
        exact = math.fsum(numbers)
        assert results[0][user]["revenue"] == pytest.approx(exact, rel=1e-12)
        assert results[0][user]["basket"] == pytest.approx(exact / len(numbers), rel=1e-12)


def test_doubles_summed_over_several_runs_keep_their_bits_and_updated_at_in_a_full_refresh(
        tmp_path):
    """0.1 + 0.2 + 0.3 added up run by run is 0.6000000000000001, by a full refresh 0.6: the
    same events, partials grouped otherwise. Within the relative 1e-12 of value_changed that
    is no change: a full refresh keeps the stored bits and updated_at (so a synced store still
    holds the table's values), and a real change still moves both."""
    group = _spend_group(("revenue", "double", "sum", None), ("basket", "float", "mean", None),
                         ("revenue_7d", "double", "sum", "P7D"))
    project = EngineProject(tmp_path, [group], start_date=START)

    def purchase_event(user, day, amount, loaded_day):
        at = dt.datetime.combine(START + dt.timedelta(days=day), dt.time(10))
        return {"event_id": f"{user}-{day}-{amount}", "event_vendor": "com.acme",
                "event_name": "purchase", "event_version": "1-0-0", "event": "unstruct",
                "derived_tstamp": at, "collector_tstamp": at, "domain_userid": user,
                "load_tstamp": dt.datetime.combine(START + dt.timedelta(days=loaded_day),
                                                   dt.time(12)),
                sample_events.PURCHASE_V1: json.dumps({"total": amount})}

    # "days": one purchase a day, one run a day; "split": one day's purchases in two runs
    runs = [[purchase_event("days", 4, 0.1, 4), purchase_event("split", 4, 0.1, 4),
             purchase_event("split", 4, 0.2, 4)],
            [purchase_event("days", 5, 0.2, 5), purchase_event("split", 4, 0.3, 5)],
            [purchase_event("days", 6, 0.3, 6)]]
    for number, batch in enumerate(runs):
        project.load(batch)
        project.run(as_of=START + dt.timedelta(days=5 + number))
    as_of = START + dt.timedelta(days=7)
    before = project.rows()["spend_v1_attributes"]
    assert before["days"]["revenue"] != 0.6 or before["split"]["revenue"] != 0.6  # the case
    _check(project, as_of)  # within the oracle's tolerance

    summary = project.run(as_of=as_of, full_refresh=True)
    assert project.rows()["spend_v1_attributes"] == before  # same bits, same updated_at
    assert summary.groups[0].changed == 0

    project.load([purchase_event("days", 6, 1.5, 7)])
    project.run(as_of=as_of, full_refresh=True)
    after = project.rows()["spend_v1_attributes"]
    assert after["days"]["revenue"] == pytest.approx(2.1, rel=1e-12)
    assert after["days"]["updated_at"] > before["days"]["updated_at"]
    assert after["split"] == before["split"]
    _check(project, as_of)


def test_a_context_column_of_text_that_is_not_json_reads_as_null(tmp_path, events):
    """A VARCHAR context column holding '' or a truncated document: the property is NULL
    for that event (as for a missing context), and the run does not fail."""
    column = sample_events.PRODUCT_CONTEXT
    project = EngineProject(tmp_path, [AGGREGATIONS], start_date=START)
    with connect(tmp_path) as con:
        con.execute(f'ALTER TABLE atomic.events ALTER "{column}" TYPE VARCHAR')
    rows = [dict(row) for row in events[:400]]
    broken = 0
    for row in rows:
        if row.get(column) and int(row["event_id"][-2:], 16) % 4 == 0:
            row[column] = ["", "not json", '[{"sku": "A1"'][broken % 3]
            broken += 1
    assert broken >= 3
    project.load(rows)
    project.run(as_of=START + dt.timedelta(days=9))
    _check(project, START + dt.timedelta(days=9))


def test_the_generated_dbt_tests_pass(tmp_path, events):
    project = EngineProject(tmp_path, ALL_GROUPS, start_date=START)
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=9))
    result = project.project.test()
    assert result.nodes and all(n.status == "pass" for n in result.nodes)


load_plans = st.lists(
    st.tuples(st.integers(min_value=1, max_value=4), st.integers(min_value=0, max_value=3)),
    min_size=2, max_size=4)


@pytest.mark.slow
@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=load_plans, include_current_day=st.booleans(),
       visible_late=st.integers(min_value=0, max_value=15))
def test_random_load_and_as_of_sequences_equal_the_oracle(events, plan, include_current_day,
                                                          visible_late):
    """Any split of the arrivals into loads, any forward-moving as-of dates, some rows of each
    load made visible after the run before with an older load time (within the lookback
    window): each state is what the oracle computes, and the last equals a full refresh."""
    folder = Path(tempfile.mkdtemp(prefix="signals-batch-prop-"))
    try:
        project = EngineProject(folder, [AGGREGATIONS, CRITERIA, RECENT_GROUP], start_date=START,
                                include_current_day=include_current_day)
        batches = sample_events.loads(events, len(plan))
        for index in range(1, len(batches)):
            batches = with_rows_visible_late(batches, index, visible_late)
        as_of = START + dt.timedelta(days=2)
        for batch, (parts, step) in zip(batches, plan, strict=True):
            for piece in sample_events.loads(batch, parts) if len(batch) >= parts else [batch]:
                project.load(piece)
            as_of += dt.timedelta(days=step)
            project.run(as_of=as_of)
            _check(project, as_of)
        incremental = project.tables()
        project.run(as_of=as_of, full_refresh=True)
        assert not differences(incremental, project.tables(), project.groups)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_dbt_failures_surface_as_one_message(tmp_path, events):
    project = EngineProject(tmp_path, [NETWORK_GROUP], start_date=START)
    project.load(events[:10])
    project.run(as_of=START)
    # break the daily table behind dbt's back: the attribute model reading it fails
    from signals_batch.warehouse import connect

    with connect(project.path) as con:
        con.execute("alter table signals.network_v2_daily drop column a0_n")
    with pytest.raises(SignalsBatchError) as error:
        project.run(as_of=START)
    message = str(error.value)
    assert message.startswith("dbt run failed in network_v2_attributes: ")
    assert "a0_n" in message and "Traceback" not in message and "\n" not in message
