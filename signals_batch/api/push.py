"""The push endpoint of `signals-batch serve`: any ProfileStore over HTTP, for HttpStore.

All under `/api/v1/batch-store` (JSON bodies, datetimes as ISO strings, naive UTC):

    GET    /health                              {"status": "ok", "api": "batch-store"}
    POST   /upsert                              {group, rows, watermark, mark} -> {applied}
    GET    /watermark/{group}                   {watermark: {updated_at, key_value} | null}
    DELETE /watermark/{group}                   {reset: true}
    POST   /finish-full                         {group, mark} -> {removed}
    GET    /profiles/{group}/{key}?attributes=a&attributes=b    {profile} or 404
    GET    /keys/{group}                        {keys: [...]} (sorted)
    GET    /count/{group}                       {count}
    POST   /lock                                {token, lease_seconds} -> 200 {token} or 423
    PUT    /lock/{token}                        {lease_seconds} -> renewed, or 409 when lost
    DELETE /lock/{token}                        {released: bool}

The lock is a lease: the client picks the token (so a retried POST is harmless) and renews it
while it syncs; a client that dies frees it when the lease runs out. While a lease is held the
server also holds the backing store's own lock, and writes (upsert, finish-full, watermark
reset) from anyone but the holder (header `X-Lock-Token`) are refused with 423, so two syncs
never interleave. Store failures answer 503 (clients retry), a held lock 423.

The router adds no authentication: mount it with a dependency, e.g.
`app.include_router(push_router(factory), dependencies=[Depends(bearer_auth)])`, and call
`router.close_store()` at shutdown when the app's lifespan does not run the router's own.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager, suppress
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Query, Response
from pydantic import BaseModel, Field

from signals_batch.stores.base import (
    GroupSpec,
    ProfileRow,
    ProfileStore,
    StoreError,
    StoreLocked,
    Watermark,
)

PREFIX = "/api/v1/batch-store"
LOCK_HEADER = "X-Lock-Token"
MAX_LEASE_SECONDS = 3600.0


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


class GroupBody(BaseModel):
    ident: str = Field(min_length=1, max_length=300)
    key_name: str
    attributes: list[str]
    ttl_seconds: dict[str, int | None]

    def spec(self) -> GroupSpec:
        return GroupSpec(self.ident, self.key_name, tuple(self.attributes),
                         dict(self.ttl_seconds))


class RowBody(BaseModel):
    key_value: str
    values: dict[str, Any]
    updated_at: dt.datetime


class WatermarkBody(BaseModel):
    updated_at: dt.datetime
    key_value: str

    def watermark(self) -> Watermark:
        return Watermark(_naive_utc(self.updated_at), self.key_value)


class UpsertBody(BaseModel):
    group: GroupBody
    rows: list[RowBody]
    watermark: WatermarkBody | None = None
    mark: str | None = None


class FinishFullBody(BaseModel):
    group: str = Field(min_length=1)
    mark: str = Field(min_length=1)


class LockBody(BaseModel):
    token: str = Field(min_length=8, max_length=200)
    lease_seconds: float = Field(gt=0, le=MAX_LEASE_SECONDS)
    # who asks (`host:pid`), told to the next one that finds the lock taken
    holder: str | None = Field(default=None, max_length=200)


class RenewBody(BaseModel):
    lease_seconds: float = Field(gt=0, le=MAX_LEASE_SECONDS)


def _json(data: Any, status_code: int = 200) -> Response:
    # json.dumps as is: values may hold any JSON (also NaN, which HttpStore reads back)
    return Response(json.dumps(data, separators=(",", ":"), ensure_ascii=False),
                    status_code=status_code, media_type="application/json")


class _Lease:
    def __init__(self, token: str, seconds: float, hold: ExitStack, holder: str | None = None):
        self.token = token
        self.holder = holder
        self.hold = hold  # the backing store's own lock
        self.seconds = seconds
        self.expires = 0.0
        self.timer: threading.Timer | None = None
        self.extend(seconds)

    def extend(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds


class StoreHost:
    """One backing store (created on first use), its calls serialized, and the lock lease."""

    def __init__(self, store_factory: Callable[[], ProfileStore]):
        self._factory = store_factory
        self._store: ProfileStore | None = None
        self._guard = threading.RLock()
        self._lease: _Lease | None = None

    @contextmanager
    def use(self, writer_token: str | None = None) -> Iterator[ProfileStore]:
        """The store, alone, for a write: refused (423) unless the caller holds the lease
        (or no one does and the caller does not claim one)."""
        with self._guard:
            self._reap()
            lease = self._lease
            if lease is not None and lease.token != writer_token:
                raise HTTPException(423, "another sync holds the lock of this store")
            if lease is None and writer_token is not None:
                raise HTTPException(423, "the lock lease of this sync ran out; it must stop "
                                         "so two syncs never interleave")
            with self.read() as store:
                yield store
            if lease is not None:
                self._renew(lease.seconds)  # a write of the holder also keeps the lease

    @contextmanager
    def read(self) -> Iterator[ProfileStore]:
        with self._guard:
            try:
                if self._store is None:
                    self._store = self._factory()
                yield self._store
            except StoreLocked as error:
                raise HTTPException(423, str(error)) from None
            except StoreError as error:
                raise HTTPException(503, str(error)) from None

    # ------------------------------------------------------------------ lease

    def holder(self) -> str | None:
        """Who holds the lease (as it said), if anyone."""
        with self._guard:
            return self._lease.holder if self._lease is not None else None

    def acquire(self, token: str, seconds: float, holder: str | None = None) -> bool:
        with self._guard:
            self._reap()
            if self._lease is not None:
                if self._lease.token != token:
                    return False
                self._renew(seconds)  # a retried request of the holder
                return True
            hold = ExitStack()
            try:
                if self._store is None:
                    self._store = self._factory()
                hold.enter_context(self._store.lock(0))
            except StoreLocked:
                return False  # a sync writing to the backing store directly
            except StoreError as error:
                raise HTTPException(503, str(error)) from None
            self._lease = _Lease(token, seconds, hold, holder)
            self._schedule_reap(seconds)
            return True

    def renew(self, token: str, seconds: float) -> bool:
        with self._guard:
            self._reap()
            if self._lease is None or self._lease.token != token:
                return False
            self._renew(seconds)
            return True

    def _renew(self, seconds: float) -> None:
        assert self._lease is not None
        self._lease.extend(seconds)
        self._schedule_reap(seconds)

    def release(self, token: str) -> bool:
        with self._guard:
            if self._lease is None or self._lease.token != token:
                return False
            self._drop_lease()
            return True

    def _schedule_reap(self, seconds: float) -> None:
        assert self._lease is not None
        if self._lease.timer is not None:
            self._lease.timer.cancel()
        timer = threading.Timer(seconds + 0.05, self._reap_locked)
        timer.daemon = True
        self._lease.timer = timer
        timer.start()

    def _reap_locked(self) -> None:
        with self._guard:
            self._reap()

    def _reap(self) -> None:
        """Drop a lease that ran out (its holder died or stopped renewing)."""
        if self._lease is not None and self._lease.expires <= time.monotonic():
            self._drop_lease()

    def _drop_lease(self) -> None:
        lease, self._lease = self._lease, None
        if lease is None:
            return
        if lease.timer is not None:
            lease.timer.cancel()
        with suppress(StoreError):  # if so, the backing store's own lease frees it
            lease.hold.close()

    def close(self) -> None:
        with self._guard:
            self._drop_lease()
            if self._store is not None:
                store, self._store = self._store, None
                store.close()


def push_router(store_factory: Callable[[], ProfileStore]) -> APIRouter:
    """Routes exposing the store `store_factory` opens (on first use) to HttpStore clients."""
    host = StoreHost(store_factory)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        host.close()

    router = APIRouter(prefix=PREFIX, tags=["batch-store"], lifespan=lifespan)
    router.close_store = host.close  # type: ignore[attr-defined]
    router.store_host = host  # type: ignore[attr-defined]

    @router.get("/health")
    def health() -> Response:
        return _json({"status": "ok", "api": "batch-store"})

    @router.post("/upsert")
    def upsert(body: UpsertBody,
               lock_token: str | None = Header(None, alias=LOCK_HEADER)) -> Response:
        spec = body.group.spec()
        rows = [ProfileRow(r.key_value, r.values, _naive_utc(r.updated_at)) for r in body.rows]
        watermark = body.watermark.watermark() if body.watermark else None
        with host.use(lock_token) as store:
            applied = store.upsert(spec, rows, watermark=watermark, mark=body.mark)
        return _json({"applied": applied})

    @router.get("/watermark/{group}")
    def get_watermark(group: str) -> Response:
        with host.read() as store:
            found = store.get_watermark(group)
        return _json({"watermark": found.to_json() if found else None})

    @router.delete("/watermark/{group}")
    def reset_watermark(group: str,
                        lock_token: str | None = Header(None, alias=LOCK_HEADER)) -> Response:
        with host.use(lock_token) as store:
            store.reset_watermark(group)
        return _json({"reset": True})

    @router.post("/finish-full")
    def finish_full(body: FinishFullBody,
                    lock_token: str | None = Header(None, alias=LOCK_HEADER)) -> Response:
        with host.use(lock_token) as store:
            removed = store.finish_full(body.group, body.mark)
        return _json({"removed": removed})

    @router.get("/profiles/{group}/{key_value:path}")
    def get_profile(group: str, key_value: str,
                    attributes: list[str] | None = Query(None)) -> Response:
        with host.read() as store:
            found = store.get(group, key_value, attributes)
        if found is None:
            return _json({"detail": "no such profile", "profile": None}, 404)
        return _json({"profile": found})

    @router.get("/keys/{group}")
    def keys(group: str) -> Response:
        with host.read() as store:
            found = sorted(store.keys(group))
        return _json({"keys": found})

    @router.get("/count/{group}")
    def count(group: str) -> Response:
        with host.read() as store:
            counter = getattr(store, "count", None)
            found = counter(group) if counter else sum(1 for _ in store.keys(group))
        return _json({"count": found})

    @router.post("/lock")
    def lock(body: LockBody) -> Response:
        if not host.acquire(body.token, body.lease_seconds, body.holder):
            return _json({"detail": "another sync holds the lock of this store",
                          "holder": host.holder()}, 423)
        return _json({"token": body.token, "lease_seconds": body.lease_seconds})

    @router.put("/lock/{token}")
    def renew(token: str, body: RenewBody) -> Response:
        if not host.renew(token, body.lease_seconds):
            raise HTTPException(409, "this lock is no longer held (its lease ran out)")
        return _json({"token": token, "lease_seconds": body.lease_seconds})

    @router.delete("/lock/{token}")
    def release(token: str) -> Response:
        return _json({"released": host.release(token)})

    return router
