"""The Python API: one object per signals-batch project folder. The CLI is a shell over it.

from signals_batch.project import Project
project = Project("my_project")
project.generate()
summary = project.run(as_of=date(2025, 1, 6))
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from signals_batch.compiler import CompiledProject, compile_project, stale_files, write_project
from signals_batch.compiler.group import GroupPlan
from signals_batch.config import Settings, load_settings, setting_origin
from signals_batch.definitions import Definitions, load_definitions
from signals_batch.errors import InvalidInput, SignalsBatchError
from signals_batch.locks import file_lock
from signals_batch.runner.dbt import DbtResult, NodeResult, ProgressCallback, invoke_dbt
from signals_batch.scaffold import SUPPORTED_WAREHOUSES
from signals_batch.stores import ProfileStore, open_store
from signals_batch.stores.base import Watermark
from signals_batch.sync.syncer import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_LOCK_TIMEOUT,
    SyncSummary,
    keys_removed_since,
    sync_groups,
)
from signals_batch.warehouse import dbt_target, duckdb_path, profile_type

STATE_DIR = ".signals_batch"
PENDING_FULL_REFRESH = "full_refresh_pending"
RUN_SETTINGS = "run_settings.json"
RUN_LOCK = "run.lock"
DEFAULT_RUN_LOCK_TIMEOUT = 60.0
# how long `status` waits for a DuckDB file another process (a sync) has open
STATUS_WAIT = 10.0
# A group's row in the run state is its ident, `<name>_v<version>` (lifetime markers and the
# run's own rows have other names).
_GROUP_STATE_ROW = re.compile(r".+_v[0-9]+")
# written by the first run and full refreshes (macro record_unusable_events)
UNUSABLE_EVENTS_STATE_ROW = "signals_batch_events:unusable"
# the generated dbt test of the ledger (macros/tests.sql: events_counted)
MISSED_EVENTS_TEST = "signals_batch_events_counted_"


@dataclass
class StatusReport:
    """One entry per defined group (`Project.status`), and the groups removed from the
    definitions whose tables remain: like a deleted dbt model's, until someone drops them.
    `removed_groups` has an entry like `groups`' for each of them (`defined` false, no
    pending count): its last run, and the store's watermark, set while its profiles are
    still in the store (until `purge`)."""

    groups: list[dict[str, Any]]
    removed: list[str]
    removed_groups: list[dict[str, Any]] = field(default_factory=list)


def _status_entry(
    ident: str,
    run: dict[str, Any],
    store: ProfileStore,
    watermark: Watermark | None,
    *,
    type: str | None = None,
    table: str | None = None,
    pending: int | None = None,
    defined: bool = False,
    removals_pending: bool = False,
) -> dict[str, Any]:
    """One group's line of `status`: its last run (state row), the store's watermark."""
    return {
        "group": ident,
        "type": type,
        "table": table,
        "last_run": run.get("run_started_at"),
        "as_of": run.get("as_of"),
        "rows": run.get("row_count"),
        "changed": run.get("changed_count"),
        "store": store.description,
        # the text sync reports (ISO 8601, UTC)
        "watermark": watermark.updated_at.isoformat() if watermark else None,
        "pending": pending,
        # keys removed from the table since the last sync: the next sync resends the whole
        # table (`pending` counts all its rows) and removes them from the store
        "removals_pending": removals_pending,
        "defined": defined,
    }


class RunLocked(SignalsBatchError):
    """Another `run` (or `test`) of the same project holds its run lock (exit 1)."""


def run_lock(path: Path, timeout: float):
    """The project's run lock (`.signals_batch/run.lock`); RunLocked after `timeout` seconds."""

    def refused(holder: str | None) -> RunLocked:
        return RunLocked(
            f"another signals-batch run is using {path.parent.parent}"
            f"{f' (pid {holder})' if holder else ''}; waited {timeout:g}s "
            "for it: try again when it has finished, or wait longer (--lock-timeout)")

    return file_lock(path, timeout, refused)


def as_of_notices(as_of: dt.date, settings: Settings, today: dt.date) -> list[str]:
    """What a run should say about an as-of date that is legal but likely a mistake."""
    window_end = as_of - dt.timedelta(days=0 if settings.include_current_day else 1)
    if window_end < settings.start_date:  # a backfill before the data starts
        return [
            f"as of {as_of} the windows end on {window_end}, before start_date "
            f"{settings.start_date}: no event counts, every table is empty"
        ]
    if as_of > today:  # a typo, or a clock: windows that reach days with no events yet
        return [
            f"as of {as_of} is after today ({today}, UTC): the windows end on {window_end}, "
            "so the days not yet over count no events and windowed values will be low "
            "until they are; runs normally use today's date (the default) or a past one"
        ]
    return []


@dataclass
class GroupRunSummary:
    group: str
    table: str
    rows: int | None
    changed: int | None
    seconds: float


@dataclass
class RunSummary:
    as_of: dt.date
    full_refresh: bool
    new_events: int | None
    seconds: float
    groups: list[GroupRunSummary] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        return data


class Project:
    """A dbt project folder holding signals_batch.yml, profiles.yml and definitions."""

    def __init__(self, project_dir: Path | str = "."):
        self.dir = Path(project_dir).resolve()
        self._profile_checked: tuple[Any, ...] | None = None  # what check_profile last passed
        if not (self.dir / "dbt_project.yml").is_file():
            raise InvalidInput(
                f"{self.dir} is not a signals-batch project (no dbt_project.yml): "
                "run `signals-batch init DIR` or pass --project-dir"
            )

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.dir)

    @cached_property
    def definitions(self) -> Definitions:
        location = self.settings.definitions
        if location == "registry":  # the batch groups of a Signals API (e.g. `serve`)
            from signals_batch.api.registry import load_registry_definitions

            return load_registry_definitions(self.settings.signals_api)
        path = Path(location)
        return load_definitions(path if path.is_absolute() else self.dir / path)

    def compile(self) -> CompiledProject:
        return compile_project(self.definitions.groups, source_label=self.settings.definitions)

    def generate(self, check: bool = False) -> list[Path]:
        """Write the generated dbt files; with check, only list the stale ones."""
        compiled = self.compile()
        if check:
            return stale_files(self.dir, compiled, missing_package_ok=True)
        return write_project(self.dir, compiled)

    # ------------------------------------------------------------------ dbt

    def dbt_vars(self, rebuild: list[str] | None = None) -> dict:
        """--vars for dbt: settings that stay the same from run to run (a change of --vars
        makes dbt re-parse the project); the as-of date goes in dbt_env."""
        source = self.settings.source_parts
        values: dict[str, Any] = {
            "signals_start_date": self.settings.start_date.isoformat(),
            "signals_include_current_day": self.settings.include_current_day,
            "signals_lookback_window_hours": self.settings.lookback_window_hours,
            "signals_source_schema": source["schema"],
            "signals_source_table": source["table"],
        }
        if "database" in source:
            values["signals_source_database"] = source["database"]
        if rebuild:
            values["signals_rebuild_groups"] = rebuild
        return values

    def dbt_env(self, as_of: dt.date | None = None) -> dict[str, str]:
        return {
            "SIGNALS_BATCH_PROJECT_DIR": str(self.dir),
            "SIGNALS_BATCH_TARGET_SCHEMA": self.settings.target_schema,
            "SIGNALS_BATCH_AS_OF": as_of.isoformat() if as_of else "",
        }

    def dbt(
        self,
        command: list[str],
        vars: dict | None = None,
        progress: ProgressCallback | None = None,
        as_of: dt.date | None = None,
        explain: Callable[[NodeResult], str | None] | None = None,
    ) -> DbtResult:
        env = self.dbt_env(as_of)
        self.check_profile(env)
        return invoke_dbt(
            command, self.dir, vars=vars, env=env, progress=progress, explain=explain
        )

    def check_profile(self, env: dict[str, str] | None = None) -> None:
        """A profiles.yml dbt cannot use is the user's input to fix (exit 2, no secret in the
        message), said before anything connects; the adapter is one whose macros we ship.
        Checked once per profiles.yml and environment (a run asks several times)."""
        env = env if env is not None else self.dbt_env()
        profiles = self.dir / "profiles.yml"
        stat = profiles.stat() if profiles.is_file() else None
        checked = (stat and (stat.st_mtime_ns, stat.st_size), sorted(env.items()),
                   sorted(os.environ.items()))
        if checked == self._profile_checked:
            return
        adapter = profile_type(self.dir)
        if adapter not in SUPPORTED_WAREHOUSES:
            raise InvalidInput(
                f"{self.dir / 'profiles.yml'}: the target uses the dbt adapter {adapter!r}; "
                f"signals-batch runs on {', '.join(SUPPORTED_WAREHOUSES)}"
            )
        # `warehouse` is a check when given (init writes it); left out, profiles.yml decides
        if "warehouse" in self.settings.model_fields_set and adapter != self.settings.warehouse:
            raise InvalidInput(
                f"{self.dir / 'profiles.yml'}: the target uses the dbt adapter {adapter!r}, "
                f"but setting 'warehouse' is {self.settings.warehouse!r} "
                f"({setting_origin('warehouse', self.dir)}): make them agree (or select "
                "another target with DBT_TARGET)"
            )
        dbt_target(self.dir, env)
        if adapter == "duckdb":
            duckdb_path(self.dir)  # a file: sync, status and test read it themselves
        self._profile_checked = checked

    # ------------------------------------------------------------------ run

    @property
    def _state_dir(self) -> Path:
        return self.dir / STATE_DIR

    def _run_settings(self) -> dict[str, str]:
        """Settings that change what the daily partials hold: a change means a rebuild."""
        return {"source": self.settings.source, "start_date": self.settings.start_date.isoformat()}

    def run_lock(self, timeout: float = DEFAULT_RUN_LOCK_TIMEOUT):
        """Exclusive use of the project's warehouse models: `.signals_batch/run.lock`."""
        return run_lock(self._state_dir / RUN_LOCK, timeout)

    def run(
        self,
        as_of: dt.date | None = None,
        full_refresh: bool = False,
        select: list[str] | None = None,
        progress: ProgressCallback | None = None,
        lock_timeout: float = DEFAULT_RUN_LOCK_TIMEOUT,
    ) -> RunSummary:
        """Generate, then build the models incrementally (or from scratch).

        One run at a time per project: waits up to `lock_timeout` seconds for another one.
        """
        self._groups_to_run(select)  # a folder with nothing to run gets no lock file written
        with self.run_lock(lock_timeout):
            return self._run(as_of, full_refresh, select, progress)

    def _groups_to_run(self, select: list[str] | None) -> list:
        groups = self.definitions.select(select)
        if not groups:
            raise InvalidInput("no batch groups to run: add definitions (see `signals-batch init`)")
        return groups

    def _run(
        self,
        as_of: dt.date | None,
        full_refresh: bool,
        select: list[str] | None,
        progress: ProgressCallback | None,
    ) -> RunSummary:
        started = dt.datetime.now(dt.timezone.utc)
        as_of = as_of or started.date()
        notices = list(self.definitions.notices)
        groups = self._groups_to_run(select)
        notices += as_of_notices(as_of, self.settings, started.date())
        compiled = self.compile()
        plans = {plan.ident: plan for plan in compiled.plans}
        changed = write_project(self.dir, compiled)
        if changed:
            notices.append(f"generated {len(changed)} file(s) from the definitions")

        self._state_dir.mkdir(exist_ok=True)
        pending = self._state_dir / PENDING_FULL_REFRESH
        settings_file = self._state_dir / RUN_SETTINGS
        if not full_refresh and pending.exists():
            full_refresh, select = True, None
            notices.append("the last full refresh did not finish: running it again")
        elif not full_refresh and settings_file.exists():
            previous = json.loads(settings_file.read_text())
            current = self._run_settings()
            if previous != current:
                full_refresh, select = True, None
                changes = ", ".join(f"{name} {previous.get(name, '-')} -> {value}"
                                    for name, value in current.items()
                                    if previous.get(name) != value)
                notices.append(
                    f"settings changed since the last run ({changes}): rebuilding from scratch")

        command = ["run"]
        rebuild = None
        self.check_profile()  # before the state is read with it
        redefined = [] if full_refresh else self._redefined_groups([plans[g.ident] for g in groups])
        for ident in redefined:
            notices.append(
                f"group {ident}: its definition changed since its last run: rebuilding it from "
                "all events (Signals expects a new version for a changed definition)"
            )
        if select:
            models = ["signals_batch_events_this_run"]
            for group in groups:
                models += plans[group.ident].models
            command += ["--select", *models]
            if full_refresh:
                rebuild = [g.ident for g in groups]
        elif full_refresh:
            command.append("--full-refresh")
            pending.write_text(started.isoformat())
        else:
            command += ["--select", "path:models/signals_batch"]

        if redefined:
            rebuild = sorted({*(rebuild or []), *redefined})
        result = self.dbt(command, vars=self.dbt_vars(rebuild), progress=progress, as_of=as_of)
        if full_refresh and not select:
            pending.unlink(missing_ok=True)
        if not select or full_refresh or not settings_file.exists():
            settings_file.write_text(json.dumps(self._run_settings()))

        finished = dt.datetime.now(dt.timezone.utc)
        summary = RunSummary(
            as_of=as_of,
            full_refresh=full_refresh,
            new_events=None,
            seconds=round((finished - started).total_seconds(), 2),
            notices=notices,
        )
        timings = {node.name: node for node in result.nodes}
        try:
            state = self._read_state()
        except SignalsBatchError as error:  # the run itself succeeded: say so, counts unknown
            state = {}
            notices.append(f"the run finished, but its row counts could not be read: {error}")
        summary.new_events = state.get("signals_batch_events_this_run", {}).get("row_count")
        unusable = state.get(UNUSABLE_EVENTS_STATE_ROW, {}).get("row_count")
        if unusable:
            notices.append(
                f"{unusable:,} row(s) of {self.settings.source} from start_date on have no "
                "event_id or no load_tstamp: they never count (docs/incremental.md, "
                "\"Rows that never count\")"
            )
        for group in groups:
            node = timings.get(group.table_name)
            row = state.get(group.ident, {})
            summary.groups.append(
                GroupRunSummary(
                    group=group.ident,
                    table=group.table_name,
                    rows=row.get("row_count"),
                    changed=row.get("changed_count"),
                    seconds=round(node.seconds if node else 0.0, 2),
                )
            )
        return summary

    def test(
        self,
        progress: ProgressCallback | None = None,
        lock_timeout: float = DEFAULT_RUN_LOCK_TIMEOUT,
    ) -> DbtResult:
        """dbt tests of the generated models (after checking they are up to date and built)."""
        stale = self.generate(check=True)
        if stale:  # a failure of the project's state, as for `generate --check` (exit 1)
            raise SignalsBatchError(
                "generated files are stale: "
                + ", ".join(str(p) for p in stale[:5])
                + " - run `signals-batch generate`"
            )
        with self.run_lock(lock_timeout):  # not while a run writes the same tables
            self.check_profile()  # before the state is read with it
            state = self._read_state()
            never_run = [g.ident for g in self.definitions.batch_groups if g.ident not in state]
            if never_run:  # dbt would only say that a table does not exist
                raise SignalsBatchError(
                    f"no tables to test yet for {', '.join(never_run)} in "
                    f"{self.settings.target_schema}: run `signals-batch run` first"
                )
            return self.dbt(
                ["test", "--select", "path:models/signals_batch"],
                vars=self.dbt_vars(),
                progress=progress,
                explain=self._explain_test_failure,
            )

    def _explain_test_failure(self, node: NodeResult) -> str | None:
        if not node.name.startswith(MISSED_EVENTS_TEST):
            return None
        hours = self.settings.lookback_window_hours
        one = node.failures == 1
        count = f"{node.failures:,}" if node.failures is not None else "some"
        rows = "1 source row was" if one else f"{count} source rows were"
        it, they = ("it", "it") if one else ("them", "they")
        return (
            f"{rows} not counted, and no incremental run will count {it}: {they} became "
            "visible (committed by the loader) after a run had read rows loaded more than "
            f"lookback_window_hours ({hours} h) after {it}. Run `signals-batch run "
            f"--full-refresh` to count {it}, and raise lookback_window_hours if your loader "
            "can lag that much (docs/incremental.md)"
        )

    # ------------------------------------------------------------------ sync

    def open_store(self, store_type: str | None = None) -> ProfileStore:
        settings = self.settings.store
        if store_type is not None and store_type != settings.type:
            settings = settings.model_copy(update={"type": store_type})
        return open_store(settings, self.dir)

    def sync(
        self,
        store_type: str | None = None,
        full: bool = False,
        dry_run: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        progress: Callable[[str], None] | None = None,
    ) -> SyncSummary:
        """Push the changed rows of every batch and external batch group into the store."""
        groups = self.definitions.batch_groups + self.definitions.external_groups
        if not groups:
            raise InvalidInput("no batch groups to sync: add definitions")
        republisher = self.signals_api() if not dry_run else None
        store = self.open_store(store_type)
        try:
            # a sync that waits for another one's store lock waits for its DuckDB file too
            with self.warehouse(wait=lock_timeout) as reader:
                return sync_groups(
                    reader,
                    groups,
                    store,
                    self.settings.target_schema,
                    database=reader.default_database,
                    full=full,
                    dry_run=dry_run,
                    chunk_size=chunk_size,
                    lock_timeout=lock_timeout,
                    republisher=republisher,
                    progress=progress,
                )
        finally:
            store.close()
            if republisher is not None:
                republisher.close()

    def purge(
        self,
        groups: list[str],
        store_type: str | None = None,
        dry_run: bool = False,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> dict[str, Any]:
        """Remove every profile and the sync watermark of groups that are no longer in the
        definitions (named `<group>_v<version>`) from the store; {store, dry_run, groups:
        [{group, removed}], notices}. A group still defined is refused: the next sync would write
        it back."""
        if not groups:
            raise InvalidInput("name the groups to purge, with their version (e.g. shop_user_v1)")
        unversioned = [g for g in groups if not _GROUP_STATE_ROW.fullmatch(g)]
        if unversioned:
            raise InvalidInput(
                f"purge {', '.join(unversioned)}: name each group with its version, as "
                "`signals-batch status` lists them (e.g. shop_user_v1)"
            )
        defined = sorted({g.ident for g in self.definitions.groups} & set(groups))
        if defined:
            raise InvalidInput(
                f"{', '.join(defined)} still in the definitions: remove it from "
                f"{self.settings.definitions} first (a sync would write its profiles back), "
                "or publish a new version"
            )
        store = self.open_store(store_type)
        removed: dict[str, int] = {}
        notices = []
        try:
            with store.lock(lock_timeout):
                for ident in dict.fromkeys(groups):
                    if store.get_watermark(ident) is None and next(
                            iter(store.keys(ident)), None) is None:
                        # not refused: a purge may be rerun; but a typo should not pass unseen
                        notices.append(
                            f"{ident}: the {store.description} has no profile and no sync "
                            "watermark of it: already purged, or a misspelt name? "
                            "(`signals-batch status` lists the removed groups)")
                    if dry_run:
                        removed[ident] = sum(1 for _ in store.keys(ident))
                        continue
                    # a mark no profile has: every key of the group goes
                    removed[ident] = store.finish_full(ident, mark=f"purge:{uuid.uuid4().hex}")
                    store.reset_watermark(ident)
            description = store.description
        finally:
            store.close()
        return {
            "store": description,
            "dry_run": dry_run,
            "groups": [{"group": g, "removed": n} for g, n in removed.items()],
            "notices": notices,
        }

    def warehouse(self, wait: float = 0.0):
        """A reader of the project's warehouse (sync/reader.py), chosen by the dbt profile's
        adapter type and connected with that profile, rendered as for a run (a context
        manager); `wait`: seconds to wait for a DuckDB file another process holds."""
        from signals_batch.sync.reader import open_reader

        env = self.dbt_env()
        self.check_profile(env)
        return open_reader(self.dir, env, wait=wait)

    def signals_api(self):
        """The Signals API client, or None when no url is configured."""
        if not self.settings.signals_api.url:
            return None
        from signals_batch.api.client import SignalsApiClient

        return SignalsApiClient.from_settings(self.settings.signals_api)

    def get(
        self, key_value: str, group: str | None = None, store_type: str | None = None
    ) -> dict[str, dict[str, Any] | None]:
        """A key's values in the store, per group (all batch groups, or the one named)."""
        groups = self.definitions.select([group] if group else None, external=True)
        store = self.open_store(store_type)
        try:
            return {g.ident: store.get(g.ident, key_value) for g in groups}
        finally:
            store.close()

    def status(self, store_type: str | None = None) -> list[dict[str, Any]]:
        """Per group: last run, rows, the store's watermark and the rows waiting for a sync."""
        return self.status_report(store_type).groups

    def status_report(self, store_type: str | None = None) -> StatusReport:
        """`status`, plus the groups removed from the definitions whose run state (and so
        tables) the warehouse still has, read in the same warehouse session."""
        from signals_batch.sync.source import row_source

        groups = self.definitions.batch_groups + self.definitions.external_groups
        store = self.open_store(store_type)
        try:
            with self.warehouse(wait=STATUS_WAIT) as reader:
                state = reader.read_state(self.settings.target_schema)
                defined = {g.ident for g in groups}
                removed = sorted(
                    m for m in state if _GROUP_STATE_ROW.fullmatch(m) and m not in defined
                )
                report = []
                for group in groups:
                    watermark = store.get_watermark(group.ident)
                    source = row_source(
                        group, self.settings.target_schema, reader.default_database)
                    # keys left the table since the last sync: the next one resends it all
                    removals = keys_removed_since(state, group.ident, watermark) is not None
                    try:
                        pending = reader.count_changes(source, None if removals else watermark)
                    except SignalsBatchError as error:
                        if error.exit_code != 2:  # the warehouse failing, not a missing table
                            raise
                        pending = None
                    except Exception:  # DuckDB: table not built yet
                        pending = None
                    report.append(_status_entry(
                        group.ident, state.get(group.ident, {}), store, watermark,
                        type=group.type, table=source.label, pending=pending, defined=True,
                        removals_pending=removals))
                removed_report = [
                    _status_entry(ident, state[ident], store, store.get_watermark(ident))
                    for ident in removed
                ]
        finally:
            store.close()
        return StatusReport(report, removed, removed_report)

    def _redefined_groups(self, plans: list[GroupPlan]) -> list[str]:
        """The groups whose definition digest differs from the one their last run recorded
        (a group edited without a new version): their partials no longer match it."""
        try:
            state = self._read_state()
        except SignalsBatchError:
            return []  # no warehouse yet, or unreachable: the run itself will say so
        redefined = []
        for plan in plans:
            recorded = (state.get(plan.ident) or {}).get("settings") or ""
            _, found, digest = recorded.partition(";definition=")
            if found and digest != plan.definition_hash:
                redefined.append(plan.ident)
        return redefined

    def _read_state(self) -> dict[str, dict[str, Any]]:
        """The run state table (`WarehouseReader.read_state`) of the project's warehouse."""
        with self.warehouse() as reader:
            return reader.read_state(self.settings.target_schema)
