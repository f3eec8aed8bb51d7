"""The Profiles Store contract, the same tests over local (SQLite), redis and http (push API),
then what only one backend has: redis' layout, expiry, transactions and lease; the push API's
lock, auth and retries; a store going down mid-use."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from servers import REDIS_PASSWORD, RedisServer, free_port, push_app, running_app

from signals_batch.errors import InvalidInput
from signals_batch.stores.base import (
    GroupSpec,
    ProfileRow,
    ProfileStore,
    StoreError,
    StoreLocked,
    Watermark,
    now_utc,
)
from signals_batch.stores.local import LocalStore

REPO = Path(__file__).resolve().parents[1]
LEASE = 1.0  # seconds: the lock lease of redis and http stores in these tests

BACKENDS = [
    pytest.param("local"),
    pytest.param("redis", marks=pytest.mark.server),
    pytest.param("http", marks=pytest.mark.server),
]


class StoreFactory:
    """Opens stores of one backend, all on the same data; closes them at the end."""

    def __init__(self, kind: str, make: Callable[[], ProfileStore], url: str | None = None):
        self.kind = kind
        self.url = url
        self._make = make
        self.opened: list[ProfileStore] = []

    def __call__(self) -> ProfileStore:
        store = self._make()
        self.opened.append(store)
        return store

    def close(self) -> None:
        for store in self.opened:
            with suppress(Exception):
                store.close()


@pytest.fixture(params=BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    kind = request.param
    if kind == "local":
        path = tmp_path / "profiles.sqlite"
        factory = StoreFactory(kind, lambda: LocalStore(path), str(path))
    elif kind == "redis":
        from signals_batch.stores.redis_store import RedisStore

        url = request.getfixturevalue("redis_url")
        factory = StoreFactory(kind, lambda: RedisStore(url, lock_lease=LEASE), url)
    else:
        from signals_batch.stores.http import HttpStore

        url = request.getfixturevalue("push_server")
        factory = StoreFactory(
            kind, lambda: HttpStore(url, lock_lease=LEASE, retries=2, retry_wait=0.05), url)
    yield factory
    factory.close()


@pytest.fixture
def store(make_store: StoreFactory) -> ProfileStore:
    return make_store()


def spec(ident: str = "users_v1", ttl: dict[str, int | None] | None = None,
         attributes: tuple[str, ...] = ("a", "b")) -> GroupSpec:
    ttl = ttl if ttl is not None else dict.fromkeys(attributes)
    return GroupSpec(ident=ident, key_name="user_id", attributes=tuple(ttl), ttl_seconds=ttl)


T0 = dt.datetime(2031, 5, 6, 7, 8, 9, 123456)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def row(key: str, updated_at: dt.datetime, **values: Any) -> ProfileRow:
    return ProfileRow(key, values, updated_at)


def same_json(got: Any, expected: Any) -> bool:
    """Equal as JSON text: tells 1, 1.0 and true apart."""
    return json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


# ---------------------------------------------------------------------- contract, all backends

EVERY_TYPE = {
    "text": 'h\u00e9llo "quoted" \\ /slash\n\ttab \u2028 \U0001f600 \x00',
    "empty_text": "",
    "int": 42,
    "negative": -7,
    "big": 2**62 + 1,
    "zero": 0,
    "float": 0.1,
    "whole_float": 2.0,
    "tiny": 5e-324,
    "huge": 1.7976931348623157e308,
    "true": True,
    "false": False,
    "null": None,
    "list": [1, "two", None, [3.5, {"k": False}]],
    "empty_list": [],
    "object": {"nested": {"x": [1, 2]}, "s": "v"},
    "empty_object": {},
}


def test_round_trip_of_every_json_type(store: ProfileStore) -> None:
    group = spec(attributes=tuple(EVERY_TYPE))
    keys = ["user_1", "a/b c?d#e:%2F&x=1", "..", ".", "\u00fcn\u00efcode"]
    applied = store.upsert(group, [ProfileRow(k, EVERY_TYPE, at(i)) for i, k in enumerate(keys)])
    assert applied == len(keys)
    for i, key in enumerate(keys):
        found = store.get(group.ident, key)
        assert found is not None, key
        updated_at = found.pop("updated_at")
        assert dt.datetime.fromisoformat(updated_at) == at(i)
        assert same_json(found, EVERY_TYPE), key
    assert store.get(group.ident, "user_1", ["int", "list", "no_such"]) == {
        "int": 42, "list": EVERY_TYPE["list"], "no_such": None,
        "updated_at": at(0).isoformat()}
    assert store.get(group.ident, "nobody") is None
    assert store.get("other_v1", "user_1") is None
    assert list(store.keys(group.ident)) == sorted(keys)


def test_newer_wins_older_ignored_equal_rewritten(store: ProfileStore) -> None:
    group = spec()
    assert store.upsert(group, [row("u", at(10), a="new", b=1)]) == 1
    assert store.upsert(group, [row("u", at(5), a="old", b=0)]) == 0
    assert store.get(group.ident, "u") == {"a": "new", "b": 1, "updated_at": at(10).isoformat()}
    assert store.upsert(group, [row("u", at(10), a="again", b=2)]) == 1
    assert store.get(group.ident, "u", ["a"]) == {"a": "again", "updated_at": at(10).isoformat()}
    # one chunk with an older and a newer row
    applied = store.upsert(group, [row("u", at(9), a="x", b=3), row("v", at(1), a="v", b=4)])
    assert applied == 1
    assert store.get(group.ident, "u")["a"] == "again"
    assert store.get(group.ident, "v")["a"] == "v"


def test_watermark_moves_with_the_chunk(store: ProfileStore) -> None:
    group = spec()
    assert store.get_watermark(group.ident) is None
    chunk = [row(f"u{i}", at(i), a=i, b=None) for i in range(5)]
    store.upsert(group, chunk, watermark=chunk[-1].position)
    assert store.get_watermark(group.ident) == Watermark(at(4), "u4")
    assert all(store.get(group.ident, r.key_value) is not None for r in chunk)
    store.upsert(group, [row("late", at(99), a=1, b=2)])  # no watermark given: unchanged
    assert store.get_watermark(group.ident) == Watermark(at(4), "u4")
    position = Watermark(at(7), "key/with:odd chars")
    store.upsert(group, [row("key/with:odd chars", at(7), a=7, b=7)], watermark=position)
    assert store.get_watermark(group.ident) == position
    assert store.get_watermark("other_v1") is None
    store.reset_watermark(group.ident)
    assert store.get_watermark(group.ident) is None
    assert store.get(group.ident, "u0") is not None  # rows stay


def test_attribute_ttl_hides_expired_values(store: ProfileStore) -> None:
    group = spec(ttl={"forever": None, "short": 60, "day": 86400})
    now = now_utc()
    store.upsert(group, [
        row("old", now - dt.timedelta(seconds=120), forever=1, short=2, day=3),
        row("fresh", now, forever=4, short=5, day=6),
    ])
    old = store.get(group.ident, "old")
    assert (old["forever"], old["short"], old["day"]) == (1, None, 3)
    assert store.get(group.ident, "old", ["short"])["short"] is None
    fresh = store.get(group.ident, "fresh")
    assert (fresh["forever"], fresh["short"], fresh["day"]) == (4, 5, 6)


def test_a_key_whose_every_value_expired_shows_none(store: ProfileStore) -> None:
    group = spec(ttl={"a": 60, "b": 30})
    store.upsert(group, [row("gone", now_utc() - dt.timedelta(hours=1), a=1, b=2)])
    found = store.get(group.ident, "gone")
    assert found is None or (found["a"], found["b"]) == (None, None)


def test_finish_full_removes_unmarked_keys_only(store: ProfileStore) -> None:
    group, other = spec(), spec("other_v1")
    store.upsert(group, [row(f"k{i}", at(i), a=i, b=i) for i in range(1, 5)])
    store.upsert(other, [row("k1", at(1), a=1, b=1)])
    mark = "full-1"
    store.upsert(group, [row("k1", at(1), a=10, b=10), row("k3", at(30), a=30, b=30)], mark=mark)
    assert store.finish_full(group.ident, mark) == 2
    assert list(store.keys(group.ident)) == ["k1", "k3"]
    assert store.get(group.ident, "k1")["a"] == 10
    assert list(store.keys(other.ident)) == ["k1"]
    assert store.finish_full(group.ident, mark) == 0


def test_purge_removes_every_key_and_the_watermark_of_one_group_only(
        store: ProfileStore) -> None:
    """What `signals-batch purge` does on each backend: finish_full with a mark no profile
    has, then reset_watermark, under the store's lock."""
    group, other = spec(), spec("other_v1")
    store.upsert(group, [row(f"k{i}", at(i), a=i, b=i) for i in range(1, 4)], mark="old",
                 watermark=Watermark(at(3), "k3"))
    store.upsert(other, [row("k1", at(1), a=1, b=1)], watermark=Watermark(at(1), "k1"))
    with store.lock(5):
        assert store.finish_full(group.ident, "purge:never-written") == 3
        store.reset_watermark(group.ident)
    assert list(store.keys(group.ident)) == []
    assert store.get_watermark(group.ident) is None
    assert list(store.keys(other.ident)) == ["k1"]
    assert store.get_watermark(other.ident) == Watermark(at(1), "k1")


def test_full_sync_keeps_a_key_whose_stored_row_is_newer(make_store: StoreFactory) -> None:
    store = make_store()
    group = spec()
    store.upsert(group, [row("k", at(10), a="newer", b=1)])
    store.upsert(group, [row("k", at(5), a="older", b=0)], mark="m")
    assert store.finish_full(group.ident, "m") == 0
    assert store.get(group.ident, "k")["a"] == "newer"


def test_a_second_lock_waits_then_fails_clearly(make_store: StoreFactory) -> None:
    first, second = make_store(), make_store()
    with first.lock(1):
        started = time.monotonic()
        with pytest.raises(StoreLocked, match="another sync") as raised, second.lock(0.4):
            pass
        assert time.monotonic() - started >= 0.35
        assert "waited 0.4s" in str(raised.value)
        # it names the holder (here: this process)
        holder = (f"pid {os.getpid()}" if make_store.kind == "local"
                  else f"(pid {os.getpid()} on {socket.gethostname()})")
        assert holder in str(raised.value)
    with second.lock(0.5):  # freed when its holder released it
        pass


def test_a_waiting_lock_gets_it_when_the_holder_releases(make_store: StoreFactory) -> None:
    first, second = make_store(), make_store()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with first.lock(1):
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    with second.lock(5):
        waited = time.monotonic() - started
    holder.join(5)
    assert 0.2 <= waited < 4


def test_a_killed_lock_holder_frees_the_lock(make_store: StoreFactory) -> None:
    """local: the flock goes with the process; redis and http: after the lease."""
    opener = {
        "local": "from signals_batch.stores.local import LocalStore as S; s = S(URL)",
        "redis": "from signals_batch.stores.redis_store import RedisStore as S; "
                 f"s = S(URL, lock_lease={LEASE})",
        "http": f"from signals_batch.stores.http import HttpStore as S; s = S(URL, "
                f"lock_lease={LEASE})",
    }[make_store.kind]
    script = textwrap.dedent(f"""
        import sys, time
        URL = {make_store.url!r}
        {opener}
        with s.lock(5):
            print("locked", flush=True)
            time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"locked"
        store = make_store()
        with pytest.raises(StoreLocked), store.lock(0.2):
            pass
        process.send_signal(signal.SIGKILL)
        process.wait(5)
        started = time.monotonic()
        with store.lock(LEASE * 4):
            assert time.monotonic() - started < LEASE * 3
    finally:
        process.kill()
        process.wait(5)


# ---------------------------------------------------------------------- redis


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[Any]:
    from signals_batch.stores.redis_store import RedisStore

    store = RedisStore(redis_url, lock_lease=LEASE)
    yield store
    store.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.mark.server
def test_redis_layout(redis_store: Any, redis_client: Any) -> None:
    group = spec(ttl={"a": 3600, "b": 7200, "c": 7200})
    updated_at = now_utc().replace(microsecond=500)
    redis_store.upsert(group, [row("u:1", updated_at, a=[1], b="x", c=None)],
                       watermark=Watermark(updated_at, "u:1"), mark="m1")
    fields = redis_client.hgetall("signals:users_v1:u:1")
    assert fields == {
        "values": '{"a":[1],"b":"x","c":null}',
        "updated_at": updated_at.isoformat(timespec="microseconds"), "mark": "m1",
        # only the attribute whose ttl is shorter than the key's (7200) has its own
        "ttl": '{"a":3600}',
    }
    expected_ms = int((updated_at - dt.datetime(1970, 1, 1)).total_seconds() * 1000) + 7_200_000
    assert abs(redis_client.pexpiretime("signals:users_v1:u:1") - expected_ms) <= 1
    assert redis_client.hgetall("signals:__watermark:users_v1") == {
        "updated_at": updated_at.isoformat(timespec="microseconds"), "key_value": "u:1"}
    assert redis_store.count("users_v1") == 1
    assert redis_store.description == f"redis store {redis_store_public(redis_client)}"


def redis_store_public(client: Any) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


@pytest.mark.server
def test_redis_key_expiry_from_updated_at(redis_store: Any, redis_client: Any) -> None:
    never, hour = spec("never_v1"), spec("hour_v1", ttl={"a": 3600, "b": 60})
    redis_store.upsert(never, [row("u", now_utc(), a=1, b=2)])
    assert redis_client.ttl("signals:never_v1:u") == -1  # no ttl: no expiry
    redis_store.upsert(hour, [row("past", now_utc() - dt.timedelta(hours=2), a=1, b=2),
                              row("now", now_utc(), a=1, b=2)])
    assert not redis_client.exists("signals:hour_v1:past")  # expired on arrival
    assert 3500 < redis_client.ttl("signals:hour_v1:now") <= 3600
    # a newer row of a group that no longer expires drops the old expiry
    redis_store.upsert(spec("hour_v1"), [row("now", now_utc() + dt.timedelta(seconds=1), a=3,
                                             b=4)])
    assert redis_client.ttl("signals:hour_v1:now") == -1
    assert "ttl" not in redis_client.hgetall("signals:hour_v1:now")


@pytest.mark.server
def test_redis_watermark_is_the_last_command_of_the_chunk_transaction(
        redis_store: Any, redis_url: str) -> None:
    import redis

    seen: list[str] = []
    listening = threading.Event()
    monitor_client = redis.Redis.from_url(redis_url, decode_responses=True)

    def watch() -> None:
        with monitor_client.monitor() as monitor:
            listening.set()
            for command in monitor.listen():
                seen.append(command["command"])
                if command["command"].startswith("EXEC"):
                    return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    listening.wait(5)
    time.sleep(0.1)
    group = spec()
    chunk = [row(f"u{i}", at(i), a=i, b=i) for i in range(3)]
    redis_store.upsert(group, chunk, watermark=chunk[-1].position)
    watcher.join(5)
    monitor_client.close()
    writes = [c.split()[:2] for c in seen if c.startswith(("MULTI", "HSET", "EXEC"))]
    assert writes[0] == ["MULTI"] and writes[-1] == ["EXEC"]
    assert writes[-2] == ["HSET", "signals:__watermark:users_v1"]
    assert [w[1] for w in writes[1:-2]] == [f"signals:users_v1:u{i}" for i in range(3)]


@pytest.mark.server
def test_redis_killed_writer_never_leaves_the_watermark_ahead(redis_url: str,
                                                              redis_store: Any) -> None:
    script = textwrap.dedent(f"""
        import datetime as dt
        from signals_batch.stores.base import GroupSpec, ProfileRow
        from signals_batch.stores.redis_store import RedisStore
        store = RedisStore({redis_url!r})
        group = GroupSpec("users_v1", "user_id", ("a", "b"), {{"a": None, "b": None}})
        t0 = dt.datetime(2031, 1, 1)
        for n in range(0, 1_000_000, 500):
            chunk = [ProfileRow(f"u{{i:07d}}", {{"a": i, "b": "x" * 50}},
                                t0 + dt.timedelta(seconds=i)) for i in range(n, n + 500)]
            store.upsert(group, chunk, watermark=chunk[-1].position)
            if n == 0:
                print("writing", flush=True)
    """)
    for delay in (0.15, 0.4):
        process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                   cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"writing"
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(5)
        watermark = redis_store.get_watermark("users_v1")
        assert watermark is not None
        last = int(watermark.key_value[1:])
        present = set(redis_store.keys("users_v1"))
        assert {f"u{i:07d}" for i in range(last + 1)} <= present
        assert redis_store.get("users_v1", watermark.key_value)["a"] == last


@pytest.mark.server
def test_redis_script_cache_lost_between_chunks(redis_store: Any, redis_client: Any) -> None:
    group = spec()
    redis_store.upsert(group, [row("u1", at(1), a=1, b=1)], watermark=Watermark(at(1), "u1"))
    redis_client.script_flush()
    redis_store.upsert(group, [row("u2", at(2), a=2, b=2)], watermark=Watermark(at(2), "u2"))
    assert redis_store.get(group.ident, "u2")["a"] == 2
    assert redis_store.get_watermark(group.ident) == Watermark(at(2), "u2")
    redis_client.script_flush()
    assert redis_store.finish_full(group.ident, "nothing-marked") == 2


@pytest.mark.server
def test_redis_failed_script_puts_the_watermark_back(redis_store: Any, monkeypatch) -> None:
    from signals_batch.stores import redis_store as module

    group = spec()
    redis_store.upsert(group, [row("u1", at(1), a=1, b=1)], watermark=Watermark(at(1), "u1"))
    pack_rows = module._pack_rows
    failing = "redis.call('HSET', KEYS[1], 'updated_at', 'x'); return redis.error_reply('boom')"
    monkeypatch.setattr(module, "_pack_rows", lambda script, *args: pack_rows(failing, *args))
    with pytest.raises(StoreError, match="writing to the redis store"):
        redis_store.upsert(group, [row("u2", at(2), a=2, b=2)], watermark=Watermark(at(2), "u2"))
    assert redis_store.get_watermark(group.ident) == Watermark(at(1), "u1")


@pytest.mark.server
def test_redis_lock_is_renewed_while_held_and_released_by_its_holder_only(
        redis_store: Any, redis_client: Any, redis_url: str) -> None:
    from signals_batch.stores.redis_store import LOCK_KEY, RedisStore

    other = RedisStore(redis_url, lock_lease=LEASE)
    try:
        with redis_store.lock(1):
            token = redis_client.get(LOCK_KEY)
            assert token.split(":")[1] == str(os.getpid())
            time.sleep(LEASE * 1.6)  # longer than the lease: the keeper renewed it
            assert redis_client.get(LOCK_KEY) == token
            assert 0 < redis_client.pttl(LOCK_KEY) <= LEASE * 1000
            expected = rf"pid {os.getpid()} on .*waited 0s"
            with pytest.raises(StoreLocked, match=expected), other.lock(0):
                pass
        assert redis_client.get(LOCK_KEY) is None
    finally:
        other.close()


@pytest.mark.server
def test_redis_lost_lease_stops_the_writer(redis_store: Any, redis_client: Any) -> None:
    from signals_batch.stores.redis_store import LOCK_KEY

    with redis_store.lock(1):
        redis_client.set(LOCK_KEY, "someone-else")  # as if our lease had run out and been taken
        time.sleep(LEASE / 3 + 0.3)
        with pytest.raises(StoreError, match="lost the lock"):
            redis_store.upsert(spec(), [row("u", at(1), a=1, b=1)])
    assert redis_client.get(LOCK_KEY) == "someone-else"  # not released by the wrong holder


@pytest.mark.server
def test_redis_password_never_shown(private_redis_server: RedisServer) -> None:
    from signals_batch.stores.redis_store import RedisStore

    server = private_redis_server
    store = RedisStore(server.url, lock_lease=LEASE)
    user_form = RedisStore(server.url.replace("://:", "://default:"))
    try:
        assert store.description == f"redis store {server.public_url}"
        assert user_form.description == store.description
        wrong = server.url.replace(REDIS_PASSWORD, "Wrong-pa55")
        with pytest.raises(StoreError) as raised:
            RedisStore(wrong)
        assert "Wrong-pa55" not in str(raised.value)
        assert server.public_url in str(raised.value)
        assert str(raised.value) == (
            f"the redis store {server.public_url} refused the credentials of its url "
            "(invalid username-password pair or user is disabled): check the user and "
            "password in SIGNALS_BATCH_STORE__URL")
        with pytest.raises(StoreError) as raised:
            RedisStore(server.public_url)  # no password at all
        assert str(raised.value) == (
            f"the redis store {server.public_url} requires a password and store.url has none: "
            "set SIGNALS_BATCH_STORE__URL to redis://[USER]:PASSWORD@host:port/db")
        group = spec()
        store.upsert(group, [row("u", at(1), a=1, b=1)])
        server.stop()  # the store goes down mid-use
        for call in (lambda: store.upsert(group, [row("u", at(2), a=2, b=2)]),
                     lambda: store.get(group.ident, "u"),
                     lambda: store.get_watermark(group.ident),
                     lambda: store.finish_full(group.ident, "m")):
            with pytest.raises(StoreError) as raised:
                call()
            message = str(raised.value)
            assert server.public_url in message
            assert REDIS_PASSWORD not in message and "default:" not in message
        with pytest.raises(StoreError, match="cannot reach the redis store") as raised:
            RedisStore(server.url)
        assert REDIS_PASSWORD not in str(raised.value)
        assert "Check store.url" in str(raised.value)  # and says what to check
    finally:
        store.close()
        user_form.close()


# ---------------------------------------------------------------------- http / push API


@pytest.mark.server
def test_push_api_refuses_writes_of_others_while_a_lease_holds(push_server: str) -> None:
    from signals_batch.stores.http import HttpStore

    holder, other = (HttpStore(push_server, lock_lease=LEASE, retry_wait=0.05)
                     for _ in range(2))
    group = spec()
    with holder.lock(1):
        assert holder.upsert(group, [row("u", at(1), a=1, b=1)]) == 1
        with pytest.raises(StoreLocked, match="another sync holds the lock"):
            other.upsert(group, [row("u", at(2), a=2, b=2)])
        with pytest.raises(StoreLocked):
            other.finish_full(group.ident, "m")
        with pytest.raises(StoreLocked):
            other.reset_watermark(group.ident)
        assert other.get(group.ident, "u")["a"] == 1  # reads are fine
    assert other.upsert(group, [row("u", at(2), a=2, b=2)]) == 1
    holder.close()
    other.close()


@pytest.mark.server
def test_push_api_over_redis(redis_url: str) -> None:
    """Any ProfileStore behind the push API: here a RedisStore; its lock is held too."""
    from signals_batch.stores.http import HttpStore
    from signals_batch.stores.redis_store import RedisStore

    direct = RedisStore(redis_url, lock_lease=LEASE)
    with running_app(push_app(lambda: RedisStore(redis_url, lock_lease=LEASE))) as url:
        store = HttpStore(url, lock_lease=LEASE, retries=2, retry_wait=0.05)
        group = spec(attributes=tuple(EVERY_TYPE))
        store.upsert(group, [ProfileRow("u", EVERY_TYPE, at(1))], watermark=Watermark(at(1), "u"))
        assert same_json({k: v for k, v in direct.get(group.ident, "u").items()
                          if k != "updated_at"}, EVERY_TYPE)
        assert store.get_watermark(group.ident) == Watermark(at(1), "u")
        with store.lock(1), pytest.raises(StoreLocked), direct.lock(0.2):
            pass
        with direct.lock(1):
            pass
        store.close()
    direct.close()


@pytest.mark.server
def test_http_bearer_token_sent_and_never_shown(tmp_path: Path, monkeypatch) -> None:
    from signals_batch.stores.http import HttpStore

    secret = "tok-Very-Secret-123"
    app = push_app(lambda: LocalStore(tmp_path / "p.sqlite"), token=secret)
    with running_app(app) as url:
        monkeypatch.setenv("SIGNALS_SANDBOX_TOKEN", secret)
        store = HttpStore(url, retries=2, retry_wait=0.05)
        assert store.upsert(spec(), [row("u", at(1), a=1, b=1)]) == 1
        assert secret not in store.description
        store.close()
        monkeypatch.setenv("SIGNALS_SANDBOX_TOKEN", "tok-Wrong-456")
        with pytest.raises(StoreError, match="refused the request \\(401\\)") as raised:
            HttpStore(url, retries=2, retry_wait=0.05)
        assert "tok-Wrong-456" not in str(raised.value) and secret not in str(raised.value)
        monkeypatch.delenv("SIGNALS_SANDBOX_TOKEN")  # no token at all: the user's setup (2)
        with pytest.raises(InvalidInput, match=r"refused the request \(401\): it needs a "
                                               r"token and \$SIGNALS_SANDBOX_TOKEN is not set"):
            HttpStore(url, retries=2, retry_wait=0.05)
        monkeypatch.setenv("SIGNALS_SANDBOX_TOKEN", secret)
        store = HttpStore(url.replace("http://", "http://user:pw-Hidden@"), retries=2,
                          retry_wait=0.05)
    assert store.description == f"http store {url}"  # no user, no password
    with pytest.raises(StoreError) as raised:  # the server went down mid-use
        store.get("users_v1", "u")
    message = str(raised.value)
    assert message.startswith(f"cannot reach the http store {url}")
    assert "Check store.url" in message
    assert secret not in message and "pw-Hidden" not in message
    store.close()


@pytest.mark.server
def test_http_retries_5xx_and_429_but_not_4xx(tmp_path: Path) -> None:
    from starlette.responses import JSONResponse

    from signals_batch.stores.http import HttpStore

    app = push_app(lambda: LocalStore(tmp_path / "p.sqlite"))
    failures = {"/api/v1/batch-store/upsert": [503, 429, -429, 500]}  # -429: no Retry-After
    calls: list[int] = []

    @app.middleware("http")
    async def flaky(request, call_next):
        planned = failures.get(request.url.path)
        if planned:
            status = planned.pop(0)
            calls.append(status)
            return JSONResponse({"detail": "try again"}, status_code=abs(status),
                                headers={"Retry-After": "0"} if status == 429 else {})
        return await call_next(request)

    with running_app(app) as url:
        store = HttpStore(url, retries=5, retry_wait=0.05)
        assert store.upsert(spec(), [row("u", at(1), a=1, b=1)]) == 1
        assert calls == [503, 429, -429, 500]
        failures["/api/v1/batch-store/upsert"] = [503] * 3
        impatient = HttpStore(url, retries=2, retry_wait=0.05)
        with pytest.raises(StoreError, match="answered 503: try again"):
            impatient.upsert(spec(), [row("u", at(1), a=1, b=1)])
        impatient.close()
        failures["/api/v1/batch-store/upsert"] = [400, 503]
        with pytest.raises(StoreError, match="answered 400"):
            store.upsert(spec(), [row("u", at(1), a=1, b=1)])
        assert failures["/api/v1/batch-store/upsert"] == [503]  # the 400 was not retried
        store.close()


@pytest.mark.server
def test_http_backing_store_down_is_a_store_error_without_password(
        private_redis_server: RedisServer) -> None:
    from signals_batch.stores.http import HttpStore
    from signals_batch.stores.redis_store import RedisStore

    server = private_redis_server
    with running_app(push_app(lambda: RedisStore(server.url))) as url:
        store = HttpStore(url, retries=2, retry_wait=0.05)
        store.upsert(spec(), [row("u", at(1), a=1, b=1)])
        server.stop()
        with pytest.raises(StoreError, match="answered 503") as raised:
            store.upsert(spec(), [row("u", at(2), a=2, b=2)])
        assert server.public_url in str(raised.value)
        assert REDIS_PASSWORD not in str(raised.value)
        store.close()


@pytest.mark.server
def test_http_no_server_or_wrong_server(tmp_path: Path) -> None:
    from fastapi import FastAPI

    from signals_batch.stores.http import HttpStore

    port = free_port()
    with pytest.raises(StoreError, match=f"cannot reach the http store http://127.0.0.1:{port}"):
        HttpStore(f"http://127.0.0.1:{port}", retries=1)
    with running_app(FastAPI()) as url, pytest.raises(StoreError, match="no batch-store push"):
        HttpStore(url, retries=1)


def test_a_redis_url_that_does_not_parse_is_refused_without_showing_it() -> None:
    """redis-py reads `/abc` as db 0: a typo must not send profiles to another database."""
    from signals_batch.stores.redis_store import public_url

    assert public_url("redis://:pw@127.0.0.1:6390/4") == "redis://127.0.0.1:6390/4"
    assert public_url("redis://127.0.0.1?db=5") == "redis://127.0.0.1:6379/5"
    for url in ("redis://:pw@127.0.0.1:6390/abc", "redis://:pw@127.0.0.1/?db=x",
                "http://:pw@127.0.0.1:6390/0", "redis://:pw@127.0.0.1:notaport/0"):
        with pytest.raises(InvalidInput) as raised:
            public_url(url)
        assert "the redis store url must look like redis://" in str(raised.value)
        assert "SIGNALS_BATCH_STORE__URL" in str(raised.value)
        assert "pw" not in str(raised.value)
