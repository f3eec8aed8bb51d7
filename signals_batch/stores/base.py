"""The Profiles Store contract every backend (local SQLite, redis, http) keeps.

- `upsert` is idempotent and newer-wins per key: a row with an older `updated_at` than the
  stored one is ignored, an equal one is rewritten (so a resent row is harmless).
- The watermark of a group says how far in (updated_at, key) order the store has received the
  group's rows; `upsert` advances it in the same atomic step as the rows where the backend
  allows, and never before them.
- A full sync stamps every row it writes with a mark; `finish_full` then removes the group's
  keys that were not stamped (keys no longer in the table).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from signals_batch.errors import SignalsBatchError


class StoreError(SignalsBatchError):
    """The store is unreachable or refused a write; the message names the store, no secret."""


class StoreLocked(SignalsBatchError):
    """Another sync holds the store's lock."""


@dataclass(frozen=True, order=True)
class Watermark:
    """The last (updated_at, key) a store has received for a group."""

    updated_at: dt.datetime
    key_value: str

    def to_json(self) -> dict[str, str]:
        return {"updated_at": self.updated_at.isoformat(), "key_value": self.key_value}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Watermark:
        return cls(dt.datetime.fromisoformat(data["updated_at"]), data["key_value"])


@dataclass(frozen=True)
class ProfileRow:
    """One key's values of one group, as the attribute table holds them."""

    key_value: str
    values: dict[str, Any]  # JSON-ready: str, int, float, bool, None, list, dict
    updated_at: dt.datetime  # naive UTC

    @property
    def position(self) -> Watermark:
        return Watermark(self.updated_at, self.key_value)


@dataclass(frozen=True)
class EncodedChunk:
    """Rows whose values the reader has already encoded, as parallel lists in (updated_at, key)
    order: what a store offering `upsert_encoded` takes instead of ProfileRows (the fast path
    of a sync, which never builds a Python object per value)."""

    keys: list[str]
    updated_at: list[str]  # naive UTC, ISO with microseconds (fixed width: text order is time)
    updated_ms: list[int]  # updated_at as epoch milliseconds, rounded up
    values: list[str]  # per row, a JSON object: attribute -> value, as ProfileRow.values

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def position(self) -> Watermark:
        """Where the chunk ends (its last row)."""
        return Watermark(dt.datetime.fromisoformat(self.updated_at[-1]), self.keys[-1])


@dataclass(frozen=True)
class GroupSpec:
    """What a store needs to know of a group."""

    ident: str  # <name>_v<version>
    key_name: str
    attributes: tuple[str, ...]
    ttl_seconds: dict[str, int | None]  # per attribute: attribute ttl, else group, else key

    def expires_at(self, attribute: str, updated_at: dt.datetime) -> dt.datetime | None:
        ttl = self.ttl_seconds.get(attribute)
        return None if ttl is None else updated_at + dt.timedelta(seconds=ttl)

    @property
    def max_ttl_seconds(self) -> int | None:
        """The ttl of the whole key: None when any attribute never expires."""
        values = [self.ttl_seconds.get(a) for a in self.attributes]
        return None if not values or None in values else max(values)


class ProfileStore(Protocol):
    """A Profiles Store backend."""

    #: how messages name the store (never a password)
    description: str

    def upsert(
        self,
        group: GroupSpec,
        rows: Sequence[ProfileRow],
        watermark: Watermark | None = None,
        mark: str | None = None,
    ) -> int:
        """Write rows (newer wins), then the watermark; return how many rows were applied."""

    def get(
        self, group_ident: str, key_value: str, attributes: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        """The key's unexpired values (and `updated_at`), or None when the store has none."""

    def get_watermark(self, group_ident: str) -> Watermark | None: ...

    def reset_watermark(self, group_ident: str) -> None: ...

    def finish_full(self, group_ident: str, mark: str) -> int:
        """Remove the group's keys not written with `mark`; return how many."""

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """Exclusive use of the store for one sync; StoreLocked after `timeout` seconds."""

    def keys(self, group_ident: str) -> Iterator[str]: ...

    def close(self) -> None: ...

    # A backend may also offer, with the same contract as `upsert`:
    #
    #     def upsert_encoded(self, group: GroupSpec, chunk: EncodedChunk,
    #                        watermark: Watermark | None = None, mark: str | None = None,
    #                        prepared: Any = None) -> int
    #
    # which a sync then uses when the warehouse can encode the rows itself; and
    # `prepare_encoded(group, chunk, mark)`, a pure function whose result a sync makes in its
    # reader thread and passes as `prepared` (the redis store packs its commands there).


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def visible_values(
    values: dict[str, Any],
    expires: dict[str, str | None],
    attributes: Sequence[str] | None,
    at: dt.datetime,
) -> dict[str, Any]:
    """The values a reader sees: only the asked attributes, expired ones as None."""
    names = list(attributes) if attributes is not None else list(values)
    result = {}
    for name in names:
        until = expires.get(name)
        expired = until is not None and dt.datetime.fromisoformat(until) <= at
        result[name] = None if expired else values.get(name)
    return result


def lock_holder() -> str:
    """`host:pid` of this process, as a store lock records its holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


def locked_message(description: str, holder: str | None, timeout: float, lease: float) -> str:
    """What a sync says when another one holds the store's lock (`holder`: `host:pid...`)."""
    host, _, rest = (holder or "").partition(":")
    pid = rest.partition(":")[0]
    who = f" (pid {pid} on {host})" if pid else ""
    return (f"another sync holds the lock of the {description}{who}; waited {timeout:g}s. "
            f"Try again when it has finished (a killed sync frees the lock after {lease:g}s)")
