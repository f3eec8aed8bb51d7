"""The plan of one batch group's two models: daily partial aggregates and the attribute table.

Each aggregation splits into a partial computed per (key, event day) and a rule that
combines partials over an attribute's window. Partials only grow with new events, so a
run reads this run's events plus the partials of the keys it touches, never the history.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from signals_batch.compiler.expressions import (
    BASE_COLUMNS,
    PropertyTable,
    call,
    criteria_sql,
    event_match_sql,
    jinja_string,
    leaf_text_sql,
    macro,
    property_column,
)
from signals_batch.definitions.models import (
    NUMERIC_TYPES,
    AtomicProperty,
    Attribute,
    AttributeGroup,
)

VALUE_COUNT_AGGREGATIONS = {
    "unique_list",
    "approx_count_distinct",
    "most_frequent",
    "least_frequent",
    "category_count",
}
UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400}
# sums of doubles: a function whose result does not depend on the order (macros/aggregates.sql)
DOUBLE_SUM = macro("double_sum")


def comparison_domain(attribute: Attribute) -> str:
    """How min/max compare: as numbers, unix seconds (numbers and timestamps, both read as
    whole seconds), timestamps or text (docs/semantics-notes.md)."""
    if attribute.type == "unix_timestamp":
        return "unix_seconds"
    if attribute.type in NUMERIC_TYPES:
        return "number"
    if attribute.type == "timestamp":
        return "timestamp"
    return "text"


@dataclass
class AttributePlan:
    index: int
    attribute: Attribute
    value_alias: str | None  # text column of the property, if any
    number_alias: str | None  # numeric column of the property, if used
    daily_columns: list[tuple[str, str]] = field(default_factory=list)
    value_of: int | None = None  # its ValuePartial, for the value-count aggregations

    @property
    def name(self) -> str:
        return self.attribute.name

    @property
    def alias(self) -> str:
        return f"a{self.index}"

    @property
    def window(self) -> str:
        """Name of the Jinja variable holding this attribute's window condition."""
        days = self.attribute.period_days
        return f"window_{days}d" if days else "window_lifetime"

    @property
    def uses_value_counts(self) -> bool:
        return self.attribute.aggregation in VALUE_COUNT_AGGREGATIONS

    @property
    def is_lifetime(self) -> bool:
        return not self.attribute.period_days

    @property
    def merged_columns(self) -> list[tuple[str, str]]:
        """(daily column, the function that combines it over days) of its partials."""
        agg = self.attribute.aggregation
        return [(alias, combining_function(agg, alias)) for alias, _ in self.daily_columns]


def combining_function(aggregation: str, column: str) -> str:
    """The aggregate that combines a daily partial column over days (and runs)."""
    if column.endswith("_s"):
        return DOUBLE_SUM
    if aggregation in ("first", "time_since_first"):
        return "min"
    if aggregation in ("last", "time_since_last"):
        return "max"
    if aggregation in ("min", "max"):
        return aggregation
    return "sum"


@dataclass(frozen=True)
class ValuePartial:
    """(key, day, value, count) rows of one property under one match: the partial of every
    value-count aggregation of the group over that pair (unique_list and most_frequent of
    the same property and events share it). They are rows of the daily table, not a
    per-day map: a GROUP BY counts values far faster than a map-building aggregate."""

    match: str  # flag column (m<i>) of the first attribute using it
    value: str  # text column of the property
    users: tuple[str, ...]
    one_per_day: bool = False  # every event of a key and event day has the same value


# The day, week and month of derived_tstamp are one value per event day (event_day is
# derived_tstamp's date), so their value counts come from the key-and-day aggregate.
_DAY_VALUED_DATE_PARTS = {"active_day", "active_week", "active_month"}


def _one_value_per_day(attribute: Attribute) -> bool:
    prop = attribute.property
    return (
        isinstance(prop, AtomicProperty)
        and prop.name == "derived_tstamp"
        and prop.date_part in _DAY_VALUED_DATE_PARTS
    )


@dataclass
class GroupPlan:
    group: AttributeGroup
    source_name: str
    key_sql: str
    properties: PropertyTable
    matches: list[str]
    attributes: list[AttributePlan]
    value_partials: list[ValuePartial] = field(default_factory=list)

    @property
    def ident(self) -> str:
        return self.group.ident

    @property
    def day_valued_partials(self) -> list[tuple[int, ValuePartial]]:
        """(signals_value_of, partial) of the value partials with one value per key and day."""
        return [(i, p) for i, p in enumerate(self.value_partials) if p.one_per_day]

    @property
    def other_value_partials(self) -> list[tuple[int, ValuePartial]]:
        return [(i, p) for i, p in enumerate(self.value_partials) if not p.one_per_day]

    @property
    def daily_model(self) -> str:
        return f"{self.group.ident}_daily"

    @property
    def attributes_model(self) -> str:
        return self.group.table_name

    @property
    def definition_hash(self) -> str:
        """A digest of what the group's values depend on (its key and attributes, not their
        descriptions or ttl): a run that finds another one recorded rebuilds the group."""
        group = self.group
        data = {
            "attribute_key": group.attribute_key.model_dump(
                mode="json", exclude_defaults=True, exclude={"description", "owner", "ttl"}
            ),
            "attributes": [
                a.model_dump(mode="json", exclude_defaults=True, exclude={"description", "ttl"})
                for a in group.attributes or []
            ],
        }
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def models(self) -> list[str]:
        """The group's dbt models, in the order they run."""
        return [self.daily_model, *filter(None, [self.lifetime_model]), self.attributes_model]

    @property
    def key_name(self) -> str:
        return self.group.key_name

    @property
    def leaves(self) -> list[tuple[str, str]]:
        return [(alias, sql) for sql, alias in self.properties.leaves.items()]

    @property
    def prop_levels(self) -> list[list[tuple[str, str]]]:
        return self.properties.levels()

    @property
    def last_props(self) -> str:
        levels = len(self.prop_levels)
        return f"props_{levels}" if levels else "leaves"

    @property
    def numbers(self) -> list[str]:
        return sorted(self.properties.numbers, key=lambda a: int(a[1:]))

    @property
    def daily_columns(self) -> list[tuple[str, str]]:
        return [column for plan in self.attributes for column in plan.daily_columns]

    @property
    def period_days(self) -> list[int]:
        return sorted({a.attribute.period_days for a in self.attributes if a.attribute.period_days})

    @property
    def longest_period_days(self) -> int | None:
        """The longest window when every attribute has one (None: some attribute is lifetime):
        no partial older than that window can change a value of the group."""
        return None if self.lifetime_model else self.longest_window_days

    @property
    def longest_window_days(self) -> int | None:
        """The longest window of the group's attributes that have one."""
        return max(self.period_days, default=None)

    @property
    def lifetime_model(self) -> str | None:
        """The model combining each key's lifetime partials, for a group with a lifetime
        attribute: its runs then read a key's lifetime values from one row per key (and one
        per value counted) instead of every day of the key's history."""
        has_lifetime = any(a.is_lifetime for a in self.attributes)
        return f"{self.group.ident}_lifetime" if has_lifetime else None

    @property
    def lifetime_columns(self) -> list[tuple[str, str]]:
        """(daily column, combining function) of the lifetime attributes' partials."""
        return [c for a in self.attributes if a.is_lifetime for c in a.merged_columns]

    @property
    def lifetime_column_names(self) -> set[str]:
        return {alias for alias, _ in self.lifetime_columns}

    @property
    def lifetime_value_ofs(self) -> list[int]:
        """The value partials (signals_value_of) a lifetime attribute reads."""
        return sorted(
            {a.value_of for a in self.attributes if a.is_lifetime and a.value_of is not None}
        )

    @property
    def has_time_since(self) -> bool:
        return any(a.attribute.aggregation.startswith("time_since_") for a in self.attributes)

    @property
    def source_columns(self) -> dict[str, list[str]]:
        """Columns of the atomic events table the group reads, with who reads them."""
        return {c: sorted(users) for c, users in self.properties.columns.items()}


def _key_sql(group: AttributeGroup, table: PropertyTable) -> str:
    key = group.attribute_key
    if key.property is None:
        table.columns.setdefault(key.name, set()).add(f"{group.ident} attribute key")
        return macro("as_text", jinja_string(key.name))
    prop = key.property
    table.columns.setdefault(property_column(prop), set()).add(f"{group.ident} attribute key")
    return leaf_text_sql(prop)


def _daily_columns(plan: AttributePlan, match: str) -> list[tuple[str, str]]:
    """The partial aggregates of one attribute, per (key, event day)."""
    a, attr = plan.alias, plan.attribute
    value, number = plan.value_alias, plan.number_alias
    agg = attr.aggregation
    has_value = f"{match} and {value} is not null" if value else match
    if agg == "counter":
        return [(f"{a}_n", f"count(case when {has_value} then 1 end)")]
    if agg in ("sum", "mean"):
        columns = [(f"{a}_s", f"{DOUBLE_SUM}(case when {match} then {number} end)")]
        if agg == "mean":
            columns.append((f"{a}_c", f"count(case when {match} then {number} end)"))
        return columns
    if agg in ("min", "max"):
        domain = comparison_domain(attr)
        if domain == "number":
            expr = number
        elif domain == "timestamp":
            expr = macro("to_timestamp", jinja_string(value))
        elif domain == "unix_seconds":
            expr = macro("cast_text", jinja_string(value), jinja_string("unix_timestamp"))
        else:
            expr = value
        return [(f"{a}_m", f"{agg}(case when {match} then {expr} end)")]
    if agg in ("first", "last"):
        packed = call("pack_first", "'derived_tstamp'", "'event_id'", jinja_string(value))
        fn = "min" if agg == "first" else "max"
        aggregate = macro("filtered_aggregate", jinja_string(fn), packed, jinja_string(has_value))
        return [(f"{a}_f", aggregate)]
    if agg in VALUE_COUNT_AGGREGATIONS:
        return []  # ValuePartial rows
    if agg in ("time_since_first", "time_since_last"):
        fn = "min" if agg == "time_since_first" else "max"
        return [(f"{a}_t", f"{fn}(case when {has_value} then derived_tstamp end)")]
    raise AssertionError(f"unhandled aggregation {agg}")


def plan_group(group: AttributeGroup, source_name: str) -> GroupPlan:
    table = PropertyTable()
    key_sql = _key_sql(group, table)
    matches, plans = [], []
    for index, attribute in enumerate(group.attributes or []):
        user = f"{group.ident}.{attribute.name}"
        value_alias = table.add(attribute.property, user) if attribute.property else None
        number_alias = None
        if value_alias and (
            attribute.aggregation in ("sum", "mean")
            or (
                attribute.aggregation in ("min", "max") and comparison_domain(attribute) == "number"
            )
        ):
            number_alias = table.number(value_alias)
        criteria = criteria_sql(attribute.criteria, table, user)
        match = f"{event_match_sql(attribute.events)} and {criteria}"
        matches.append(match)
        plan = AttributePlan(index, attribute, value_alias, number_alias)
        plan.daily_columns = _daily_columns(plan, f"m{index}")
        plans.append(plan)
    return GroupPlan(
        group, source_name, key_sql, table, matches, plans, _value_partials(plans, matches)
    )


def _value_partials(plans: list[AttributePlan], matches: list[str]) -> list[ValuePartial]:
    """One ValuePartial per distinct (match condition, property); sets each plan's value_of."""
    found: dict[tuple[str, str], int] = {}
    partials: list[ValuePartial] = []
    for plan in plans:
        if not plan.uses_value_counts:
            continue
        assert plan.value_alias is not None  # value-count aggregations need a property
        pair = (matches[plan.index], plan.value_alias)
        if pair not in found:
            found[pair] = len(partials)
            one_per_day = _one_value_per_day(plan.attribute)
            partials.append(ValuePartial(f"m{plan.index}", plan.value_alias, (), one_per_day))
        plan.value_of = found[pair]
        partial = partials[plan.value_of]
        partials[plan.value_of] = ValuePartial(
            partial.match, partial.value, (*partial.users, plan.name), partial.one_per_day
        )
    return partials


# --------------------------------------------------------------------------- attribute stage


def window_sum(plan: AttributePlan, column: str) -> str:
    """The column's partials combined over the attribute's window."""
    fn = combining_function(plan.attribute.aggregation, column)
    return f"{fn}(case when {{{{ {plan.window} }}}} then {column} end)"


def combined_sql(plan: AttributePlan) -> str | None:
    """The attribute's raw value per key from the daily partials (in the `base` CTE).

    Value-count aggregations return None: they have a CTE of their own.
    """
    a, agg = plan.alias, plan.attribute.aggregation
    if agg == "counter":
        return f"coalesce({window_sum(plan, f'{a}_n')}, 0)"
    if agg == "sum":
        return f"coalesce({window_sum(plan, f'{a}_s')}, 0)"
    if agg == "mean":
        return f"{window_sum(plan, f'{a}_s')} / nullif({window_sum(plan, f'{a}_c')}, 0)"
    if agg in ("min", "max"):
        return window_sum(plan, f"{a}_m")
    if agg in ("first", "last"):
        return macro("unpack_first", _jinja_concat_sql(window_sum(plan, f"{a}_f")))
    if agg in ("time_since_first", "time_since_last"):
        stamp = window_sum(plan, f"{a}_t")
        seconds = (
            "{{ signals_batch.seconds_between(%s, signals_batch.timestamp_literal(window_end)) }}"
            % (_jinja_concat_sql(stamp))
        )
        return f"floor({seconds} / {UNIT_SECONDS[plan.attribute.time_unit]})"
    return None


def _jinja_concat_sql(sql: str) -> str:
    """SQL holding `{{ var }}` placeholders as one Jinja expression (`"..." ~ var ~ "..."`)."""
    parts, rest = [], sql
    while "{{ " in rest:
        before, _, after = rest.partition("{{ ")
        inner, _, rest = after.partition(" }}")
        parts.extend([jinja_string(before), inner])
    parts.append(jinja_string(rest))
    return " ~ ".join(p for p in parts if p != '""')


def value_count_sql(plan: AttributePlan) -> str:
    """The attribute's raw value per key from its (key, value, count) rows."""
    agg = plan.attribute.aggregation
    if agg == "unique_list":
        # sorted as text, each element cast to the list's element type
        return macro("sorted_list", "'v'", jinja_string(plan.attribute.type))
    if agg == "approx_count_distinct":
        return "count(*)"
    if agg in ("most_frequent", "least_frequent"):
        direction = "'desc'" if agg == "most_frequent" else "'asc'"
        return macro("value_by_count", "'v'", "'n'", direction)
    if agg == "category_count":
        return macro("sorted_object", "'v'", "'n'")
    raise AssertionError(agg)


def final_sql(plan: AttributePlan, raw: str) -> str:
    """Cast the raw value to the declared type and apply default_value."""
    attr = plan.attribute
    agg, type_name = attr.aggregation, attr.type
    r = _jinja_concat_sql(raw)
    if agg == "unique_list":
        value = f"coalesce({raw}, {macro('empty_list', jinja_string(type_name))})"
    elif agg == "category_count":
        value = f"coalesce({raw}, {macro('empty_object')})"
    elif agg == "approx_count_distinct":
        value = macro(
            "cast_number", _jinja_concat_sql(f"coalesce({raw}, 0)"), jinja_string(type_name)
        )
    elif agg in ("counter", "sum", "mean", "time_since_first", "time_since_last") or (
        agg in ("min", "max") and comparison_domain(attr) == "number"
    ):
        value = macro("cast_number", r, jinja_string(type_name))
    elif agg in ("min", "max") and comparison_domain(attr) in ("timestamp", "unix_seconds"):
        value = raw  # already of the declared type
    else:
        value = macro("cast_text", r, jinja_string(type_name))
    if attr.default_value is None:
        return value
    default = jinja_string(_json(attr.default_value))
    return macro(
        "apply_default", _jinja_concat_sql(value), f"fromjson({default})", jinja_string(type_name)
    )


def _json(value) -> str:
    return json.dumps(value, sort_keys=True)


__all__ = ["BASE_COLUMNS", "GroupPlan", "call", "plan_group"]
