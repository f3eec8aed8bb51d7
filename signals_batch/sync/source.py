"""Where a group's rows come from, and reading the changed ones in chunks, in order."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from signals_batch.definitions.models import AttributeGroup
from signals_batch.errors import InvalidInput
from signals_batch.stores.base import EncodedChunk, GroupSpec, ProfileRow, Watermark


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


def _utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC, as DuckDB gives a TIMESTAMPTZ in its session time zone (UTC)."""
    return value.astimezone(dt.timezone.utc) if value.tzinfo else value


_TIMESTAMP_TEXT = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)


def _timestamp_text(text: str) -> str:
    """A timestamp written as JSON text inside an ARRAY (`2025-01-01 13:11:31.03`,
    `...T...Z`, `... -0800`) as `_json_ready` writes a DuckDB TIMESTAMP list element:
    naive UTC `datetime.isoformat()` (microseconds only when not zero)."""
    found = _TIMESTAMP_TEXT.fullmatch(text.strip())
    if found is None:
        return text  # not a timestamp after all: the text as it is, never a guess
    day, clock, fraction, offset = found.groups()
    if clock.count(":") == 1:
        clock += ":00"
    micro = (fraction or "0")[:6].ljust(6, "0")  # truncated like a cast to microseconds
    value = dt.datetime.fromisoformat(f"{day}T{clock}.{micro}")
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        value -= sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value.isoformat()


def _element(value: Any, element_type: str) -> Any:
    if value is None:
        return None
    if element_type == "timestamp":
        return _timestamp_text(value) if isinstance(value, str) else _json_ready(value, "")
    is_number = isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)
    if is_number and element_type in ("int32", "int64", "unix_timestamp"):
        return int(value)
    if is_number and element_type in ("float", "double"):
        return float(value)
    return _json_ready(value, element_type)


def json_text_ready(value: Any, type_name: str) -> Any:
    """`_json_ready` for a warehouse whose client returns ARRAY / OBJECT values as JSON text
    (Snowflake's connector): the same JSON-ready value DuckDB's typed columns give, so a
    profile is stored alike whichever warehouse it came from. List elements are made the
    declared element type (a DOUBLE list element written `13` in JSON is 13.0, as DuckDB's
    DOUBLE[] gives; a timestamp element is ISO text, as `_json_ready` writes a datetime)."""
    if value is None:
        return None
    if type_name.endswith("_list"):
        items = json.loads(value) if isinstance(value, str) else value
        if not isinstance(items, list):
            return _json_ready(items, type_name)
        element = type_name.removesuffix("_list")
        return [_element(item, element) for item in items]
    if isinstance(value, dt.datetime):
        return _utc(value).isoformat()
    return _json_ready(value, type_name)


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    raise InvalidInput(f"change marker value {value!r} is not a timestamp")


#: a sync reads the changed rows in consecutive (timestamp, key) ranges of about this many
#: rows, each sorted on its own: its memory stays the same whatever the size of the table
RANGE_ROWS = 64_000
#: rows sampled per range to choose the ranges' bounds
SAMPLE_PER_RANGE = 100


def _changed(
    source: RowSource, after: Watermark | None, upto: Watermark | None = None
) -> tuple[str, list[Any]]:
    """The where clause of the rows after `after` and up to `upto` (included), and its
    parameters. The plain comparisons repeated beside each bound let DuckDB filter while it
    scans, before it reads the other columns."""
    key, stamp = f'CAST("{source.key_column}" AS VARCHAR)', f'"{source.timestamp_column}"'
    where = f'"{source.key_column}" is not null and {stamp} is not null'
    params: list[Any] = []
    if after is not None:
        where += f" and {stamp} >= ? and ({stamp} > ? or ({stamp} = ? and {key} > ?))"
        params += [after.updated_at] * 3 + [after.key_value]
    if upto is not None:
        where += f" and {stamp} <= ? and ({stamp} < ? or ({stamp} = ? and {key} <= ?))"
        params += [upto.updated_at] * 3 + [upto.key_value]
    if after is not None and upto is not None and after.updated_at == upto.updated_at:
        where += f" and {key} > ? and {key} <= ?"
        params += [after.key_value, upto.key_value]
    return where, params


def _ranges(con, source: RowSource, after: Watermark | None) -> Iterator[tuple[str, list[Any]]]:
    """The changed rows as consecutive ranges of about RANGE_ROWS rows: (where, params) of
    each, in order. The bounds are every SAMPLE_PER_RANGE-th row of a sample, in order."""
    total = count_changes(con, source, after)
    if not total:
        return
    bounds: list[Watermark] = []
    if total > RANGE_ROWS:
        ranges = -(-total // RANGE_ROWS)
        sample = ranges * SAMPLE_PER_RANGE
        where, params = _changed(source, after)
        found = con.execute(
            f"select u, k from (select u, k, row_number() over (order by u, k) as rn from ("
            f'select CAST("{source.timestamp_column}" AS TIMESTAMP) as u, '
            f'CAST("{source.key_column}" AS VARCHAR) as k from {source.relation} '
            f"where {where}) using sample reservoir({sample} rows) repeatable (1)) "
            f"where rn % {SAMPLE_PER_RANGE} = 0 and rn < {sample} order by rn",
            params,
        ).fetchall()
        bounds = [Watermark(_as_datetime(u), k) for u, k in found]
    lower = after
    for upper in [*bounds, None]:
        yield _changed(source, lower, upper)
        lower = upper


def read_changes(
    con, source: RowSource, after: Watermark | None, chunk_size: int
) -> Iterator[list[ProfileRow]]:
    """Rows newer than `after` in (timestamp, key) order, `chunk_size` at a time (or fewer)."""
    key, stamp = f'"{source.key_column}"', f'"{source.timestamp_column}"'
    columns = ", ".join(f'"{c}"' for c in source.columns)
    types = [source.types[c] for c in source.columns]
    names = source.columns
    for where, params in _ranges(con, source, after):
        cursor = con.execute(
            f"select CAST({key} AS VARCHAR), CAST({stamp} AS TIMESTAMP), {columns} "
            f"from {source.relation} where {where} order by 2, 1",
            params,
        )
        while batch := cursor.fetchmany(chunk_size):
            yield [
                ProfileRow(
                    row[0],
                    {n: _json_ready(v, t) for n, v, t in zip(names, row[2:], types, strict=True)},
                    _as_datetime(row[1]),
                )
                for row in batch
            ]


# DuckDB column types whose JSON rendering (json_object) is the JSON of `_json_ready`'s value
_JSON_AS_IS = {
    "VARCHAR", "BOOLEAN", "DOUBLE", "DATE",
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}


def _json_sql(expr: str, data_type: str, type_name: str) -> str | None:
    """SQL giving the value of `expr` (a DuckDB column of `data_type`, declared `type_name`)
    such that DuckDB's JSON of it is the JSON of `_json_ready`'s value; None for a type this
    cannot promise that for (the rows then go through Python)."""
    data_type = data_type.upper()
    if data_type == "JSON":  # the text, parsed only for a dict attribute
        return expr if type_name == "dict" else f"CAST({expr} AS VARCHAR)"
    if data_type == "VARCHAR" and type_name == "dict":
        return f"CAST({expr} AS JSON)"
    if data_type in _JSON_AS_IS:
        return expr
    if data_type in ("FLOAT", "REAL") or data_type.startswith("DECIMAL"):
        return f"CAST({expr} AS DOUBLE)"  # Python's float of the value
    if data_type == "TIMESTAMP":  # datetime.isoformat(): microseconds only when not zero
        return (
            f"CASE WHEN microsecond({expr}) % 1000000 = 0 "
            f"THEN strftime({expr}, '%Y-%m-%dT%H:%M:%S') "
            f"ELSE strftime({expr}, '%Y-%m-%dT%H:%M:%S.%f') END"
        )
    if data_type.endswith("[]") and type_name != "dict":
        element = _json_sql("x", data_type[:-2], type_name.removesuffix("_list"))
        if element is None:
            return None
        return expr if element == "x" else f"list_transform({expr}, lambda x: {element})"
    return None


def _column_types(con, source: RowSource) -> dict[str, str]:
    found = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ?"
        + (" and table_catalog = ?" if source.database else ""),
        [source.schema, source.table] + ([source.database] if source.database else []),
    ).fetchall()
    return {name.lower(): data_type for name, data_type in found}


def encoded_values_sql(con, source: RowSource) -> str | None:
    """SQL of one JSON object text per row, attribute -> value, equal to what `read_changes`
    gives as ProfileRow.values; None when the warehouse is not DuckDB or a column's type is
    one it cannot render alike."""
    if type(con).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
        return None
    types = _column_types(con, source)
    pairs = []
    for name in source.columns:
        data_type = types.get(name.lower())
        rendered = data_type and _json_sql(f'"{name}"', data_type, source.types[name])
        if not rendered:
            return None
        pairs.append(f"'{name}', {rendered}")
    return f"CAST(json_object({', '.join(pairs)}) AS VARCHAR)"


def read_encoded(
    con, source: RowSource, after: Watermark | None, chunk_size: int, values_sql: str
) -> Iterator[EncodedChunk]:
    """`read_changes`, with the values encoded by the warehouse (`encoded_values_sql`)."""
    key = f'CAST("{source.key_column}" AS VARCHAR)'
    stamp = f'CAST("{source.timestamp_column}" AS TIMESTAMP)'
    for where, params in _ranges(con, source, after):
        cursor = con.execute(
            f"select {key}, strftime({stamp}, '%Y-%m-%dT%H:%M:%S.%f'), "
            f"(epoch_us({stamp}) + 999) // 1000, {values_sql} "
            f"from {source.relation} where {where} order by {stamp}, {key}",
            params,
        )
        while batch := cursor.fetchmany(chunk_size):
            keys, updated_at, updated_ms, values = map(list, zip(*batch, strict=True))
            yield EncodedChunk(keys, updated_at, updated_ms, values)


def count_changes(con, source: RowSource, after: Watermark | None) -> int:
    where, params = _changed(source, after)
    return con.execute(f"select count(*) from {source.relation} where {where}", params).fetchone()[
        0
    ]
