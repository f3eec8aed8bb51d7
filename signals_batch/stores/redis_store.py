"""The redis backend: one hash per key value on a real redis-server.

Layout (db of the url):

- `signals:{group_ident}:{key_value}` - a hash: attribute name -> JSON text of the value,
  `__updated_at` (ISO, fixed width, so text order is time order), `__mark` (full syncs only)
  and `__expires:{attribute}` (ISO) for each attribute whose ttl differs from the key's.
  The key itself expires (PEXPIREAT) at updated_at + the key's ttl, the longest attribute ttl
  (GroupSpec.max_ttl_seconds); no expiry when any attribute never expires.
- `signals:__watermark:{group_ident}` - a hash: `updated_at`, `key_value`.
- `signals:__lock` - the sync lock: a random token with a lease (SET NX PX), renewed by a
  background thread while held, so a killed holder frees it when the lease runs out.

An upsert is one MULTI/EXEC transaction per chunk: a server-side script writes the rows
(newer wins: a stored `__updated_at` greater than the row's keeps the stored row, an equal one
is rewritten; an older row of a full sync still gets the mark, as its key is in the table) and
the last command of the transaction sets the watermark, so the watermark never lands without
the rows; should a script fail part way, the watermark is put back as it was. The scripts
assume a standalone server (not redis cluster).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from json.encoder import encode_basestring
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, NoScriptError, RedisError
from redis.retry import Retry

from signals_batch.errors import InvalidInput
from signals_batch.stores.base import (
    GroupSpec,
    ProfileRow,
    StoreError,
    StoreLocked,
    Watermark,
    now_utc,
    visible_values,
)

LOCK_KEY = "signals:__lock"
UPDATED_AT = "__updated_at"
MARK = "__mark"
EXPIRES = "__expires:"
DEFAULT_LOCK_LEASE = 30.0
#: environment variable overriding the lock lease (seconds), e.g. for fault tests
#: rows per script call inside a chunk's transaction (keeps each call's arguments small)
SCRIPT_BATCH = 1000

# One script for every write, so that a script cache flushed or lost (server restart) fails
# every command of a transaction alike (NOSCRIPT) and nothing of it is applied.
_WRITE_SCRIPT = """
local mode = ARGV[1]
if mode == 'rows' then
  local rows = cjson.decode(ARGV[2])
  local applied = 0
  for i = 1, #KEYS do
    local key = KEYS[i]
    local row = rows[i]
    local current = redis.call('HGET', key, '__updated_at')
    if (not current) or current <= row[1] then
      if current then redis.call('DEL', key) end
      local fields = row[3]
      if #fields <= 2000 then
        redis.call('HSET', key, '__updated_at', row[1], unpack(fields))
      else  -- unpack has a limit: wide rows in slices
        redis.call('HSET', key, '__updated_at', row[1])
        for first = 1, #fields, 2000 do
          redis.call('HSET', key, unpack(fields, first, math.min(first + 1999, #fields)))
        end
      end
      if row[2] ~= '' then redis.call('PEXPIREAT', key, row[2]) end
      applied = applied + 1
    elseif ARGV[3] ~= '' then
      -- an older row of a full sync: the key is still in the table, keep the newer values
      redis.call('HSET', key, '__mark', ARGV[3])
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
    if redis.call('HGET', KEYS[i], '__mark') ~= ARGV[2] then
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
    except ValueError:
        # never echo the url: it may hold a password
        raise InvalidInput(
            "the redis store url must look like redis://[:password@]host[:port][/db] "
            "(or rediss://, unix://)") from None
    if ":" in host:
        host = f"[{host}]"
    db = unquote(parts.path).strip("/")
    if not db.isdigit():
        db = parse_qs(parts.query).get("db", ["0"])[0]
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


def _json_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _float_json(value: float) -> str:
    return float.__repr__(value) if value - value == 0 else _json_dumps(value)


# the common value types without json.dumps' per-call overhead (same text as json.dumps)
_ENCODERS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    float: _float_json,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}


def encode_value(value: Any) -> str:
    """The JSON text a hash field holds for `value`."""
    encoder = _ENCODERS.get(type(value))
    return encoder(value) if encoder is not None else _json_dumps(value)


def _encode_rows(group: GroupSpec, rows: Sequence[ProfileRow], mark: str | None) -> str:
    """The rows as the write script reads them: [[updated_at, expire_ms, [field, text, ...]]]."""
    key_ttl = group.max_ttl_seconds
    own_ttl = [(EXPIRES + a, dt.timedelta(seconds=ttl)) for a in group.attributes
               if (ttl := group.ttl_seconds.get(a)) is not None and ttl != key_ttl]
    tail = [MARK, mark] if mark is not None else []
    encoders = _ENCODERS
    payload = []
    for row in rows:
        fields: list[str] = []
        append = fields.append
        for name, value in row.values.items():
            append(name)
            encoder = encoders.get(type(value))
            append(encoder(value) if encoder is not None else _json_dumps(value))
        for name, ttl in own_ttl:
            append(name)
            append(_iso(row.updated_at + ttl))
        fields += tail
        expire = "" if key_ttl is None else str(_epoch_ms(row.updated_at) + key_ttl * 1000)
        payload.append((_iso(row.updated_at), expire, fields))
    return _json_dumps(payload)


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
        with self._errors("cannot reach the {store}"):
            self._client.ping()
            self._write_sha = self._client.script_load(_WRITE_SCRIPT)
        self._renew = self._client.register_script(_RENEW_SCRIPT)
        self._release = self._client.register_script(_RELEASE_SCRIPT)

    # ------------------------------------------------------------------ errors

    def _scrub(self, error: object) -> str:
        text = str(error)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def _errors(self, failure: str) -> Iterator[None]:
        """Redis failures as StoreError naming the store, never the password.

        `failure` says what failed, with `{store}` where the store's name goes.
        """
        try:
            yield
        except AuthenticationError as error:
            raise StoreError(f"the {self.description} refused the credentials of its url: "
                             f"{self._scrub(error)}") from None
        except RedisError as error:
            raise StoreError(f"{failure.format(store=self.description)}: "
                             f"{self._scrub(error)}") from None

    @staticmethod
    def _key(group_ident: str, key_value: str) -> str:
        return f"signals:{group_ident}:{key_value}"

    @staticmethod
    def _watermark_key(group_ident: str) -> str:
        return f"signals:__watermark:{group_ident}"

    # ------------------------------------------------------------------ writes

    def upsert(self, group: GroupSpec, rows: Sequence[ProfileRow],
               watermark: Watermark | None = None, mark: str | None = None) -> int:
        self._check_lock()
        reserved = [a for a in group.attributes if a.startswith("__")]
        if reserved:
            raise StoreError(f"attribute names starting with '__' ({', '.join(reserved)}) are "
                             f"reserved in the {self.description}")
        prefix = f"signals:{group.ident}:"
        commands: list[tuple[Any, ...]] = []
        for start in range(0, len(rows), SCRIPT_BATCH):
            batch = rows[start:start + SCRIPT_BATCH]
            commands.append((len(batch), *[prefix + row.key_value for row in batch],
                             "rows", _encode_rows(group, batch, mark), mark or ""))
        if watermark is not None:
            commands.append((1, self._watermark_key(group.ident), "watermark",
                             _iso(watermark.updated_at), watermark.key_value))
        if not commands:
            return 0
        results = self._transaction(group.ident, commands)
        return sum(results[:len(commands) - (watermark is not None)])

    def _transaction(self, group_ident: str, commands: list[tuple[Any, ...]]) -> list[int]:
        """Run the write-script calls in one MULTI/EXEC, the watermark (if any) last."""
        watermark_key = self._watermark_key(group_ident)
        with self._errors("writing to the {store} failed"):
            for attempt in range(2):
                pipe = self._client.pipeline(transaction=True)
                pipe.hgetall(watermark_key)  # as it was, to put back if a command fails
                for args in commands:
                    pipe.evalsha(self._write_sha, *args)
                before, *results = pipe.execute(raise_on_error=False)
                failed = [r for r in results if isinstance(r, Exception)]
                if not failed:
                    return results
                if attempt == 0 and all(isinstance(r, NoScriptError) for r in failed):
                    # the server lost its scripts (restart, SCRIPT FLUSH): nothing was applied
                    self._write_sha = self._client.script_load(_WRITE_SCRIPT)
                    continue
                break
            # a script failed part way: never leave the watermark past rows not written
            if before:
                self._client.hset(watermark_key, mapping=before)
            else:
                self._client.delete(watermark_key)
            raise StoreError(f"writing to the {self.description} failed: "
                             f"{self._scrub(failed[0])}")
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
        try:
            return self._client.evalsha(self._write_sha, len(keys), *keys, "sweep", mark)
        except NoScriptError:
            self._write_sha = self._client.script_load(_WRITE_SCRIPT)
            return self._client.evalsha(self._write_sha, len(keys), *keys, "sweep", mark)

    # ------------------------------------------------------------------ reads

    def get(self, group_ident: str, key_value: str,
            attributes: Sequence[str] | None = None) -> dict[str, Any] | None:
        with self._errors("reading from the {store} failed"):
            found = self._client.hgetall(self._key(group_ident, key_value))
        if not found or UPDATED_AT not in found:
            return None
        values: dict[str, Any] = {}
        expires: dict[str, str | None] = {}
        for name, text in found.items():
            if name.startswith(EXPIRES):
                expires[name[len(EXPIRES):]] = text
            elif not name.startswith("__"):
                values[name] = json.loads(text)
        return {**visible_values(values, expires, attributes, now_utc()),
                "updated_at": found[UPDATED_AT]}

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
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
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
        host, _, rest = holder.partition(":")
        pid = rest.partition(":")[0]
        who = f" (pid {pid} on {host})" if pid else ""
        return (f"another sync holds the lock of the {self.description}{who}; waited "
                f"{timeout:g}s. Try again when it has finished (a killed sync frees the lock "
                f"after {self.lock_lease:g}s)")

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
