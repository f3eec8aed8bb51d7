"""Reading a project's warehouse from Python: one `WarehouseReader` per dbt adapter type.

`sync`, `status`, `get` and the run summary need the same few reads wherever the attribute
tables live: does a table have the columns a group needs, how many rows changed after a
watermark, those rows in (updated_at, key) order a chunk at a time, and the run state table.
Each warehouse answers them with its own client and SQL dialect behind this interface, chosen
by the `type` of the dbt profile the runs use (`open_reader`):

- duckdb: the DuckDB file itself, with its fast path (DuckDB encodes the rows as JSON);
- snowflake: the Snowflake connector, connected with dbt-snowflake's own credentials;
- bigquery: google-cloud-bigquery, with dbt-bigquery's own credentials (`api_endpoint` from
  the profile reaches an emulator).

Another warehouse: implement `WarehouseReader` in `<adapter>_reader.py` and add it to
`READERS`; nothing else changes.

Every reader keeps one contract (SEMANTICS.md section 8): rows ordered by (change marker,
key as text), the change marker compared as naive UTC with microseconds, values JSON-ready
exactly as the DuckDB path gives them (`source._json_ready`), and a missing table or column
an `InvalidInput` naming the group before anything is sent.
"""

from __future__ import annotations

import contextlib
import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from signals_batch.errors import InvalidInput, SignalsBatchError
from signals_batch.stores.base import EncodedChunk, ProfileRow, Watermark
from signals_batch.sync.source import RowSource


class WarehouseUnavailable(SignalsBatchError):
    """The warehouse could not be reached or refused the profile's credentials (exit 1). The
    message names the warehouse and the profile target, never a secret."""


#: adapter type of the dbt profile -> "module:class" of its reader (imported when used, so a
#: project on DuckDB never imports a warehouse client it does not have)
READERS: dict[str, str] = {
    "duckdb": "signals_batch.sync.duckdb_reader:DuckDBReader",
    "snowflake": "signals_batch.sync.snowflake_reader:SnowflakeReader",
    "bigquery": "signals_batch.sync.bigquery_reader:BigQueryReader",
}


class WarehouseReader(ABC):
    """The reads of one warehouse connection (see the module docstring). A context manager;
    `close()` ends the connection."""

    #: the dbt adapter type this reader serves
    type: ClassVar[str]

    @classmethod
    @abstractmethod
    def open(cls, project_dir: Path, env: Mapping[str, str], wait: float = 0.0
             ) -> WarehouseReader:
        """Connect with the settings of the project's dbt profile; `env` is what signals-batch
        sets for dbt runs (SIGNALS_BATCH_TARGET_SCHEMA ...), so the profile renders as it does
        for `run`. `wait`: how long to wait for a warehouse another process holds (a DuckDB
        file is open in one writing process at a time)."""

    @property
    @abstractmethod
    def description(self) -> str:
        """How messages name the warehouse (no secret)."""

    @property
    def default_database(self) -> str | None:
        """The database the attribute tables are in (the profile's), None if not applicable."""
        return None

    @abstractmethod
    def check(self, source: RowSource) -> None:
        """The table and every column of `source` exist, else InvalidInput naming the group
        and what is missing."""

    @abstractmethod
    def count_changes(self, source: RowSource, after: Watermark | None) -> int:
        """How many rows are after `after` in (change marker, key) order."""

    @abstractmethod
    def read_changes(
        self, source: RowSource, after: Watermark | None, chunk_size: int
    ) -> Iterator[list[ProfileRow]]:
        """The rows after `after`, in (change marker, key) order, `chunk_size` at a time (or
        fewer), streamed: never the whole table in memory."""

    def read_encoded(
        self, source: RowSource, after: Watermark | None, chunk_size: int
    ) -> Iterator[EncodedChunk] | None:
        """Optional fast path: `read_changes` with the values already encoded as JSON text
        by the warehouse (for a store offering `upsert_encoded`); None when not offered for
        this source."""
        return None

    @abstractmethod
    def read_state(self, schema: str) -> dict[str, dict[str, Any]]:
        """The `signals_batch_state` table of the last runs, per model: as_of, run_started_at,
        row_count, changed_count, settings; plus `signals_batch_events_this_run`: {row_count}. Empty
        when no run has written it yet."""

    def sync_session(self) -> contextlib.AbstractContextManager[None]:
        """Session settings for the length of a sync (DuckDB caps its memory)."""
        return contextlib.nullcontext()

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> WarehouseReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def state_rows(rows: list[tuple], new_events: int | None) -> dict[str, dict[str, Any]]:
    """The state table's rows (model, as_of, run_started_at, row_count, changed_count,
    settings) as `WarehouseReader.read_state` returns them."""
    state: dict[str, dict[str, Any]] = {
        r[0]: {
            "as_of": r[1],
            "run_started_at": r[2],
            "row_count": None if r[3] is None else int(r[3]),
            "changed_count": None if r[4] is None else int(r[4]),
            "settings": r[5],
        }
        for r in rows
    }
    state["signals_batch_events_this_run"] = {
        "row_count": None if new_events is None else int(new_events)
    }
    return state


def reader_class(adapter_type: str) -> type[WarehouseReader]:
    target = READERS.get(adapter_type)
    if target is None:
        raise InvalidInput(
            f"reading the warehouse (sync, status) supports the dbt adapters "
            f"{', '.join(sorted(READERS))}; this project's profile uses {adapter_type!r}"
        )
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


@contextlib.contextmanager
def open_reader(project_dir: Path, env: Mapping[str, str], wait: float = 0.0
                ) -> Iterator[WarehouseReader]:
    """The reader for the project's dbt profile (its `type` picks the class)."""
    from signals_batch.warehouse import profile_type

    reader = reader_class(profile_type(project_dir)).open(project_dir, env, wait=wait)
    try:
        yield reader
    finally:
        reader.close()
