"""Client of the Signals API: the registry, the engines and the online attributes.

Endpoints and payloads are those of the `snowplow-signals` SDK (0.4.10): everything lives
under `<url>/api/v1/`, authenticated with a bearer token. The token is either a sandbox
token (`SIGNALS_SANDBOX_TOKEN`) or, for BDP, an access token that the console issues for
an API key (`SNOWPLOW_API_KEY_ID` + `SNOWPLOW_API_KEY` for the organization
`SNOWPLOW_ORG_ID`); it is kept until the `exp` of its JWT and fetched again after that, or
once when the API answers 401.

Requests are retried (tenacity, exponential backoff) after a connection error, a timeout,
a 5xx or a 429 (waiting what its Retry-After asks, capped); never after another 4xx.

Secrets are held as `SecretStr` (repr `'**********'`) and never put in a message, a log
line or a repr; a server's error text is scrubbed of them before it is shown.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NoReturn
from urllib.parse import quote, urlsplit

import httpx
import tenacity
from pydantic import SecretStr

from signals_batch import __version__
from signals_batch.config import DEFAULT_TOKEN_URL, redacted_url
from signals_batch.errors import InvalidInput, SignalsBatchError

if TYPE_CHECKING:
    from signals_batch.config import SignalsApiSettings
    from signals_batch.definitions.models import AttributeGroup

logger = logging.getLogger("signals_batch.api")

AuthMode = Literal["sandbox", "bdp", "none"]

SANDBOX_TOKEN_ENV = "SIGNALS_SANDBOX_TOKEN"
API_KEY_ENV = "SNOWPLOW_API_KEY"
API_KEY_ID_ENV = "SNOWPLOW_API_KEY_ID"
ORG_ID_ENV = "SNOWPLOW_ORG_ID"

# A token this close to its `exp` is treated as expired (clock skew, request time).
TOKEN_EXPIRY_LEEWAY_SECONDS = 30.0

# The fields of the API's attribute group (and attribute key) *input*: what a GET returns
# beyond them (full_name, feast_name, blobl_path, ...) is computed by the server.
_GROUP_INPUT_FIELDS = (
    "name", "version", "attribute_key", "ttl", "batch_source", "online", "offline",
    "description", "owner", "fields", "attributes", "is_published",
    "backfill_since_tstamp", "refresh_rate",
)  # fmt: skip
_KEY_INPUT_FIELDS = (
    "name", "description", "key", "external_column", "property", "owner", "ttl",
    "is_published",
)  # fmt: skip
_BATCH_SOURCE_FIELDS = (
    "name", "database", "schema", "table", "timestamp_field", "description", "owner",
)  # fmt: skip
_REQUIRED_BATCH_SOURCE_FIELDS = ("name", "schema", "table", "timestamp_field")


class SignalsApiError(SignalsBatchError):
    """A call to the Signals API failed: what was being done, the HTTP status, the reason."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None,
                 unreachable: bool = False):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.unreachable = unreachable  # no answer at all, every retry spent


class _RetryableStatus(Exception):
    """An answer worth another attempt (5xx, 429); carries the response for the last one."""

    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


_RETRYABLE_ERRORS = (
    _RetryableStatus,
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


def _secret(value: str | SecretStr | None) -> SecretStr | None:
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value)


class SignalsApiClient:
    """A Signals API at `url`: registry reads and writes, publishing, online attributes."""

    def __init__(
        self,
        url: str,
        auth: AuthMode = "none",
        *,
        sandbox_token: str | SecretStr | None = None,
        api_key: str | SecretStr | None = None,
        api_key_id: str | SecretStr | None = None,
        org_id: str | SecretStr | None = None,
        token_url: str = DEFAULT_TOKEN_URL,
        timeout_seconds: float = 30.0,
        retries: int = 4,
        backoff_seconds: float = 0.5,
        max_wait_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ):
        if auth not in ("sandbox", "bdp", "none"):
            raise InvalidInput(f"signals_api.auth must be sandbox, bdp or none, not {auth!r}")
        self.url = url.rstrip("/")
        self.auth: AuthMode = auth
        self._sandbox_token = _secret(sandbox_token)
        self._api_key = _secret(api_key)
        self._api_key_id = _secret(api_key_id)
        self._org_id = _secret(org_id)
        missing = []
        if auth == "sandbox" and not _filled(self._sandbox_token):
            missing.append(SANDBOX_TOKEN_ENV)
        if auth == "bdp":
            for name, value in (
                (API_KEY_ID_ENV, self._api_key_id),
                (API_KEY_ENV, self._api_key),
                (ORG_ID_ENV, self._org_id),
            ):
                if not _filled(value):
                    missing.append(name)
        if missing:
            raise InvalidInput(
                f"signals_api.auth is {auth!r} but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set in the environment"
            )
        self.token_url = token_url
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self._clock = clock
        self._sleep = sleep
        self._token: SecretStr | None = None  # bdp access token
        self._token_expires_at: float | None = None
        self._http = httpx.Client(
            base_url=self.url + "/",
            timeout=httpx.Timeout(timeout_seconds),
            headers={"User-Agent": f"signals-batch/{__version__}"},
            transport=transport,
        )

    @classmethod
    def from_settings(
        cls,
        settings: SignalsApiSettings,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> SignalsApiClient | None:
        """The client the settings describe, secrets from the environment; None without a url.

        A secret the auth mode needs and the environment lacks is an `InvalidInput`
        naming the variable.
        """
        if not settings.url:
            return None
        env = os.environ if environ is None else environ
        secrets: dict[str, str | None] = {}
        if settings.auth == "sandbox":
            secrets["sandbox_token"] = env.get(SANDBOX_TOKEN_ENV)
        elif settings.auth == "bdp":
            secrets["api_key"] = env.get(API_KEY_ENV)
            secrets["api_key_id"] = env.get(API_KEY_ID_ENV)
            secrets["org_id"] = env.get(ORG_ID_ENV)
        options: dict[str, Any] = {
            "token_url": settings.token_url,
            "timeout_seconds": settings.timeout_seconds,
            "retries": settings.retries,
            "backoff_seconds": settings.backoff_seconds,
            "max_wait_seconds": settings.max_wait_seconds,
        }
        options.update(overrides)
        return cls(settings.url, settings.auth, **secrets, **options)

    def __repr__(self) -> str:
        return f"SignalsApiClient(url={redacted_url(self.url)!r}, auth={self.auth!r})"

    __str__ = __repr__

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SignalsApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ endpoints

    def health(self) -> dict[str, Any]:
        """`GET <url>/health`: the API answers (no authentication needed)."""
        response = self._call("GET", "health", "checking the Signals API", authenticate=False)
        return _json(response, "checking the Signals API")

    def get_attribute_group(
        self, name: str, version: int, *, action: str | None = None
    ) -> dict[str, Any] | None:
        """The registered group `name` version `version`, as the API returns it; None: none."""
        action = action or f"reading group {name}_v{version} from the registry"
        response = self._call("GET", _group_path(name, version), action, missing_ok=True)
        return None if response is None else _json(response, action)

    def list_attribute_groups(self, *, offline: bool | None = None) -> list[dict[str, Any]]:
        """Every registered group (`GET registry/attribute_groups/`), optionally only batch ones.

        Not called by the SDK 0.4.10 itself; its batch engine of earlier releases listed
        groups this way (with `offline=true`).
        """
        action = "listing the attribute groups of the registry"
        params = None if offline is None else {"offline": "true" if offline else "false"}
        response = self._call("GET", "api/v1/registry/attribute_groups/", action, params=params)
        groups = _json(response, action)
        if not isinstance(groups, list):
            raise SignalsApiError(f"{action} failed: the API did not answer with a list")
        return groups

    def put_attribute_group(
        self, group_json: dict[str, Any], *, action: str | None = None
    ) -> dict[str, Any]:
        """Create the group, or update it when it exists (POST; on 400, PUT its version)."""
        name, version = group_json["name"], group_json.get("version", 1)
        action = action or f"registering group {name}_v{version}"
        response = self._call(
            "POST", "api/v1/registry/attribute_groups/", action, body=group_json,
            passthrough=(400,),
        )  # fmt: skip
        if response.status_code == 400:
            # Already registered (the SDK's convention): update that version instead.
            response = self._call("PUT", _group_path(name, version), action, body=group_json)
        return _json(response, action)

    def publish(
        self, attribute_groups: list[tuple[str, int]], *, action: str | None = None
    ) -> dict[str, Any]:
        """Publish these group versions to the compute engines (`POST engines/publish`)."""
        names = ", ".join(f"{n}_v{v}" for n, v in attribute_groups)
        action = action or f"publishing {names}"
        body = {"attribute_groups": [{"name": n, "version": int(v)} for n, v in attribute_groups]}
        response = self._call("POST", "api/v1/engines/publish", action, body=body)
        return _json(response, action)

    def republish_online(self, group: AttributeGroup, batch_source: dict[str, Any]) -> None:
        """Register the group's batch source with `online: true`, then publish the group.

        Starts from the registered version of the group when there is one (keeping what
        only the registry knows, e.g. refresh_rate), else from our definition.
        """
        action = f"republishing group {group.ident}"
        registered = self.get_attribute_group(
            group.name, group.version, action=f"{action} (reading it from the registry)"
        )
        payload = online_group_payload(group, batch_source, registered)
        write = f"{action} (writing it to the registry)"
        if registered is None:
            self.put_attribute_group(payload, action=write)
        else:
            self._call("PUT", _group_path(group.name, group.version), write, body=payload)
        self.publish([(group.name, group.version)], action=f"{action} (publishing it)")

    def is_online(self, group: AttributeGroup, batch_source: dict[str, Any]) -> bool:
        """Whether the registry serves the group online from this batch source, published
        (a sync republishes it otherwise: a republish that failed, or a group published
        again offline by someone else)."""
        registered = self.get_attribute_group(
            group.name, group.version,
            action=f"checking that group {group.ident} is online in the registry")
        if registered is None:
            return False
        wanted = _batch_source_payload(group, batch_source)
        source = registered.get("batch_source") or {}
        return (registered.get("online") is True
                and registered.get("is_published", True) is not False
                and all(source.get(k) == v for k, v in wanted.items()))

    def get_online_attributes(
        self, group_ident_attributes: list[str], key_name: str, key_values: list[str]
    ) -> dict[str, Any]:
        """Served values: attributes as `<group>_v<version>:<attribute>`, for these keys."""
        action = f"reading online attributes for {key_name}"
        body = {
            "attributes": list(group_ident_attributes),
            "attribute_keys": {key_name: list(key_values)},
        }
        response = self._call("POST", "api/v1/get-online-attributes", action, body=body)
        return _json(response, action)

    # ------------------------------------------------------------------ requests

    def _call(
        self,
        method: str,
        path: str,
        action: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        authenticate: bool = True,
        missing_ok: bool = False,
        passthrough: tuple[int, ...] = (),
    ) -> Any:
        """Send with retries; refresh a BDP token once on 401; raise on any other failure.

        Returns the response (None for a 404 when `missing_ok`); statuses in
        `passthrough` are returned to the caller instead of raised.
        """
        refreshed = False
        while True:
            response = self._send_with_retries(
                method, path, action, body=body, params=params, authenticate=authenticate
            )
            if (
                response.status_code == 401
                and authenticate
                and self.auth == "bdp"
                and not refreshed
            ):
                logger.debug("401 from %s %s: fetching a new access token", method, path)
                self._token = None
                refreshed = True
                continue
            break
        if response.is_success or response.status_code in passthrough:
            return response
        if missing_ok and response.status_code == 404:
            return None
        self._raise(action, response)

    def _send_with_retries(
        self,
        method: str,
        path: str | SecretStr,
        action: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        authenticate: bool = True,
        headers: dict[str, SecretStr] | None = None,
        where: str | None = None,
    ) -> httpx.Response:
        """One logical request and its retries: the answer, or an error.

        `where` names the server in messages and logs instead of the URL (whose path may
        hold an identifier we keep to ourselves).
        """
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_RETRYABLE_ERRORS),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )

        def attempt() -> httpx.Response:
            request = self._http.build_request(
                method,
                path.get_secret_value() if isinstance(path, SecretStr) else path,
                json=body,
                params=params,
            )
            for name, value in (headers or {}).items():
                request.headers[name] = value.get_secret_value()
            if authenticate:
                token = self._bearer(action)
                if token is not None:
                    request.headers["Authorization"] = "Bearer " + token.get_secret_value()
            response = self._http.send(request)
            response.read()
            logger.debug("%s %s -> %d", method, where or request.url.path, response.status_code)
            if response.status_code == 429 or response.status_code >= 500:
                raise _RetryableStatus(response)
            return response

        attempts = self.retries + 1
        tried = f"{attempts} attempt{'s' * (attempts != 1)}"
        try:
            return retrying(attempt)
        except _RetryableStatus as last:
            self._raise(action, last.response, tried=tried)
        except httpx.TransportError as error:
            shown = redacted_url(self.url)
            server = where or f"{shown} (setting signals_api.url)"
            reason = self._scrub(_transport_reason(error).replace(self.url, shown))
            raise SignalsApiError(
                f"{action} failed: cannot reach {server} ({reason}; {tried})", unreachable=True
            ) from None

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Exponential backoff; a 429's Retry-After instead when it gives one; both capped."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _RetryableStatus):
            asked = _retry_after_seconds(error.response, self._clock())
            if asked is not None:
                return min(asked, self.max_wait_seconds)
        return min(self.backoff_seconds * 2 ** (state.attempt_number - 1), self.max_wait_seconds)

    def _raise(self, action: str, response: httpx.Response, tried: str = "") -> NoReturn:
        reason = self._scrub(_short_reason(response))
        status = response.status_code
        hint = f" ({tried})" if tried else ""
        if status in (401, 403):
            hint += {
                "sandbox": f" (check {SANDBOX_TOKEN_ENV})",
                "bdp": f" (check {API_KEY_ID_ENV}, {API_KEY_ENV} and {ORG_ID_ENV})",
                "none": " (signals_api.auth is 'none': set it to sandbox or bdp)",
            }[self.auth]
        raise SignalsApiError(
            f"{action} failed: HTTP {status} {reason}{hint}", status=status, reason=reason
        )

    def _scrub(self, text: str) -> str:
        """The text with any secret of ours replaced by `***` (servers may echo them)."""
        for secret in (
            self._sandbox_token, self._api_key, self._api_key_id, self._org_id, self._token,
        ):  # fmt: skip
            if secret is not None and secret.get_secret_value():
                text = text.replace(secret.get_secret_value(), "***")
        return text

    # ------------------------------------------------------------------ tokens

    def _bearer(self, action: str) -> SecretStr | None:
        if self.auth == "none":
            return None
        if self.auth == "sandbox":
            return self._sandbox_token
        now = self._clock()
        expired = (
            self._token_expires_at is not None
            and self._token_expires_at - TOKEN_EXPIRY_LEEWAY_SECONDS <= now
        )
        if self._token is None or expired:
            self._fetch_token(action)
        return self._token

    def _fetch_token(self, action: str) -> None:
        """Exchange the API key for an access token; keep it and its JWT expiry."""
        assert self._org_id and self._api_key and self._api_key_id
        # The path holds the organization id: kept out of messages, logs and locals' reprs.
        url = SecretStr(
            self.token_url.replace("{org_id}", quote(self._org_id.get_secret_value(), safe=""))
        )
        where = _origin(url)
        step = f"{action} (fetching an access token from {where})"
        response = self._send_with_retries(
            "GET", url, step, authenticate=False, where=where,
            headers={"X-API-Key-Id": self._api_key_id, "X-API-Key": self._api_key},
        )  # fmt: skip
        if not response.is_success:
            self._raise(step, response)
        try:
            token = response.json()["accessToken"]
        except (ValueError, KeyError, TypeError):
            raise SignalsApiError(f"{step} failed: the answer holds no accessToken") from None
        if not isinstance(token, str) or not token:
            raise SignalsApiError(f"{step} failed: the answer holds no accessToken")
        self._token = SecretStr(token)
        del token
        self._token_expires_at = _jwt_expiry(self._token)
        logger.debug("fetched an access token (expires at %s)", self._token_expires_at)


# ---------------------------------------------------------------------- payloads


def online_group_payload(
    group: AttributeGroup,
    batch_source: Mapping[str, Any],
    registered: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The attribute group JSON to write back: online, offline, published, with its source.

    `registered` is the group as the registry returned it (None: not registered yet, so
    the payload is built from our definition in the API's shape).
    """
    if group.type == "stream":
        raise InvalidInput(
            f"group {group.ident} is a stream group: Signals computes it, there is no batch "
            "table to register"
        )
    if registered is None:
        payload = definition_payload(group)
    else:
        payload = {k: registered[k] for k in _GROUP_INPUT_FIELDS if registered.get(k) is not None}
        key = payload.get("attribute_key")
        if isinstance(key, dict):
            payload["attribute_key"] = {
                k: key[k] for k in _KEY_INPUT_FIELDS if key.get(k) is not None
            }
        if _has_rendered_properties(payload.get("attributes")):
            # The server rendered them as text (SQL), which it does not take back as input;
            # our definition of the same group version says the same in the input shape.
            payload["attributes"] = definition_payload(group).get("attributes")
    payload["online"] = True
    payload["offline"] = True
    payload["is_published"] = True
    payload["batch_source"] = _batch_source_payload(group, batch_source)
    return payload


def definition_payload(group: AttributeGroup) -> dict[str, Any]:
    """Our definition in the shape of the API's attribute group (no `type`; `offline`).

    The short form of a property (`unstruct_event_com_acme_purchase_1:total`) names a
    column, not a schema: an event's is resolved from the attribute's events; an entity's
    cannot be (vendor and name are ambiguous in the column name), which is an
    `InvalidInput` asking for the long form.
    """
    data = group.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("type", None)
    data["offline"] = group.type != "stream"
    where = f"group {group.ident}"
    if "property" in data["attribute_key"]:
        data["attribute_key"]["property"] = _api_property(
            data["attribute_key"]["property"], f"{where}, attribute_key", []
        )
    for attribute in data.get("attributes") or []:
        place = f"{where}, attribute {attribute['name']}"
        events = attribute.get("events") or []
        if "property" in attribute:
            attribute["property"] = _api_property(attribute["property"], place, events)
        for criteria in (attribute.get("criteria") or {}).values():
            for criterion in criteria:
                criterion["property"] = _api_property(criterion["property"], place, events)
    return data


def _api_property(prop: dict[str, Any], place: str, events: list[dict]) -> dict[str, Any]:
    """A property as the API takes it: named by its schema, without our `column`."""
    if prop.get("type") == "calculated":
        prop["properties"] = [_api_property(p, place, events) for p in prop["properties"]]
        return prop
    if prop.get("type") not in ("entity", "event"):
        return prop
    column = prop.pop("column", None)
    if column is None:
        return prop
    if prop["type"] == "event":
        for event in events:
            vendor, name = event.get("vendor"), event.get("name")
            if not (vendor and name):
                continue
            prefix = f"unstruct_event_{_column_part(vendor)}_{_column_part(name)}_"
            major = column.removeprefix(prefix)
            if column.startswith(prefix) and major.isdigit():
                return {**prop, "vendor": vendor, "name": name, "major_version": int(major)}
    index = f"[{prop['index']}]" if prop.get("index") is not None else ""
    shown = f"{column}{index}:{prop['path']}"
    raise InvalidInput(
        f"{place}: the property {shown!r} names a warehouse column, and the Signals API "
        f"needs the schema: write it as {{type: {prop['type']}, vendor: ..., name: ..., "
        f"major_version: ..., path: {prop['path']}}}"
    )


def _column_part(text: str) -> str:
    """A schema vendor or name as it appears in a Snowplow column name."""
    snake = re.sub(r"([^A-Z_])([A-Z])", r"\1_\2", text)
    return re.sub(r"[.\-]", "_", snake).lower()


def _has_rendered_properties(attributes: Any) -> bool:
    for attribute in attributes or []:
        if not isinstance(attribute, dict):
            return True
        if "property" in attribute and not isinstance(attribute["property"], dict):
            return True
        for criteria in (attribute.get("criteria") or {}).values():
            for criterion in criteria or []:
                if not isinstance(criterion.get("property"), dict):
                    return True
    return False


def _batch_source_payload(group: AttributeGroup, source: Mapping[str, Any]) -> dict[str, Any]:
    payload = {k: source[k] for k in _BATCH_SOURCE_FIELDS if source.get(k) not in (None, "")}
    unknown = sorted(set(source) - set(_BATCH_SOURCE_FIELDS))
    missing = [k for k in _REQUIRED_BATCH_SOURCE_FIELDS if k not in payload]
    if unknown or missing:
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unknown {', '.join(unknown)}"] if unknown else []
        raise InvalidInput(f"batch source of group {group.ident}: {'; '.join(problems)}")
    return payload


# ---------------------------------------------------------------------- helpers


def _origin(url: SecretStr) -> str:
    """`scheme://host[:port]` of a URL, without its path."""
    parts = urlsplit(url.get_secret_value())
    return f"{parts.scheme}://{parts.netloc}"


def _filled(value: SecretStr | None) -> bool:
    return value is not None and bool(value.get_secret_value().strip())


def _group_path(name: str, version: int) -> str:
    return f"api/v1/registry/attribute_groups/{quote(name, safe='')}/versions/{int(version)}"


def _json(response: httpx.Response, action: str) -> Any:
    if not response.content.strip():
        return {}
    try:
        return response.json()
    except ValueError:
        raise SignalsApiError(
            f"{action} failed: HTTP {response.status_code} with a body that is not JSON",
            status=response.status_code,
        ) from None


def _short_reason(response: httpx.Response, limit: int = 200) -> str:
    """The server's own short explanation (FastAPI `detail`, `error`, `message`), else the
    reason phrase."""
    phrase = response.reason_phrase or ""
    text = ""
    try:
        data = response.json()
    except ValueError:
        data = None
        text = response.text.strip().splitlines()[0] if response.text.strip() else ""
    if isinstance(data, dict):
        detail = next((data[k] for k in ("detail", "error", "message") if data.get(k)), None)
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            first = detail[0]
            loc = ".".join(str(p) for p in first.get("loc", []) if p != "body")
            text = f"{loc}: {first.get('msg', '')}" if loc else str(first.get("msg", ""))
            if len(detail) > 1:
                text += f" (and {len(detail) - 1} more)"
        elif detail is not None:
            text = detail if isinstance(detail, str) else json.dumps(detail)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if text and text != phrase:
        return f"{phrase}: {text}" if phrase else text
    return phrase or "(no reason given)"


def _retry_after_seconds(response: httpx.Response, now: float) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _jwt_expiry(token: SecretStr) -> float | None:
    """The `exp` claim of a JWT (no signature check: only to know when to fetch anew)."""
    try:
        segment = token.get_secret_value().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def _transport_reason(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    text = str(error).strip()
    return text[:200] if text else type(error).__name__


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.debug(
        "attempt %d failed (%s); retrying in %.2fs",
        state.attempt_number,
        type(error).__name__ if not isinstance(error, _RetryableStatus) else error,
        wait,
    )
