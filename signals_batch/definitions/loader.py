"""Load attribute groups from YAML/JSON files, folders, Python modules and objects."""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

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

    def select(self, names: Iterable[str] | None) -> list[AttributeGroup]:
        """Groups named in `names` (by name or name_vN); all batch groups when None."""
        if not names:
            return self.batch_groups
        wanted = set(names)
        known = {g.name for g in self.groups} | {g.ident for g in self.groups}
        unknown = sorted(wanted - known)
        if unknown:
            raise InvalidInput(
                f"unknown group {', '.join(unknown)}: the definitions have "
                f"{', '.join(sorted({g.ident for g in self.groups})) or 'no groups'}"
            )
        return [g for g in self.batch_groups if g.name in wanted or g.ident in wanted]


def _problems_from(error: ValidationError, source: str, raw: Any) -> list[Problem]:
    group = raw.get("name") if isinstance(raw, dict) else None
    attributes = raw.get("attributes") if isinstance(raw, dict) else None
    problems = []
    for item in error.errors():
        loc = list(item["loc"])
        attribute = None
        if len(loc) >= 2 and loc[0] in ("attributes", "fields") and isinstance(loc[1], int):
            items = raw.get(loc[0]) if isinstance(raw, dict) else None
            entry = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
            attribute = entry.get("name") if isinstance(entry, dict) else None
            attribute = attribute or f"#{loc[1] + 1}"
            loc = loc[2:]
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown setting (is it misspelt?)"
        elif item["type"] == "missing":
            message = "is required"
        # Drop pydantic's union-member tags ("entity", "function-before[...]") from the path.
        path = ".".join(str(p) for p in loc if not _is_internal_loc(p))
        problems.append(
            Problem(source, group, attribute, f"{path}: {message}" if path else message)
        )
    del attributes
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
            raw = raw.model_dump(mode="json", exclude_none=True, by_alias=True)
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


def _read_file(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise DefinitionError([Problem(str(path), None, None, f"cannot parse: {error}")]) from None
    if data is None:
        return []
    if isinstance(data, dict) and "attribute_groups" in data:
        data = data["attribute_groups"]
    return data if isinstance(data, list) else [data]


def _read_module(path: Path) -> list[Any]:
    namespace = runpy.run_path(str(path))
    if "attribute_groups" in namespace:
        return list(namespace["attribute_groups"])
    return [
        v for v in namespace.values() if hasattr(v, "model_dump") and hasattr(v, "attribute_key")
    ]


def definition_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in DEFINITION_SUFFIXES)
    return [path]


def load_definitions(path: Path | str) -> Definitions:
    """Load every group under `path` (a file, a folder or a .py module); raise on any problem."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(
            f"definitions not found: {path} (set `definitions` in signals_batch.yml)"
        )
    groups: list[AttributeGroup] = []
    problems: list[Problem] = []
    for file in definition_files(path):
        raw = _read_module(file) if file.suffix == ".py" else _read_file(file)
        found, issues = parse_groups(raw, str(file))
        groups.extend(found)
        problems.extend(issues)
    return _finish(groups, problems)


def load_objects(objects: Iterable[Any], source: str = "<python>") -> Definitions:
    """Load groups from Python objects: dicts, our models or SDK objects (`model_dump()`)."""
    groups, problems = parse_groups(objects, source)
    return _finish(groups, problems)


def _finish(groups: list[AttributeGroup], problems: list[Problem]) -> Definitions:
    seen: dict[str, AttributeGroup] = {}
    for group in groups:
        if group.ident in seen:
            problems.append(
                Problem(
                    "definitions", group.name, None, f"version {group.version} is defined twice"
                )
            )
        seen[group.ident] = group
    if problems:
        raise DefinitionError(problems)
    result = Definitions(groups=sorted(groups, key=lambda g: (g.name, g.version)))
    for group in result.groups:
        if group.type == "stream":
            result.notices.append(
                f"group {group.ident} is a stream group: skipped (Signals computes it in stream)"
            )
    return result
