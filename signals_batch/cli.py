"""The `signals-batch` command: parse, call one function of the Python API, render.

Data goes to stdout (`--json` for machines); progress, notices and errors to stderr.
Exit codes: 0 ok, 1 failure, 2 invalid input or usage (never 99, Airflow's "skipped").
`--log-format json` turns everything on stderr into JSON lines, for schedulers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.console import Console
from rich.table import Table

from signals_batch.errors import InvalidInput, SignalsBatchError
from signals_batch.sync.syncer import SyncIncomplete

app = typer.Typer(
    name="signals-batch",
    help="Compute Snowplow Signals batch attributes in your warehouse with dbt, "
    "and sync them into a Profiles Store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
# Without a terminal (a pipe, cron) rich would cut tables at 80 columns: print them whole.
PIPE_WIDTH = 10_000


class LogFormat(str, Enum):
    text = "text"
    json = "json"


class _State:
    debug = False
    quiet = False
    log_format = LogFormat.text


ProjectDir = Annotated[
    Path, typer.Option("--project-dir", "-p", help="The project folder.", show_default=True)
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def _print_version(value: bool) -> None:
    if value:
        from signals_batch import __version__

        out.print(f"signals-batch {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _global(
    version: Annotated[  # noqa: ARG001 (handled by its callback)
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True,
                     callback=_print_version),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            help="text, or json: one JSON object per line on stderr "
            '({"time", "level", "message", ...}), for schedulers.',
        ),
    ] = LogFormat.text,
) -> None:
    _State.debug, _State.quiet, _State.log_format = debug, quiet, log_format
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPE_WIDTH
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h.formatter, _JsonFormatter)]:
        root.removeHandler(handler)
    logging.captureWarnings(log_format == LogFormat.json)
    if log_format == LogFormat.json:  # library warnings as JSON lines too
        handler = logging.StreamHandler()
        handler.setFormatter(_JsonFormatter())
        root.addHandler(handler)
        if debug:
            root.setLevel(logging.DEBUG)


def _log(level: str, message: str, **fields: Any) -> None:
    """One JSON line on stderr (--log-format json)."""
    record = {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
        "level": level,
        "message": message,
        **fields,
    }
    sys.stderr.write(json.dumps(record, default=str) + "\n")
    sys.stderr.flush()


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(
                    timespec="milliseconds"
                ),
                "level": record.levelname.lower(),
                "message": record.getMessage(),
                "logger": record.name,
            },
            default=str,
        )


def _notice(message: str, **fields: Any) -> None:
    if _State.quiet:
        return
    if _State.log_format == LogFormat.json:
        _log("info", message, **fields)
    else:
        err.print(message, markup=False, highlight=False)


def _summary(line: str, data: dict[str, Any], stdout: bool = True) -> None:
    """The one-line outcome of run / sync: on stdout, and as a JSON log record."""
    if stdout:
        out.print(line, markup=False, highlight=False)
    if _State.log_format == LogFormat.json and not _State.quiet:
        _log("info", line, event="summary", summary=data)


def _progress_printer():
    """Plain progress lines on stderr; a rich progress bar on a terminal."""
    if _State.quiet:
        return None, None
    if _State.log_format == LogFormat.json:

        def record(node: str, status: str, index: int, total: int) -> None:
            if status != "started":
                _log(
                    "info",
                    f"[{index}/{total}] {node}: {status}",
                    event="progress",
                    node=node,
                    status=status,
                    index=index,
                    total=total,
                )

        return record, None
    if err.is_terminal:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        task = progress.add_task("dbt", total=None)

        def update(node: str, status: str, index: int, total: int) -> None:
            progress.update(
                task,
                total=total or None,
                completed=index - (status == "started"),
                description=f"{node} {status}",
            )

        return update, progress

    def line(node: str, status: str, index: int, total: int) -> None:
        if status != "started":
            err.print(f"[{index}/{total}] {node}: {status}", markup=False, highlight=False)

    return line, None


def _with_progress(call):
    update, progress = _progress_printer()
    if progress is None:
        return call(update)
    with progress:
        return call(update)


def _project(project_dir: Path):
    from signals_batch.config import misspelt_variables
    from signals_batch.project import Project

    project = Project(project_dir)
    for notice in misspelt_variables(os.environ):
        _notice(notice)
    return project


def _emit_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


def _cell(value: Any) -> str:
    """A table cell: `-` for a value not known (yet)."""
    return "-" if value is None else str(value)


def _parse_date(value: str | None, option: str = "--as-of") -> dt.date | None:
    if value is None:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None


# --------------------------------------------------------------------------- commands


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    warehouse: Annotated[
        str, typer.Option(help="duckdb, snowflake or bigquery")
    ] = "duckdb",
    start_date: Annotated[
        str, typer.Option(help="Events before this day never count (YYYY-MM-DD).")
    ] = "2025-01-01",
    with_sample_events: Annotated[
        bool,
        typer.Option(
            "--sample-events",
            help="Also write the quickstart's sample events (2 weeks of January 2025) into "
            "warehouse.duckdb, to try the workflow before loading your own (DuckDB only).",
        ),
    ] = False,
) -> None:
    """Create a project: dbt project, profiles.yml, signals_batch.yml and example definitions."""
    from signals_batch.config import load_settings
    from signals_batch.quickstart import sample_as_of, write_sample_events
    from signals_batch.scaffold import init_project

    if with_sample_events and warehouse != "duckdb":
        raise InvalidInput(
            f"--sample-events writes into the project's DuckDB file; with --warehouse "
            f"{warehouse} load your atomic events into {warehouse} instead"
        )
    start = _parse_date(start_date, "--start-date")
    written = init_project(directory, warehouse=warehouse, start_date=start.isoformat())
    for path in written:
        _notice(f"wrote {path}")
    run = "signals-batch run"
    if with_sample_events:
        source = load_settings(directory).source
        count = write_sample_events(directory, source)
        _notice(f"wrote {count} sample events into warehouse.duckdb {source}")
        run = f"signals-batch run --as-of {sample_as_of()}"
    _notice(f"next: cd {directory} && signals-batch validate && {run}")


@app.command()
def validate(project_dir: ProjectDir = Path("."), as_json: JsonFlag = False) -> None:
    """Check the definitions only (exit 2 with every problem when they are invalid)."""
    project = _project(project_dir)
    try:
        definitions = project.definitions
        if not definitions.groups:  # `run` would refuse it: say so now (a wrong path in CI)
            raise InvalidInput(
                f"no attribute groups in the definitions ({project.settings.definitions!r}, "
                "setting `definitions`): add a group (docs/definitions.md) or fix the path"
            )
    except InvalidInput as error:
        if as_json:  # the problems on stdout too; the text still goes to stderr (exit 2)
            from dataclasses import asdict

            from signals_batch.definitions import DefinitionError

            problems = (
                [asdict(p) for p in error.problems]
                if isinstance(error, DefinitionError)  # settings, a missing folder: one message
                else [{"source": None, "group": None, "attribute": None, "message": str(error)}]
            )
            _emit_json({"valid": False, "problems": problems})
        raise
    for notice in definitions.notices:
        _notice(notice)
    groups = [
        {
            "group": g.ident,
            "type": g.type,
            "key": g.key_name,
            "attributes": len(g.attributes or g.fields or []),
        }
        for g in definitions.groups
    ]
    if as_json:
        _emit_json({"valid": True, "groups": groups})
    else:
        for g in groups:
            out.print(
                f"{g['group']}: {g['type']}, key {g['key']}, {g['attributes']} attributes",
                markup=False,
                highlight=False,
            )
        out.print(f"{len(groups)} group(s) valid", markup=False, highlight=False)


@app.command()
def generate(
    project_dir: ProjectDir = Path("."),
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when generated files are stale.")
    ] = False,
) -> None:
    """Write the dbt models for the definitions (deterministic; --check for CI)."""
    project = _project(project_dir)
    changed = project.generate(check=check)
    if check:
        if changed:
            for path in changed:
                err.print(f"stale: {path}", markup=False, highlight=False)
            raise SignalsBatchError(
                f"{len(changed)} generated file(s) are stale: run `signals-batch generate`"
            )
        out.print("generated files are up to date", markup=False, highlight=False)
        return
    for path in changed:  # generated files no group needs any more are deleted
        _notice(f"{'wrote' if (project.dir / path).exists() else 'removed'} {path}")
    out.print(f"{len(changed)} file(s) changed", markup=False, highlight=False)


@app.command()
def run(
    project_dir: ProjectDir = Path("."),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Reference date R (YYYY-MM-DD); default: today (UTC)."),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild from all events.")
    ] = False,
    select: Annotated[
        list[str] | None, typer.Option("--select", "-s", help="Only this group (repeatable).")
    ] = None,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout", min=0, help="Seconds to wait for another run of the same project."
        ),
    ] = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Generate the models, then build them incrementally in the warehouse."""
    project = _project(project_dir)
    reference = _parse_date(as_of)
    summary = _with_progress(
        lambda update: project.run(
            as_of=reference,
            full_refresh=full_refresh,
            select=select,
            progress=update,
            lock_timeout=lock_timeout,
        )
    )
    for notice in summary.notices:
        _notice(notice)
    mode = "full refresh" if summary.full_refresh else "incremental"
    line = (
        f"run ok: as of {summary.as_of}, {mode}, {len(summary.groups)} group(s), "
        f"{sum(g.rows or 0 for g in summary.groups)} rows, "
        f"{sum(g.changed or 0 for g in summary.groups)} changed, "
        f"{summary.new_events if summary.new_events is not None else '?'} new events, "
        f"{summary.seconds}s"
    )
    if as_json:
        _emit_json(summary.to_dict())
        _summary(line, summary.to_dict(), stdout=False)
        return
    table = Table(
        title=f"run as of {summary.as_of} ({mode}, {summary.seconds}s, "
        f"{summary.new_events if summary.new_events is not None else '?'} new events)"
    )
    for column in ("group", "table", "rows", "changed"):
        table.add_column(column)
    for g in summary.groups:
        table.add_row(g.group, g.table, _cell(g.rows), _cell(g.changed))
    out.print(table)
    _summary(line, summary.to_dict())


@app.command()
def test(project_dir: ProjectDir = Path("."), as_json: JsonFlag = False) -> None:
    """Run the dbt tests of the generated models (fails when generated files are stale)."""
    project = _project(project_dir)
    result = _with_progress(lambda update: project.test(progress=update))
    passed = sum(1 for n in result.nodes if n.status == "pass")
    if as_json:
        _emit_json({"passed": passed, "tests": [n.__dict__ for n in result.nodes]})
    else:
        out.print(f"{passed} dbt tests passed", markup=False, highlight=False)


@app.command()
def quickstart(
    directory: Annotated[
        Path | None,
        typer.Option(help="Where to create the demo project (default: a new temporary folder)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """One-command demo: sample events -> DuckDB -> dbt -> attributes, then print a profile."""
    from signals_batch.quickstart import run_quickstart

    result = run_quickstart(directory, progress=_notice)
    if as_json:
        _emit_json(result)
        return
    table = Table(
        title=f"{result['group']} for {result['key']} = {result['key_value']} "
        f"(as of {result['as_of']})"
    )
    table.add_column("attribute")
    table.add_column("value")
    for name, value in result["attributes"].items():
        table.add_row(name, json.dumps(value, default=str))
    out.print(table)
    _notice(
        f"project: {result['project_dir']} (try `signals-batch run -p {result['project_dir']} "
        f"--as-of {result['as_of']}`)"
    )


def _store_type(value: str | None) -> str | None:
    from signals_batch.config import StoreSettings

    types = get_args(StoreSettings.model_fields["type"].annotation)
    if value is not None and value not in types:
        raise InvalidInput(
            f"unknown store {value!r}: use {', '.join(types[:-1])} or {types[-1]} (--store)"
        )
    return value


StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="local | redis | http (default: `store.type` in signals_batch.yml).",
        callback=_store_type,
    ),
]


StoreLockTimeout = Annotated[
    float,
    typer.Option(
        "--lock-timeout", min=0,
        help="Seconds to wait for another sync (or purge) of the same store.",
    ),
]


@app.command()
def sync(
    project_dir: ProjectDir = Path("."),
    store: StoreOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be sent; write nothing.")
    ] = False,
    full: Annotated[
        bool,
        typer.Option("--full", help="Resend every row and remove keys no longer in the tables."),
    ] = False,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, help="Rows per write.")
    ] = 10_000,
    lock_timeout: StoreLockTimeout = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Push the rows changed since the last sync into the Profiles Store, then republish.

    The groups are republished with `online: true` through the Signals API (`signals_api.url`
    in signals_batch.yml); without one, only the rows are pushed."""
    project = _project(project_dir)
    incomplete = None
    try:
        summary = project.sync(
            store_type=store,
            full=full,
            dry_run=dry_run,
            chunk_size=chunk_size,
            lock_timeout=lock_timeout,
            progress=None if _State.quiet else _notice,
        )
    except SyncIncomplete as error:  # the rows went: show them, then fail
        incomplete, summary = error, error.summary
    for notice in summary.notices:
        _notice(notice)
    verb = "would send" if dry_run else "sent"
    republished = sum(1 for g in summary.groups if g.republished)
    line = (
        f"sync {'dry run' if dry_run else 'ok'}: {len(summary.groups)} group(s), "
        f"{sum(g.rows_read for g in summary.groups)} rows {verb}, "
        f"{sum(g.rows_removed for g in summary.groups)} removed, "
        f"{republished} republished, to the {summary.store}{', full' if full else ''}, "
        f"{summary.seconds}s"
    )
    if as_json:
        _emit_json(summary.to_dict())
        if incomplete is not None:
            raise incomplete
        _summary(line, summary.to_dict(), stdout=False)
        return
    table = Table(
        title=f"sync to {summary.store} ({summary.seconds}s"
        f"{', full' if full else ''}{', dry run' if dry_run else ''})"
    )
    for column in ("group", "table", f"rows {verb}", "removed", "watermark", "republished"):
        table.add_column(column)
    for g in summary.groups:
        table.add_row(
            g.group,
            g.table,
            _cell(g.rows_read),
            _cell(g.rows_removed),
            _cell(g.watermark),
            {True: "yes", None: "-", False: "failed"}[g.republished],
        )
    out.print(table)
    if incomplete is not None:
        raise incomplete
    _summary(line, summary.to_dict())


@app.command()
def purge(
    groups: Annotated[
        list[str],
        typer.Argument(help="Groups removed from the definitions, with their version "
                            "(e.g. shop_user_v1), as `status` names them."),
    ],
    project_dir: ProjectDir = Path("."),
    store: StoreOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the profiles that would go; remove nothing.")
    ] = False,
    lock_timeout: StoreLockTimeout = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Remove a group that left the definitions from the Profiles Store.

    Every profile of the group and its sync watermark go; its warehouse tables and its entry
    in the Signals registry are left alone."""
    project = _project(project_dir)
    result = project.purge(groups, store_type=store, dry_run=dry_run, lock_timeout=lock_timeout)
    verb = "would remove" if dry_run else "removed"
    line = (
        f"purge {'dry run' if dry_run else 'ok'}: "
        + ", ".join(f"{g['group']} {g['removed']} profile(s)" for g in result["groups"])
        + f" {verb} from the {result['store']}"
    )
    if as_json:
        _emit_json(result)
    for notice in result["notices"]:
        _notice(notice)
    _summary(line, result, stdout=not as_json)


@app.command()
def get(
    key_value: Annotated[
        str, typer.Argument(help="The attribute key's value (e.g. a domain_userid).")
    ],
    project_dir: ProjectDir = Path("."),
    group: Annotated[str | None, typer.Option("--group", "-g", help="Only this group.")] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Read a profile back from the Profiles Store.

    Exit 1 when no group has values for the key (with --json too, after printing the JSON)."""
    project = _project(project_dir)
    profiles = project.get(key_value, group=group, store_type=store)
    if as_json:
        _emit_json(profiles)
    found = {g: values for g, values in profiles.items() if values is not None}
    if not found:
        keys = {g.ident: g.key_name for g in project.definitions.groups}
        searched = ", ".join(f"{g} (by {keys[g]})" if g in keys else g for g in profiles)
        raise SignalsBatchError(
            f"no values for {key_value!r} in the store (groups: {searched}); is it a value "
            "of that key, and has `signals-batch sync` run?"
        )
    if as_json:
        return
    for name, values in found.items():
        table = Table(title=f"{name} for {key_value}")
        table.add_column("attribute")
        table.add_column("value")
        for attribute, value in values.items():
            table.add_row(attribute, json.dumps(value, default=str))
        out.print(table)


@app.command()
def status(
    project_dir: ProjectDir = Path("."), store: StoreOption = None, as_json: JsonFlag = False
) -> None:
    """Per group: last run, as-of, rows, keys changed, store watermark and rows pending."""
    project = _project(project_dir)
    status_report = project.status_report(store_type=store)
    report = status_report.groups
    removed = [
        f"{ident}: no longer in the definitions; its tables ({ident}_daily, "
        f"{ident}_attributes, ...) remain in {project.settings.target_schema}: drop them "
        f"when nothing reads them; `signals-batch purge {ident}` removes its profiles from "
        "the store"
        for ident in status_report.removed
    ]
    removed += [
        f"{row['group']}: keys left {row['table']} since the store's last sync: the next "
        f"sync resends the whole table ({row['pending']} rows) and removes them from the store"
        for row in report if row["removals_pending"]
    ]
    if as_json:  # the removed groups too, with "defined": false
        _emit_json(report + status_report.removed_groups)
        for notice in removed:
            _notice(notice)
        return
    table = Table(title="signals-batch status")
    keys = ("group", "last_run", "as_of", "rows", "changed", "watermark", "pending")
    for key in keys:
        table.add_column(key.replace("_", " "))
    for row in report:
        table.add_row(*(_cell(row[key]) for key in keys))
    out.print(table)
    if report:
        _notice(f"store: {report[0]['store']}")
    for notice in removed:
        _notice(notice)


@app.command()
def serve(
    project_dir: ProjectDir = Path("."),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8400,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="No bearer token (only on a loopback address)."),
    ] = False,
) -> None:
    """A local Signals-compatible API over the project's store, for the Signals SDK.

    Clients send $SIGNALS_SANDBOX_TOKEN as a bearer token."""
    import os

    from signals_batch.api.server import TOKEN_ENV
    from signals_batch.api.server import serve as run_server

    run_server(
        project_dir,
        host,
        port,
        token=os.environ.get(TOKEN_ENV),
        no_auth=no_auth,
        log_level="warning" if _State.quiet else "info",
        log_formatter=_JsonFormatter if _State.log_format == LogFormat.json else None,
        started=lambda url: _notice(
            f"serving {url} ({'no authentication' if no_auth else 'bearer token: $' + TOKEN_ENV})"
            f" for the project {Path(project_dir).resolve()}; Ctrl+C stops"
        ),
    )


def main() -> None:
    """Entry point: run the app; turn known errors into one line and an exit code."""
    # httpx logs whole request URLs at INFO; they can carry an organisation id.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        # without standalone mode typer RETURNS a command's exit code (130 for Ctrl-C)
        code = app(standalone_mode=False)
    except SignalsBatchError as error:
        if _State.debug:
            traceback.print_exc()
        _fail(f"error: {error}", error.exit_code)
    except typer.Exit as done:
        _exit(done.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as error:  # a usage error, a path we cannot use, or a bug
        # typer vendors its own click: recognise its usage errors by shape, not by class
        if hasattr(error, "show") and hasattr(error, "exit_code"):
            code = 2 if error.exit_code in (None, 2) else error.exit_code
            if _State.log_format == LogFormat.json and hasattr(error, "format_message"):
                _fail(f"error: {error.format_message()}", code)
            error.show()
            _exit(code)
        if _State.debug:
            raise
        if isinstance(error, OSError) and error.filename:  # e.g. init into a file's path
            _fail(f"error: {error.strerror or error}: {error.filename}", 1)
        _fail(f"error: {type(error).__name__}: {error} (run with --debug for the traceback)", 1)
    else:
        if code == 130:
            _fail("interrupted", 130)
        if code:
            _exit(code)


def _exit(code: int | None) -> None:
    """Exit with `code`, but never 99: Airflow reads 99 as "skip this task", not a failure."""
    sys.exit(1 if code == 99 else code)


def _fail(message: str, code: int) -> None:
    """The one line a failure prints on stderr (a JSON record with --log-format json)."""
    if _State.log_format == LogFormat.json:
        _log("error", message.removeprefix("error: "), exit_code=code)
    else:
        err.print(message, markup=False, highlight=False)
    _exit(code)


INTERRUPTED_EXIT_GRACE = 10.0  # seconds the exit handlers get after a Ctrl-C


def console_main() -> None:
    """The `signals-batch` console script: `main`, with a deadline on the exit after a Ctrl-C.
    dbt's worker pool, cut off mid-run, can leave a lock taken that multiprocessing's exit
    handler then waits for forever (seen once); every `finally` of ours (locks, the DuckDB
    file) has run by then, so past the grace period the process just ends."""
    try:
        main()
    except SystemExit as done:
        if done.code == 130:
            def end() -> None:
                time.sleep(INTERRUPTED_EXIT_GRACE)
                sys.stderr.flush()
                os._exit(130)

            threading.Thread(target=end, daemon=True).start()
        raise


if __name__ == "__main__":
    console_main()
