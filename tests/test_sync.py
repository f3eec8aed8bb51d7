"""Sync end to end on DuckDB: store == table after every sync, nothing changed = nothing sent,
only changed rows sent after a run, killed syncs recover, locks, failing stores."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
from unittest import mock

import pytest
import yaml
from cli_helpers import run_cli
from engine import EngineProject
from engine_groups import AGGREGATIONS, NETWORK_GROUP, USER_ID_GROUP
from test_api_client import stub  # noqa: F401  (fixture)

from signals_batch import sample_events
from signals_batch.errors import InvalidInput, SignalsBatchError
from signals_batch.project import Project
from signals_batch.stores.base import StoreError, StoreLocked
from signals_batch.sync.source import _json_ready
from signals_batch.sync.syncer import SyncIncomplete
from signals_batch.warehouse import connect

pytestmark = pytest.mark.dbt

START = dt.date(2025, 1, 1)
GROUPS = [AGGREGATIONS, USER_ID_GROUP, NETWORK_GROUP]


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return sample_events.generate_events(n_events=3000, days=10, users=60, seed=21, start=START)


@pytest.fixture(scope="module")
def built(tmp_path_factory, events) -> EngineProject:
    """A project whose tables are built from the first two thirds of the events."""
    project = EngineProject(tmp_path_factory.mktemp("sync"), GROUPS, start_date=START)
    first, _second, _third = sample_events.loads(events, 3)
    project.load(first)
    project.run(as_of=START + dt.timedelta(days=10))
    return project


def _use_store(project: EngineProject, **store) -> None:
    path = project.path / "signals_batch.yml"
    settings = yaml.safe_load(path.read_text())
    settings["store"] = store
    path.write_text(yaml.safe_dump(settings))


def assert_store_equals_tables(project: EngineProject, store_type: str | None = None) -> None:
    """Every key of every table is in the store with exactly the table's values."""
    p: Project = project.project
    tables = project.rows()
    store = p.open_store(store_type)
    try:
        for group in GROUPS:
            ident = f"{group['name']}_v{group.get('version', 1)}"
            types = {a["name"]: a["type"] for a in group["attributes"]}
            rows = tables[f"{ident}_attributes"]
            assert rows, ident
            for key, row in rows.items():
                stored = store.get(ident, key)
                assert stored is not None, (ident, key)
                for name, type_name in types.items():
                    assert stored[name] == _json_ready(row[name], type_name), (ident, key, name)
            assert store.count(ident) == len(rows), ident
    finally:
        store.close()


def test_sync_fills_the_store_then_sends_nothing_when_nothing_changed(built):
    _use_store(built, type="local", path="store-a.sqlite")
    first = built.project.sync()
    assert all(g.rows_read == g.rows_written > 0 for g in first.groups)
    assert_store_equals_tables(built)
    again = built.project.sync()
    assert all(g.rows_read == 0 and g.rows_written == 0 for g in again.groups)
    # status gives the watermark as the same text as sync
    status = {row["group"]: row for row in built.project.status()}
    assert {g.group: g.watermark for g in first.groups} == {
        group: row["watermark"] for group, row in status.items()}
    assert [g.watermark for g in again.groups] == [g.watermark for g in first.groups]


def test_after_a_new_run_only_changed_rows_are_sent(tmp_path, events):
    project = EngineProject(tmp_path, GROUPS, start_date=START)
    first, second = sample_events.loads(events, 2)
    project.load(first)
    project.run(as_of=START + dt.timedelta(days=10))
    project.project.sync()
    project.load(second)
    summary = project.run(as_of=START + dt.timedelta(days=10))
    changed = {g.group: g.changed for g in summary.groups}
    synced = project.project.sync()
    for group in synced.groups:
        assert group.rows_read == changed[group.group], group
        assert group.rows_read > 0
    assert_store_equals_tables(project)
    # a dry run of a new change counts and writes nothing; it shows the store's watermark
    dry = project.project.sync(dry_run=True)
    assert all(g.rows_read == 0 for g in dry.groups)
    assert [g.watermark for g in dry.groups] == [g.watermark for g in synced.groups]
    assert all(g.watermark for g in dry.groups)


@pytest.mark.parametrize("backend", ["local", pytest.param("redis", marks=pytest.mark.server)])
def test_a_sync_that_fails_while_removing_keys_removes_them_when_run_again(
        tmp_path, events, backend, request):
    """SEMANTICS.md section 8: a sync killed at any point and run again reaches the same
    state. The chunks of a sync that removes keys carry the removing run's updated_at: had
    they moved the watermark, the rerun would have believed the removal done."""
    project = EngineProject(tmp_path, GROUPS, start_date=START)
    if backend == "redis":
        _use_store(project, type="redis", url=request.getfixturevalue("redis_url"))
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=10))
    project.project.sync()
    project.run(as_of=START + dt.timedelta(days=5))  # keys leave the tables
    store = project.project.open_store()
    method = "upsert_encoded" if hasattr(store, "upsert_encoded") else "upsert"
    store.close()
    original = getattr(type(store), method)
    calls = []

    def fail_at_the_third_chunk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise StoreError("the store went away")
        return original(self, *args, **kwargs)

    with (mock.patch.object(type(store), method, fail_at_the_third_chunk),
          pytest.raises(StoreError)):
        project.project.sync(chunk_size=5)
    assert len(calls) == 3
    assert any(g["removals_pending"] for g in project.project.status())
    again = project.project.sync()
    assert sum(g.rows_removed for g in again.groups) > 0
    assert_store_equals_tables(project)
    assert all(g.rows_read == g.rows_removed == 0 for g in project.project.sync().groups)


def test_full_sync_removes_keys_no_longer_in_the_tables(built):
    _use_store(built, type="local", path="store-full.sqlite")
    built.project.sync()
    store = built.project.open_store()
    store.upsert(store_spec := _spec("logged_in_v1"), [_row("ghost-key")])
    assert store.get("logged_in_v1", "ghost-key") is not None
    store.close()
    dry = built.project.sync(full=True, dry_run=True)  # says what it would remove, removes nothing
    assert {g.group: g.rows_removed for g in dry.groups}["logged_in_v1"] == 1
    assert sum(g.rows_removed for g in dry.groups) == 1
    summary = built.project.sync(full=True)
    removed = {g.group: g.rows_removed for g in summary.groups}
    assert removed["logged_in_v1"] == 1 and sum(removed.values()) == 1
    assert_store_equals_tables(built)
    del store_spec


def test_keys_that_leave_a_table_leave_the_store_at_the_next_sync(tmp_path, events):
    """SEMANTICS.md section 8: after a sync the store holds exactly the table's keys. A run
    that removes keys (the as-of date moved back before their first event; a full refresh
    after events were deleted at the source, e.g. an erasure request) notes it, and the next
    plain sync reconciles the group once: the whole table resent, the other keys removed."""
    project = EngineProject(tmp_path, GROUPS, start_date=START)
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=10))
    first = project.project.sync()
    assert not any("keys left" in n for n in first.notices), first.notices
    assert_store_equals_tables(project)

    back = START + dt.timedelta(days=5)
    project.run(as_of=back)
    # status says so: the next sync resends every row of the group's table
    status = {g["group"]: g for g in project.project.status()}
    assert status["aggregations_v1"]["removals_pending"] is True
    assert status["aggregations_v1"]["pending"] == len(project.rows()["aggregations_v1_attributes"])
    synced = project.project.sync()
    assert sum(g.rows_removed for g in synced.groups) > 0
    assert any(n.startswith("aggregations_v1: keys left ") for n in synced.notices)
    assert_store_equals_tables(project)
    again = project.project.sync()  # reconciled once, not at every sync
    assert all(g.rows_read == g.rows_removed == 0 for g in again.groups), again.groups
    assert not any("keys left" in n for n in again.notices)
    assert not any(g["removals_pending"] or g["pending"] for g in project.project.status())

    erased = next(iter(project.rows()["aggregations_v1_attributes"]))
    with connect(project.path) as con:
        con.execute("delete from atomic.events where domain_userid = ?", [erased])
    project.run(as_of=back, full_refresh=True)
    dry = project.project.sync(dry_run=True)
    assert any("a sync will resend the whole table" in n for n in dry.notices)
    synced = project.project.sync()
    assert {g.group: g.rows_removed for g in synced.groups}["aggregations_v1"] >= 1
    store = project.project.open_store()
    try:
        assert store.get("aggregations_v1", erased) is None
    finally:
        store.close()
    assert_store_equals_tables(project)
    # a full refresh that removes nothing reconciles nothing
    project.run(as_of=back, full_refresh=True)
    quiet = project.project.sync()
    assert all(g.rows_read == g.rows_removed == 0 for g in quiet.groups), quiet.groups


def _spec(ident):
    from signals_batch.stores.base import GroupSpec

    return GroupSpec(
        ident=ident, key_name="user_id", attributes=("purchases",), ttl_seconds={"purchases": None}
    )


def _row(key):
    from signals_batch.stores.base import ProfileRow

    return ProfileRow(key, {"purchases": 1}, dt.datetime(2025, 1, 1))


def test_a_store_failing_mid_sync_exits_with_the_watermark_behind_what_was_written(
    built, monkeypatch
):
    _use_store(built, type="local", path="store-failing.sqlite")
    from signals_batch.stores.local import LocalStore

    original = LocalStore.upsert
    calls = {"n": 0}

    def flaky(self, group, rows, watermark=None, mark=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise StoreError("local store went away")
        return original(self, group, rows, watermark=watermark, mark=mark)

    monkeypatch.setattr(LocalStore, "upsert", flaky)
    with pytest.raises(StoreError):
        built.project.sync(chunk_size=7)
    monkeypatch.setattr(LocalStore, "upsert", original)
    store = built.project.open_store()
    tables = built.rows()
    for group in GROUPS:
        ident = f"{group['name']}_v{group.get('version', 1)}"
        watermark = store.get_watermark(ident)
        if watermark is None:
            continue
        for key, row in tables[f"{ident}_attributes"].items():
            if (row["updated_at"], key) <= (watermark.updated_at, watermark.key_value):
                assert store.get(ident, key) is not None, "watermark ahead of the rows"
    store.close()
    built.project.sync()
    assert_store_equals_tables(built)


def _sync_killed_mid_way(project: EngineProject, rng: random.Random) -> bool:
    """Start `signals-batch sync` in a process, SIGKILL it right after a random number of its
    chunks were written; True when it was still running (killed mid-sync)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "signals_batch.cli", "sync", "-p", str(project.path),
         "--chunk-size", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    assert process.stderr is not None
    chunks = rng.randint(1, 100)  # of about 150 (one row per chunk)
    for line in process.stderr:  # a progress line per chunk: "<group>: N rows sent"
        if "rows sent" in line:
            chunks -= 1
            if chunks == 0:
                break
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    return process.returncode == -signal.SIGKILL


def _assert_watermark_behind_rows(project: EngineProject) -> None:
    store = project.project.open_store()
    tables = project.rows()
    try:
        for group in GROUPS:
            ident = f"{group['name']}_v{group.get('version', 1)}"
            watermark = store.get_watermark(ident)
            for key, row in tables[f"{ident}_attributes"].items():
                if watermark and (row["updated_at"], key) <= (watermark.updated_at,
                                                              watermark.key_value):
                    assert store.get(ident, key) is not None, (ident, key)
    finally:
        store.close()


def test_killed_syncs_recover_on_the_next_run(built):
    """SIGKILL at random points of a sync, then sync again: store == tables, every time."""
    rng = random.Random(3)
    killed = 0
    for trial in range(20):
        _use_store(built, type="local", path=f"store-kill-{trial}.sqlite")
        killed += _sync_killed_mid_way(built, rng)
        _assert_watermark_behind_rows(built)
        built.project.sync()
        assert_store_equals_tables(built)
    assert killed >= 15, f"only {killed} of 20 syncs were still running when killed"


def test_a_second_sync_waits_for_the_lock_then_fails_cleanly(built):
    _use_store(built, type="local", path="store-lock.sqlite")
    store = built.project.open_store()
    with store.lock(timeout=1):
        with pytest.raises(StoreLocked) as error:
            built.project.sync(lock_timeout=0.3)
        assert "another sync" in str(error.value)
    store.close()
    built.project.sync(lock_timeout=0.3)
    assert_store_equals_tables(built)


def test_the_cli_sync_reports_and_exits_1_when_locked(built):
    _use_store(built, type="local", path="store-cli.sqlite")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "signals_batch.cli", "sync", "-p", str(built.path)]
    store = built.project.open_store()
    with store.lock(timeout=1):
        locked = subprocess.run(
            [*command, "--lock-timeout", "0.2"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    store.close()
    assert locked.returncode == 1
    assert "another sync" in locked.stderr and "Traceback" not in locked.stderr
    done = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "republishing the groups online was skipped" in done.stderr


def test_external_batch_groups_sync_their_own_table(tmp_path, events):
    external = {
        "name": "crm",
        "version": 1,
        "type": "external_batch",
        "owner": "crm@example.com",
        "attribute_key": "user_id",
        "batch_source": {
            "name": "crm_customers",
            "database": "warehouse",
            "schema": "crm",
            "table": "customers",
            "timestamp_field": "changed_at",
        },
        "fields": [
            {"name": "lifetime_value", "type": "double"},
            {"name": "segment", "type": "string"},
        ],
    }
    project = EngineProject(tmp_path, [NETWORK_GROUP, external], start_date=START)
    project.load(events[:50])
    project.run(as_of=START + dt.timedelta(days=2))
    with connect(project.path) as con:
        con.execute("create schema crm")
        con.execute(
            "create table crm.customers (user_id varchar, lifetime_value double, "
            "segment varchar, changed_at timestamp)"
        )
        con.execute(
            "insert into crm.customers values ('u1', 10.5, 'gold', '2025-01-01'), "
            "('u2', 3, 'silver', '2025-01-02'), (NULL, 1, 'x', '2025-01-02')"
        )
    summary = project.project.sync(chunk_size=1)
    crm = {g.group: g for g in summary.groups}["crm_v1"]
    assert crm.rows_read == 2 and crm.watermark.startswith("2025-01-02")
    assert project.project.get("u1", group="crm")["crm_v1"]["segment"] == "gold"
    with connect(project.path) as con:
        con.execute(
            "update crm.customers set segment = 'platinum', changed_at = '2025-01-03' "
            "where user_id = 'u2'"
        )
    again = {g.group: g for g in project.project.sync().groups}["crm_v1"]
    assert again.rows_read == 1
    assert project.project.get("u2", group="crm")["crm_v1"]["segment"] == "platinum"
    # a field the table does not have: a clear error before anything is sent
    external["fields"].append({"name": "churn_risk", "type": "double"})
    path = project.path / "definitions" / "groups.yml"
    path.write_text(yaml.safe_dump([NETWORK_GROUP, external], sort_keys=False))
    with pytest.raises(InvalidInput) as error:
        project.project.sync()
    assert "crm_v1" in str(error.value) and "churn_risk" in str(error.value)


def test_sync_before_any_run_says_what_to_do_for_every_group(tmp_path):
    project = EngineProject(tmp_path, [NETWORK_GROUP], start_date=START)
    with pytest.raises(SignalsBatchError) as error:
        project.project.sync()
    assert "run `signals-batch run` first" in str(error.value)
    project = EngineProject(tmp_path / "two", [NETWORK_GROUP, USER_ID_GROUP], start_date=START)
    with connect(project.path) as con:  # the warehouse exists, the tables do not
        con.execute("create schema if not exists signals")
    with pytest.raises(InvalidInput) as error:
        project.project.sync()
    message = str(error.value)
    assert message.startswith("2 groups cannot sync:")
    assert "group network_v2: table" in message and "group logged_in_v1: table" in message


def test_sync_republishes_each_synced_group_online_with_its_batch_source(
        tmp_path, events, stub, capsys):  # noqa: F811 (the fixture imported above)
    # groups written with the long property form, which the Signals registry needs
    groups = [USER_ID_GROUP, NETWORK_GROUP]
    project = EngineProject(tmp_path, groups, start_date=START)
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=10))
    path = project.path / "signals_batch.yml"
    settings = yaml.safe_load(path.read_text())
    settings["signals_api"] = {"url": stub.url, "auth": "none", "backoff_seconds": 0.01}
    path.write_text(yaml.safe_dump(settings))
    summary = project.project.sync()
    assert all(g.republished for g in summary.groups)
    registered = stub.registry[("network", 2)]
    assert registered["online"] is True
    assert registered["batch_source"]["table"] == "network_v2_attributes"
    assert registered["batch_source"]["schema"] == "signals"
    assert registered["batch_source"]["database"] == "warehouse"
    assert registered["batch_source"]["timestamp_field"] == "updated_at"
    published = [r for r in stub.api_requests if r.path == "/api/v1/engines/publish"]
    assert len(published) == len(groups)
    # nothing changed: nothing sent, nothing republished (one read of each group to see
    # that it is still online)
    before = len(stub.api_requests)
    again = project.project.sync()
    assert all(g.republished is None for g in again.groups)
    assert [r.method for r in stub.api_requests[before:]] == ["GET"] * len(groups)
    # the group published again offline by someone else (e.g. the SDK's publish of the
    # definition): the next sync puts it back online, with nothing to send
    stub.registry[("network", 2)]["online"] = False
    again = project.project.sync()
    assert {g.group: g.republished for g in again.groups} == {
        "logged_in_v1": None, "network_v2": True}
    assert stub.registry[("network", 2)]["online"] is True
    # the API refusing us: a clear error naming the group, the rows are in the store
    from test_api_client import Step

    stub.plan = [Step(401, {"detail": "bad token"})] * 3
    with pytest.raises(SignalsBatchError) as error:
        project.project.sync(full=True)
    assert "401" in str(error.value) and "logged_in_v1" in str(error.value)
    # a republish that failed is done by the next sync, even with no row to send
    stub.registry[("logged_in", 1)]["online"] = False
    stub.plan = [Step(200, stub.registry[("logged_in", 1)])] + [
        Step(401, {"detail": "bad token"})] * 3
    with pytest.raises(SignalsBatchError):
        project.project.sync()
    stub.plan = []
    recovered = project.project.sync()
    assert {g.group: g.republished for g in recovered.groups}["logged_in_v1"] is True
    assert stub.registry[("logged_in", 1)]["online"] is True
    # the API down: every group's rows still reach the store (the registry is not the
    # store), the first group's republish says why, the others are not retried; exit 1
    settings["signals_api"]["url"] = "http://127.0.0.1:1"
    path.write_text(yaml.safe_dump(settings))
    with pytest.raises(SyncIncomplete) as down:
        project.project.sync(full=True)
    assert down.value.exit_code == 1
    assert [(g.group, g.rows_written > 0, g.republished) for g in down.value.summary.groups] \
        == [("logged_in_v1", True, False), ("network_v2", True, False)]
    message = str(down.value)
    assert "their rows are in the store, and the next sync republishes them" in message
    assert "logged_in_v1: republishing group logged_in_v1 (reading it from the registry) " \
        "failed: cannot reach http://127.0.0.1:1" in message
    assert "network_v2: not tried: the Signals API did not answer for logged_in_v1" in message
    # the CLI shows what was sent (here the JSON summary on stdout), then fails
    result = run_cli(capsys, "sync", "--json", "-p", str(project.path))
    assert result.code == 1, result.err
    assert [g["republished"] for g in json.loads(result.out)["groups"]] == [False, False]
    assert "not tried: the Signals API did not answer" in result.err
    stub.registry[("network", 2)]["online"] = False
    settings["signals_api"]["url"] = stub.url
    path.write_text(yaml.safe_dump(settings))
    back = project.project.sync()
    assert {g.group: g.republished for g in back.groups}["network_v2"] is True


# --------------------------------------------------------------------------- redis


@pytest.mark.server
def test_sync_into_redis_equals_the_tables_and_resends_nothing(built, redis_url):
    _use_store(built, type="redis", url=redis_url, lock_lease_seconds=2)
    first = built.project.sync(chunk_size=500)
    assert all(g.rows_written == g.rows_read > 0 for g in first.groups)
    assert_store_equals_tables(built)
    again = built.project.sync()
    assert all(g.rows_read == 0 for g in again.groups)
    removed = built.project.sync(full=True)
    assert sum(g.rows_removed for g in removed.groups) == 0
    assert_store_equals_tables(built)


@pytest.mark.server
def test_killed_syncs_into_redis_recover_on_the_next_run(built, redis_url):
    import redis

    rng = random.Random(8)
    killed = 0
    for _trial in range(6):
        redis.Redis.from_url(redis_url).flushall()
        _use_store(built, type="redis", url=redis_url, lock_lease_seconds=1)
        killed += _sync_killed_mid_way(built, rng)
        _assert_watermark_behind_rows(built)
        # the dead sync's lock lease runs out, then the next sync completes the job
        built.project.sync(lock_timeout=10)
        assert_store_equals_tables(built, "redis")
    assert killed >= 4


@pytest.mark.server
def test_redis_going_down_mid_sync_exits_1_and_a_later_sync_completes(
        tmp_path, private_redis_server, monkeypatch):
    """An external batch group over a 20k-row table, synced one row per write: the server
    goes away after the first writes; the sync exits 1 naming the store (no password), and
    a later sync into a new server completes."""

    crm = {
        "name": "crm", "version": 1, "type": "external_batch", "owner": "crm@example.com",
        "attribute_key": "user_id",
        "batch_source": {"name": "crm_customers", "database": "warehouse", "schema": "crm",
                         "table": "customers", "timestamp_field": "changed_at"},
        "fields": [{"name": "lifetime_value", "type": "double"},
                   {"name": "segment", "type": "string"}],
    }
    project = EngineProject(tmp_path, [NETWORK_GROUP, crm], start_date=START)
    with connect(project.path) as con:
        con.execute("create schema crm")
        con.execute("create table crm.customers as select 'user-' || i as user_id, "
                    "i * 1.5 as lifetime_value, 'segment-' || (i % 7) as segment, "
                    "TIMESTAMP '2025-01-01' + to_seconds(i) as changed_at "
                    "from range(20000) t(i)")
    definitions = project.path / "definitions" / "groups.yml"
    definitions.write_text(yaml.safe_dump([crm], sort_keys=False))
    # the password-bearing url from the environment, as users must give it
    _use_store(project, type="redis", lock_lease_seconds=1)
    monkeypatch.setenv("SIGNALS_BATCH_STORE__URL", private_redis_server.url)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "signals_batch.cli", "sync", "-p", str(project.path),
         "--chunk-size", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    assert process.stderr is not None
    for line in process.stderr:  # wait until it is writing, then take the server away
        if "rows sent" in line:
            break
    private_redis_server.stop()
    _out, rest = process.communicate(timeout=120)
    err = line + rest
    assert process.returncode == 1, err[-2000:]
    assert "redis store redis://127.0.0.1" in err
    assert private_redis_server.password not in err and "Traceback" not in err
    private_redis_server.start()  # a new, empty server on a new port
    monkeypatch.setenv("SIGNALS_BATCH_STORE__URL", private_redis_server.url)
    summary = project.project.sync()
    assert summary.groups[0].rows_written == 20000
    store = project.project.open_store()
    try:
        assert store.count("crm_v1") == 20000
        assert store.get("crm_v1", "user-19999")["segment"] == "segment-0"  # 19999 % 7
    finally:
        store.close()


def _purge_case(tmp_path, events, **store) -> EngineProject:
    """Two groups synced into the store, then logged_in_v1 removed from the definitions."""
    project = EngineProject(tmp_path, [USER_ID_GROUP, NETWORK_GROUP], start_date=START)
    project.load(events)
    project.run(as_of=START + dt.timedelta(days=10))
    _use_store(project, **store)
    project.project.sync()
    path = project.path / "definitions" / "groups.yml"
    path.write_text(yaml.safe_dump([NETWORK_GROUP], sort_keys=False))
    return project


def _profiles(project: EngineProject) -> dict[str, tuple[int, object]]:
    store = Project(project.path).open_store()
    try:
        return {g: (store.count(g), store.get_watermark(g)) for g in ("logged_in_v1", "network_v2")}
    finally:
        store.close()


def test_purge_removes_a_removed_group_s_profiles_and_watermark_and_nothing_else(
        tmp_path, events, capsys):
    from cli_helpers import run_cli

    project = _purge_case(tmp_path, events, type="local", path="store.sqlite")
    before = _profiles(project)
    assert before["logged_in_v1"][0] > 0 and before["logged_in_v1"][1] is not None
    directory = str(project.path)

    def removed_in_status() -> dict:
        listed = run_cli(capsys, "status", "-p", directory, "--json")
        assert listed.code == 0, listed.err
        return {g["group"]: g for g in json.loads(listed.out) if not g["defined"]}

    # status --json lists the removed group, with the watermark that says it is still synced
    assert (removed_in_status()["logged_in_v1"]["watermark"]
            == before["logged_in_v1"][1].updated_at.isoformat())

    still = run_cli(capsys, "purge", "network_v2", "-p", directory)
    assert still.code == 2
    assert "network_v2 still in the definitions: remove it from definitions" in still.err
    unversioned = run_cli(capsys, "purge", "logged_in", "-p", directory)
    assert unversioned.code == 2 and "name each group with its version" in unversioned.err
    assert "Traceback" not in still.err + unversioned.err

    dry = run_cli(capsys, "purge", "logged_in_v1", "-p", directory, "--dry-run")
    assert dry.code == 0, dry.err
    assert (f"purge dry run: logged_in_v1 {before['logged_in_v1'][0]} profile(s) would remove"
            in dry.out)
    assert _profiles(project) == before

    done = run_cli(capsys, "purge", "logged_in_v1", "-p", directory, "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["groups"] == [
        {"group": "logged_in_v1", "removed": before["logged_in_v1"][0]}]
    assert json.loads(done.out)["notices"] == []
    after = _profiles(project)
    assert after == {"logged_in_v1": (0, None), "network_v2": before["network_v2"]}
    assert removed_in_status()["logged_in_v1"]["watermark"] is None
    # again, or a misspelt name: nothing to remove, said so (a rerun is not an error)
    again = run_cli(capsys, "purge", "logged_in_v1", "-p", directory)
    assert again.code == 0, again.err
    assert ("logged_in_v1: the local store " in again.err
            and "has no profile and no sync watermark of it: already purged, or a misspelt "
                "name?" in again.err)
    # the remaining group syncs on as before: nothing new to send
    assert all(g.rows_read == 0 for g in project.project.sync().groups)


@pytest.mark.server
def test_purge_empties_a_removed_group_in_redis(tmp_path, events, redis_url):
    project = _purge_case(tmp_path, events, type="redis", url=redis_url)
    before = _profiles(project)
    assert before["logged_in_v1"][0] > 0
    result = project.project.purge(["logged_in_v1"])
    assert result["groups"] == [{"group": "logged_in_v1", "removed": before["logged_in_v1"][0]}]
    assert _profiles(project) == {"logged_in_v1": (0, None), "network_v2": before["network_v2"]}
