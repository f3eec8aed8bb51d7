"""`signals-batch quickstart`: the whole job on sample data, with nothing to set up."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signals_batch.project import Project
from signals_batch.scaffold import init_project

SAMPLE_START = dt.date(2025, 1, 1)
SAMPLE_DAYS = 14


def write_sample_events(folder: Path | str, table: str = "atomic.events") -> int:
    """Write the demo's sample events (SAMPLE_DAYS days from SAMPLE_START, late and
    duplicated arrivals included) into the project's DuckDB file; return how many.

    Refuses (InvalidInput) when ``table`` already holds rows: the sample is for trying the
    workflow on an empty warehouse, not for mixing into real events.
    """
    from signals_batch import sample_events
    from signals_batch.errors import InvalidInput
    from signals_batch.warehouse import connect

    events = sample_events.generate_events(
        n_events=5000, days=SAMPLE_DAYS, users=40, seed=7, start=SAMPLE_START
    )
    with connect(Path(folder), create=True) as con:
        sample_events.create_events_table(con, table)
        rows = sample_events.count_events(con, table)
        if rows:
            raise InvalidInput(
                f"{table} in {folder} already holds {rows} rows: sample events go only into "
                "an empty events table"
            )
        sample_events.write_events(con, events, table)
    return len(events)


def sample_as_of() -> dt.date:
    """The reference date that covers every sample event (the day after the last)."""
    return SAMPLE_START + dt.timedelta(days=SAMPLE_DAYS)


def run_quickstart(
    directory: Path | None = None, progress: Callable[[str], None] = lambda message: None
) -> dict[str, Any]:
    """Create a project with sample events, run it, and return one user's attributes."""
    from signals_batch.warehouse import connect

    folder = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="signals-batch-"))
    progress(f"creating a demo project in {folder}")
    init_project(folder, start_date=SAMPLE_START.isoformat())
    project = Project(folder)

    count = write_sample_events(folder)
    progress(
        f"wrote {count} sample events (late and duplicated ones included) "
        "into warehouse.duckdb atomic.events"
    )

    as_of = sample_as_of()
    progress(f"generating dbt models and running them as of {as_of}")
    summary = project.run(as_of=as_of)
    group = project.definitions.batch_groups[0]
    synced = project.sync()
    progress(f"synced {sum(g.rows_written for g in synced.groups)} rows into the {synced.store}")
    with connect(folder) as con:
        (key_value,) = con.execute(
            f'select "{group.key_name}" from "{project.settings.target_schema}".'
            f'"{group.table_name}" order by "{group.key_name}" limit 1'
        ).fetchone()
    profile = project.get(key_value, group=group.ident)[group.ident] or {}
    profile.pop("updated_at", None)
    return {
        "project_dir": str(folder),
        "as_of": as_of.isoformat(),
        "group": group.ident,
        "key": group.key_name,
        "key_value": key_value,
        "attributes": profile,
        "run": summary.to_dict(),
        "sync": synced.to_dict(),
    }
