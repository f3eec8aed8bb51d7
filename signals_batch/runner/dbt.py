"""Invoking dbt-core in-process through `dbtRunner`, with progress and readable failures."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signals_batch.errors import InvalidInput, SignalsBatchError
from signals_batch.warehouse import duckdb_lock_message

# dbt-core keeps global state (flags, adapters): one invocation at a time per process.
_DBT_LOCK = threading.Lock()


@dataclass
class NodeResult:
    name: str
    status: str
    seconds: float
    message: str | None = None
    rows_affected: int | None = None
    failures: int | None = None  # a failing test's row count


@dataclass
class DbtResult:
    command: str
    success: bool
    nodes: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in ("error", "fail", "runtime error")]


ProgressCallback = Callable[[str, str, int, int], None]  # (node, status, index, total)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _noting_interrupts() -> Iterator[threading.Event]:
    """Notes a Ctrl-C (SIGINT) while dbt runs: dbt catches the KeyboardInterrupt and may
    report whatever broke next instead (e.g. a manifest half read)."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted  # signals are handled by the main thread only
        return
    previous = signal.getsignal(signal.SIGINT)

    def note(signum: int, frame: Any) -> None:
        if previous is signal.SIG_IGN:
            return
        interrupted.set()
        if callable(previous):
            previous(signum, frame)  # Python's: raises KeyboardInterrupt
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, note)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _release_duckdb() -> None:
    """dbt-duckdb keeps the database open for the life of the process; close it, so other
    processes (a sync, a BI tool) can open the file once dbt is done."""
    connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if connections is None:
        return
    manager = connections.DuckDBConnectionManager
    with manager._LOCK:
        environment, manager._ENV = manager._ENV, None
    if environment is not None and hasattr(environment, "close"):
        environment.close()


def _progress_listener(progress: ProgressCallback | None) -> Callable[[Any], None]:
    def listen(event: Any) -> None:
        if progress is None:
            return
        name = event.info.name
        if name in ("LogStartLine", "LogModelResult", "LogTestResult"):
            data = event.data
            node = getattr(data.node_info, "node_name", "") or ""
            status = "started" if name == "LogStartLine" else getattr(data, "status", "done")
            # a test's result counts the nodes as `num_models`, a model's as `total`
            total = getattr(data, "total", 0) or getattr(data, "num_models", 0)
            progress(node, status, getattr(data, "index", 0), total)

    return listen


def invoke_dbt(
    command: list[str],
    project_dir: Path,
    vars: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    progress: ProgressCallback | None = None,
    explain: Callable[[NodeResult], str | None] | None = None,
) -> DbtResult:
    """Run one dbt command against the project; raise SignalsBatchError on failure.

    `explain` may replace dbt's message for a failing node (a test whose failure has a known
    cause and fix) with one the user can act on."""
    from dbt.cli.main import dbtRunner

    project_dir = project_dir.resolve()
    args = [
        *command,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--log-level",
        "none",
        # the console stays quiet (our own progress lines), logs/dbt.log keeps dbt's details
        "--log-level-file",
        "debug",
        "--no-use-colors",
        "--log-path",
        str(project_dir / "logs"),
        "--target-path",
        str(project_dir / "target"),
    ]
    if vars:
        args += ["--vars", json.dumps(vars, sort_keys=True, default=str)]
    runner = dbtRunner(callbacks=[_progress_listener(progress)])
    with _DBT_LOCK, _environment(env or {}), _noting_interrupts() as interrupted:
        try:
            outcome = runner.invoke(args)
        finally:
            _release_duckdb()
    if interrupted.is_set():  # whatever dbt made of it (a half-read manifest's error ...)
        raise KeyboardInterrupt
    result = DbtResult(command=command[0], success=outcome.success)
    for item in getattr(outcome.result, "results", None) or []:
        node = getattr(item, "node", None)
        adapter_response = getattr(item, "adapter_response", None) or {}
        result.nodes.append(
            NodeResult(
                name=getattr(node, "name", "?"),
                status=str(getattr(item.status, "value", item.status)),
                seconds=float(getattr(item, "execution_time", 0.0) or 0.0),
                message=getattr(item, "message", None),
                rows_affected=adapter_response.get("rows_affected")
                if isinstance(adapter_response, dict)
                else None,
                failures=getattr(item, "failures", None),
            )
        )
    if isinstance(outcome.exception, KeyboardInterrupt):  # dbtRunner returns even Ctrl-C
        raise KeyboardInterrupt
    if outcome.exception is not None:
        reason = clean_dbt_message(str(outcome.exception))
        raise _failure(f"dbt {command[0]} failed: {duckdb_lock_message(reason) or reason}")
    if not outcome.success and result.failed:
        first = result.failed[0]
        others = len(result.failed) - 1
        more = f" (and {others} more failing)" if others else ""
        reason = (explain(first) if explain else None) or clean_dbt_message(first.message or "")
        raise _failure(
            f"dbt {command[0]} failed in {first.name}{more}: {reason}"
        )
    if not outcome.success:
        raise SignalsBatchError(f"dbt {command[0]} failed (see {project_dir / 'logs' / 'dbt.log'})")
    return result


INVALID_INPUT_MARK = "[invalid input] "


def _failure(message: str) -> SignalsBatchError:
    """Our macros mark errors the user fixes in their input; the rest are failures."""
    if INVALID_INPUT_MARK in message:
        return InvalidInput(message.replace(INVALID_INPUT_MARK, ""))
    return SignalsBatchError(message)


def clean_dbt_message(message: str) -> str:
    """dbt's error text without its boilerplate, compiled-code dumps and file paths."""
    message = re.sub(r"\s*compiled code at \S+", "", message)
    message = re.sub(r"\s*>\s*(in macro|called by) [^>]*", "", message)
    message = re.sub(
        r"^(Runtime|Compilation|Database) Error in \w+ [\w.]+ \([^)]*\)\s*", "", message.strip()
    )
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " ".join(lines)[:2000]
