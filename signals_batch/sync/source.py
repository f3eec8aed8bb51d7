"""Where a group's rows come from, and reading the changed ones in chunks, in order."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from signals_batch.definitions.models import AttributeGroup
from signals_batch.errors import InvalidInput
from signals_batch.stores.base import GroupSpec, ProfileRow, Watermark


@dataclass(frozen=True)
class RowSource:
    """A table with one row per key: the key column, value columns and change marker."""

    group: AttributeGroup
    database: str | None
    schema: str
    table: str
    key_column: str
    timestamp_column: str
    columns: tuple[str, ...]
    types: dict[str, str]

    @property
    def relation(self) -> str:
        parts = [p for p in (self.database, self.schema, self.table) if p]
        return ".".join(f'"{p}"' for p in parts)

    @property
    def label(self) -> str:
        return ".".join(p for p in (self.schema, self.table) if p)

    @property
    def batch_source(self) -> dict[str, Any]:
        """What republishing registers as the group's batch source."""
        return {
            "name": f"{self.group.ident}_source",
            "database": self.database or "",
            "schema": self.schema,
            "table": self.table,
            "timestamp_field": self.timestamp_column,
        }


def row_source(group: AttributeGroup, target_schema: str, database: str | None) -> RowSource:
    if group.type == "external_batch":
        source = group.batch_source
        assert source is not None and group.fields is not None
        return RowSource(
            group,
            source.database or database,
            source.schema_,
            source.table,
            group.key_name,
            source.timestamp_field,
            tuple(f.name for f in group.fields),
            {f.name: f.type for f in group.fields},
        )
    attributes = group.attributes or []
    return RowSource(
        group,
        database,
        target_schema,
        group.table_name,
        group.key_name,
        "updated_at",
        tuple(a.name for a in attributes),
        {a.name: a.type for a in attributes},
    )


def group_spec(group: AttributeGroup) -> GroupSpec:
    """ttl per attribute: the attribute's own, else the group's, else the key's."""

    def seconds(value: dt.timedelta | None) -> int | None:
        return None if value is None else int(value.total_seconds())

    fallback = seconds(group.ttl) if group.ttl is not None else seconds(group.attribute_key.ttl)
    ttl: dict[str, int | None] = {}
    for attribute in group.attributes or []:
        ttl[attribute.name] = seconds(attribute.ttl) if attribute.ttl is not None else fallback
    for field in group.fields or []:
        ttl[field.name] = fallback
    return GroupSpec(
        ident=group.ident, key_name=group.key_name, attributes=tuple(ttl), ttl_seconds=ttl
    )


def check_source(con, source: RowSource) -> None:
    """The table and every column exist, or one message says what is missing."""
    found = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ?"
        + (" and table_catalog = ?" if source.database else ""),
        [source.schema, source.table] + ([source.database] if source.database else []),
    ).fetchall()
    present = {row[0].lower() for row in found}
    where = f"group {source.group.ident}"
    if not present:
        hint = (
            "run `signals-batch run` first"
            if source.group.type == "batch"
            else "check batch_source in the definition"
        )
        raise InvalidInput(f"{where}: table {source.label} not found; {hint}")
    needed = [source.key_column, source.timestamp_column, *source.columns]
    missing = [c for c in needed if c.lower() not in present]
    if missing:
        raise InvalidInput(
            f"{where}: table {source.label} has no column "
            f"{', '.join(missing)}; check the definition's fields"
        )


def _json_ready(value: Any, type_name: str) -> Any:
    if value is None:
        return None
    if type_name == "dict" and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_json_ready(v, type_name.removesuffix("_list")) for v in value]
    return value


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    raise InvalidInput(f"change marker value {value!r} is not a timestamp")


def read_changes(
    con, source: RowSource, after: Watermark | None, chunk_size: int
) -> Iterator[list[ProfileRow]]:
    """Rows newer than `after` in (timestamp, key) order, `chunk_size` at a time."""
    key, stamp = f'"{source.key_column}"', f'"{source.timestamp_column}"'
    columns = ", ".join(f'"{c}"' for c in source.columns)
    where = f"{key} is not null and {stamp} is not null"
    params: list[Any] = []
    if after is not None:
        where += f" and ({stamp} > ? or ({stamp} = ? and CAST({key} AS VARCHAR) > ?))"
        params = [after.updated_at, after.updated_at, after.key_value]
    cursor = con.execute(
        f"select CAST({key} AS VARCHAR), CAST({stamp} AS TIMESTAMP), {columns} "
        f"from {source.relation} where {where} order by 2, 1",
        params,
    )
    types = [source.types[c] for c in source.columns]
    names = source.columns
    while True:
        batch = cursor.fetchmany(chunk_size)
        if not batch:
            return
        yield [
            ProfileRow(
                row[0],
                {n: _json_ready(v, t) for n, v, t in zip(names, row[2:], types, strict=True)},
                _as_datetime(row[1]),
            )
            for row in batch
        ]


def count_changes(con, source: RowSource, after: Watermark | None) -> int:
    key, stamp = f'"{source.key_column}"', f'"{source.timestamp_column}"'
    where = f"{key} is not null and {stamp} is not null"
    params: list[Any] = []
    if after is not None:
        where += f" and ({stamp} > ? or ({stamp} = ? and CAST({key} AS VARCHAR) > ?))"
        params = [after.updated_at, after.updated_at, after.key_value]
    return con.execute(f"select count(*) from {source.relation} where {where}", params).fetchone()[
        0
    ]
