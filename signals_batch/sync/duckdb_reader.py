"""The DuckDB reader: the project's DuckDB file, read with the functions of `source`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from signals_batch.stores.base import EncodedChunk, ProfileRow, Watermark
from signals_batch.sync import source as reads
from signals_batch.sync.reader import WarehouseReader, state_rows
from signals_batch.sync.source import RowSource


class DuckDBReader(WarehouseReader):
    type = "duckdb"

    def __init__(self, con, close: contextlib.ExitStack | None = None, label: str = "DuckDB"):
        self.con = con
        self._close = close
        self._label = label

    @classmethod
    def open(cls, project_dir: Path, env: Mapping[str, str], wait: float = 0.0
             ) -> DuckDBReader:
        from signals_batch.warehouse import connect, duckdb_path

        stack = contextlib.ExitStack()
        con = stack.enter_context(connect(project_dir, wait=wait))
        return cls(con, stack, f"DuckDB {duckdb_path(project_dir)}")

    @classmethod
    def over(cls, con) -> DuckDBReader:
        """A reader over a connection the caller owns (and closes)."""
        return cls(con)

    @property
    def description(self) -> str:
        return self._label

    @property
    def default_database(self) -> str | None:
        return self.con.execute("select current_database()").fetchone()[0]

    def check(self, source: RowSource) -> None:
        reads.check_source(self.con, source)

    def count_changes(self, source: RowSource, after: Watermark | None) -> int:
        return reads.count_changes(self.con, source, after)

    def read_changes(
        self, source: RowSource, after: Watermark | None, chunk_size: int
    ) -> Iterator[list[ProfileRow]]:
        return reads.read_changes(self.con, source, after, chunk_size)

    def read_encoded(
        self, source: RowSource, after: Watermark | None, chunk_size: int
    ) -> Iterator[EncodedChunk] | None:
        values_sql = reads.encoded_values_sql(self.con, source)
        if values_sql is None:
            return None
        return reads.read_encoded(self.con, source, after, chunk_size, values_sql)

    def read_state(self, schema: str) -> dict[str, dict[str, Any]]:
        con = self.con
        found = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = 'signals_batch_state'",
            [schema],
        ).fetchone()[0]
        if not found:
            return {}
        rows = con.execute(
            f"select model, as_of, run_started_at, row_count, changed_count, settings "
            f'from "{schema}".signals_batch_state'
        ).fetchall()
        new_events = con.execute(
            f'select count(*) from "{schema}".signals_batch_events_this_run'
        ).fetchone()[0]
        return state_rows(rows, new_events)

    def sync_session(self) -> contextlib.AbstractContextManager[None]:
        from signals_batch.sync.syncer import duckdb_settings

        return duckdb_settings(self.con)

    def close(self) -> None:
        if self._close is not None:
            self._close.close()
            self._close = None

