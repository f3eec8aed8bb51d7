"""Reading the warehouse from Python (status, summaries, sync) with the dbt profile's settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
import yaml

from signals_batch.errors import InvalidInput, SignalsBatchError

PROFILE_NAME = "signals_batch"


def _render(value: Any) -> Any:
    """Render dbt's `env_var()` in a profile value (the only Jinja a profile needs here)."""
    if not isinstance(value, str) or "{{" not in value:
        return value

    def env_var(name: str, default: str | None = None) -> str:
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise InvalidInput(f"profiles.yml needs the environment variable {name}")
        return default

    return jinja2.Environment().from_string(value).render(env_var=env_var)


def profile_target(project_dir: Path) -> dict[str, Any]:
    """The active output of the `signals_batch` profile in the project's profiles.yml."""
    path = project_dir / "profiles.yml"
    if not path.is_file():
        raise InvalidInput(f"{path} not found: run `signals-batch init` or write a dbt profile")
    profiles = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    profile = profiles.get(PROFILE_NAME)
    if not isinstance(profile, dict) or "outputs" not in profile:
        raise InvalidInput(f"{path} has no profile {PROFILE_NAME!r} with outputs")
    target = _render(os.environ.get("DBT_TARGET") or profile.get("target", "dev"))
    output = profile["outputs"].get(target)
    if output is None:
        raise InvalidInput(f"{path}: profile {PROFILE_NAME!r} has no target {target!r}")
    return {key: _render(value) for key, value in output.items()}


def duckdb_path(project_dir: Path) -> Path:
    target = profile_target(project_dir)
    if target.get("type") != "duckdb":
        raise InvalidInput("this command reads the warehouse directly only on DuckDB for now")
    path = Path(target.get("path", "warehouse.duckdb"))
    return path if path.is_absolute() else project_dir / path


@contextmanager
def connect(project_dir: Path, read_only: bool = False, create: bool = False) -> Iterator[Any]:
    """A DuckDB connection to the project's warehouse file (`create`: make it if missing)."""
    import duckdb

    path = duckdb_path(project_dir)
    if not create and not path.exists():
        raise SignalsBatchError(
            f"warehouse {path} does not exist yet: run `signals-batch run` first"
        )
    connection = duckdb.connect(str(path), read_only=read_only)
    try:
        connection.execute("SET TimeZone = 'UTC'")
        yield connection
    finally:
        connection.close()
