"""A real signals-batch project for tests: events in, dbt runs, attribute tables out."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from pathlib import Path

import pytest
import yaml

from signals_batch import sample_events
from signals_batch.errors import SignalsBatchError
from signals_batch.project import Project, RunSummary
from signals_batch.scaffold import init_project
from signals_batch.warehouse import connect

FLOAT_TYPES = {"float": 1e-6, "double": 1e-9}


class EngineProject:
    """A project folder with its own DuckDB file, definitions and settings."""

    def __init__(self, path: Path, groups: list[dict], start_date: dt.date,
                 include_current_day: bool = False):
        init_project(path, start_date=start_date.isoformat(), examples=False)
        (path / "definitions").mkdir(exist_ok=True)
        (path / "definitions" / "groups.yml").write_text(yaml.safe_dump(groups, sort_keys=False))
        settings = yaml.safe_load((path / "signals_batch.yml").read_text())
        settings["include_current_day"] = include_current_day
        (path / "signals_batch.yml").write_text(yaml.safe_dump(settings))
        self.path = path
        self.groups = groups
        self.start_date = start_date
        self.include_current_day = include_current_day
        self.loaded: list[dict] = []
        with connect(path, create=True) as con:
            sample_events.create_events_table(con)

    @property
    def project(self) -> Project:
        return Project(self.path)  # fresh, so settings and definitions are re-read

    def load(self, rows: list[dict]) -> None:
        with connect(self.path) as con:
            sample_events.write_events(con, rows)
        self.loaded.extend(rows)

    def run(self, as_of: dt.date, **options) -> RunSummary:
        return self.project.run(as_of=as_of, **options)

    def test(self):
        return self.project.test()

    def tables(self) -> dict[str, dict[str, dict]]:
        """Every attribute table as {key: {attribute: value}} (updated_at left out)."""
        return {table: {key: {k: v for k, v in row.items() if k != "updated_at"}
                        for key, row in rows.items()}
                for table, rows in self.rows().items()}

    def rows(self) -> dict[str, dict[str, dict]]:
        result = {}
        with connect(self.path) as con:
            for group in self.groups:
                table = f"{group['name']}_v{group.get('version', 1)}_attributes"
                types = {a["name"]: a["type"] for a in group["attributes"]}
                cursor = con.execute(f'select * from signals."{table}"')
                columns = [d[0] for d in cursor.description]
                rows = {}
                for values in cursor.fetchall():
                    row = dict(zip(columns, values, strict=True))
                    key = row.pop(columns[0])
                    rows[key] = {k: _plain(v, types.get(k)) for k, v in row.items()}
                result[table] = rows
        return result


def add_group(project, group: dict) -> None:
    """Add a group to a test project's definitions (its next run builds it from history)."""
    project.groups = [*project.groups, group]
    path = project.path / "definitions" / "groups.yml"
    path.write_text(yaml.safe_dump(project.groups, sort_keys=False))


def with_rows_visible_late(batches: list[list[dict]], index: int, count: int = 20,
                           ) -> list[list[dict]]:
    """The loads with up to ``count`` new events of load ``index`` given load times minutes
    older than the newest of the loads before: rows a loader made visible only after the run
    that processed that load (within the lookback window, so they count)."""
    seen = {row["event_id"] for batch in batches[:index] for row in batch}
    if not seen:
        return batches
    newest = max(row["load_tstamp"] for batch in batches[:index] for row in batch)
    late = batches[index]
    late = [dict(row, load_tstamp=newest - dt.timedelta(minutes=5 + n))
            if n < count and row["event_id"] not in seen else row
            for n, row in enumerate(late)]
    return [*batches[:index], late, *batches[index + 1:]]


def assert_rows_visible_too_late_are_named(project, lookback_hours: int = 6) -> None:
    """`signals-batch test` (the generated dbt tests) passes, then fails naming a row that
    became visible later than the lookback window: no incremental run will count it.
    ``project`` loads rows and has ``test()`` (EngineProject or a warehouse's)."""
    assert all(n.status == "pass" for n in project.test().nodes)
    newest = max(row["load_tstamp"] for row in project.loaded if row["load_tstamp"])
    row = next(row for row in project.loaded if row["event_id"] and row["load_tstamp"])
    project.load([dict(row, event_id=str(uuid.uuid4()),
                       load_tstamp=newest - dt.timedelta(hours=lookback_hours, minutes=1))])
    with pytest.raises(SignalsBatchError, match="1 source row was not counted"):
        project.test()


def _plain(value, type_name: str | None):
    if type_name == "dict" and isinstance(value, str):
        return json.loads(value)
    return value


def _same(engine, expected, type_name: str) -> bool:
    if type_name in FLOAT_TYPES and engine is not None and expected is not None:
        return math.isclose(engine, expected, rel_tol=FLOAT_TYPES[type_name], abs_tol=1e-9)
    return engine == expected


def updated_at_by_key(rows: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """{table: {key: updated_at}} of `rows()` (any case of the column's name)."""
    return {table: {key: next(v for k, v in row.items() if k.lower() == "updated_at")
                    for key, row in by_key.items()}
            for table, by_key in rows.items()}


def differences(engine: dict, expected: dict, groups: list[dict], limit: int = 40) -> list[str]:
    """Readable mismatches between engine tables and oracle tables (empty when equal)."""
    problems = []
    for group in groups:
        table = f"{group['name']}_v{group.get('version', 1)}_attributes"
        types = {a["name"]: a["type"] for a in group["attributes"]}
        got, want = engine.get(table, {}), expected.get(table, {})
        for key in sorted(set(got) ^ set(want), key=str):
            side = "engine only" if key in got else "oracle only"
            problems.append(f"{table}: key {key!r} {side}")
        for key in sorted(set(got) & set(want), key=str):
            for name, type_name in types.items():
                if not _same(got[key].get(name), want[key].get(name), type_name):
                    problems.append(f"{table}[{key!r}].{name}: engine {got[key].get(name)!r} "
                                    f"!= oracle {want[key].get(name)!r}")
    if len(problems) > limit:
        problems = problems[:limit] + [f"... and {len(problems) - limit} more"]
    return problems
