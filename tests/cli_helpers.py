"""Run the `signals-batch` CLI in-process (fast) or as a real process (a few tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

MINIMAL_DBT_PROJECT = "name: signals_project\nversion: '1.0.0'\nconfig-version: 2\n"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """`signals-batch ARGS` through `cli.main`, as the console script calls it."""
    from signals_batch import cli

    capsys.readouterr()  # drop anything printed before
    code = 0
    with mock.patch.object(sys, "argv", ["signals-batch", *args]):
        try:
            cli.main()
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


def run_process(*args: str, cwd: Path | None = None) -> CliResult:
    """`signals-batch ARGS` as a separate Python process (to see exactly what a user sees)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALS_BATCH_")}
    env["COLUMNS"] = "200"
    done = subprocess.run(
        [sys.executable, "-m", "signals_batch.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def make_project(directory: Path, definitions: dict[str, str] | None = None) -> Path:
    """A bare project folder: dbt_project.yml and the given definition files."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dbt_project.yml").write_text(MINIMAL_DBT_PROJECT)
    for name, text in (definitions or {}).items():
        path = directory / "definitions" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory
