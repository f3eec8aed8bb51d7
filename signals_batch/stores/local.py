"""The embedded default store: one SQLite file in WAL mode, readable while a sync writes."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from signals_batch.locks import file_lock
from signals_batch.stores.base import (
    GroupSpec,
    ProfileRow,
    StoreError,
    StoreLocked,
    Watermark,
    now_utc,
    visible_values,
)

_SCHEMA = """
create table if not exists profiles (
    group_ident text not null,
    key_value text not null,
    key_name text not null,
    attributes text not null,      -- JSON {attribute: value}
    expires text not null,         -- JSON {attribute: ISO instant or null}
    updated_at text not null,      -- ISO, fixed width, so text order is time order
    mark text,
    primary key (group_ident, key_value)
);
create table if not exists watermarks (
    group_ident text primary key,
    updated_at text not null,
    key_value text not null
);
"""

_UPSERT = """
insert into profiles (group_ident, key_value, key_name, attributes, expires, updated_at, mark)
values (?, ?, ?, ?, ?, ?, ?)
on conflict (group_ident, key_value) do update set
    key_name = iif(excluded.updated_at >= profiles.updated_at, excluded.key_name,
                   profiles.key_name),
    attributes = iif(excluded.updated_at >= profiles.updated_at, excluded.attributes,
                     profiles.attributes),
    expires = iif(excluded.updated_at >= profiles.updated_at, excluded.expires,
                  profiles.expires),
    updated_at = max(excluded.updated_at, profiles.updated_at),
    mark = coalesce(excluded.mark, profiles.mark)
-- newer wins; an older row still carries a full sync's mark, since its key is in the table
where excluded.updated_at >= profiles.updated_at or excluded.mark is not null
"""


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


class LocalStore:
    """Profiles in `path` (SQLite); the lock is an flock on `path` + '.lock'."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.description = f"local store {self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("pragma journal_mode=wal")
            self._db.execute("pragma synchronous=normal")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open the {self.description}: {error}") from None

    # ------------------------------------------------------------------ writes

    def upsert(
        self,
        group: GroupSpec,
        rows: Sequence[ProfileRow],
        watermark: Watermark | None = None,
        mark: str | None = None,
    ) -> int:
        params = []
        for row in rows:
            expires = {
                a: (None if (e := group.expires_at(a, row.updated_at)) is None else _iso(e))
                for a in group.attributes
            }
            params.append(
                (
                    group.ident,
                    row.key_value,
                    group.key_name,
                    json.dumps(row.values, separators=(",", ":")),
                    json.dumps(expires, separators=(",", ":")),
                    _iso(row.updated_at),
                    mark,
                )
            )
        try:
            with self._transaction() as db:
                applied = db.executemany(_UPSERT, params).rowcount
                if watermark is not None:
                    db.execute(
                        "insert into watermarks values (?, ?, ?) on conflict (group_ident) "
                        "do update set updated_at = excluded.updated_at, "
                        "key_value = excluded.key_value",
                        (group.ident, _iso(watermark.updated_at), watermark.key_value),
                    )
        except sqlite3.Error as error:
            raise StoreError(f"writing to the {self.description} failed: {error}") from None
        return max(applied, 0)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("begin immediate")
        try:
            yield self._db
        except BaseException:
            self._db.execute("rollback")
            raise
        self._db.execute("commit")

    def reset_watermark(self, group_ident: str) -> None:
        self._db.execute("delete from watermarks where group_ident = ?", (group_ident,))

    def finish_full(self, group_ident: str, mark: str) -> int:
        cursor = self._db.execute(
            "delete from profiles where group_ident = ? and (mark is null or mark <> ?)",
            (group_ident, mark),
        )
        return cursor.rowcount

    # ------------------------------------------------------------------ reads

    def get(
        self, group_ident: str, key_value: str, attributes: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        found = self._db.execute(
            "select attributes, expires, updated_at from profiles "
            "where group_ident = ? and key_value = ?",
            (group_ident, key_value),
        ).fetchone()
        if found is None:
            return None
        values = visible_values(json.loads(found[0]), json.loads(found[1]), attributes, now_utc())
        return {**values, "updated_at": found[2]}

    def get_watermark(self, group_ident: str) -> Watermark | None:
        found = self._db.execute(
            "select updated_at, key_value from watermarks where group_ident = ?", (group_ident,)
        ).fetchone()
        if found is None:
            return None
        return Watermark(dt.datetime.fromisoformat(found[0]), found[1])

    def keys(self, group_ident: str) -> Iterator[str]:
        cursor = self._db.execute(
            "select key_value from profiles where group_ident = ? order by key_value",
            (group_ident,),
        )
        for (key,) in cursor:
            yield key

    def count(self, group_ident: str) -> int:
        return self._db.execute(
            "select count(*) from profiles where group_ident = ?", (group_ident,)
        ).fetchone()[0]

    # ------------------------------------------------------------------ lock

    def lock(self, timeout: float):
        def refused(holder: str | None) -> StoreLocked:
            return StoreLocked(
                f"another sync{f' (pid {holder})' if holder else ''} is writing to the "
                f"{self.description} (waited {timeout:g}s); try again when it has finished"
            )

        return file_lock(self.path.with_name(self.path.name + ".lock"), timeout, refused)

    def close(self) -> None:
        self._db.close()
