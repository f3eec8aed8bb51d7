"""The Signals API client against a stub server on loopback: auth, retries, errors, payloads.

The stub records every request and can be told to answer the next requests with a status
(500, 429 + Retry-After, 401, 400, ...) or to sleep past the client's timeout; otherwise it
behaves like a tiny registry. No external network.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel, RootModel

from signals_batch.api import SignalsApiClient, SignalsApiError
from signals_batch.api.client import definition_payload, online_group_payload
from signals_batch.config import SignalsApiSettings
from signals_batch.definitions.models import AttributeGroup
from signals_batch.errors import InvalidInput

SANDBOX_TOKEN = "sbx-SECRET-token-0001"
API_KEY = "key-SECRET-0002"
API_KEY_ID = "keyid-SECRET-0003"
ORG_ID = "org-SECRET-0004"


def make_jwt(exp: float, sub: str = "user") -> str:
    def segment(data: dict[str, Any]) -> str:
        raw = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
        return raw.rstrip("=")

    return f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment({'exp': exp, 'sub': sub})}.c2ln"


# --------------------------------------------------------------------------- stub server


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class Step:
    """A scripted answer for the next API request (not the token endpoint)."""

    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    sleep: float = 0.0


class Stub:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.plan: list[Step] = []
        self.token_plan: list[Step] = []
        self.tokens: list[str] = []  # handed out by the token endpoint, in order
        self.accepted: set[str] | None = None  # bearer tokens the API accepts (None: any)
        self.registry: dict[tuple[str, int], dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.url = ""

    @property
    def api_requests(self) -> list[Recorded]:
        return [r for r in self.requests if not r.path.startswith("/token/")]

    @property
    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/token/")]

    def respond(self, method: str, path: str, headers: dict[str, str], body: Any) -> Step:
        if path.startswith("/token/"):
            if self.token_plan:
                return self.token_plan.pop(0)
            if headers.get("x-api-key") != API_KEY or headers.get("x-api-key-id") != API_KEY_ID:
                return Step(401, {"detail": "unknown API key"})
            return Step(200, {"accessToken": self.tokens.pop(0)})
        if self.plan:
            return self.plan.pop(0)
        if path == "/health":
            return Step(200, {"status": "ok"})
        if self.accepted is not None:
            given = headers.get("authorization", "").removeprefix("Bearer ")
            if given not in self.accepted:
                # Some servers echo what they were given; the client must scrub it.
                return Step(401, {"detail": f"invalid or expired token {given}"})
        parts = path.strip("/").split("/")
        if parts[:4] == ["api", "v1", "registry", "attribute_groups"]:
            if len(parts) == 4 and method == "GET":
                return Step(200, list(self.registry.values()))
            if len(parts) == 4 and method == "POST":
                key = (body["name"], body.get("version", 1))
                if key in self.registry:
                    return Step(400, {"detail": "attribute group already exists"})
                self.registry[key] = body
                return Step(201, body)
            if len(parts) == 7 and parts[5] == "versions":
                key = (parts[4], int(parts[6]))
                if key not in self.registry:
                    return Step(404, {"detail": "attribute group not found"})
                if method == "PUT":
                    self.registry[key] = body
                return Step(200, self.registry[key])
        if path == "/api/v1/engines/publish" and method == "POST":
            return Step(200, {"status": "published"})
        if path == "/api/v1/get-online-attributes" and method == "POST":
            key_name, values = next(iter(body["attribute_keys"].items()))
            data = {key_name: values}
            data.update({a: [7 for _ in values] for a in body["attributes"]})
            return Step(200, data)
        return Step(404, {"detail": "Not Found"})


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass

    def _handle(self) -> None:
        stub = self.server.stub
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        with stub.lock:
            stub.requests.append(Recorded(self.command, path, query, headers, body))
            step = stub.respond(self.command, path, headers, body)
        if step.sleep:
            time.sleep(step.sleep)
        data = json.dumps(step.body).encode()
        try:
            self.send_response(step.status)
            for name, value in step.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout test)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: Stub

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@pytest.fixture
def stub():
    server = _Server(("127.0.0.1", 0), _Handler)
    server.stub = Stub()
    server.stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server.stub
    server.shutdown()
    server.server_close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


FAST = {"backoff_seconds": 0.01, "max_wait_seconds": 0.05, "timeout_seconds": 2.0}


def sandbox_client(stub: Stub, **options: Any) -> SignalsApiClient:
    return SignalsApiClient(stub.url, "sandbox", sandbox_token=SANDBOX_TOKEN, **{**FAST, **options})


def bdp_client(stub: Stub, **options: Any) -> SignalsApiClient:
    return SignalsApiClient(
        stub.url,
        "bdp",
        api_key=API_KEY,
        api_key_id=API_KEY_ID,
        org_id=ORG_ID,
        token_url=stub.url + "/token/{org_id}/credentials/v3/token",
        **{**FAST, **options},
    )


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (SANDBOX_TOKEN, API_KEY, API_KEY_ID, ORG_ID):
            assert secret not in text


def traceback_with_locals(error: BaseException) -> str:
    return "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())


# --------------------------------------------------------------------------- definitions

BATCH_GROUP = {
    "name": "ecommerce_user",
    "version": 2,
    "type": "batch",
    "attribute_key": "domain_userid",
    "owner": "data@example.com",
    "description": "per browser",
    "ttl": "P365D",
    "attributes": [
        {
            "name": "page_views_7d",
            "type": "int64",
            "aggregation": "counter",
            "events": [{"vendor": "com.snowplowanalytics.snowplow", "name": "page_view"}],
            "period": "P7D",
            "criteria": {"all": [{"property": "geo_country", "operator": "=", "value": "GB"}]},
        },
        {
            "name": "revenue",
            "type": "double",
            "aggregation": "sum",
            "events": [{"vendor": "com.acme", "name": "purchase", "version": "1-0-0"}],
            "property": "unstruct_event_com_acme_purchase_1:total",
            "default_value": 0,
        },
        {
            "name": "last_os",
            "type": "string",
            "aggregation": "last",
            "property": {
                "type": "entity",
                "vendor": "nl.basjes",
                "name": "yauaa_context",
                "major_version": 1,
                "path": "operatingSystemName",
            },
            "ttl": "P30D",
        },
        {
            "name": "full_name",
            "type": "string",
            "aggregation": "last",
            "property": {
                "type": "calculated",
                "operation": "concat",
                "separator": " ",
                "properties": [
                    {"type": "atomic", "name": "user_id"},
                    {"type": "atomic", "name": "geo_city"},
                ],
            },
        },
        {
            "name": "active_days",
            "type": "int64",
            "aggregation": "approx_count_distinct",
            "property": {"type": "atomic", "name": "derived_tstamp", "date_part": "active_day"},
            "period": "P30D",
        },
    ],
}

EXTERNAL_GROUP = {
    "name": "crm_user",
    "version": 1,
    "type": "external_batch",
    "attribute_key": {"name": "user_id"},
    "owner": "crm@example.com",
    "fields": [{"name": "lifetime_value", "type": "double"}, {"name": "tier", "type": "string"}],
    "batch_source": {
        "name": "crm_users",
        "database": "analytics",
        "schema": "crm",
        "table": "users",
        "timestamp_field": "modified_at",
    },
}

SOURCE = {
    "name": "ecommerce_user_v2_source",
    "database": "warehouse",
    "schema": "signals",
    "table": "ecommerce_user_v2_attributes",
    "timestamp_field": "updated_at",
}


@pytest.fixture
def group() -> AttributeGroup:
    return AttributeGroup.model_validate(BATCH_GROUP)


# --------------------------------------------------------------------------- auth


def test_sandbox_sends_its_token_as_bearer(stub: Stub, group: AttributeGroup) -> None:
    with sandbox_client(stub) as client:
        assert client.get_attribute_group("ecommerce_user", 2) is None
    (request,) = stub.api_requests
    assert request.method == "GET"
    assert request.path == "/api/v1/registry/attribute_groups/ecommerce_user/versions/2"
    assert request.headers["authorization"] == f"Bearer {SANDBOX_TOKEN}"
    assert request.headers["user-agent"].startswith("signals-batch/")


def test_none_auth_sends_no_authorization(stub: Stub) -> None:
    with SignalsApiClient(stub.url, "none", **FAST) as client:
        assert client.health() == {"status": "ok"}
        client.get_attribute_group("x", 1)
    assert all("authorization" not in r.headers for r in stub.api_requests)
    assert stub.api_requests[0].path == "/health"


def test_bdp_token_is_fetched_once_cached_and_refetched_after_expiry(stub: Stub) -> None:
    clock = FakeClock()
    first, second = make_jwt(clock.now + 600, "a"), make_jwt(clock.now + 1200, "b")
    stub.tokens = [first, second]
    with bdp_client(stub, clock=clock, sleep=clock.sleep) as client:
        client.get_attribute_group("g", 1)
        client.get_attribute_group("g", 1)
        assert len(stub.token_requests) == 1
        clock.now += 600  # past exp (and within the leeway before it)
        client.get_attribute_group("g", 1)
    assert len(stub.token_requests) == 2
    token_request = stub.token_requests[0]
    assert token_request.method == "GET"
    assert token_request.path == f"/token/{ORG_ID}/credentials/v3/token"
    assert token_request.headers["x-api-key-id"] == API_KEY_ID
    assert token_request.headers["x-api-key"] == API_KEY
    assert "authorization" not in token_request.headers
    used = [r.headers["authorization"] for r in stub.api_requests]
    assert used == [f"Bearer {first}", f"Bearer {first}", f"Bearer {second}"]


def test_bdp_token_without_exp_is_kept_until_a_401(stub: Stub) -> None:
    stub.tokens = ["opaque-token-1", "opaque-token-2"]
    stub.accepted = {"opaque-token-1"}
    with bdp_client(stub) as client:
        client.get_attribute_group("g", 1)
        client.get_attribute_group("g", 1)
        assert len(stub.token_requests) == 1
        stub.accepted = {"opaque-token-2"}  # the server revoked the first one
        client.get_attribute_group("g", 1)
    assert len(stub.token_requests) == 2
    assert [r.headers["authorization"] for r in stub.api_requests][-2:] == [
        "Bearer opaque-token-1",
        "Bearer opaque-token-2",
    ]


def test_bdp_401_refetches_the_token_once_then_fails_clearly(stub: Stub) -> None:
    clock = FakeClock()
    stub.tokens = [make_jwt(clock.now + 600, "a"), make_jwt(clock.now + 600, "b")]
    stub.accepted = set()  # nothing is accepted
    client = bdp_client(stub, clock=clock, sleep=clock.sleep)
    with pytest.raises(SignalsApiError) as caught:
        client.publish([("ecommerce_user", 2)])
    error = caught.value
    assert error.status == 401
    assert len(stub.token_requests) == 2  # the first token, then one refetch
    assert len(stub.api_requests) == 2  # no retries beyond the refresh
    assert clock.sleeps == []
    message = str(error)
    assert "publishing ecommerce_user_v2 failed: HTTP 401" in message
    assert "SNOWPLOW_API_KEY" in message  # says what to check...
    for token in stub.tokens + [r.headers["authorization"] for r in stub.api_requests]:
        assert token.removeprefix("Bearer ") not in message  # ...never the token itself
    assert_no_secret(message, repr(error), repr(client), str(client))
    assert_no_secret(traceback_with_locals(error))
    client.close()


def test_bdp_bad_api_key_is_a_clear_error_without_secrets(stub: Stub) -> None:
    stub.token_plan = [Step(403, {"detail": f"key {API_KEY} of org {ORG_ID} is revoked"})]
    client = bdp_client(stub)
    with pytest.raises(SignalsApiError) as caught:
        client.get_attribute_group("g", 1)
    message = str(caught.value)
    assert "fetching an access token from http://127.0.0.1" in message
    assert "HTTP 403" in message and "revoked" in message
    assert len(stub.token_requests) == 1 and stub.api_requests == []
    assert_no_secret(message, repr(client), traceback_with_locals(caught.value))


def test_sandbox_401_is_not_retried_and_names_the_group(stub: Stub, group: AttributeGroup) -> None:
    stub.accepted = {"another-token"}
    client = sandbox_client(stub)
    with pytest.raises(SignalsApiError) as caught:
        client.republish_online(group, SOURCE)
    error = caught.value
    assert error.status == 401
    assert len(stub.api_requests) == 1
    message = str(error)
    assert message.startswith("republishing group ecommerce_user_v2 ")
    assert "HTTP 401" in message and "invalid or expired token" in message
    assert "SIGNALS_SANDBOX_TOKEN" in message
    assert_no_secret(message, repr(error), repr(client), traceback_with_locals(error))
    assert "***" in message  # the echoed token was scrubbed
    client.close()


# --------------------------------------------------------------------------- retries


def test_500_429_and_timeout_are_retried_then_succeed(stub: Stub) -> None:
    stub.plan = [
        Step(500, {"detail": "boom"}),
        Step(429, {"detail": "slow down"}, {"Retry-After": "0"}),
        Step(200, {"status": "published"}, sleep=0.6),  # answered after the client gave up
        Step(503, {}),
    ]
    with sandbox_client(stub, timeout_seconds=0.25, retries=4) as client:
        assert client.publish([("g", 1)]) == {"status": "published"}
    assert len(stub.api_requests) == 5
    assert {r.path for r in stub.api_requests} == {"/api/v1/engines/publish"}
    assert stub.api_requests[-1].body == {"attribute_groups": [{"name": "g", "version": 1}]}


def test_retry_after_is_honoured_and_capped(stub: Stub) -> None:
    clock = FakeClock()
    stub.plan = [
        Step(429, {}, {"Retry-After": "3"}),
        Step(429, {}, {"Retry-After": "1000"}),
        Step(502, {}),
    ]
    with sandbox_client(stub, clock=clock, sleep=clock.sleep, max_wait_seconds=10,
                        backoff_seconds=0.5) as client:  # fmt: skip
        client.get_attribute_group("g", 1)
    # 3 s as asked, 1000 s capped to 10, then exponential backoff (attempt 3: 0.5 * 4)
    assert clock.sleeps == [3.0, 10.0, 2.0]


def test_retries_are_bounded(stub: Stub) -> None:
    clock = FakeClock()
    stub.plan = [Step(503, {"detail": "maintenance"}) for _ in range(10)]
    with (
        sandbox_client(stub, clock=clock, sleep=clock.sleep, retries=2) as client,
        pytest.raises(SignalsApiError) as caught,
    ):
        client.publish([("g", 1)])
    assert len(stub.api_requests) == 3
    assert len(clock.sleeps) == 2
    assert caught.value.status == 503
    assert "HTTP 503 Service Unavailable: maintenance (3 attempts)" in str(caught.value)


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_other_4xx_are_not_retried(stub: Stub, status: int) -> None:
    clock = FakeClock()
    stub.plan = [Step(status, {"detail": [{"loc": ["body", "name"], "msg": "bad name"}]})]
    with (
        sandbox_client(stub, clock=clock, sleep=clock.sleep) as client,
        pytest.raises(SignalsApiError) as caught,
    ):
        client.publish([("g", 1)])
    assert len(stub.api_requests) == 1 and clock.sleeps == []
    assert caught.value.status == status
    assert f"HTTP {status}" in str(caught.value) and "name: bad name" in str(caught.value)


def test_404_of_a_group_is_none(stub: Stub) -> None:
    with sandbox_client(stub) as client:
        assert client.get_attribute_group("missing", 3) is None
    assert len(stub.api_requests) == 1


def test_connection_refused_is_retried_then_names_the_url(stub: Stub) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    clock = FakeClock()
    client = SignalsApiClient(url, "sandbox", sandbox_token=SANDBOX_TOKEN, retries=3,
                              clock=clock, sleep=clock.sleep, **FAST)  # fmt: skip
    with pytest.raises(SignalsApiError) as caught:
        client.get_attribute_group("g", 1)
    assert len(clock.sleeps) == 3
    message = str(caught.value)
    assert f"cannot reach {url} (setting signals_api.url)" in message
    assert "4 attempts" in message
    assert message.startswith("reading group g_v1 from the registry failed")
    assert_no_secret(message, repr(client), traceback_with_locals(caught.value))


def test_a_password_or_query_in_the_api_url_is_never_shown(stub: Stub) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = "tok3n_in_the_url"
    client = SignalsApiClient(f"http://apiuser:{secret}@127.0.0.1:{port}/?api_key={secret}",
                              "none", retries=0, **FAST)
    with pytest.raises(SignalsApiError) as caught:
        client.get_attribute_group("g", 1)
    message = str(caught.value)
    assert f"cannot reach http://***@127.0.0.1:{port}/?*** (setting signals_api.url)" in message
    for shown in (message, repr(client)):
        assert secret not in shown


# --------------------------------------------------------------------------- registry


def test_republish_online_registers_a_new_group_then_publishes(
    stub: Stub, group: AttributeGroup
) -> None:
    with sandbox_client(stub) as client:
        client.republish_online(group, SOURCE)
    calls = [(r.method, r.path) for r in stub.api_requests]
    assert calls == [
        ("GET", "/api/v1/registry/attribute_groups/ecommerce_user/versions/2"),
        ("POST", "/api/v1/registry/attribute_groups/"),
        ("POST", "/api/v1/engines/publish"),
    ]
    sent = stub.api_requests[1].body
    assert sent["online"] is True and sent["offline"] is True and sent["is_published"] is True
    assert sent["batch_source"] == SOURCE
    assert "type" not in sent
    assert sent["name"] == "ecommerce_user" and sent["version"] == 2
    assert [a["name"] for a in sent["attributes"]] == [a.name for a in group.attributes or []]
    assert stub.api_requests[2].body == {
        "attribute_groups": [{"name": "ecommerce_user", "version": 2}]
    }


def test_republish_online_updates_the_registered_group(stub: Stub, group: AttributeGroup) -> None:
    registered = definition_payload(group) | {
        "online": False,
        "refresh_rate": "PT6H",  # only the registry knows it: kept
        "full_name": "ecommerce_user_v2",  # computed by the server: not sent back
        "feast_name": "ecommerce_user_v2",
        "stream_source_name": None,
        "attribute_key_or_name": "domain_userid",
    }
    registered["attribute_key"] = {"name": "domain_userid", "blobl_path": "this.domain_userid"}
    # The server renders properties as text for SQL syntaxes; those cannot be sent back.
    registered["attributes"] = [dict(a, property="ev.total") for a in registered["attributes"]]
    stub.registry[("ecommerce_user", 2)] = registered
    with sandbox_client(stub) as client:
        client.republish_online(group, SOURCE)
    calls = [(r.method, r.path) for r in stub.api_requests]
    assert calls == [
        ("GET", "/api/v1/registry/attribute_groups/ecommerce_user/versions/2"),
        ("PUT", "/api/v1/registry/attribute_groups/ecommerce_user/versions/2"),
        ("POST", "/api/v1/engines/publish"),
    ]
    sent = stub.api_requests[1].body
    assert sent["online"] is True and sent["batch_source"] == SOURCE
    assert sent["refresh_rate"] == "PT6H"
    assert not {"full_name", "feast_name", "attribute_key_or_name"} & set(sent)
    assert sent["attribute_key"] == {"name": "domain_userid"}
    assert sent["attributes"] == definition_payload(group)["attributes"]


def test_put_attribute_group_updates_on_400(stub: Stub, group: AttributeGroup) -> None:
    payload = definition_payload(group)
    with sandbox_client(stub) as client:
        client.put_attribute_group(payload)
        client.put_attribute_group(payload | {"description": "changed"})
        listed = client.list_attribute_groups()
    calls = [(r.method, r.path) for r in stub.api_requests]
    assert calls[1:3] == [
        ("POST", "/api/v1/registry/attribute_groups/"),
        ("PUT", "/api/v1/registry/attribute_groups/ecommerce_user/versions/2"),
    ]
    assert [g["description"] for g in listed] == ["changed"]


def test_republish_errors_name_the_group_and_step(stub: Stub, group: AttributeGroup) -> None:
    stub.plan = [Step(404, {"detail": "Not Found"}), Step(422, {"detail": "owner: bad"})]
    with sandbox_client(stub) as client, pytest.raises(SignalsApiError) as caught:
        client.republish_online(group, SOURCE)
    assert str(caught.value) == (
        "republishing group ecommerce_user_v2 (writing it to the registry) failed: "
        "HTTP 422 Unprocessable Entity: owner: bad"
    )


def test_bad_batch_source_is_invalid_input(group: AttributeGroup) -> None:
    with pytest.raises(InvalidInput, match="missing table, timestamp_field; unknown tabel"):
        online_group_payload(group, {"name": "s", "schema": "x", "tabel": "t"})


def test_get_online_attributes(stub: Stub) -> None:
    with sandbox_client(stub) as client:
        data = client.get_online_attributes(["ecommerce_user_v2:revenue"], "domain_userid",
                                            ["u1", "u2"])  # fmt: skip
    assert data == {"domain_userid": ["u1", "u2"], "ecommerce_user_v2:revenue": [7, 7]}
    assert stub.api_requests[0].body == {
        "attributes": ["ecommerce_user_v2:revenue"],
        "attribute_keys": {"domain_userid": ["u1", "u2"]},
    }


def test_debug_log_has_method_path_status_and_no_headers(
    stub: Stub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.tokens = [make_jwt(time.time() + 3600)]
    caplog.set_level(logging.DEBUG, logger="signals_batch.api")
    with bdp_client(stub) as client:
        client.get_attribute_group("g", 1)
    lines = [r.getMessage() for r in caplog.records if r.name == "signals_batch.api"]
    assert "GET /api/v1/registry/attribute_groups/g/versions/1 -> 404" in lines
    assert "GET http://127.0.0.1:%d -> 200" % int(stub.url.rsplit(":", 1)[1]) in lines
    text = "\n".join(lines)
    assert "Bearer" not in text and stub.tokens == []
    assert_no_secret(text)


# --------------------------------------------------------------------------- settings / env


def test_from_settings_reads_secrets_from_the_environment() -> None:
    settings = SignalsApiSettings(url="http://127.0.0.1:1", auth="bdp", retries=1)
    client = SignalsApiClient.from_settings(
        settings,
        {"SNOWPLOW_API_KEY": API_KEY, "SNOWPLOW_API_KEY_ID": API_KEY_ID, "SNOWPLOW_ORG_ID": ORG_ID},
    )
    assert client is not None and client.retries == 1 and client.auth == "bdp"
    assert repr(client) == "SignalsApiClient(url='http://127.0.0.1:1', auth='bdp')"
    assert_no_secret(repr(vars(client)))
    assert SignalsApiClient.from_settings(SignalsApiSettings(url=None)) is None


def test_missing_environment_variables_are_invalid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNALS_SANDBOX_TOKEN", raising=False)
    with pytest.raises(InvalidInput, match="SIGNALS_SANDBOX_TOKEN is not set") as caught:
        SignalsApiClient.from_settings(SignalsApiSettings(url="http://x", auth="sandbox"))
    assert caught.value.exit_code == 2
    with pytest.raises(InvalidInput) as caught:
        SignalsApiClient.from_settings(
            SignalsApiSettings(url="http://x", auth="bdp"), {"SNOWPLOW_API_KEY": API_KEY}
        )
    message = str(caught.value)
    assert "SNOWPLOW_API_KEY_ID, SNOWPLOW_ORG_ID are not set" in message
    assert_no_secret(message)
    assert SignalsApiClient.from_settings(SignalsApiSettings(url="http://x", auth="none"), {})


# --------------------------------------------------------------------------- the real SDK


def unknown_keys(payload: Any, model: Any, where: str = "") -> list[str]:
    """Keys of `payload` that the validated SDK `model` has no field for (at any depth)."""
    if isinstance(model, RootModel):
        model = model.root
    found: list[str] = []
    if isinstance(model, BaseModel) and isinstance(payload, dict):
        fields = {(info.alias or name): name for name, info in type(model).model_fields.items()}
        for key, value in payload.items():
            if key not in fields:
                found.append(f"{where}.{key}")
            else:
                found += unknown_keys(value, getattr(model, fields[key]), f"{where}.{key}")
    elif isinstance(model, list) and isinstance(payload, list):
        for i, (item, sub) in enumerate(zip(payload, model, strict=False)):
            found += unknown_keys(item, sub, f"{where}[{i}]")
    return found


def test_the_json_we_put_validates_with_the_sdk_models(stub: Stub, group: AttributeGroup) -> None:
    from snowplow_signals import BatchAttributeGroup, ExternalBatchAttributeGroup

    external = AttributeGroup.model_validate(EXTERNAL_GROUP)
    external_source = EXTERNAL_GROUP["batch_source"]
    with sandbox_client(stub) as client:
        client.republish_online(group, SOURCE)
        client.republish_online(external, external_source)
    written = [r.body for r in stub.api_requests if r.method in ("POST", "PUT") and r.body
               and "attribute_key" in r.body]  # fmt: skip
    assert len(written) == 2
    for body, model in zip(written, (BatchAttributeGroup, ExternalBatchAttributeGroup),
                           strict=True):  # fmt: skip
        sdk = model.model_validate(body)
        assert unknown_keys(body, sdk) == []
        assert sdk.online is True and sdk.offline is True and sdk.is_published is True
        assert sdk.batch_source is not None
    batch = BatchAttributeGroup.model_validate(written[0])
    revenue = next(a for a in batch.attributes if a.name == "revenue")
    # the short form resolved to the schema through the attribute's events
    assert (revenue.property.vendor, revenue.property.name, revenue.property.major_version) == (
        "com.acme",
        "purchase",
        1,
    )
    assert batch.batch_source.schema_ == "signals"


def test_entity_short_form_cannot_be_registered(group: AttributeGroup) -> None:
    data = json.loads(json.dumps(BATCH_GROUP))
    data["attributes"][2]["property"] = "contexts_com_acme_product_1[0]:category"
    expected = "attribute last_os: the property 'contexts_com_acme_product_1[0]:category' names"
    with pytest.raises(InvalidInput, match=re.escape(expected)):
        definition_payload(AttributeGroup.model_validate(data))
