"""Profiles Store backends: local (SQLite, default), redis, http."""

from __future__ import annotations

from pathlib import Path

from signals_batch.config import StoreSettings
from signals_batch.errors import InvalidInput
from signals_batch.stores.base import (
    GroupSpec,
    ProfileRow,
    ProfileStore,
    StoreError,
    StoreLocked,
    Watermark,
)

__all__ = [
    "GroupSpec",
    "ProfileRow",
    "ProfileStore",
    "StoreError",
    "StoreLocked",
    "Watermark",
    "open_store",
]


def open_store(settings: StoreSettings, project_dir: Path) -> ProfileStore:
    """The store the settings name; relative local paths are inside the project folder."""
    if settings.type == "local":
        from signals_batch.stores.local import LocalStore

        path = Path(settings.path)
        return LocalStore(path if path.is_absolute() else project_dir / path)
    if not settings.url:
        raise InvalidInput(
            f"store type {settings.type!r} needs a url: set store.url in signals_batch.yml "
            "or SIGNALS_BATCH_STORE__URL"
        )
    if settings.type == "redis":
        from signals_batch.stores.redis_store import RedisStore

        return RedisStore(settings.url, lock_lease=settings.lock_lease_seconds)
    from signals_batch.stores.http import HttpStore

    return HttpStore(settings.url, lock_lease=settings.lock_lease_seconds)
