"""The sync loop: changed rows -> Profiles Store (chunk, then watermark) -> republish online.

Order is what makes a killed sync safe: a chunk is written before the watermark moves past
it, so a rerun resends at most one chunk (writes are idempotent and newer-wins), and a group
is republished only once all its rows are in the store.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from signals_batch.definitions.models import AttributeGroup
from signals_batch.stores.base import ProfileStore
from signals_batch.sync.source import (
    check_source,
    count_changes,
    group_spec,
    read_changes,
    row_source,
)

DEFAULT_CHUNK_SIZE = 10_000
DEFAULT_LOCK_TIMEOUT = 60.0


@dataclass
class GroupSyncSummary:
    group: str
    table: str
    rows_read: int = 0
    rows_written: int = 0
    rows_removed: int = 0
    watermark: str | None = None
    republished: bool | None = None  # None: no Signals API configured


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


class Republisher:
    """What the syncer needs of the Signals API client."""

    def republish_online(self, group: AttributeGroup, batch_source: dict) -> None: ...


def sync_groups(
    con,
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
    """Push every group's changed rows into `store` (see the module docstring)."""
    started = dt.datetime.now()
    summary = SyncSummary(store=store.description, dry_run=dry_run, full=full)
    sources = [row_source(g, target_schema, database) for g in groups]
    for source in sources:  # every problem with the tables before anything is sent
        check_source(con, source)

    def run() -> None:
        for source in sources:
            group = source.group
            spec = group_spec(group)
            result = GroupSyncSummary(group=group.ident, table=source.label)
            summary.groups.append(result)
            after = None if full else store.get_watermark(group.ident)
            if dry_run:
                result.rows_read = count_changes(con, source, after)
                continue
            mark = uuid.uuid4().hex if full else None
            for chunk in read_changes(con, source, after, chunk_size):
                result.rows_read += len(chunk)
                result.rows_written += store.upsert(
                    spec, chunk, watermark=chunk[-1].position, mark=mark
                )
                if progress:
                    progress(f"{group.ident}: {result.rows_read} rows sent")
            if full:
                result.rows_removed = store.finish_full(group.ident, mark)
            position = store.get_watermark(group.ident)
            result.watermark = position.updated_at.isoformat() if position else None
            if republisher is not None and (result.rows_read or full or after is None):
                republisher.republish_online(group, source.batch_source)
                result.republished = True

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
    return summary
