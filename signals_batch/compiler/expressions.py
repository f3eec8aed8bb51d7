"""SQL pieces for one group: how each property, criterion and event match is read.

Everything here returns model text: plain SQL glue around calls of the dispatched
`signals_batch.*` macros, so the same text runs on every warehouse. Values written in
definitions reach SQL only through `signals_batch.string_literal`, as Jinja string
literals (JSON-escaped), never spliced as SQL.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from signals_batch.definitions.models import (
    AtomicProperty,
    Attribute,
    AttributeGroup,
    CalculatedProperty,
    Criteria,
    Criterion,
    EntityProperty,
    Event,
    EventProperty,
)

# Columns every model needs from the atomic events table, whatever the definitions say.
BASE_COLUMNS = (
    "event_id",
    "load_tstamp",
    "collector_tstamp",
    "derived_tstamp",
    "event_vendor",
    "event_name",
    "event_version",
)


# Cast to the warehouse's timestamp type by deduplicated_events, so typed in every model.
TYPED_TIMESTAMP_COLUMNS = frozenset({"derived_tstamp", "collector_tstamp", "load_tstamp"})


def jinja_string(value: str) -> str:
    """A Jinja string literal holding exactly `value` (Jinja reads Python-style escapes)."""
    return json.dumps(value, ensure_ascii=False)


def call(name: str, *args: str) -> str:
    """A Jinja expression calling macro `signals_batch.<name>`; args are Jinja expressions."""
    return "signals_batch.%s(%s)" % (name, ", ".join(args))


def macro(name: str, *args: str) -> str:
    """A `{{ signals_batch.<name>(...) }}` call rendered into the model text."""
    return "{{ %s }}" % call(name, *args)


def sql_string(value: str) -> str:
    return macro("string_literal", jinja_string(value))


def sql_number(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers in definitions must be finite")
    return repr(value) if isinstance(value, float) else str(int(value))


def loader_snake_case(text: str) -> str:
    """A schema vendor or name as Snowplow's loaders spell it in column names (schema-ddl's
    snake case): `org.w3` / `PerformanceTiming` -> `org_w3` / `performance_timing`,
    `pageURLPath` -> `page_url_path`; dots and dashes become `_`, then lower case."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[.\-]", "_", text).lower()


def _column_name(kind: str, vendor: str, name: str, major: int) -> str:
    prefix = "contexts" if kind == "entity" else "unstruct_event"
    return f"{prefix}_{loader_snake_case(vendor)}_{loader_snake_case(name)}_{major}"


def json_path(path: str, index: int | None) -> str:
    """`items[0].price` -> `$[index]."items"[0]."price"` (keys quoted, so `-` is fine)."""
    parts = []
    for key in path.split("."):
        name, _, rest = key.partition("[")
        parts.append(f'"{name}"' + (f"[{rest}" if rest else ""))
    head = "$" if index is None else f"$[{index}]"
    return head + "." + ".".join(parts)


def property_column(prop: AtomicProperty | EntityProperty | EventProperty) -> str:
    """The atomic events column a leaf property reads."""
    if isinstance(prop, AtomicProperty):
        return prop.name
    if prop.column:
        return prop.column
    assert prop.vendor and prop.name and prop.major_version
    return _column_name(prop.type, prop.vendor, prop.name, prop.major_version)


def leaf_text_sql(prop: AtomicProperty | EntityProperty | EventProperty) -> str:
    column = property_column(prop)
    if isinstance(prop, AtomicProperty):
        return macro("as_text", jinja_string(column))
    index = (prop.index or 0) if isinstance(prop, EntityProperty) else None
    return macro("json_text", jinja_string(column), jinja_string(json_path(prop.path, index)))


@dataclass
class PropertyTable:
    """Distinct properties of a group, each computed once per event as `p<n>` (text).

    Leaves are read into `l<n>` columns first; properties built from other properties
    (date parts, calculated) sit one level above their inputs, so every SQL expression
    only names columns of the level below it, never nested SQL or lateral aliases.
    """

    leaves: dict[str, str] = field(default_factory=dict)  # leaf sql -> alias
    props: dict[str, str] = field(default_factory=dict)  # prop sql -> alias
    level: dict[str, int] = field(default_factory=dict)  # alias -> level (leaves are 0)
    columns: dict[str, set[str]] = field(default_factory=dict)  # source column -> users
    numbers: set[str] = field(default_factory=set)  # prop aliases needing a `_n` column

    def _leaf(self, prop, user: str) -> str:
        self.columns.setdefault(property_column(prop), set()).add(user)
        alias = self.leaves.setdefault(leaf_text_sql(prop), f"l{len(self.leaves)}")
        self.level[alias] = 0
        return alias

    def _derive(self, sql: str, inputs: list[str]) -> str:
        alias = self.props.setdefault(sql, f"p{len(self.props)}")
        self.level[alias] = 1 + max(self.level[i] for i in inputs)
        return alias

    def _date_part(self, alias: str, date_part: str | None) -> str:
        if not date_part:
            return alias
        sql = macro("date_part_text", jinja_string(alias), jinja_string(date_part))
        return self._derive(sql, [alias])

    def _timestamp_part(self, prop, user: str) -> str | None:
        """A date part of derived/collector/load_tstamp (which every model reads as the
        warehouse's timestamp type), from the timestamp itself: the same value as from its
        text, without printing and parsing every timestamp."""
        if not (
            isinstance(prop, AtomicProperty)
            and prop.date_part
            and prop.name in TYPED_TIMESTAMP_COLUMNS
        ):
            return None
        self.columns.setdefault(prop.name, set()).add(user)
        sql = macro("timestamp_part_text", jinja_string(prop.name), jinja_string(prop.date_part))
        alias = self.props.setdefault(sql, f"p{len(self.props)}")
        self.level[alias] = 1
        return alias

    def _input(self, prop, user: str) -> str:
        typed = self._timestamp_part(prop, user)
        return typed or self._date_part(self._leaf(prop, user), prop.date_part)

    def add(self, prop, user: str) -> str:
        """Register a property; return the alias of its text column."""
        if isinstance(prop, CalculatedProperty):
            inputs = [self._input(p, user) for p in prop.properties]
            alias = self._derive(_calculated_sql(prop, [jinja_string(i) for i in inputs]), inputs)
        elif typed := self._timestamp_part(prop, user):
            return typed
        else:
            leaf = self._leaf(prop, user)
            # A plain leaf still gets a `p` alias, so every property is read the same way.
            alias = self._derive(leaf, [leaf])
        return self._date_part(alias, prop.date_part)

    def levels(self) -> list[list[tuple[str, str]]]:
        """[(alias, sql)] of the properties, one list per level, lowest first."""
        depth = max((self.level[a] for a in self.props.values()), default=0)
        return [
            [(a, sql) for sql, a in self.props.items() if self.level[a] == n]
            for n in range(1, depth + 1)
        ]

    def number(self, alias: str) -> str:
        self.numbers.add(alias)
        return f"{alias}_n"


def _calculated_sql(prop: CalculatedProperty, leaves: list[str]) -> str:
    names = [json.loads(leaf) for leaf in leaves]  # plain column aliases
    numbers = [call("to_number", leaf) for leaf in leaves]
    if prop.operation == "concat":
        return macro(
            "concat_non_null", "[" + ", ".join(leaves) + "]", jinja_string(prop.separator or "")
        )
    if prop.operation == "coalesce":
        return "coalesce(" + ", ".join(names) + ")"
    if prop.operation in ("sum", "product"):
        # NULL unless every leaf is a number: plain SQL arithmetic does exactly that.
        joiner = jinja_string(" + " if prop.operation == "sum" else " * ")
        expression = f" ~ {joiner} ~ ".join(numbers)
        return macro("as_text", f'"(" ~ {expression} ~ ")"')
    # min / max over the numeric leaves, ignoring the others
    fn = "least_non_null" if prop.operation == "min" else "greatest_non_null"
    return macro("as_text", call(fn, "[" + ", ".join(numbers) + "]"))


# --------------------------------------------------------------------------- matching


def event_match_sql(events: list[Event]) -> str:
    """Whether an event is one of `events` (major version only); empty list = every event."""
    if not events:
        return "true"
    alternatives = []
    for event in events:
        # vendor and name are validated to [A-Za-z0-9_.-], so quoting them is enough.
        terms = []
        if event.vendor:
            terms.append(f"event_vendor = '{event.vendor}'")
        if event.name:
            terms.append(f"event_name = '{event.name}'")
        if event.major:
            terms.append(f"event_major = '{event.major}'")
        alternatives.append("(" + " and ".join(terms) + ")")
    return "(" + " or ".join(alternatives) + ")"


def _value_sql(value: bool | int | float | str) -> tuple[str, str]:
    """(kind, literal) of one criterion value."""
    if isinstance(value, bool):
        return "bool", "true" if value else "false"
    if isinstance(value, int | float):
        return "number", sql_number(value)
    return "string", sql_string(value)


def criterion_sql(criterion: Criterion, table: PropertyTable, user: str) -> str:
    text = table.add(criterion.property, user)
    op = criterion.operator
    if op in ("is null", "is not null"):
        return f"{text} {op}"
    values = criterion.value if isinstance(criterion.value, list) else [criterion.value]
    kind = _value_sql(values[0])[0]
    if kind == "number":
        operand = table.number(text)
    elif kind == "bool":
        operand = macro("to_bool", jinja_string(text))
    else:
        operand = text
    literals = [_value_sql(v)[1] for v in values]
    if op in ("in", "not in"):
        return f"coalesce({operand} {op} ({', '.join(literals)}), false)"
    if op == "like":
        return "coalesce(%s, false)" % macro("like", jinja_string(operand), jinja_string(values[0]))
    if op == "not like":
        return "coalesce(not (%s), false)" % macro(
            "like", jinja_string(operand), jinja_string(values[0])
        )
    return f"coalesce({operand} {op} {literals[0]}, false)"


def criteria_sql(criteria: Criteria | None, table: PropertyTable, user: str) -> str:
    if criteria is None:
        return "true"
    groups = []
    if criteria.all:
        groups.append("(" + " and ".join(criterion_sql(c, table, user) for c in criteria.all) + ")")
    if criteria.any:
        groups.append("(" + " or ".join(criterion_sql(c, table, user) for c in criteria.any) + ")")
    return " and ".join(groups)


def describe(group: AttributeGroup, attribute: Attribute | None = None) -> str:
    """How an error message names a definition."""
    if attribute is None:
        return f"group {group.ident}"
    return f"{group.ident}.{attribute.name}"
