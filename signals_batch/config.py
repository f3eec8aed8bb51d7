"""Project settings: signals_batch.yml in the project folder, overridden by the environment.

Every setting `key` can be set by `SIGNALS_BATCH_<KEY>` (nested ones with `__`, e.g.
`SIGNALS_BATCH_STORE__URL`); the environment wins over the file. Secrets are never read
from the file: they come from the environment only, and never appear in a repr.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from signals_batch.errors import InvalidInput

SETTINGS_FILE = "signals_batch.yml"
_IDENT = re.compile(r"^[A-Za-z0-9_\-$]+$")


class _UrlHiddenInRepr(BaseModel):
    """A settings section whose `url` may hold credentials: its repr shows them as ***."""

    def __repr_args__(self):
        for name, value in super().__repr_args__():
            yield name, (redacted_url(value) if name == "url" and value else value)


class StoreSettings(_UrlHiddenInRepr):
    model_config = ConfigDict(extra="forbid")

    type: Literal["local", "redis", "http"] = "local"
    path: str = ".signals_batch/profiles.sqlite"
    url: str | None = None
    # how long a killed sync's lock on a redis/http store outlives it
    lock_lease_seconds: float = Field(default=30.0, gt=0)


def redacted_url(url: str) -> str:
    """`url` with any user, password and query replaced by ***: fit for a repr or a log."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=netloc, query="***" if parts.query else ""))
    except ValueError:
        return "***"


def url_has_credentials(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    query = parts.query.lower()
    return bool(parts.password or any(
        word in query for word in ("password=", "token=", "key=", "secret=")))


DEFAULT_TOKEN_URL = (
    "https://console.snowplowanalytics.com/api/msc/v1/organizations/{org_id}/credentials/v3/token"
)


class SignalsApiSettings(_UrlHiddenInRepr):
    """Where the Signals API is and how to call it; the secrets come from the environment."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    auth: Literal["sandbox", "bdp", "none"] = "sandbox"

    # bdp: where the API key is exchanged for an access token; `{org_id}` is filled in.
    token_url: str = DEFAULT_TOKEN_URL
    timeout_seconds: float = Field(default=30.0, gt=0)
    # How many times a request is retried after a connection error, timeout, 5xx or 429.
    retries: int = Field(default=4, ge=0, le=20)
    # First wait between attempts; it doubles at each retry, up to max_wait_seconds.
    backoff_seconds: float = Field(default=0.5, ge=0)
    # Cap of any one wait, including the one a 429's Retry-After asks for.
    max_wait_seconds: float = Field(default=30.0, ge=0)

    @field_validator("url", "token_url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not is_http_url(value):
            # the value is not shown: it may hold a token
            raise ValueError(
                "not an http:// or https:// URL with a host "
                "(e.g. https://<id>.signals.snowplowanalytics.com)")
        if info.field_name == "url" and value is not None and urlsplit(value).query:
            # request paths are joined to it: a query would end up in the middle of each
            raise ValueError(
                "the API's base URL takes no query string (not shown: it may hold a token); "
                "credentials come from the environment (signals_api.auth)")
        return value


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIGNALS_BATCH_", env_nested_delimiter="__", extra="forbid"
    )

    warehouse: Literal["duckdb", "snowflake", "bigquery"] = "duckdb"
    source: str = "atomic.events"
    target_schema: str = "signals"
    start_date: dt.date = dt.date(1970, 1, 1)
    include_current_day: bool = False
    # How far before the newest load time already processed each run reads the source again:
    # loaders that commit in parallel make rows visible after a run with an older load_tstamp
    # than its newest. The ledger drops what was already counted (docs/incremental.md).
    lookback_window_hours: int = Field(default=6, ge=0, le=24 * 366)
    definitions: str = "definitions"
    store: StoreSettings = Field(default_factory=StoreSettings)
    signals_api: SignalsApiSettings = Field(default_factory=SignalsApiSettings)

    @field_validator("source")
    @classmethod
    def _source_parts(cls, value: str) -> str:
        parts = value.split(".")
        if not 1 < len(parts) <= 3 or not all(_IDENT.match(p) for p in parts):
            raise ValueError(f"{value!r} is not [database.]schema.table (e.g. atomic.events)")
        return value

    @field_validator("target_schema")
    @classmethod
    def _schema_name(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError(f"{value!r} is not a schema name")
        return value

    @property
    def source_parts(self) -> dict[str, str]:
        parts = self.source.split(".")
        names = ["table", "schema", "database"]
        return {names[i]: part for i, part in enumerate(reversed(parts))}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first (wins), then what load_settings read from the file.
        return env_settings, init_settings


def load_settings(project_dir: Path) -> Settings:
    """Read `signals_batch.yml` (optional) in `project_dir`, apply the environment."""
    path = project_dir / SETTINGS_FILE
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, ValueError) as error:
            # ValueError: PyYAML reads `2025-13-01` as a date and fails outside its YAMLError.
            from signals_batch.definitions.loader import parse_error_message

            raise InvalidInput(f"{path}: {parse_error_message(error)}") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{path}: expected a mapping of settings")
        for section in ("store", "signals_api"):
            values = data.get(section)
            url = values.get("url") if isinstance(values, dict) else None
            if isinstance(url, str) and url_has_credentials(url):
                # the file is usually committed; the value is not shown
                where = (
                    "the API's credentials come from the environment (signals_api.auth)"
                    if section == "signals_api" and urlsplit(url).query
                    else f"set the whole url in SIGNALS_BATCH_{section.upper()}__URL")
                raise InvalidInput(
                    f"{path}: setting '{section}.url' holds a password or token; secrets are "
                    f"read from the environment only: remove it from the file and {where}")
    try:
        return Settings(**data)
    except SettingsError as error:
        # a nested setting given as one variable that is not JSON; the value is not shown
        match = re.search(r'field "(\w+)"', str(error))
        env = f"SIGNALS_BATCH_{match.group(1).upper()}" if match else "SIGNALS_BATCH_<KEY>"
        which = f"setting {match.group(1)!r} (from {env})" if match else "a nested setting"
        raise InvalidInput(
            f"{which}: not a JSON object; write it as JSON (e.g. '{{\"url\": ...}}') or set "
            f"its keys one by one ({env}__URL, ...)"
        ) from None
    except ValidationError as error:
        problems = []
        for item in error.errors():
            key = ".".join(str(p) for p in item["loc"])
            message = item["msg"].removeprefix("Value error, ")
            if item["type"].startswith(("date_", "datetime_")):
                # A date is never a secret, so the value may be shown.
                message = f"{item['input']!r} is not a date (YYYY-MM-DD)"
            elif item["type"] in ("model_type", "model_attributes_type", "dict_type"):
                # the value's type only: a mis-typed setting may hold a secret
                message = (
                    f"expected a mapping of its settings, found {type(item['input']).__name__}"
                )
            elif item["type"] == "extra_forbidden":
                section = ".".join(str(p) for p in item["loc"][:-1])
                known = ", ".join(sorted(_section_model(item["loc"][:-1]).model_fields))
                message = (
                    f"unknown setting (is it misspelt? known settings"
                    f"{f' of {section}' if section else ''}: {known})"
                )
            problems.append(f"setting {key!r} ({_origin(key, path)}): {message}")
        raise InvalidInput("invalid settings:\n  " + "\n  ".join(problems)) from None


def setting_variables() -> list[str]:
    """Every environment variable that sets a setting (`SIGNALS_BATCH_STORE__URL`, ...)."""
    names = []
    for name, info in Settings.model_fields.items():
        names.append(f"SIGNALS_BATCH_{name.upper()}")
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            names += [f"SIGNALS_BATCH_{name.upper()}__{key.upper()}"
                      for key in section.model_fields]
    return names


def misspelt_variables(environ: Mapping[str, str]) -> list[str]:
    """Notices for `SIGNALS_BATCH_*` variables that look like a setting's but are not one
    (other such variables are left alone: scripts use the prefix for their own)."""
    known = setting_variables()
    notices = []
    for name in sorted(environ):
        if not name.startswith("SIGNALS_BATCH_") or name in known:
            continue
        if name.split("__")[0] in known:  # a section's key: refused when the settings load
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
        if close:
            notices.append(f"environment variable {name} is not a setting and is ignored: "
                           f"did you mean {close[0]}?")
    return notices


def _section_model(loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The settings model of a section (`store`, `signals_api`), or Settings at the top."""
    model: type[BaseModel] = Settings
    for part in loc:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    return model


def setting_origin(key: str, project_dir: Path) -> str:
    """Where setting `key` came from: its environment variable or the settings file."""
    return _origin(key, project_dir / SETTINGS_FILE)


def _origin(key: str, path: Path) -> str:
    """Where a setting's value came from: the environment variable or the settings file."""
    parts = key.split(".")
    # The variable of the setting itself, or of a parent given as one JSON value.
    for depth in range(len(parts), 0, -1):
        env = "SIGNALS_BATCH_" + "__".join(parts[:depth]).upper()
        if env in os.environ:
            return f"from {env}"
    if path.is_file():
        return f"in {path.name}"
    env = "SIGNALS_BATCH_" + "__".join(parts).upper()
    return f"in {path.name} or {env}"
