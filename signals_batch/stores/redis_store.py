"""The redis backend: one hash per key value on a real redis-server.

Layout (db of the url):

- `signals:{group_ident}:{key_value}` - a hash of few fields, whatever the number of
  attributes (a write costs the server about the same for 2 attributes as for 200):
  - `updated_at`: the row's updated_at (ISO with microseconds, fixed width, so text order is
    time order);
  - `values`: one JSON object, attribute name -> value;
  - `ttl`: a JSON object, attribute name -> seconds, of the attributes whose ttl is shorter
    than the key's (absent when there are none); such a value is hidden from reads from
    updated_at + its ttl on;
  - `mark`: the mark of the last full sync that wrote or kept the key (full syncs only).
  The key itself expires (PEXPIREAT) at updated_at + the key's ttl, the longest attribute ttl
  (GroupSpec.max_ttl_seconds); no expiry when any attribute never expires.
- `signals:__watermark:{group_ident}` - a hash: `updated_at`, `key_value`.
- `signals:__lock` - the sync lock: a random token with a lease (SET NX PX), renewed by a
  background thread while held, so a killed holder frees it when the lease runs out.

An upsert is one MULTI/EXEC transaction per chunk, sent as one write: server-side script
calls write the rows, 1,000 a call (newer wins: a stored `updated_at` greater than the row's
keeps the stored row, an equal one is rewritten; an older row of a full sync still gets the
mark, as its key is in the table), and the last command of the transaction sets the
watermark, so the watermark never lands without the rows; should a script fail part way, the
watermark is put back as it was. The scripts go as EVAL with their text (no script cache to
lose) and assume a standalone server (not redis cluster).

A sync hands the store rows the warehouse has already encoded (`upsert_encoded`: key,
updated_at and the values' JSON text per row), so no Python object is made per value.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from signals_batch.errors import InvalidInput
from signals_batch.stores.base import (
    EncodedChunk,
    GroupSpec,
    ProfileRow,
    StoreError,
    StoreLocked,
    Watermark,
    lock_holder,
    locked_message,
    now_utc,
    visible_values,
)

LOCK_KEY = "signals:__lock"
UPDATED_AT = "updated_at"
VALUES = "values"
TTL = "ttl"
MARK = "mark"
DEFAULT_LOCK_LEASE = 30.0
# what a user checks when the server does not answer
_URL_HINT = (". Is redis-server running there? Check store.url in signals_batch.yml "
             "(or SIGNALS_BATCH_STORE__URL)")
#: rows per script call inside a chunk's transaction (keeps each call's arguments small)
SCRIPT_BATCH = 1000
#: attempts of a chunk's transaction when the connection drops (it is idempotent)
WRITE_ATTEMPTS = 3

# One script for every write: the rows of a chunk, the watermark, the sweep of a full sync.
_WRITE_SCRIPT = """
local mode = ARGV[1]
if mode == 'rows' then
  -- ARGV: 'rows', mark, ttl, then per key: updated_at, expire_ms ('' = none), values
  local mark, ttl = ARGV[2], ARGV[3]
  local applied = 0
  for i = 1, #KEYS do
    local key = KEYS[i]
    local j = 3 * i + 1
    local updated_at = ARGV[j]
    local current = redis.call('HGET', key, 'updated_at')
    if (not current) or current <= updated_at then
      if current then redis.call('DEL', key) end
      if ttl == '' and mark == '' then
        redis.call('HSET', key, 'updated_at', updated_at, 'values', ARGV[j + 2])
      elseif ttl == '' then
        redis.call('HSET', key, 'updated_at', updated_at, 'values', ARGV[j + 2], 'mark', mark)
      elseif mark == '' then
        redis.call('HSET', key, 'updated_at', updated_at, 'values', ARGV[j + 2], 'ttl', ttl)
      else
        redis.call('HSET', key, 'updated_at', updated_at, 'values', ARGV[j + 2], 'ttl', ttl,
                   'mark', mark)
      end
      local expire = ARGV[j + 1]
      if expire ~= '' then redis.call('PEXPIREAT', key, expire) end
      applied = applied + 1
    elseif mark ~= '' then
      -- an older row of a full sync: the key is still in the table, keep the newer values
      redis.call('HSET', key, 'mark', mark)
    end
  end
  return applied
elseif mode == 'watermark' then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[2], 'key_value', ARGV[3])
  return 1
elseif mode == 'sweep' then
  local removed = 0
  for i = 1, #KEYS do
    if redis.call('HGET', KEYS[i], 'mark') ~= ARGV[2] then
      removed = removed + redis.call('DEL', KEYS[i])
    end
  end
  return removed
end
return redis.error_reply('unknown mode ' .. tostring(mode))
"""

_RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_EPOCH = dt.datetime(1970, 1, 1)


def public_url(url: str) -> str:
    """`redis://host:port/db` without user or password (also the default port and db)."""
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return f"unix://{parts.path}"
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError
        host = parts.hostname or "localhost"
        port = parts.port or 6379
        db = unquote(parts.path).strip("/") or parse_qs(parts.query).get("db", ["0"])[0]
        if not db.isdigit():  # redis-py would silently use db 0
            raise ValueError
    except ValueError:
        # never echo the url: it may hold a password
        raise InvalidInput(
            "the redis store url must look like redis://[:password@]host[:port][/db] "
            "(or rediss://, unix://), db a number (setting store.url, "
            "SIGNALS_BATCH_STORE__URL)") from None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}/{db}"


def _iso(value: dt.datetime) -> str:
    """Naive UTC, fixed width: text order is time order."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def _epoch_ms(value: dt.datetime) -> int:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    delta = value - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + -(-delta.microseconds // 1000)


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _json_dumps(value: Any) -> str:
    return _dumps(value)


def encode_rows(rows: Sequence[ProfileRow]) -> EncodedChunk:
    """ProfileRows as a chunk of encoded rows (the path of callers other than a sync)."""
    return EncodedChunk(
        keys=[row.key_value for row in rows],
        updated_at=[_iso(row.updated_at) for row in rows],
        updated_ms=[_epoch_ms(row.updated_at) for row in rows],
        values=[_dumps(row.values) for row in rows],
    )


def _own_ttls(group: GroupSpec) -> str:
    """The `ttl` field: attributes whose ttl is shorter than the key's ('' when none)."""
    key_ttl = group.max_ttl_seconds
    own = {a: ttl for a in group.attributes
           if (ttl := group.ttl_seconds.get(a)) is not None and ttl != key_ttl}
    return _dumps(own) if own else ""


def _bulk(text: str) -> bytes:
    data = text.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


def _pack_rows(script: str, prefix: str, chunk: EncodedChunk, start: int, stop: int,
               mark: str, ttl: str, expires: list[str]) -> bytes:
    """EVAL of the write script over rows [start, stop) in the redis protocol (RESP)."""
    keys, updated_at, values = chunk.keys, chunk.updated_at, chunk.values
    count = stop - start
    head = ["EVAL", script, str(count)]
    tail = ["rows", mark, ttl]
    # the common case, in one pass over str: every character ASCII, so lengths are byte counts
    plen = len(prefix)
    text = "".join([
        *(f"${len(a)}\r\n{a}\r\n" for a in head),
        *[f"${len(k) + plen}\r\n{prefix}{k}\r\n" for k in keys[start:stop]],
        *(f"${len(a)}\r\n{a}\r\n" for a in tail),
        *[f"${len(u)}\r\n{u}\r\n${len(e)}\r\n{e}\r\n${len(v)}\r\n{v}\r\n"
          for u, e, v in zip(updated_at[start:stop], expires[start:stop], values[start:stop],
                             strict=True)],
    ])
    size = b"*%d\r\n" % (len(head) + count + len(tail) + 3 * count)
    if text.isascii():
        return size + text.encode()
    parts = [size, *map(_bulk, head), *(_bulk(prefix + k) for k in keys[start:stop]),
             *map(_bulk, tail)]
    for u, e, v in zip(updated_at[start:stop], expires[start:stop], values[start:stop],
                       strict=True):
        parts += (_bulk(u), _bulk(e), _bulk(v))
    return b"".join(parts)


def _pack(*args: str) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(map(_bulk, args))


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisStore:
    """Profiles in the redis-server at `url` (see the module docstring for the layout)."""

    def __init__(self, url: str, lock_lease: float | None = None,
                 connect_timeout: float = 5.0, socket_timeout: float = 120.0):
        self.description = f"redis store {public_url(url)}"
        parts = urlsplit(url)
        self._secrets = [s for s in {parts.password, unquote(parts.password or "")} if s]
        self.lock_lease = DEFAULT_LOCK_LEASE if lock_lease is None else float(lock_lease)
        self._lock_lost = threading.Event()
        try:
            self._client = redis.Redis.from_url(
                url, decode_responses=True, socket_connect_timeout=connect_timeout,
                socket_timeout=socket_timeout,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2))
        except ValueError as error:
            raise InvalidInput(f"the url of the {self.description} is invalid: "
                               f"{self._scrub(error)}") from None
        with self._errors("cannot reach the {store}", hint=_URL_HINT):
            self._client.ping()
        self._renew = self._client.register_script(_RENEW_SCRIPT)
        self._release = self._client.register_script(_RELEASE_SCRIPT)

    # ------------------------------------------------------------------ errors

    def _scrub(self, error: object) -> str:
        text = str(error)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def _errors(self, failure: str, hint: str = "") -> Iterator[None]:
        """Redis failures as StoreError naming the store, never the password.

        `failure` says what failed, with `{store}` where the store's name goes; `hint`, what
        to check, is added to it.
        """
        try:
            yield
        except AuthenticationError as error:
            if not self._secrets:  # redis' own words here are about its HELLO command
                raise StoreError(
                    f"the {self.description} requires a password and store.url has none: set "
                    "SIGNALS_BATCH_STORE__URL to redis://[USER]:PASSWORD@host:port/db") from None
            raise StoreError(f"the {self.description} refused the credentials of its url "
                             f"({self._scrub(error).rstrip('.')}): check the user and password "
                             "in SIGNALS_BATCH_STORE__URL") from None
        except RedisError as error:
            raise StoreError(f"{failure.format(store=self.description)}: "
                             f"{self._scrub(error).rstrip('.')}{hint}") from None

    @staticmethod
    def _key(group_ident: str, key_value: str) -> str:
        return f"signals:{group_ident}:{key_value}"

    @staticmethod
    def _watermark_key(group_ident: str) -> str:
        return f"signals:__watermark:{group_ident}"

    # ------------------------------------------------------------------ writes

    def upsert(self, group: GroupSpec, rows: Sequence[ProfileRow],
               watermark: Watermark | None = None, mark: str | None = None) -> int:
        return self.upsert_encoded(group, encode_rows(rows), watermark, mark)

    def prepare_encoded(self, group: GroupSpec, chunk: EncodedChunk,
                        mark: str | None = None) -> list[bytes]:
        """The script calls writing the chunk's rows, in the redis protocol: what
        `upsert_encoded(..., prepared=)` sends. Pure (no I/O), so a sync makes it in its
        reader thread while the chunk before is being written."""
        key_ttl = group.max_ttl_seconds
        if key_ttl is None:
            expires = [""] * len(chunk.keys)
        else:
            ttl_ms = key_ttl * 1000
            expires = [str(ms + ttl_ms) for ms in chunk.updated_ms]
        prefix, ttl = f"signals:{group.ident}:", _own_ttls(group)
        return [_pack_rows(_WRITE_SCRIPT, prefix, chunk, start,
                           min(start + SCRIPT_BATCH, len(chunk.keys)), mark or "", ttl, expires)
                for start in range(0, len(chunk.keys), SCRIPT_BATCH)]

    def upsert_encoded(self, group: GroupSpec, chunk: EncodedChunk,
                       watermark: Watermark | None = None, mark: str | None = None,
                       prepared: list[bytes] | None = None) -> int:
        """`upsert` of rows the warehouse already encoded: one transaction, one round trip.
        `prepared`: `prepare_encoded(group, chunk, mark)`, when made beforehand."""
        self._check_lock()
        if not chunk.keys and watermark is None:
            return 0
        if prepared is None:
            prepared = self.prepare_encoded(group, chunk, mark)
        watermark_key = self._watermark_key(group.ident)
        commands = [_pack("MULTI"), _pack("HGETALL", watermark_key), *prepared]
        if watermark is not None:
            commands.append(_pack("EVAL", _WRITE_SCRIPT, "1", watermark_key, "watermark",
                                  _iso(watermark.updated_at), watermark.key_value))
        commands.append(_pack("EXEC"))
        with self._errors("writing to the {store} failed"):
            before, *results = self._transaction(commands)
            if isinstance(before, list):  # HGETALL's pairs, as read off the wire (RESP2)
                before = dict(zip(before[::2], before[1::2], strict=True))
            failed = [r for r in results if isinstance(r, Exception)]
            if failed:
                # a script failed part way: never leave the watermark past rows not written
                if before:
                    self._client.hset(watermark_key, mapping=before)
                else:
                    self._client.delete(watermark_key)
                raise StoreError(f"writing to the {self.description} failed: "
                                 f"{self._scrub(failed[0])}")
        return sum(results[:len(results) - (watermark is not None)])

    def _transaction(self, commands: list[bytes]) -> list[Any]:
        """Send MULTI ... EXEC as one write; the results of EXEC. A dropped connection is
        retried: the whole transaction was applied or none of it, and it is idempotent."""
        pool = self._client.connection_pool
        for attempt in range(WRITE_ATTEMPTS):
            try:
                connection = pool.get_connection()
            except TypeError:  # redis-py < 5.3 wants a command name
                connection = pool.get_connection("EXEC")
            try:
                connection.send_packed_command(commands)
                for _ in commands[:-1]:  # OK, QUEUED...: a refused command raises here
                    connection.read_response()
                return list(connection.read_response())
            except (RedisConnectionError, RedisTimeoutError):
                connection.disconnect()
                if attempt + 1 == WRITE_ATTEMPTS:
                    raise
                time.sleep(0.05 * 2 ** attempt)
            except BaseException:
                connection.disconnect()  # never reuse a connection read half way
                raise
            finally:
                pool.release(connection)
        raise AssertionError("unreachable")  # pragma: no cover

    def reset_watermark(self, group_ident: str) -> None:
        with self._errors("writing to the {store} failed"):
            self._client.delete(self._watermark_key(group_ident))

    def finish_full(self, group_ident: str, mark: str) -> int:
        self._check_lock()
        removed = 0
        with self._errors("removing old keys from the {store} failed"):
            batch: list[str] = []
            for key in self._scan(group_ident):
                batch.append(key)
                if len(batch) >= SCRIPT_BATCH:
                    removed += self._sweep(batch, mark)
                    batch = []
            if batch:
                removed += self._sweep(batch, mark)
        return removed

    def _sweep(self, keys: list[str], mark: str) -> int:
        return self._client.eval(_WRITE_SCRIPT, len(keys), *keys, "sweep", mark)

    # ------------------------------------------------------------------ reads

    def get(self, group_ident: str, key_value: str,
            attributes: Sequence[str] | None = None) -> dict[str, Any] | None:
        with self._errors("reading from the {store} failed"):
            found = self._client.hgetall(self._key(group_ident, key_value))
        if not found or UPDATED_AT not in found:
            return None
        updated_at = found[UPDATED_AT]
        expires: dict[str, str | None] = {}
        if TTL in found:
            start = dt.datetime.fromisoformat(updated_at)
            expires = {name: (start + dt.timedelta(seconds=seconds)).isoformat()
                       for name, seconds in json.loads(found[TTL]).items()}
        values = json.loads(found.get(VALUES) or "{}")
        return {**visible_values(values, expires, attributes, now_utc()),
                "updated_at": updated_at}

    def get_watermark(self, group_ident: str) -> Watermark | None:
        with self._errors("reading from the {store} failed"):
            found = self._client.hgetall(self._watermark_key(group_ident))
        if not found:
            return None
        return Watermark(dt.datetime.fromisoformat(found["updated_at"]), found["key_value"])

    def _scan(self, group_ident: str) -> Iterator[str]:
        pattern = _glob_escape(f"signals:{group_ident}:") + "*"
        return self._client.scan_iter(match=pattern, count=1000)

    def keys(self, group_ident: str) -> Iterator[str]:
        """The group's key values, sorted (SCAN may repeat a key; each is given once)."""
        prefix = len(f"signals:{group_ident}:")
        with self._errors("reading from the {store} failed"):
            found = {key[prefix:] for key in self._scan(group_ident)}
        yield from sorted(found)

    def count(self, group_ident: str) -> int:
        with self._errors("reading from the {store} failed"):
            return len(set(self._scan(group_ident)))

    # ------------------------------------------------------------------ lock

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        token = f"{lock_holder()}:{uuid.uuid4().hex}"
        lease_ms = max(1, int(self.lock_lease * 1000))
        deadline = time.monotonic() + timeout
        with self._errors("locking the {store} failed"):
            while not self._client.set(LOCK_KEY, token, nx=True, px=lease_ms):
                if time.monotonic() >= deadline:
                    holder = self._client.get(LOCK_KEY) or ""
                    raise StoreLocked(self._locked_message(holder, timeout))
                time.sleep(max(0.0, min(0.05, deadline - time.monotonic())))
        self._lock_lost.clear()
        stop = threading.Event()
        keeper = threading.Thread(target=self._keep_lease, args=(token, lease_ms, stop),
                                  name="signals-batch-redis-lock", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            stop.set()
            keeper.join(timeout=1.0)
            with suppress(RedisError):  # when unreachable, the lease frees it
                self._release(keys=[LOCK_KEY], args=[token])

    def _locked_message(self, holder: str, timeout: float) -> str:
        return locked_message(self.description, holder, timeout, self.lock_lease)

    def _keep_lease(self, token: str, lease_ms: int, stop: threading.Event) -> None:
        interval = lease_ms / 3000
        while not stop.wait(interval):
            try:
                if not self._renew(keys=[LOCK_KEY], args=[token, lease_ms]):
                    self._lock_lost.set()
                    return
            except RedisError:
                continue  # retried next time; if the lease runs out the lock is lost

    def _check_lock(self) -> None:
        if self._lock_lost.is_set():
            raise StoreError(
                f"this sync lost the lock of the {self.description} (its lease of "
                f"{self.lock_lease:g}s ran out); stopped so two syncs never interleave")

    def close(self) -> None:
        with suppress(RedisError):
            self._client.close()
