"""Load attribute groups from YAML/JSON files, folders, Python modules and objects."""

from __future__ import annotations

import difflib
import json
import re
import runpy
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from signals_batch.definitions import models
from signals_batch.definitions.models import AttributeGroup
from signals_batch.errors import InvalidInput

DEFINITION_SUFFIXES = (".yml", ".yaml", ".json")


@dataclass(frozen=True)
class Problem:
    """One reason a definition is invalid, with where it was found."""

    source: str
    group: str | None
    attribute: str | None
    message: str

    def __str__(self) -> str:
        where = [self.source]
        if self.group:
            where.append(f"group {self.group!r}")
        if self.attribute:
            where.append(f"attribute {self.attribute!r}")
        return f"{', '.join(where)}: {self.message}"


class DefinitionError(InvalidInput):
    """Definitions that cannot be compiled; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [str(p) for p in problems]
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"invalid definitions ({len(problems)} {noun}):\n  " + "\n  ".join(lines))


@dataclass
class Definitions:
    """The groups the batch engine works on, plus what it skipped and why."""

    groups: list[AttributeGroup] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def batch_groups(self) -> list[AttributeGroup]:
        return [g for g in self.groups if g.type == "batch"]

    @property
    def external_groups(self) -> list[AttributeGroup]:
        return [g for g in self.groups if g.type == "external_batch"]

    def select(self, names: Iterable[str] | None,
               external: bool = False) -> list[AttributeGroup]:
        """Groups named in `names` (by name or name_vN); all batch groups when None.

        With `external`, external batch groups are candidates too."""
        candidates = self.batch_groups + (self.external_groups if external else [])
        if not names:
            return candidates
        wanted = set(names)
        known = {g.name for g in self.groups} | {g.ident for g in self.groups}
        unknown = sorted(wanted - known)
        if unknown:
            raise InvalidInput(
                f"unknown group {', '.join(unknown)}: the definitions have "
                f"{', '.join(sorted({g.ident for g in self.groups})) or 'no groups'}"
            )
        return [g for g in candidates if g.name in wanted or g.ident in wanted]


# What a pattern means, for messages that name the rule rather than quote a regex.
_PATTERN_MEANINGS = {
    models.NAME_PATTERN: "use only letters, digits and '_' (e.g. page_views_7d)",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "is not an email address",
    r"^[0-9]+-[0-9]+-[0-9]+$": "is not a schema version like 1-0-0",
    r"^[a-zA-Z0-9_-]+$": "use only letters, digits, '_' and '-'",
    r"^[a-zA-Z0-9_.-]+$": "use only letters, digits, '.', '_' and '-'",
    r"^[A-Za-z0-9_-]+$": "use only letters, digits, '_' and '-'",
}


# What each definition model is called in messages.
_MODEL_NOUNS = {
    "AttributeGroup": "a group",
    "Attribute": "an attribute",
    "AttributeKey": "an attribute key",
    "AtomicProperty": "a property",
    "EntityProperty": "a property",
    "EventProperty": "a property",
    "CalculatedProperty": "a property",
    "Criteria": "criteria",
    "Criterion": "a criterion",
    "Event": "an event",
    "BatchSource": "a batch source",
    "FieldDefinition": "a field",
}


def _field_owners() -> dict[str, list[str]]:
    """Every field name of the definition models -> what it is a field of."""
    owners: dict[str, list[str]] = {}
    for value in vars(models).values():
        if isinstance(value, type) and issubclass(value, models._Model):
            noun = _MODEL_NOUNS.get(value.__name__)
            for name, info in value.model_fields.items():
                nouns = owners.setdefault(info.alias or name, [])
                if noun and noun not in nouns:
                    nouns.append(noun)
    return owners


_FIELD_OWNERS = _field_owners()
_FIELD_NAMES = frozenset(_FIELD_OWNERS)


def _unknown_field(name: str) -> str:
    owners = _FIELD_OWNERS.get(name)
    if owners:  # a real field, written at the wrong level
        if len(owners) > 2:  # type, name, ...: naming every owner would not help
            return "unknown field here"
        return f"unknown field here ({name!r} is a field of {' or '.join(owners)})"
    close = difflib.get_close_matches(name, _FIELD_NAMES, n=1, cutoff=0.75)
    return f"unknown field ({f'did you mean {close[0]!r}?' if close else 'is it misspelt?'})"


def _message(item: Any) -> str:
    """A pydantic error as a sentence for someone editing a YAML file."""
    kind, ctx, value = item["type"], item.get("ctx") or {}, item.get("input")
    if kind == "extra_forbidden":
        return _unknown_field(str(item["loc"][-1]) if item["loc"] else "")
    if kind == "missing":
        return "is required"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        # the model's name when pydantic gives it; properties (a union) come without one
        model = ctx.get("class_name")
        found = f"found {type(value).__name__} {value!r}"
        if model == "AttributeKey":
            return f"expected a key name (e.g. domain_userid) or a mapping, {found}"
        if "property" in [p for p in item["loc"] if not _is_internal_loc(p)][-1:]:
            return (
                "expected a property: an atomic column name, the short form "
                f"'column[0]:path', or a mapping with `type`; {found}"
            )
        if model in _MODEL_NOUNS:
            return f"expected {_MODEL_NOUNS[model]} (a mapping of its fields), {found}"
        return f"expected a mapping, {found}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{value!r} is not one of {ctx.get('expected')}{hint}"
    if kind == "string_pattern_mismatch":
        meaning = _PATTERN_MEANINGS.get(ctx.get("pattern"))
        if meaning and meaning.startswith("is "):
            return f"{value!r} {meaning}"
        return f"{value!r}: {meaning or 'does not match ' + str(ctx.get('pattern'))}"
    if kind == "union_tag_not_found":
        return "a property needs `type`: atomic, entity, event or calculated"
    if kind == "union_tag_invalid":
        tag, expected = ctx.get("tag"), ctx.get("expected_tags")
        return f"property type {tag!r} is not allowed here; use {expected}"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}, not {value!r}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, not {value!r}"
    if kind in ("string_too_long", "too_long"):
        return f"is too long: at most {ctx.get('max_length')} allowed"
    if kind in ("time_delta_parsing", "time_delta_type"):
        return (
            f"{value!r} is not a duration: write ISO-8601 (P7D, P2W, PT48H) or a number of seconds"
        )
    return item["msg"].removeprefix("Value error, ")


def _path(loc: list[Any]) -> str:
    """`criteria.all[0].operator`, without pydantic's union-member tags."""
    path = ""
    for part in loc:
        if _is_internal_loc(part):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _problems_from(error: ValidationError, source: str, raw: Any) -> list[Problem]:
    group = raw.get("name") if isinstance(raw, dict) else None
    group = group if isinstance(group, str) else None
    problems = []
    for item in error.errors():
        loc = list(item["loc"])
        attribute = None
        if len(loc) >= 2 and loc[0] in ("attributes", "fields") and isinstance(loc[1], int):
            items = raw.get(loc[0]) if isinstance(raw, dict) else None
            entry = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
            attribute = entry.get("name") if isinstance(entry, dict) else None
            attribute = attribute if isinstance(attribute, str) else f"#{loc[1] + 1}"
            loc = loc[2:]
        message = _message(item)
        path = _path(loc)
        problems.append(
            Problem(source, group, attribute, f"{path}: {message}" if path else message)
        )
    return problems


def _is_internal_loc(part: Any) -> bool:
    text = str(part)
    return "[" in text or text in (
        "atomic",
        "entity",
        "event",
        "calculated",
        "bool",
        "int",
        "float",
        "str",
        "list[...]",
    )


def parse_groups(
    raw_groups: Iterable[Any], source: str
) -> tuple[list[AttributeGroup], list[Problem]]:
    """Validate raw group dicts (or SDK objects); collect every problem instead of stopping."""
    groups, problems = [], []
    for raw in raw_groups:
        if hasattr(raw, "model_dump") and not isinstance(raw, AttributeGroup):
            # warnings=False: the SDK's own serializer warns about its property unions.
            # python mode keeps durations as timedeltas: JSON mode would turn 365 days into
            # "P1Y", which a definition rejects as an ambiguous length
            raw = raw.model_dump(mode="python", exclude_none=True, by_alias=True,
                                 warnings=False)
        if isinstance(raw, AttributeGroup):
            groups.append(raw)
            continue
        if not isinstance(raw, dict):
            problems.append(
                Problem(
                    source, None, None, f"expected a group (a mapping), found {type(raw).__name__}"
                )
            )
            continue
        try:
            groups.append(AttributeGroup.model_validate(raw))
        except ValidationError as error:
            problems.extend(_problems_from(error, source, raw))
    return groups, problems


class _Unreadable(Exception):
    """A definition file that is not YAML / JSON / a runnable module; the message says why."""


def parse_error_message(error: Exception) -> str:
    """One line for a JSON / YAML parse error: where, and what."""
    if isinstance(error, json.JSONDecodeError):
        return f"cannot parse JSON at line {error.lineno}, column {error.colno}: {error.msg}"
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if mark is not None and problem:
        context = getattr(error, "context", None)
        return f"cannot parse YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}" + (
            f" ({context})" if context else ""
        )
    if isinstance(error, yaml.YAMLError):
        return f"cannot parse YAML: {error}"
    return (
        f"cannot parse YAML: {error} (a value written like a date must be a valid date; "
        "quote it to keep it as text)"
    )


def _read_file(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _Unreadable("cannot read: the file is not UTF-8 text") from None
    except OSError as error:  # a broken link, no permission ...
        raise _Unreadable(f"cannot read: {error.strerror or error}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as error:
        # ValueError: JSON errors, and PyYAML reading `2025-13-01` as an invalid date.
        raise _Unreadable(parse_error_message(error)) from None
    if data is None:
        return []
    if isinstance(data, dict) and "attribute_groups" in data:
        data = data["attribute_groups"]
    return data if isinstance(data, list) else [data]


def _read_module(path: Path) -> list[Any]:
    try:
        namespace = runpy.run_path(str(path))
    except (Exception, SystemExit) as error:  # the user's module failed: like a parse error
        raise _Unreadable(f"cannot run the module: {type(error).__name__}: {error}") from None
    if "attribute_groups" in namespace:
        groups = namespace["attribute_groups"]
        if not isinstance(groups, list | tuple):
            raise _Unreadable(
                f"attribute_groups must be a list of groups, not {type(groups).__name__}"
            )
        return list(groups)
    return [
        v for v in namespace.values() if hasattr(v, "model_dump") and hasattr(v, "attribute_key")
    ]


def definition_files(path: Path) -> list[Path]:
    if path.is_dir():
        # hidden files and folders are left out: editors' lock files (`.#groups.yml`), .git
        return sorted(
            p for p in path.rglob("*")
            if p.suffix in DEFINITION_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    return [path]


def load_definitions(path: Path | str) -> Definitions:
    """Load every group under `path` (a file, a folder or a .py module); raise on any problem."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(
            f"definitions not found: {path} (set `definitions` in signals_batch.yml, or "
            "SIGNALS_BATCH_DEFINITIONS)"
        )
    found: list[tuple[AttributeGroup, str]] = []
    problems: list[Problem] = []
    for file in definition_files(path):
        try:
            raw = _read_module(file) if file.suffix == ".py" else _read_file(file)
        except _Unreadable as error:
            problems.append(Problem(str(file), None, None, str(error)))
            continue
        groups, issues = parse_groups(raw, str(file))
        found.extend((group, str(file)) for group in groups)
        problems.extend(issues)
    return _finish(found, problems)


def load_objects(objects: Iterable[Any], source: str = "<python>") -> Definitions:
    """Load groups from Python objects: dicts, our models or SDK objects (`model_dump()`)."""
    groups, problems = parse_groups(objects, source)
    return _finish([(group, source) for group in groups], problems)


def _finish(found: list[tuple[AttributeGroup, str]], problems: list[Problem]) -> Definitions:
    # by ident without case: warehouses do not tell table names apart by case
    seen: dict[str, tuple[str, AttributeGroup]] = {}
    groups = []
    for group, source in found:
        if group.ident.lower() in seen:
            first_source, first = seen[group.ident.lower()]
            where = "earlier in this file" if first_source == source else first_source
            if first.name == group.name:
                reason = (f"version {group.version} is defined twice (also {where}); "
                          "give the new definition a new version")
            else:
                reason = (f"group {first.name!r} version {first.version} ({where}) has the same "
                          "name but for case, and so the same tables (warehouses compare table "
                          "names without case); rename one of them")
            problems.append(Problem(source, group.name, None, reason))
            continue
        seen[group.ident.lower()] = (source, group)
        groups.append(group)
    if problems:
        raise DefinitionError(problems)
    result = Definitions(groups=sorted(groups, key=lambda g: (g.name, g.version)))
    for group in result.groups:
        if group.type == "stream":
            result.notices.append(
                f"group {group.ident} is a stream group: skipped (Signals computes it in stream)"
            )
    return result
