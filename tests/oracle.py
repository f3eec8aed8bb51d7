"""Independent reference implementation of SEMANTICS.md sections 2-6, in plain Python.

This is the test oracle: it shares no code with ``signals_batch`` and uses no SQL, so
an agreement between the two is evidence, not an echo. It favours obviousness over
speed. Where the contract is silent it follows ``docs/semantics-notes.md``; readings
that even the notes leave open are marked "Reading:" below.

Entry point: ``compute(events, groups, as_of, start_date, include_current_day)``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import cache

__all__ = ["compute", "value_text", "parse_period_days"]

EPOCH = dt.datetime(1970, 1, 1)
ONE_DAY = dt.timedelta(days=1)

BUILTIN_KEYS = {
    "domain_userid": "domain_userid",
    "domain_sessionid": "domain_sessionid",
    "user_id": "user_id",
    "network_userid": "network_userid",
    "user": "domain_userid",  # the SDK's older names
    "session": "domain_sessionid",
}

INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
NUMERIC_TYPES = {"int32", "int64", "float", "double"}
TIME_UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400}


# ======================================================================================
# Reading values: text, number, bool, timestamp
# ======================================================================================


def normalize_timestamp(value: dt.datetime) -> dt.datetime:
    """Naive UTC: aware datetimes are converted, naive ones are taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def timestamp_text(value: dt.datetime) -> str:
    """DuckDB's VARCHAR cast of a TIMESTAMP: the fraction only when non-zero, trailing
    zeros dropped ('2025-01-02 03:04:05', '2025-01-02 03:04:05.1')."""
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text


def value_text(value) -> str | None:
    """A value as text (notes, "Value as text")."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same double
    if isinstance(value, dt.datetime):
        return timestamp_text(normalize_timestamp(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


# Reading: "parses as a finite double" means plain decimal notation with optional
# exponent and surrounding blanks; no '1_000', hex, 'inf' or 'nan' (Python's float()
# and DuckDB's cast accept some of those, other warehouses do not).
_NUMBER = re.compile(
    r"[ \t\n\r]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\r]*"
)


_INTEGER = re.compile(r"[ \t\n\r]*[+-]?[0-9]+[ \t\n\r]*")


def value_integer(value) -> int | None:
    """An integer value, or integer text, read exactly (an int64 id beyond 2**53 keeps
    every digit); None for anything else, which is then read as a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def value_number(value) -> float | None:
    """The value as a finite double, or None when it is not a number."""
    if value is None or isinstance(value, bool):
        return None
    readable = isinstance(value, (int, float)) or (
        isinstance(value, str) and _NUMBER.fullmatch(value) is not None
    )
    if not readable:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def value_bool(value) -> bool | None:
    """The text 'true' / 'false' in any case; anything else is NULL."""
    text = value_text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return None


_TIMESTAMP = re.compile(
    r"\s*(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?\s*"
)


def value_timestamp(value) -> dt.datetime | None:
    """The value read as a naive UTC timestamp; text that is not one gives None.

    Reading: an explicit offset in the text is applied (converted to UTC).
    """
    if isinstance(value, dt.datetime):
        return normalize_timestamp(value)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.fullmatch(value)
    if not match:
        return None
    try:
        day = dt.date.fromisoformat(match["date"])
        fraction = (match["f"] or "").ljust(6, "0")[:6]
        clock = dt.time(
            int(match["h"] or 0), int(match["m"] or 0), int(match["s"] or 0), int(fraction or 0)
        )
    except ValueError:
        return None
    stamp = dt.datetime.combine(day, clock)
    offset = match["tz"]
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
        stamp -= sign * dt.timedelta(minutes=minutes)
    return stamp


FLOAT32_MAX = 3.4028234663852886e38


def round_half_away(number: float) -> int:
    """2.5 -> 3, -2.5 -> -3, after rounding to 9 decimals (notes, "Casts"): a float sum
    like 166.49999999999997 means 166.5, whatever order the values were added in."""
    exact = Decimal(round(number, 9))  # a double's every digit; 1.5e300 has 301
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP, context=Context(prec=400)))


def value_unix_seconds(value) -> int | None:
    """unix_timestamp: a number of seconds is rounded like other int casts; a timestamp
    becomes whole epoch seconds.

    Reading: a timestamp's epoch seconds are floored (UNIX_SECONDS / DATE_PART
    epoch_second), not rounded: 03:04:05.900 is ...045.
    """
    exact = value_integer(value)
    if exact is not None:
        return exact if INT_RANGES["int64"][0] <= exact <= INT_RANGES["int64"][1] else None
    number = value_number(value)
    if number is not None:
        rounded = round_half_away(number)
        low, high = INT_RANGES["int64"]
        return rounded if low <= rounded <= high else None
    stamp = value_timestamp(value)
    if stamp is None:
        return None
    return (stamp - EPOCH) // dt.timedelta(seconds=1)


# ======================================================================================
# Casting a result to the declared type
# ======================================================================================


def _cast_scalar(value, type_name: str):
    if value is None:
        return None
    if type_name in ("string", "bytes"):  # bytes is kept as text (notes)
        return value_text(value)
    if type_name in INT_RANGES:
        rounded = value_integer(value)
        if rounded is None:
            number = value_number(value)
            if number is None:
                return None
            rounded = round_half_away(number)
        low, high = INT_RANGES[type_name]
        return rounded if low <= rounded <= high else None
    if type_name in ("float", "double"):
        number = value_number(value)
        if type_name == "float" and number is not None and abs(number) > FLOAT32_MAX:
            return None  # out of the 32-bit type's range, like any out-of-range value
        return number
    if type_name == "bool":
        return value if isinstance(value, bool) else value_bool(value)
    if type_name == "timestamp":
        return value_timestamp(value)
    if type_name == "unix_timestamp":
        return value_unix_seconds(value)
    if type_name == "dict":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return None
        return {key: value[key] for key in sorted(value)} if isinstance(value, dict) else None
    raise ValueError(f"unknown type {type_name!r}")


def cast_to_type(value, type_name: str):
    """Cast an aggregation result to the attribute's declared type (notes, "Casts")."""
    if not type_name.endswith("_list"):
        return _cast_scalar(value, type_name)
    if value is None:
        return None
    if isinstance(value, str):  # a JSON array written as text
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, list):
        return None
    element_type = type_name.removesuffix("_list")
    return [_cast_scalar(item, element_type) for item in value]


# ======================================================================================
# Properties
# ======================================================================================


@dataclass(frozen=True)
class Property:
    """Where a value comes from. ``kind``: atomic | json | calculated.

    atomic: ``column``. json: ``column`` holding JSON, optional ``index`` into an array,
    then ``path`` steps (str keys / int indexes). calculated: ``operation`` over
    ``leaves`` joined by ``separator``. ``date_part`` maps the value afterwards.
    """

    kind: str
    column: str | None = None
    index: int | None = None
    path: tuple = ()
    operation: str | None = None
    leaves: tuple = ()
    separator: str = ""
    date_part: str | None = None


def _snake(text: str) -> str:
    """A schema vendor / name as the loaders spell it in column names, written as a character
    walk (the engine uses regular expressions): `_` before a capital that follows a lower-case
    letter or digit, or that starts a word after a run of capitals (`URLPath` -> `url_path`);
    dots and dashes become `_`; lower case."""
    out = []
    for i, char in enumerate(text):
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if char.isupper() and before and (
            before.islower() or before.isdigit() or (before.isupper() and after.islower())
        ):
            out.append("_")
        out.append("_" if char in ".-" else char.lower())
    return "".join(out)


def parse_path(path: str | None) -> tuple:
    """'$.a.b[0][1].c' -> ('a', 'b', 0, 1, 'c')."""
    if not path:
        return ()
    if path.startswith("$"):
        path = path[1:].lstrip(".")
    steps: list = []
    for segment in path.split("."):
        match = re.fullmatch(r"([^\[\]]*)((?:\[\d+\])*)", segment)
        if not match or (not match[1] and not match[2]):
            raise ValueError(f"bad path {path!r}")
        if match[1]:
            steps.append(match[1])
        steps.extend(int(number) for number in re.findall(r"\[(\d+)\]", match[2]))
    return tuple(steps)


_SHORT_FORM = re.compile(
    r"(?P<column>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<index>\d+)\])?(?::(?P<path>.+))?"
)


def _single_index(index) -> int | None:
    # The SDK docs show ``index=[0]``; accept a one-element list as well as an int.
    if isinstance(index, list):
        if len(index) != 1:
            raise ValueError(f"unsupported entity index {index!r}")
        index = index[0]
    return None if index is None else int(index)


def parse_property(spec) -> Property:
    """A property in the dict form of the Signals API or the short string form."""
    if isinstance(spec, Property):
        return spec
    if isinstance(spec, str):
        match = _SHORT_FORM.fullmatch(spec.strip())
        if not match:
            raise ValueError(f"bad property {spec!r}")
        if match["index"] is None and match["path"] is None:
            return Property("atomic", column=match["column"])
        index = None if match["index"] is None else int(match["index"])
        return Property("json", column=match["column"], index=index, path=parse_path(match["path"]))
    if not isinstance(spec, dict):
        raise ValueError(f"bad property {spec!r}")

    kind = spec.get("type") or ("atomic" if "vendor" not in spec else None)
    date_part = spec.get("date_part")
    if kind == "atomic":
        return Property("atomic", column=spec["name"], date_part=date_part)
    if kind in ("entity", "event"):
        prefix = "contexts" if kind == "entity" else "unstruct_event"
        column = f"{prefix}_{_snake(spec['vendor'])}_{_snake(spec['name'])}_{spec['major_version']}"
        # An entity reads one element of its context array (default the first).
        index = (_single_index(spec.get("index")) or 0) if kind == "entity" else None
        return Property(
            "json",
            column=column,
            index=index,
            path=parse_path(spec.get("path")),
            date_part=date_part,
        )
    if kind == "calculated":
        leaves = tuple(parse_property(leaf) for leaf in spec.get("properties") or [])
        return Property(
            "calculated",
            operation=spec["operation"],
            leaves=leaves,
            separator=spec.get("separator") or "",
            date_part=date_part,
        )
    raise ValueError(f"bad property {spec!r}")


class Event:
    """One counted event: its row plus parsed JSON columns, cached."""

    __slots__ = ("row", "derived", "day", "_json")

    def __init__(self, row: dict):
        self.row = row
        derived = row.get("derived_tstamp")
        self.derived = None if derived is None else value_timestamp(derived)
        self.day = None if self.derived is None else self.derived.date()
        self._json: dict = {}

    @property
    def event_id(self) -> str:
        return self.row.get("event_id") or ""

    def json_column(self, column: str):
        if column not in self._json:
            raw = self.row.get(column)
            if isinstance(raw, str):
                try:
                    raw = json.loads(raw)
                except ValueError:
                    raw = None
            self._json[column] = raw
        return self._json[column]


def _walk(value, steps: tuple):
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
    return value


def _sum(numbers: list[float]) -> float:
    """An exact sum of doubles; like an IEEE sum, -0.0 when every term is -0.0 (fsum says
    0.0), so its text is `-0.0` as SQL's."""
    total = math.fsum(numbers)
    if total == 0 and numbers and all(n == 0 and math.copysign(1.0, n) < 0 for n in numbers):
        return -0.0
    return total


def _calculate(operation: str, leaves: list, separator: str):
    """Calculated properties (notes, "Calculated properties")."""
    if operation == "concat":
        texts = [value_text(leaf) for leaf in leaves if leaf is not None]
        return separator.join(texts) if texts else None
    if operation == "coalesce":
        return next((value_text(leaf) for leaf in leaves if leaf is not None), None)
    numbers = [value_number(leaf) for leaf in leaves]
    if operation in ("sum", "product"):
        if not numbers or any(number is None for number in numbers):
            return None
        return _sum(numbers) if operation == "sum" else math.prod(numbers)
    if operation in ("min", "max"):
        present = [number for number in numbers if number is not None]
        if not present:
            return None
        return min(present) if operation == "min" else max(present)
    raise ValueError(f"unknown calculated operation {operation!r}")


def _date_part(value, part: str):
    stamp = value_timestamp(value)
    if stamp is None:
        return None
    day = stamp.date()
    parts = {
        "hour_of_day": lambda: stamp.hour,
        "day_of_week": lambda: stamp.isoweekday(),  # Monday = 1
        "month_of_year": lambda: stamp.month,
        "active_day": lambda: day,
        "active_week": lambda: day - dt.timedelta(days=day.weekday()),
        "active_month": lambda: day.replace(day=1),
    }
    if part not in parts:
        raise ValueError(f"unknown date_part {part!r}")
    return parts[part]()


def resolve(prop: Property, event: Event):
    """The property's value on the event (None = NULL)."""
    if prop.kind == "atomic":
        value = event.row.get(prop.column)
    elif prop.kind == "json":
        value = event.json_column(prop.column)
        # Reading: a context column addressed without an index ('column:a.b') means [0]
        # (SEMANTICS.md section 1), also when it holds something that is not an array
        # (then there is no element 0: NULL).
        index = prop.index
        if index is None and prop.column.startswith("contexts_"):
            index = 0
        if index is not None:
            value = _walk(value, (index,))
        value = _walk(value, prop.path)
    else:
        leaves = [resolve(leaf, event) for leaf in prop.leaves]
        value = _calculate(prop.operation, leaves, prop.separator)
    if prop.date_part and value is not None:
        value = _date_part(value, prop.date_part)
    return value


# ======================================================================================
# Criteria: SQL three-valued logic (True / False / None = unknown)
# ======================================================================================


def _and3(results) -> bool | None:
    results = list(results)
    if any(result is False for result in results):
        return False
    return None if any(result is None for result in results) else True


def _or3(results) -> bool | None:
    results = list(results)
    if any(result is True for result in results):
        return True
    return None if any(result is None for result in results) else False


def _not3(result: bool | None) -> bool | None:
    return None if result is None else not result


@cache
def like_regex(pattern: str) -> re.Pattern:
    """SQL LIKE without an escape character: % = any run, _ = one character, case-
    sensitive; everything else (quotes, backslashes, regex characters) is literal."""
    wildcards = {"%": ".*", "_": "."}
    return re.compile("".join(wildcards.get(char) or re.escape(char) for char in pattern), re.S)


_COMPARE = {
    "=": lambda left, right: left == right,
    "!=": lambda left, right: left != right,
    "<": lambda left, right: left < right,
    ">": lambda left, right: left > right,
    "<=": lambda left, right: left <= right,
    ">=": lambda left, right: left >= right,
}


def _compare(value, operator: str, expected) -> bool | None:
    """One comparison typed by ``expected``: bool as bool, number numerically, str as
    text. A side that is NULL (or not readable as that type) makes it unknown."""
    if expected is None:
        return None
    if isinstance(expected, bool):
        left = value_bool(value)
    elif isinstance(expected, (int, float)):
        left, expected = value_number(value), float(expected)
    elif isinstance(expected, str):
        left = value_text(value)
    else:
        raise ValueError(f"unsupported criterion value {expected!r}")
    if left is None:
        return None
    return _COMPARE[operator](left, expected)


def criterion_holds(value, operator: str, expected) -> bool | None:
    operator = " ".join(operator.lower().split())
    if operator == "is null":
        return value is None
    if operator == "is not null":
        return value is not None
    if operator in ("in", "not in"):
        options = expected if isinstance(expected, (list, tuple)) else [expected]
        found = _or3(_compare(value, "=", option) for option in options)
        return found if operator == "in" else _not3(found)
    if operator in ("like", "not like"):
        text, pattern = value_text(value), value_text(expected)
        if text is None or pattern is None:
            return None
        matched = like_regex(pattern).fullmatch(text) is not None
        return matched if operator == "like" else not matched
    if operator in _COMPARE:
        return _compare(value, operator, expected)
    raise ValueError(f"unknown operator {operator!r}")


@dataclass(frozen=True)
class Criteria:
    all: tuple = ()  # (Property, operator, value)
    any: tuple = ()

    @classmethod
    def parse(cls, spec) -> Criteria:
        if not spec:
            return cls()

        def items(name):
            return tuple(
                (parse_property(item["property"]), item["operator"], item.get("value"))
                for item in spec.get(name) or []
            )

        return cls(all=items("all"), any=items("any"))

    def holds(self, event: Event) -> bool:
        """Only a definite True lets the event through (NULL is not a match).

        Reading: an empty or missing ``any`` list is no condition at all.
        """
        results = []
        if self.all:
            results.append(
                _and3(criterion_holds(resolve(p, event), op, v) for p, op, v in self.all)
            )
        if self.any:
            results.append(_or3(criterion_holds(resolve(p, event), op, v) for p, op, v in self.any))
        return _and3(results) is True


# ======================================================================================
# Event matching and windows
# ======================================================================================


def _major(version: str | None) -> str | None:
    return None if version is None else str(version).split("-")[0]


@dataclass(frozen=True)
class EventSelector:
    """One entry of an attribute's ``events``.

    Reading: like the SDK's ``Event``, a missing vendor / name / version matches any.
    """

    vendor: str | None
    name: str | None
    major: str | None

    def matches(self, event: Event) -> bool:
        row = event.row
        return (
            (self.vendor is None or row.get("event_vendor") == self.vendor)
            and (self.name is None or row.get("event_name") == self.name)
            and (self.major is None or _major(row.get("event_version")) == self.major)
        )


_ISO_PERIOD = re.compile(
    r"P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)


def parse_period_days(period) -> int | None:
    """Whole days of a period (None = lifetime). ISO-8601 string, seconds, or timedelta;
    years / months are not fixed lengths, and a non-whole number of days is invalid."""
    if period is None:
        return None
    if isinstance(period, dt.timedelta):
        seconds = period.total_seconds()
    elif isinstance(period, (int, float)) and not isinstance(period, bool):
        seconds = float(period)
    elif isinstance(period, str):
        match = _ISO_PERIOD.fullmatch(period.strip().upper())
        if not match or period.strip().upper() in ("P", "PT"):
            raise ValueError(f"invalid period {period!r}")
        parts = {name: float(text) for name, text in match.groupdict().items() if text}
        seconds = (
            parts.get("w", 0) * 7 * 86400
            + parts.get("d", 0) * 86400
            + parts.get("h", 0) * 3600
            + parts.get("m", 0) * 60
            + parts.get("s", 0)
        )
    else:
        raise ValueError(f"invalid period {period!r}")
    days = seconds / 86400
    if days <= 0 or days != int(days):
        raise ValueError(f"period {period!r} is not a positive whole number of days")
    return int(days)


@dataclass(frozen=True)
class Window:
    first_day: dt.date
    last_day: dt.date

    @property
    def end_instant(self) -> dt.datetime:
        """Exclusive end: midnight UTC after the last day."""
        return dt.datetime.combine(self.last_day + ONE_DAY, dt.time())

    def contains(self, event: Event) -> bool:
        return self.first_day <= event.day <= self.last_day


def last_window_day(as_of: dt.date, include_current_day: bool) -> dt.date:
    return as_of if include_current_day else as_of - ONE_DAY


def window_for(period_days, as_of, start_date, include_current_day) -> Window:
    last_day = last_window_day(as_of, include_current_day)
    first_day = start_date if period_days is None else last_day - dt.timedelta(period_days - 1)
    return Window(max(first_day, start_date), last_day)


# ======================================================================================
# Aggregations
# ======================================================================================


def _earliest(pairs):
    return min(pairs, key=lambda pair: (pair[0].derived, pair[0].event_id))


def _latest(pairs):
    return max(pairs, key=lambda pair: (pair[0].derived, pair[0].event_id))


def _min_max_domain(type_name: str):
    """How min / max read values (notes, "min / max domain")."""
    if type_name in NUMERIC_TYPES:
        return value_number
    if type_name == "unix_timestamp":
        return value_unix_seconds
    if type_name == "timestamp":
        return value_timestamp
    return value_text


def _frequent(texts: list[str], highest: bool):
    """Most / least frequent text; ties go to the smallest text."""
    if not texts:
        return None
    counts = Counter(texts)
    sign = -1 if highest else 1
    return min(counts, key=lambda text: (sign * counts[text], text))


def aggregate(
    aggregation: str,
    type_name: str,
    pairs: list,
    has_property: bool,
    end_instant: dt.datetime,
    time_unit: str,
):
    """Aggregate the (event, property value) pairs of the matching events in a window.

    Without a property every event counts (counter, time_since_*); with one, events whose
    value is NULL are ignored. The result is cast to ``type_name`` by the caller.
    """
    present = [(event, value) for event, value in pairs if value is not None]
    if not has_property:
        present = pairs
    values = [value for _, value in present]

    if aggregation == "counter":
        return len(present)
    if aggregation in ("sum", "mean"):
        numbers = [n for n in map(value_number, values) if n is not None]
        if aggregation == "sum":
            return math.fsum(numbers)
        return math.fsum(numbers) / len(numbers) if numbers else None
    if aggregation in ("min", "max"):
        read = _min_max_domain(type_name)
        domain = [item for item in map(read, values) if item is not None]
        if not domain:
            return None
        return min(domain) if aggregation == "min" else max(domain)
    if aggregation in ("first", "last"):
        if not present:
            return None
        pick = _earliest if aggregation == "first" else _latest
        return pick(present)[1]

    texts = [value_text(value) for value in values]
    if aggregation == "unique_list":
        return sorted(set(texts))
    if aggregation in ("most_frequent", "least_frequent"):
        return _frequent(texts, highest=aggregation == "most_frequent")
    if aggregation == "category_count":
        counts = Counter(texts)
        return {text: counts[text] for text in sorted(counts)}
    if aggregation == "approx_count_distinct":
        return len(set(texts))

    if aggregation in ("time_since_first", "time_since_last"):
        if not present:
            return None
        stamps = [event.derived for event, _ in present]
        stamp = min(stamps) if aggregation == "time_since_first" else max(stamps)
        if time_unit not in TIME_UNIT_SECONDS:
            raise ValueError(f"unknown time_unit {time_unit!r}")
        return (end_instant - stamp) // dt.timedelta(seconds=TIME_UNIT_SECONDS[time_unit])
    raise ValueError(f"unknown aggregation {aggregation!r}")


def _is_empty(result) -> bool:
    return result is None or result == [] or result == {}


# ======================================================================================
# Groups
# ======================================================================================


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str
    aggregation: str
    selectors: tuple
    criteria: Criteria
    property: Property | None
    period_days: int | None
    time_unit: str
    default_value: object

    @classmethod
    def parse(cls, spec: dict) -> Attribute:
        prop = None if spec.get("property") is None else parse_property(spec["property"])
        if prop is not None and spec.get("date_part"):  # attribute-level date_part
            prop = replace(prop, date_part=spec["date_part"])
        selectors = tuple(
            EventSelector(entry.get("vendor"), entry.get("name"), _major(entry.get("version")))
            for entry in spec.get("events") or []
        )
        return cls(
            name=spec["name"],
            type=spec["type"],
            aggregation=spec["aggregation"],
            selectors=selectors,
            criteria=Criteria.parse(spec.get("criteria")),
            property=prop,
            period_days=parse_period_days(spec.get("period")),
            # Reading: time_since_* without a time_unit counts seconds.
            time_unit=spec.get("time_unit") or "s",
            default_value=spec.get("default_value"),
        )

    def matches(self, event: Event) -> bool:
        """Event type (empty ``events`` = every event), then criteria."""
        if self.selectors and not any(s.matches(event) for s in self.selectors):
            return False
        return self.criteria.holds(event)

    def value(self, events: list[Event], window: Window):
        prop = self.property
        pairs = [
            (event, None if prop is None else resolve(prop, event))
            for event in events
            if window.contains(event)
        ]
        raw = aggregate(
            self.aggregation,
            self.type,
            pairs,
            prop is not None,
            window.end_instant,
            self.time_unit,
        )
        # category_count is already its final {text: count} shape
        result = raw if self.aggregation == "category_count" else cast_to_type(raw, self.type)
        if _is_empty(result) and self.default_value is not None:
            default = self.default_value
            if self.type.endswith("_list") and not isinstance(default, list):
                default = [default]  # notes, "default_value": one value is a one-item list
            result = cast_to_type(default, self.type)
        return result


def _key_reader(attribute_key):
    """A function event -> key text (None / '' = the event never counts)."""
    if isinstance(attribute_key, dict) and attribute_key.get("property") is None:
        attribute_key = attribute_key["name"]
    if isinstance(attribute_key, str):
        column = BUILTIN_KEYS[attribute_key]
        return lambda event: value_text(event.row.get(column))
    prop = parse_property(attribute_key["property"])
    return lambda event: value_text(resolve(prop, event))


def _arrival_rank(row: dict):
    """Sort key of the copy of an event_id that counts: earliest load_tstamp, then
    smallest derived_tstamp, then collector_tstamp; NULLs last (as SQL ORDER BY)."""

    def stamp(name):
        value = row.get(name)
        return (1, EPOCH) if value is None else (0, normalize_timestamp(value))

    return stamp("load_tstamp"), stamp("derived_tstamp"), stamp("collector_tstamp")


def deduplicate(rows: list[dict]) -> list[dict]:
    """One row per event_id. Reading: on a complete tie the first row given wins."""
    chosen: dict = {}
    for row in rows:
        event_id = row.get("event_id")
        current = chosen.get(event_id)
        if current is None or _arrival_rank(row) < _arrival_rank(current):
            chosen[event_id] = row
    return list(chosen.values())


def _group_rows(group: dict, events: list[Event], as_of, start_date, include_current_day):
    attributes = [Attribute.parse(spec) for spec in group.get("attributes") or []]
    read_key = _key_reader(group["attribute_key"])
    last_day = last_window_day(as_of, include_current_day)
    windows = {
        attribute.name: window_for(attribute.period_days, as_of, start_date, include_current_day)
        for attribute in attributes
    }

    events_by_key: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.day > last_day:
            continue
        key = read_key(event)
        if key:  # NULL and '' never count
            events_by_key[key].append(event)

    rows = {}
    for key in sorted(events_by_key):
        matched = {
            attribute.name: [e for e in events_by_key[key] if attribute.matches(e)]
            for attribute in attributes
        }
        # A key has a row when any attribute has a matching event from start_date up to
        # the window end, whatever that attribute's own period.
        if not any(matched.values()):
            continue
        rows[key] = {
            attribute.name: attribute.value(matched[attribute.name], windows[attribute.name])
            for attribute in attributes
        }
    return rows


def compute(
    events: list[dict],
    groups: list[dict],
    as_of: dt.date,
    start_date: dt.date,
    include_current_day: bool = False,
) -> dict[str, dict[str, dict[str, object]]]:
    """``{"<group>_v<version>_attributes": {key: {attribute: value}}}`` for every batch
    group (other group types are skipped), computed from scratch over ``events``."""
    # Reading (docs/incremental.md): a row without an event_id or a load_tstamp never counts
    usable = [r for r in events
              if r.get("event_id") is not None and r.get("load_tstamp") is not None]
    counted = [Event(row) for row in deduplicate(usable)]
    counted = [event for event in counted if event.day is not None and event.day >= start_date]
    tables = {}
    for group in groups:
        if group.get("type", "batch") != "batch":
            continue
        table = f"{group['name']}_v{group.get('version') or 1}_attributes"
        tables[table] = _group_rows(group, counted, as_of, start_date, include_current_day)
    return tables
