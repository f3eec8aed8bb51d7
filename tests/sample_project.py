"""A project made by `init` with sample events in its DuckDB warehouse (scheduling tests)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from signals_batch import sample_events
from signals_batch.scaffold import init_project
from signals_batch.warehouse import connect

START = dt.date(2025, 1, 1)
DAYS = 10
AS_OF = START + dt.timedelta(days=DAYS)


def make_sample_project(directory: Path, n_events: int = 1500, seed: int = 11) -> Path:
    """`signals-batch init` + sample atomic events (late and duplicated ones included)."""
    init_project(directory, start_date=START.isoformat())
    events = sample_events.generate_events(
        n_events=n_events, days=DAYS, users=30, seed=seed, start=START
    )
    with connect(directory, create=True) as con:
        sample_events.create_events_table(con)
        sample_events.write_events(con, events)
    return directory


def table_counts(directory: Path) -> dict[str, int]:
    """Rows of every `<group>_attributes` table, by group ident."""
    with connect(directory, read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'signals' and table_name like '%_attributes'"
            ).fetchall()
        ]
        return {
            name.removesuffix("_attributes"): con.execute(
                f'select count(*) from signals."{name}"'
            ).fetchone()[0]
            for name in names
        }


def store_counts(directory: Path, groups: list[str], path: Path | None = None) -> dict[str, int]:
    """Keys per group in the project's local store (or the local store at `path`)."""
    from signals_batch.project import Project
    from signals_batch.stores.local import LocalStore

    store = LocalStore(path) if path else Project(directory).open_store()
    try:
        return {group: store.count(group) for group in groups}
    finally:
        store.close()
