"""Reading the warehouse from Python (status, summaries, sync) with the dbt profile's settings."""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict

from signals_batch.errors import InvalidInput, SignalsBatchError

PROFILE_NAME = "signals_batch"
#: profile fields whose values are secrets: never in a message (dbt-snowflake's and
#: dbt-bigquery's)
SECRET_FIELDS = (
    "password", "private_key", "private_key_passphrase", "token", "oauth_client_secret",
    "refresh_token", "client_secret", "keyfile_json",
)


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


def _profile(project_dir: Path) -> tuple[Path, dict[str, Any]]:
    path = project_dir / "profiles.yml"
    if not path.is_file():
        raise InvalidInput(f"{path} not found: run `signals-batch init` or write a dbt profile")
    try:
        profiles = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or one_line(error)
        raise InvalidInput(f"{path} is not valid YAML{where}: {problem}") from None
    profile = profiles.get(PROFILE_NAME) if isinstance(profiles, dict) else None
    if not isinstance(profile, dict) or not isinstance(profile.get("outputs"), dict):
        raise InvalidInput(f"{path} has no profile {PROFILE_NAME!r} with outputs")
    return path, profile


def _output(project_dir: Path) -> tuple[str, dict[str, Any]]:
    """The name and raw (unrendered) settings of the profile's active target: DBT_TARGET,
    as dbt reads it, else the profile's `target`."""
    path, profile = _profile(project_dir)
    target = _render(os.environ.get("DBT_TARGET") or profile.get("target", "dev"))
    output = profile["outputs"].get(target)
    if not isinstance(output, dict):
        raise InvalidInput(f"{path}: profile {PROFILE_NAME!r} has no target {target!r}")
    return target, output


def profile_target(project_dir: Path) -> dict[str, Any]:
    """The active output of the `signals_batch` profile in the project's profiles.yml."""
    _target, output = _output(project_dir)
    return {key: _render(value) for key, value in output.items()}


def profile_type(project_dir: Path) -> str:
    """The dbt adapter type of the active target (only that field is rendered, so a missing
    credential does not stop a command that only needs to know the warehouse)."""
    target, output = _output(project_dir)
    kind = _render(output.get("type"))
    if not isinstance(kind, str) or not kind:
        raise InvalidInput(f"profiles.yml: target {target!r} has no adapter type")
    return kind


class DbtTarget(BaseModel):
    """The active target of the project's dbt profile, rendered and validated by dbt itself
    and its adapter: what a warehouse reader connects with."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    name: str
    adapter_type: str
    #: the adapter's own Credentials object (e.g. dbt-snowflake's SnowflakeCredentials)
    credentials: Any
    #: the rendered values of the secret fields, which `scrub` removes from messages
    secrets: tuple[str, ...] = ()

    def scrub(self, message: str) -> str:
        return scrub(message, self.secrets)


def scrub(message: str, secrets: tuple[str, ...]) -> str:
    """`message` without any of the `secrets` (longest first, so one hides no part of another)."""
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def dbt_target(project_dir: Path, env: Mapping[str, str]) -> DbtTarget:
    """The active target rendered by dbt (`env_var()`, `DBT_ENV_SECRET_*`, `as_number` ...,
    with `env` added to the environment, as `signals-batch run` adds it for dbt) and turned
    into the adapter's Credentials by the adapter (its validation and defaults). Every field
    and auth method the adapter supports is then read exactly as for the run.

    An invalid profile is InvalidInput (exit 2) whose message holds no secret value."""
    path, profile = _profile(project_dir)
    environment = {**os.environ, **env}

    def render() -> tuple[str, dict[str, Any]]:
        from dbt.config.profile import Profile
        from dbt.config.renderer import ProfileRenderer
        from dbt_common.context import set_invocation_context

        # dbt's env_var() reads the "invocation context" a dbt command sets up; set ours in
        # a copied context (see below), so no later dbt command sees it
        set_invocation_context(environment)
        return Profile.render_profile(
            profile, PROFILE_NAME, environment.get("DBT_TARGET") or None, ProfileRenderer({})
        )

    secrets: tuple[str, ...] = tuple(
        value for name, value in environment.items()
        if name.startswith("DBT_ENV_SECRET") and len(value) >= 3
    )
    try:
        target_name, data = contextvars.copy_context().run(render)
    except Exception as error:  # dbt's profile errors: a missing env var, bad Jinja
        raise InvalidInput(
            f"{path}: {scrub(one_line(error), secrets)}") from None
    data = dict(data)
    secrets += tuple(
        str(data[name]) for name in SECRET_FIELDS
        if isinstance(data.get(name), str) and len(data[name]) >= 3
    )
    kind = str(data.pop("type", ""))
    threads = data.pop("threads", 1)
    if isinstance(threads, str) and threads.strip().isdigit():
        threads = int(threads)  # as dbt reads it
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidInput(
            f"{path}: target {target_name!r}: threads must be a whole number of at least 1")
    try:
        from dbt.adapters.factory import load_plugin

        cls = load_plugin(kind)
    except Exception:
        raise InvalidInput(
            f"{path}: target {target_name!r} uses the dbt adapter {kind!r}, which is not "
            f"installed (the {kind!r} extra: pip install -e '.[{kind}]' in the signals-batch "
            "checkout)") from None
    try:
        values = cls.translate_aliases(data)
        cls.validate(values)
        credentials = cls.from_dict(values)
    except Exception as error:
        message = getattr(error, "message", None) or one_line(error)
        raise InvalidInput(
            f"{path}: target {target_name!r} is not a valid {kind} profile: "
            f"{scrub(one_line(message), secrets)}") from None
    return DbtTarget(name=target_name, adapter_type=kind, credentials=credentials,
                     secrets=secrets)


def one_line(error: object) -> str:
    """An error's text on one line (messages are one line)."""
    return re.sub(r"\s+", " ", str(error)).strip()


def duckdb_lock_message(error: str) -> str | None:
    """DuckDB's "Could not set lock on file" said as what happened and what to do; None for
    any other error. One process at a time may write a DuckDB file."""
    found = re.search(r'Could not set lock on file "([^"]+)"', error)
    if not found:
        return None
    holder = re.search(r"Conflicting lock is held in (\S+) \(PID (\d+)\)", error)
    who = f" ({Path(holder[1]).name}, PID {holder[2]})" if holder else ""
    return (
        f"the DuckDB file {found[1]} is open in another process{who}; DuckDB lets one "
        "process write a file at a time: close that connection (a DuckDB shell, a notebook, "
        "another signals-batch command) and retry"
    )


def duckdb_path(project_dir: Path) -> Path:
    target = profile_target(project_dir)
    if target.get("type") != "duckdb":
        raise InvalidInput("this command reads the warehouse directly only on DuckDB for now")
    raw = str(target.get("path", "warehouse.duckdb"))
    if raw.startswith(("md:", "motherduck:")) or raw == ":memory:" or "?" in raw:
        # a query string may hold a token (md:db?motherduck_token=...): never shown
        shown = raw.split("?", 1)[0] + ("?***" if "?" in raw else "")
        raise InvalidInput(
            f"profiles.yml: the DuckDB path {shown} is not a local database file; signals-batch "
            "reads the warehouse file itself (sync, status, test), so the DuckDB target's "
            "`path` must be a file (MotherDuck and in-memory databases are not supported)"
        )
    path = Path(raw)
    return path if path.is_absolute() else project_dir / path


class DuckDBFileLocked(SignalsBatchError):
    """Another process has the DuckDB file open (exit 1)."""


@contextmanager
def connect(project_dir: Path, read_only: bool = False, create: bool = False,
            wait: float = 0.0) -> Iterator[Any]:
    """A DuckDB connection to the project's warehouse file (`create`: make it if missing).
    While another process has the file open, tries again for up to `wait` seconds."""
    import duckdb
    from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

    path = duckdb_path(project_dir)
    if not create and not path.exists():
        raise SignalsBatchError(
            f"warehouse {path} does not exist yet: run `signals-batch run` first"
        )

    @retry(retry=retry_if_exception_type(DuckDBFileLocked), stop=stop_after_delay(wait),
           wait=wait_fixed(0.2), reraise=True)
    def open_file():
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            locked = duckdb_lock_message(str(error))
            if locked:
                raise DuckDBFileLocked(
                    f"{locked}{f' (waited {wait:g}s for it)' if wait else ''}") from None
            raise SignalsBatchError(one_line(error)) from None

    connection = open_file()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        yield connection
    finally:
        connection.close()
