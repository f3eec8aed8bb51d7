"""The http backend: a server speaking the push API of `signals-batch serve`.

See signals_batch/api/push.py for the endpoints. The bearer token comes from
$SIGNALS_SANDBOX_TOKEN (never shown in a message). Every call is idempotent (upsert by the
store contract; the lock by a client-chosen token), so each is retried on connection errors,
5xx and 429 (honouring Retry-After) with tenacity, never on other 4xx.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from signals_batch.errors import InvalidInput
from signals_batch.stores.base import (
    GroupSpec,
    ProfileRow,
    StoreError,
    StoreLocked,
    Watermark,
    lock_holder,
    locked_message,
)

API_PREFIX = "/api/v1/batch-store"
TOKEN_ENV = "SIGNALS_SANDBOX_TOKEN"
LOCK_HEADER = "X-Lock-Token"
DEFAULT_LOCK_LEASE = 30.0
MAX_RETRY_AFTER = 30.0
MAX_BACKOFF = 8.0


def public_url(url: str) -> str:
    """The url without user, password, query or fragment."""
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise InvalidInput("the http store url must look like http(s)://host[:port][/path]"
                           ) from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def _path_segment(text: str) -> str:
    # dots too: "." and ".." must not be taken for relative path segments
    return quote(text, safe="").replace(".", "%2E")


class _Retryable(Exception):
    """A transport error or a 5xx/429 answer; `response` is None for transport errors."""

    def __init__(self, error: Exception | None = None, response: httpx.Response | None = None):
        super().__init__(str(error) if error else f"status {response.status_code}")
        self.error = error
        self.response = response


class HttpStore:
    """Profiles in the store behind a push API at `url` (the server, or its API path)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 120.0,
                 retries: int = 5, retry_wait: float = 0.3, lock_lease: float | None = None,
                 check: bool = True):
        public = public_url(url)
        self.description = f"http store {public}"
        self.lock_lease = DEFAULT_LOCK_LEASE if lock_lease is None else float(lock_lease)
        self._retries = max(1, retries)  # attempts in all
        self._retry_wait = retry_wait  # the first backoff, doubled on each retry
        token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        parts = urlsplit(url)
        self._secrets = [s for s in (token, parts.password, unquote(parts.password or "")) if s]
        self._sends_credentials = bool(token or parts.username or parts.password)
        base = public + ("" if public.endswith(API_PREFIX) else API_PREFIX)
        headers = {"Accept": "application/json"}
        auth = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif parts.username or parts.password:  # credentials in the url: basic auth
            auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))
        self._client = httpx.Client(base_url=base, headers=headers, auth=auth,
                                    timeout=httpx.Timeout(timeout, connect=5.0))
        self._lock_token: str | None = None
        self._lock_lost = threading.Event()
        if check:
            response = self._request("GET", "/health")
            try:
                api = response.json().get("api")
            except (ValueError, AttributeError):
                api = None
            if response.status_code != 200 or api != "batch-store":
                raise StoreError(f"no batch-store push API at {public}{API_PREFIX} "
                                 f"(answered {response.status_code}); is it `signals-batch "
                                 f"serve`?")

    # ------------------------------------------------------------------ requests

    def _scrub(self, text: object) -> str:
        text = str(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        response = getattr(error, "response", None)
        if response is not None and response.status_code == 429:
            with suppress(ValueError):  # absent, or a date: the usual backoff
                seconds = float(response.headers.get("retry-after", ""))
                return min(MAX_RETRY_AFTER, max(0.0, seconds))
        backoff = self._retry_wait * 2 ** (state.attempt_number - 1)
        return min(MAX_BACKOFF, backoff) + random.uniform(0, self._retry_wait)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call, retried on connection errors, 5xx and 429; other answers returned."""
        def attempt() -> httpx.Response:
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TransportError as error:
                raise _Retryable(error=error) from None
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retryable(response=response)
            return response

        retrying = Retrying(stop=stop_after_attempt(self._retries), wait=self._wait,
                            retry=retry_if_exception_type(_Retryable), reraise=True)
        try:
            response = retrying(attempt)
        except _Retryable as failure:
            if failure.response is None:
                raise StoreError(f"cannot reach the {self.description}: "
                                 f"{self._scrub(failure.error).rstrip('.')}. Is the server "
                                 "running there? Check store.url in signals_batch.yml (or "
                                 "SIGNALS_BATCH_STORE__URL)") from None
            raise self._failure(failure.response) from None
        if response.status_code in (401, 403):
            if not self._sends_credentials:  # the user's setup to fix: exit 2
                raise InvalidInput(
                    f"the {self.description} refused the request ({response.status_code}): "
                    f"it needs a token and ${TOKEN_ENV} is not set in the environment")
            raise StoreError(
                f"the {self.description} refused the request ({response.status_code}): "
                f"check the token in ${TOKEN_ENV}")
        return response

    def _detail(self, response: httpx.Response) -> str:
        try:
            detail = response.json().get("detail", "")
        except (ValueError, AttributeError):
            detail = response.text[:200]
        return self._scrub(detail if isinstance(detail, str) else json.dumps(detail)[:300])

    def _failure(self, response: httpx.Response) -> StoreError:
        detail = self._detail(response)
        return StoreError(f"the {self.description} answered {response.status_code}"
                          + (f": {detail}" if detail else ""))

    def _expect(self, response: httpx.Response, *ok: int) -> dict[str, Any]:
        if response.status_code == 423:
            raise StoreLocked(f"the {self.description} refused a write: "
                              f"{self._detail(response)}")
        if response.status_code not in (ok or (200,)):
            raise self._failure(response)
        return response.json()

    def _write_headers(self) -> dict[str, str]:
        if self._lock_lost.is_set():
            raise StoreError(
                f"this sync lost the lock of the {self.description} (its lease of "
                f"{self.lock_lease:g}s ran out); stopped so two syncs never interleave")
        return {LOCK_HEADER: self._lock_token} if self._lock_token else {}

    # ------------------------------------------------------------------ writes

    def upsert(self, group: GroupSpec, rows: Sequence[ProfileRow],
               watermark: Watermark | None = None, mark: str | None = None) -> int:
        body = {
            "group": {"ident": group.ident, "key_name": group.key_name,
                      "attributes": list(group.attributes),
                      "ttl_seconds": dict(group.ttl_seconds)},
            "rows": [{"key_value": row.key_value, "values": row.values,
                      "updated_at": _iso(row.updated_at)} for row in rows],
            "watermark": None if watermark is None else {
                "updated_at": _iso(watermark.updated_at), "key_value": watermark.key_value},
            "mark": mark,
        }
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **self._write_headers()}
        response = self._request("POST", "/upsert", content=content, headers=headers)
        return int(self._expect(response)["applied"])

    def reset_watermark(self, group_ident: str) -> None:
        response = self._request("DELETE", f"/watermark/{_path_segment(group_ident)}",
                                 headers=self._write_headers())
        self._expect(response)

    def finish_full(self, group_ident: str, mark: str) -> int:
        response = self._request("POST", "/finish-full",
                                 json={"group": group_ident, "mark": mark},
                                 headers=self._write_headers())
        return int(self._expect(response)["removed"])

    # ------------------------------------------------------------------ reads

    def get(self, group_ident: str, key_value: str,
            attributes: Sequence[str] | None = None) -> dict[str, Any] | None:
        params = {"attributes": list(attributes)} if attributes is not None else None
        response = self._request(
            "GET", f"/profiles/{_path_segment(group_ident)}/{_path_segment(key_value)}",
            params=params)
        if response.status_code == 404:
            return None
        return self._expect(response)["profile"]

    def get_watermark(self, group_ident: str) -> Watermark | None:
        response = self._request("GET", f"/watermark/{_path_segment(group_ident)}")
        found = self._expect(response)["watermark"]
        return Watermark.from_json(found) if found else None

    def keys(self, group_ident: str) -> Iterator[str]:
        response = self._request("GET", f"/keys/{_path_segment(group_ident)}")
        yield from self._expect(response)["keys"]

    def count(self, group_ident: str) -> int:
        response = self._request("GET", f"/count/{_path_segment(group_ident)}")
        return int(self._expect(response)["count"])

    # ------------------------------------------------------------------ lock

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        token = uuid.uuid4().hex
        body = {"token": token, "lease_seconds": self.lock_lease, "holder": lock_holder()}
        deadline = time.monotonic() + timeout
        while True:
            response = self._request("POST", "/lock", json=body)
            if response.status_code == 200:
                break
            if response.status_code != 423:
                raise self._failure(response)
            if time.monotonic() >= deadline:
                try:
                    holder = response.json().get("holder")
                except (ValueError, AttributeError):  # an older server: no holder said
                    holder = None
                raise StoreLocked(locked_message(
                    self.description, holder if isinstance(holder, str) else None, timeout,
                    self.lock_lease))
            time.sleep(max(0.0, min(0.1, deadline - time.monotonic())))
        self._lock_token = token
        self._lock_lost.clear()
        stop = threading.Event()
        keeper = threading.Thread(target=self._keep_lease, args=(token, stop),
                                  name="signals-batch-http-lock", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            stop.set()
            keeper.join(timeout=1.0)
            self._lock_token = None
            with suppress(StoreError):  # when unreachable, the lease frees it
                self._request("DELETE", f"/lock/{token}")

    def _keep_lease(self, token: str, stop: threading.Event) -> None:
        while not stop.wait(self.lock_lease / 3):
            try:
                response = self._client.put(f"/lock/{token}",
                                            json={"lease_seconds": self.lock_lease},
                                            timeout=max(1.0, self.lock_lease / 3))
            except httpx.TransportError:
                continue  # retried next time; if the lease runs out the lock is lost
            if response.status_code in (404, 409):
                self._lock_lost.set()
                return

    def close(self) -> None:
        self._client.close()
