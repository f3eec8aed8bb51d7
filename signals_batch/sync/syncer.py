"""The sync loop: changed rows -> Profiles Store (chunk, then watermark) -> republish online.

Order is what makes a killed sync safe: a chunk is written before the watermark moves past
it, so a rerun resends at most one chunk (writes are idempotent and newer-wins), and a group
is republished only once all its rows are in the store.

The rows come from a `WarehouseReader` (sync/reader.py), the one of the dbt profile's adapter
(DuckDB, Snowflake). Speed and memory: each reader streams the changed rows in (updated_at,
key) order a chunk at a time, so a sync's memory does not grow with the table (DuckDB in
consecutive ranges of a bounded size, source.RANGE_ROWS, each sorted on its own with DuckDB's
memory capped; Snowflake sorts on the warehouse and the connector fetches the result in
chunks); a thread reads the next chunk while the store writes the one before; and with a store
offering `upsert_encoded` (redis) and a reader offering `read_encoded` (DuckDB), the warehouse
encodes each row's values as JSON, so no Python object is made per value.
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from signals_batch.definitions.models import AttributeGroup
from signals_batch.errors import InvalidInput, SignalsBatchError
from signals_batch.stores.base import GroupSpec, ProfileStore, Watermark
from signals_batch.sync.reader import WarehouseReader
from signals_batch.sync.source import RowSource, group_spec, row_source

DEFAULT_CHUNK_SIZE = 10_000
DEFAULT_LOCK_TIMEOUT = 60.0
#: DuckDB's memory during a sync: reading in (updated_at, key) order sorts the changed rows,
#: which spills to disk past this instead of growing with the table
SYNC_MEMORY_LIMIT = "96MB"


@dataclass
class GroupSyncSummary:
    group: str
    table: str
    rows_read: int = 0
    rows_written: int = 0
    rows_removed: int = 0
    watermark: str | None = None
    republished: bool | None = None  # None: no Signals API configured; False: it failed
    republish_error: str | None = None


@dataclass
class SyncSummary:
    store: str
    dry_run: bool
    full: bool
    seconds: float = 0.0
    groups: list[GroupSyncSummary] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SyncIncomplete(SignalsBatchError):
    """Every group's rows reached the store, but republishing some groups online failed
    (the Signals API is down, or refused): the summary is still the sync's to show."""

    def __init__(self, summary: SyncSummary) -> None:
        failed = [g for g in summary.groups if g.republished is False]
        super().__init__(
            f"republishing {len(failed)} group(s) online failed; their rows are in the "
            "store, and the next sync republishes them:\n  "
            + "\n  ".join(f"{g.group}: {g.republish_error}" for g in failed)
        )
        self.summary = summary


class Republisher:
    """What the syncer needs of the Signals API client."""

    def republish_online(self, group: AttributeGroup, batch_source: dict) -> None: ...

    def is_online(self, group: AttributeGroup, batch_source: dict) -> bool: ...


def sync_groups(
    reader: WarehouseReader | Any,
    groups: list[AttributeGroup],
    store: ProfileStore,
    target_schema: str,
    database: str | None = None,
    full: bool = False,
    dry_run: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    republisher: Republisher | None = None,
    progress: Callable[[str], None] | None = None,
) -> SyncSummary:
    """Push every group's changed rows into `store` (see the module docstring). `reader` is
    a WarehouseReader, or a DuckDB connection (read with the DuckDB reader)."""
    if not isinstance(reader, WarehouseReader):
        from signals_batch.sync.duckdb_reader import DuckDBReader

        reader = DuckDBReader.over(reader)
    started = dt.datetime.now()
    summary = SyncSummary(store=store.description, dry_run=dry_run, full=full)
    sources = [row_source(g, target_schema, database) for g in groups]
    problems = []  # every problem with the tables, all said, before anything is sent
    for source in sources:
        try:
            reader.check(source)
        except InvalidInput as problem:
            problems.append(str(problem))
    if len(problems) == 1:
        raise InvalidInput(problems[0])
    if problems:
        raise InvalidInput(
            f"{len(problems)} groups cannot sync:\n  " + "\n  ".join(problems))
    state = reader.read_state(target_schema)
    failed_kinds: set[type[SignalsBatchError]] = set()
    unreachable: list[str] = []  # the group whose republish found no API

    def run() -> None:
        for source in sources:
            group = source.group
            spec = group_spec(group)
            result = GroupSyncSummary(group=group.ident, table=source.label)
            summary.groups.append(result)
            after = None if full else store.get_watermark(group.ident)
            removed_at = None if full else keys_removed_since(state, group.ident, after)
            if removed_at is not None:
                after = None  # the whole table, and the keys it no longer has removed
                summary.notices.append(
                    f"{group.ident}: keys left {source.label} (run of "
                    f"{removed_at:%Y-%m-%d %H:%M:%S}) since the store's last sync: "
                    + ("a sync will resend the whole table and remove them" if dry_run else
                       "resent the whole table and removed them from the store"))
            reconcile = full or removed_at is not None
            if dry_run:  # what would be sent after the store's watermark, which stays
                result.rows_read = reader.count_changes(source, after)
                result.watermark = after.updated_at.isoformat() if after else None
                if reconcile:  # and the store's keys the table no longer has
                    result.rows_removed = _keys_missing_from(reader, source, store, chunk_size)
                continue
            mark = uuid.uuid4().hex if reconcile else None
            last = _push(reader, source, spec, after, mark, store, chunk_size, result, progress)
            if reconcile:
                result.rows_removed = store.finish_full(group.ident, mark)
                if last is not None:  # every row sent, the others removed: now it moves
                    store.upsert(spec, [], watermark=last)
            position = store.get_watermark(group.ident)
            if removed_at is not None and (position is None or position.updated_at < removed_at):
                # the removing run wrote no newer row: the watermark goes to it, so the next
                # sync does not reconcile again (every row up to it was just sent)
                store.upsert(spec, [], watermark=Watermark(removed_at, ""))
                position = store.get_watermark(group.ident)
            result.watermark = position.updated_at.isoformat() if position else None
            if republisher is not None and unreachable:
                result.republished = False
                result.republish_error = "not tried: the Signals API did not answer for " \
                    f"{unreachable[0]}"
            elif republisher is not None:
                # the registry is not the store: its failure stops no other group's rows
                try:
                    if (result.rows_read or reconcile or after is None
                            or not republisher.is_online(group, source.batch_source)):
                        republisher.republish_online(group, source.batch_source)
                        result.republished = True
                except SignalsBatchError as error:
                    result.republished, result.republish_error = False, str(error)
                    failed_kinds.add(type(error))
                    if getattr(error, "unreachable", False):  # no retries for every group
                        unreachable.append(group.ident)

    with reader.sync_session():
        if dry_run:
            run()
        else:
            with store.lock(lock_timeout):
                run()
    if republisher is None and not dry_run:
        summary.notices.append(
            "no Signals API configured (signals_api.url): rows were pushed, republishing "
            "the groups online was skipped"
        )
    summary.seconds = round((dt.datetime.now() - started).total_seconds(), 3)
    if failed_kinds:
        incomplete = SyncIncomplete(summary)
        # wrong credentials or a refused definition for every group: the user's input
        incomplete.exit_code = 2 if failed_kinds == {InvalidInput} else 1
        raise incomplete
    return summary


def keys_removed_since(state: dict[str, dict[str, Any]], group_ident: str,
                       after: Watermark | None) -> dt.datetime | None:
    """When the last run that removed keys from the group's table (its `<group>:keys_removed`
    state row) ran, if the store has not been reconciled with the table since; else None.
    A store without a watermark for the group holds none of its keys."""
    if after is None:
        return None
    marker = state.get(f"{group_ident}:keys_removed")
    removed_at = marker.get("run_started_at") if marker else None
    if removed_at is None:
        return None
    if isinstance(removed_at, str):
        removed_at = dt.datetime.fromisoformat(removed_at)
    removed_at = removed_at.replace(tzinfo=None)
    if after.updated_at.replace(tzinfo=None) >= removed_at:
        return None
    return removed_at


def _keys_missing_from(
    reader: WarehouseReader, source: RowSource, store: ProfileStore, chunk_size: int
) -> int:
    """How many of the group's keys in the store its table no longer has (what a
    reconciling sync would remove); holds the table's keys, not its rows, in memory."""
    in_table = {
        row.key_value for chunk in reader.read_changes(source, None, chunk_size) for row in chunk
    }
    return sum(1 for key in store.keys(source.group.ident) if key not in in_table)


def _push(
    reader: WarehouseReader,
    source: RowSource,
    spec: GroupSpec,
    after: Watermark | None,
    mark: str | None,
    store: ProfileStore,
    chunk_size: int,
    result: GroupSyncSummary,
    progress: Callable[[str], None] | None,
) -> Watermark | None:
    """Send a group's changed rows, chunk by chunk, each with the watermark of its last row;
    return the last row's position. With a `mark` (a sync that ends by removing the keys it
    did not send) the chunks leave the watermark where it is: moved before the removal, it
    would tell a sync killed in between that nothing is left to remove."""
    last: Watermark | None = None
    upsert_encoded = getattr(store, "upsert_encoded", None)
    chunks = reader.read_encoded(source, after, chunk_size) if upsert_encoded else None
    if upsert_encoded is not None and chunks is not None:
        # the fast path: the warehouse encodes the values, the store sends them as they are;
        # the reader thread also prepares what the store sends, when the store can
        prepare = getattr(store, "prepare_encoded", None)
        ahead = read_ahead(chunks, lambda c: (c, prepare(spec, c, mark) if prepare else None))

        def write(item: tuple[Any, Any]) -> tuple[int, int, Watermark]:
            chunk, prepared = item
            extra = {"prepared": prepared} if prepared is not None else {}
            return len(chunk), upsert_encoded(
                spec, chunk, watermark=None if mark else chunk.position, mark=mark, **extra
            ), chunk.position
    else:
        ahead = read_ahead(reader.read_changes(source, after, chunk_size))

        def write(item: Any) -> tuple[int, int, Watermark]:
            position = item[-1].position
            return len(item), store.upsert(
                spec, item, watermark=None if mark else position, mark=mark), position

    with closing(ahead):  # the reader thread is done with the connection when this ends
        for item in ahead:
            read, written, last = write(item)
            result.rows_read += read
            result.rows_written += written
            if progress:
                progress(f"{spec.ident}: {result.rows_read} rows sent")
    return last


T = TypeVar("T")


def read_ahead(chunks: Iterator[T], prepare: Callable[[T], Any] | None = None) -> Iterator[Any]:
    """`chunks` (each passed through `prepare` when given), the next one read by a thread
    while the caller handles this one: the warehouse reads and encodes rows while the store
    writes the chunk before (at most three chunks in memory). The thread is done with the
    connection when this generator ends."""
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(("chunk", prepare(chunk) if prepare else chunk)):
                    return
            put(("end", None))
        except BaseException as error:  # handed to the caller, raised there
            put(("error", error))

    reader = threading.Thread(target=produce, name="signals-batch-sync-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        reader.join()
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


@contextmanager
def duckdb_settings(con) -> Iterator[None]:
    """On a DuckDB connection, for the sync: memory capped at SYNC_MEMORY_LIMIT (the sorts
    spill to DuckDB's temp directory past it; left as it is when spilling is off), a core left
    to the Python thread that sends the rows, no progress bar on stdout; then the settings as
    they were."""
    if type(con).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
        yield
        return
    setting = "select current_setting(?)"
    before = {n: con.execute(setting, [n]).fetchone()[0]
              for n in ("memory_limit", "threads", "enable_progress_bar")}
    if con.execute(setting, ["temp_directory"]).fetchone()[0]:
        con.execute(f"SET memory_limit = '{SYNC_MEMORY_LIMIT}'")
    con.execute(f"SET threads = {max(1, min(int(before['threads']), (os.cpu_count() or 2) - 1))}")
    con.execute("SET enable_progress_bar = false")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{before['memory_limit']}'")
        con.execute(f"SET threads = {int(before['threads'])}")
        con.execute(f"SET enable_progress_bar = {str(bool(before['enable_progress_bar']))}")
