"""Attribute group definitions: pydantic models in the JSON shape of the Signals API.

A group published with the `snowplow-signals` SDK (its `model_dump()` or the API's
JSON) validates here as-is; so do the YAML files users write by hand, which may
also use the short string form of a property (`contexts_x_1[0]:a.b`).
"""

from __future__ import annotations

import builtins
import math
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from signals_batch.definitions.atomic import ATOMIC_COLUMNS, ATOMIC_TIMESTAMP_COLUMNS

NAME_PATTERN = r"^[A-Za-z0-9_]+$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=1, max_length=128)]
SchemaName = Annotated[
    str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]+$", min_length=1, max_length=128)
]
Vendor = Annotated[
    str, StringConstraints(pattern=r"^[a-zA-Z0-9_.-]+$", min_length=1, max_length=128)
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=255)]

# A JSON path: optional `$.`, dot-separated keys, each optionally followed by `[n]`.
_PATH_KEY = r"[A-Za-z0-9_-]+(\[[0-9]+\])*"
PATH_PATTERN = re.compile(rf"^(\$\.)?{_PATH_KEY}(\.{_PATH_KEY})*$")

ScalarType = Literal[
    "string", "int32", "int64", "float", "double", "bool", "unix_timestamp", "timestamp", "bytes"
]
ListType = Literal[
    "string_list",
    "int32_list",
    "int64_list",
    "float_list",
    "double_list",
    "bool_list",
    "unix_timestamp_list",
    "timestamp_list",
    "bytes_list",
]
# One flat Literal, so an unknown type is one problem listing every valid type.
AttributeType = Literal[ScalarType, ListType, "dict"]

Aggregation = Literal[
    "counter",
    "sum",
    "min",
    "max",
    "mean",
    "first",
    "last",
    "unique_list",
    "most_frequent",
    "least_frequent",
    "category_count",
    "approx_count_distinct",
    "time_since_first",
    "time_since_last",
]
DatePart = Literal[
    "active_day", "active_week", "active_month", "hour_of_day", "day_of_week", "month_of_year"
]
Operator = Literal[
    "=", "!=", "<", ">", "<=", ">=", "like", "not like", "in", "not in", "is null", "is not null"
]

NUMERIC_TYPES = {"int32", "int64", "float", "double", "unix_timestamp"}
INT_TYPES = {"int32", "int64", "unix_timestamp"}
MAX_PERIOD_DAYS = 36525  # 100 years: windows are dates, and warehouses' dates end


def _no_months_or_years(value: Any) -> Any:
    """Months and years have no fixed length, so a window of `P1M` would be a guess."""
    if isinstance(value, str):
        date_part = value.upper().split("T", 1)[0]
        if date_part.startswith("P") and re.search(r"[0-9][YM]", date_part):
            raise ValueError(
                f"duration {value!r} uses months or years, which have no fixed length; "
                "write it in days or weeks (e.g. P30D)"
            )
    return value


Duration = Annotated[timedelta, BeforeValidator(_no_months_or_years)]


class _Model(BaseModel):
    # Typos (`aggregaton: sum`) must fail loudly rather than be ignored.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- properties


class AtomicProperty(_Model):
    type: Literal["atomic"] = "atomic"
    name: str
    date_part: DatePart | None = None

    @field_validator("name")
    @classmethod
    def _known_column(cls, name: str) -> str:
        if name not in ATOMIC_COLUMNS:
            raise ValueError(
                f"unknown atomic column {name!r}; use a column of the atomic events table "
                "(e.g. page_urlpath, geo_country, se_value) or an entity/event property"
            )
        return name

    @model_validator(mode="after")
    def _date_part_on_timestamps(self) -> AtomicProperty:
        if self.date_part and self.name not in ATOMIC_TIMESTAMP_COLUMNS:
            raise ValueError(
                f"date_part {self.date_part!r} needs a date-time column (a *_tstamp column), "
                f"not {self.name!r}"
            )
        return self


def iso_duration(value: timedelta) -> str:
    """`P7D`, `PT5H`, `PT1H30M`, `-P7D`: a timedelta as ISO-8601, for messages."""
    seconds = value.total_seconds()
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n:g}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    text = (f"{int(days)}D" if days else "") + (f"T{time}" if time else "")
    return f"{sign}P{text or '0D'}"


def _check_path(path: str) -> str:
    if not PATH_PATTERN.match(path):
        raise ValueError(
            f"invalid path {path!r}: use dot-separated keys of letters, digits, '_' or '-', "
            "each optionally followed by [n] (e.g. items[0].price)"
        )
    return path[2:] if path.startswith("$.") else path


class _SelfDescribingProperty(_Model):
    vendor: Vendor | None = None
    name: SchemaName | None = None
    major_version: Annotated[int, Field(gt=0)] | None = None
    path: str
    date_part: DatePart | None = None
    # Set by the short string form, which names the column rather than the schema.
    column: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")] | None = None

    _validate_path = field_validator("path")(classmethod(lambda cls, v: _check_path(v)))

    @model_validator(mode="after")
    def _schema_or_column(self):
        if self.column is None:
            if None in (self.vendor, self.name, self.major_version):
                raise ValueError(f"an {self.type} property needs vendor, name and major_version")
            return self
        prefix = "contexts_" if self.type == "entity" else "unstruct_event_"
        if not re.fullmatch(rf"{prefix}[a-z0-9_]+_[0-9]+", self.column):
            raise ValueError(
                f"column {self.column!r} is not an {self.type} column: expected "
                f"{prefix}<vendor>_<name>_<major>"
            )
        return self


class EntityProperty(_SelfDescribingProperty):
    type: Literal["entity"] = "entity"
    index: Annotated[int, Field(ge=0)] | None = 0


class EventProperty(_SelfDescribingProperty):
    type: Literal["event"] = "event"


LeafProperty = Annotated[
    AtomicProperty | EntityProperty | EventProperty, Field(discriminator="type")
]


class CalculatedProperty(_Model):
    type: Literal["calculated"] = "calculated"
    operation: Literal["concat", "sum", "product", "min", "max", "coalesce"]
    properties: Annotated[
        list[Annotated[LeafProperty, BeforeValidator(lambda v: parse_property(v))]],
        Field(min_length=1, max_length=50),
    ]
    separator: Annotated[str, StringConstraints(max_length=16)] | None = None
    date_part: DatePart | None = None


_SHORT_FORM = re.compile(
    r"^(?P<column>(?P<kind>contexts|unstruct_event)_[a-z0-9_]+?_(?P<major>[0-9]+))"
    r"(\[(?P<index>[0-9]+)\])?:(?P<path>.+)$"
)


def parse_property(value: Any) -> Any:
    """Turn the short string form into the dict form; leave anything else as it is."""
    if isinstance(value, BaseModel) and not isinstance(value, _Model):
        value = value.model_dump(exclude_none=True, warnings=False)  # an SDK object
    if not isinstance(value, str):
        return value
    text = value.strip()
    match = _SHORT_FORM.match(text)
    if match:
        kind = "entity" if match["kind"] == "contexts" else "event"
        prop: dict[str, Any] = {"type": kind, "column": match["column"], "path": match["path"]}
        if kind == "entity":
            prop["index"] = int(match["index"] or 0)
        elif match["index"] is not None:
            raise ValueError(f"{text!r}: an unstruct_event column holds one object, not a list")
        return prop
    if re.fullmatch(r"[a-z0-9_]+", text):
        return {"type": "atomic", "name": text}
    raise ValueError(
        f"cannot read property {text!r}: write an atomic column (geo_country), "
        "`contexts_<vendor>_<name>_<major>[i]:path` or "
        "`unstruct_event_<vendor>_<name>_<major>:path`"
    )


Property = Annotated[
    Annotated[
        AtomicProperty | EntityProperty | EventProperty | CalculatedProperty,
        Field(discriminator="type"),
    ],
    BeforeValidator(parse_property),
]

# --------------------------------------------------------------------------- criteria

Scalar = bool | int | float | str


class Criterion(_Model):
    property: Property
    operator: Operator
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Criterion:
        op, value = self.operator, self.value
        if op in ("is null", "is not null"):
            if value is not None:
                raise ValueError(f"operator {op!r} takes no value")
        elif op in ("in", "not in"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"operator {op!r} needs a non-empty list value")
            kinds = {_value_kind(v) for v in value}
            if len(kinds) > 1:
                raise ValueError(f"the list for {op!r} mixes {sorted(kinds)} values")
        elif value is None or isinstance(value, list):
            raise ValueError(f"operator {op!r} needs one value (a string, number or bool)")
        elif op in ("like", "not like") and not isinstance(value, str):
            raise ValueError(f"operator {op!r} needs a string pattern, not {value!r}")
        elif op in ("<", ">", "<=", ">=") and isinstance(value, bool):
            raise ValueError(f"operator {op!r} cannot compare with a bool")
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise ValueError("criteria values must be finite numbers")
        return self


def _value_kind(value: Scalar) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


class Criteria(_Model):
    all: list[Criterion] | None = None
    any: list[Criterion] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Criteria:
        if not self.all and not self.any:
            raise ValueError("criteria need at least one criterion under `all` or `any`")
        return self


# --------------------------------------------------------------------------- attributes


class Event(_Model):
    vendor: Vendor | None = None
    name: SchemaName | None = None
    version: Annotated[str, StringConstraints(pattern=r"^[0-9]+-[0-9]+-[0-9]+$")] | None = None
    event_specification_id: str | None = None

    @model_validator(mode="after")
    def _named(self) -> Event:
        if self.event_specification_id is not None:
            raise ValueError(
                "event_specification_id is not supported by the batch engine; "
                "give vendor, name and version instead"
            )
        if not self.vendor and not self.name:
            raise ValueError("an event needs at least a vendor or a name")
        return self

    @property
    def major(self) -> str | None:
        return self.version.split("-")[0] if self.version else None


def _period_days(period: timedelta | None) -> int | None:
    if period is None:
        return None
    seconds = period.total_seconds()
    if seconds <= 0 or seconds % 86400:
        raise ValueError(
            f"period {iso_duration(period)} is not a positive whole number of days; batch "
            "windows are whole UTC days (e.g. P7D, P2W, PT48H)"
        )
    days = int(seconds // 86400)
    if days > MAX_PERIOD_DAYS:
        raise ValueError(
            f"period {iso_duration(period)} is longer than 100 years ({MAX_PERIOD_DAYS} days); "
            "for every event since start_date, leave the period out"
        )
    return days


_NEEDS_LIST_TYPE = {"unique_list"}
_NEEDS_DICT_TYPE = {"category_count"}
_NEEDS_NUMBER_TYPE = {
    "counter",
    "sum",
    "mean",
    "approx_count_distinct",
    "time_since_first",
    "time_since_last",
}


def _scalar_fits(value: Any, typ: str) -> bool:
    """Whether a default value can stand for a value of scalar type `typ`."""
    if isinstance(value, list | dict):
        return False
    if typ in ("string", "bytes"):
        return True
    if typ == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if typ in NUMERIC_TYPES and isinstance(value, int | float):
        return _number_fits(value, typ)
    if typ in ("timestamp", "unix_timestamp") and isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    return False


# what the warehouse columns of these types hold (FLOAT is 32-bit on DuckDB and BigQuery)
_INT_RANGES = {t: (-(2**63), 2**63 - 1) for t in ("int64", "unix_timestamp")} | {
    "int32": (-(2**31), 2**31 - 1)
}
_FLOAT32_MAX = 3.4028234663852886e38


def _number_fits(value: int | float, typ: str) -> bool:
    if not math.isfinite(value):
        return False
    if typ in _INT_RANGES:
        low, high = _INT_RANGES[typ]
        return (isinstance(value, int) or value.is_integer()) and low <= value <= high
    return typ != "float" or abs(value) <= _FLOAT32_MAX


def _fit_hint(typ: str) -> str:
    if typ in _INT_RANGES:
        low, high = _INT_RANGES[typ]
        return f" (a whole number from {low} to {high})"
    return " (at most 3.4e38 in size)" if typ == "float" else ""


def _default_problem(value: Any, typ: str) -> str | None:
    """Why `value` cannot be the default of an attribute of type `typ` (None: it can)."""
    if typ == "dict":
        return None if isinstance(value, dict) else "is not a mapping (the type is 'dict')"
    if typ.endswith("_list"):
        items = value if isinstance(value, list) else [value]
        element = typ.removesuffix("_list")
        bad = [v for v in items if not _scalar_fits(v, element)]
        return f"holds values that are not {element}{_fit_hint(element)}: {bad!r}" if bad else None
    if _scalar_fits(value, typ):
        return None
    return f"does not fit type {typ!r}{_fit_hint(typ)}"


class Attribute(_Model):
    name: Name
    description: str | None = None
    type: AttributeType
    events: list[Event] = Field(default_factory=list)
    aggregation: Aggregation
    property: Property | None = None
    criteria: Criteria | None = None
    period: Duration | None = None
    default_value: Scalar | list[Scalar] | dict[str, Any] | None = None
    time_unit: Literal["s", "min", "h", "d"] | None = None
    ttl: Duration | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Attribute:
        agg, typ = self.aggregation, self.type
        if agg != "counter" and self.property is None:
            raise ValueError(f"aggregation {agg!r} requires a property to be set")
        _period_days(self.period)
        if agg.startswith("time_since_"):
            if self.time_unit is None:
                raise ValueError(f"aggregation {agg!r} requires time_unit (s, min, h or d)")
        elif self.time_unit is not None:
            raise ValueError(
                f"time_unit is only valid for time_since_first/time_since_last, not {agg!r}"
            )
        if self.ttl is not None and self.period is not None:
            raise ValueError("ttl can only be set on a lifetime attribute (one without period)")
        if agg in _NEEDS_LIST_TYPE and not typ.endswith("_list"):
            raise ValueError(f"aggregation {agg!r} returns a list: use a *_list type, not {typ!r}")
        if agg in _NEEDS_DICT_TYPE and typ != "dict":
            raise ValueError(f"aggregation {agg!r} returns a dict: use type 'dict', not {typ!r}")
        if agg in _NEEDS_NUMBER_TYPE and typ not in NUMERIC_TYPES:
            raise ValueError(
                f"aggregation {agg!r} returns a number: use an int or float type, not {typ!r}"
            )
        if agg not in _NEEDS_LIST_TYPE | _NEEDS_DICT_TYPE and (
            typ.endswith("_list") or typ == "dict"
        ):
            raise ValueError(f"aggregation {agg!r} returns one value: {typ!r} does not fit")
        if self.default_value is not None:
            problem = _default_problem(self.default_value, typ)
            if problem:
                raise ValueError(f"default_value {self.default_value!r} {problem}")
        return self

    # A field is called `property`, so the builtin is out of reach in this class body.
    period_days = builtins.property(lambda self: _period_days(self.period))


# --------------------------------------------------------------------------- groups

BUILTIN_KEYS = {"domain_userid", "domain_sessionid", "user_id", "network_userid"}
KEY_ALIASES = {"user": "domain_userid", "session": "domain_sessionid"}


class AttributeKey(_Model):
    name: Name | None = None
    description: str | None = None
    key: str | None = None  # the SDK's deprecated alias of name
    external_column: str | None = None
    property: Property | None = None
    owner: str | None = None
    ttl: Duration | None = None
    is_published: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        return value

    @model_validator(mode="after")
    def _resolve_name(self) -> AttributeKey:
        if self.name is None:
            self.name = self.external_column or self.key
            if self.name is None and isinstance(self.property, AtomicProperty):
                self.name = self.property.name
        if self.name is None:
            raise ValueError("the attribute key needs a name")
        if self.property is None:
            self.name = KEY_ALIASES.get(self.name, self.name)
            if self.name not in BUILTIN_KEYS and self.external_column is None:
                raise ValueError(
                    f"unknown attribute key {self.name!r}: use one of "
                    f"{', '.join(sorted(BUILTIN_KEYS))} or give the key a property"
                )
        elif isinstance(self.property, CalculatedProperty):
            raise ValueError("an attribute key property cannot be a calculated property")
        return self


class BatchSource(_Model):
    name: Name
    database: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    schema_: Annotated[Name, Field(alias="schema")]
    table: Name
    timestamp_field: Name
    description: str | None = None
    owner: str | None = None


class FieldDefinition(_Model):
    name: Name
    type: AttributeType
    description: str | None = None


# Fields of the SDK's group objects that say nothing about the computation.
_SDK_ONLY_FIELDS = ("is_published", "offline", "backfill_since_tstamp", "refresh_rate")


class AttributeGroup(_Model):
    name: Name
    # strict: `"1"` or `true` is not a version
    version: Annotated[int, Field(gt=0, strict=True)] = 1
    type: Literal["batch", "external_batch", "stream"] = "batch"
    attribute_key: AttributeKey
    owner: Email
    description: str | None = None
    ttl: Duration | None = None
    online: bool | None = False
    attributes: list[Attribute] | None = None
    batch_source: BatchSource | None = None
    fields: list[FieldDefinition] | None = None

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, value: Any) -> Any:
        """SDK objects carry no `type`: derive it from `offline` and `fields`."""
        if not isinstance(value, dict):
            return value
        value = dict(value)
        offline = value.get("offline")
        for field in _SDK_ONLY_FIELDS:
            value.pop(field, None)
        if "type" not in value:
            if value.get("fields"):
                value["type"] = "external_batch"
            elif offline is False:
                value["type"] = "stream"
        return value

    @model_validator(mode="after")
    def _shape(self) -> AttributeGroup:
        if self.type == "external_batch":
            if self.attributes:
                raise ValueError("an external_batch group has `fields`, not `attributes`")
            if not self.fields:
                raise ValueError("an external_batch group needs `fields` (its table's columns)")
            if self.batch_source is None:
                raise ValueError("an external_batch group needs `batch_source`")
            names = [f.name for f in self.fields]
        else:
            key = self.attribute_key
            # (stream groups are skipped, so the key of one is none of our business)
            if self.type == "batch" and key.property is None and key.name not in BUILTIN_KEYS:
                raise ValueError(
                    f"attribute_key: {key.name!r} is not a column of the events: a batch "
                    f"group's key is one of {', '.join(sorted(BUILTIN_KEYS))} or has a property "
                    "(external_column is for external_batch groups)"
                )
            if self.fields:
                raise ValueError(f"a {self.type} group has `attributes`, not `fields`")
            if not self.attributes:
                raise ValueError(f"a {self.type} group needs at least one attribute")
            names = [a.name for a in self.attributes]
        kind = "field" if self.type == "external_batch" else "attribute"
        key_name = (self.attribute_key.name or "").lower()
        clash = next((n for n in names if n.lower() == key_name), None)
        if clash is not None:
            raise ValueError(
                f"{kind} {clash!r} has the name of the attribute key, which is the key column "
                "of the output table (compared without case); rename the " + kind
            )
        return self

    @field_validator("attributes", "fields")
    @classmethod
    def _column_names(cls, items: list[Any] | None, info: ValidationInfo) -> list[Any] | None:
        """Checked on the list itself, so they are reported with the group's other problems."""
        names = [item.name for item in items or []]
        # warehouses do not tell column names apart by case: `A` and `a` are one column
        folded = [n.lower() for n in names]
        duplicates = sorted({n for n in names if folded.count(n.lower()) > 1})
        if duplicates:
            raise ValueError(
                f"names used twice in the group: {', '.join(duplicates)} (column names are "
                "compared without case in the warehouse)"
            )
        if "updated_at" in folded:
            kind = info.field_name.removesuffix("s") if info.field_name else "attribute"
            raise ValueError(
                f"{kind} 'updated_at' collides with the output table's updated_at column; "
                "rename the " + kind
            )
        return items

    @property
    def table_name(self) -> str:
        return f"{self.name}_v{self.version}_attributes"

    @property
    def key_name(self) -> str:
        assert self.attribute_key.name is not None
        return self.attribute_key.name

    @property
    def ident(self) -> str:
        """The group's name and version, as `<name>_v<version>` (models and state use it)."""
        return f"{self.name}_v{self.version}"
