"""Project settings: signals_batch.yml in the project folder, overridden by the environment.

Every setting `key` can be set by `SIGNALS_BATCH_<KEY>` (nested ones with `__`, e.g.
`SIGNALS_BATCH_STORE__URL`); the environment wins over the file. Secrets are never read
from the file: they come from the environment only, and never appear in a repr.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from signals_batch.errors import InvalidInput

SETTINGS_FILE = "signals_batch.yml"
_IDENT = re.compile(r"^[A-Za-z0-9_\-$]+$")


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["local", "redis", "http"] = "local"
    path: str = ".signals_batch/profiles.sqlite"
    url: str | None = None


class SignalsApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    auth: Literal["sandbox", "bdp", "none"] = "sandbox"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIGNALS_BATCH_", env_nested_delimiter="__", extra="forbid"
    )

    warehouse: Literal["duckdb", "snowflake", "bigquery"] = "duckdb"
    source: str = "atomic.events"
    target_schema: str = "signals"
    start_date: dt.date = dt.date(1970, 1, 1)
    include_current_day: bool = False
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
        except yaml.YAMLError as error:
            raise InvalidInput(f"{path}: cannot parse: {error}") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{path}: expected a mapping of settings")
    try:
        return Settings(**data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            key = ".".join(str(p) for p in item["loc"])
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "unknown setting (is it misspelt?)"
            env = "SIGNALS_BATCH_" + key.upper().replace(".", "__")
            problems.append(f"setting {key!r} ({path.name} or {env}): {message}")
        raise InvalidInput("invalid settings:\n  " + "\n  ".join(problems)) from None
