"""`signals-batch serve` without dbt: auth, limits, validation, registry CRUD, publishing,
online reads from the store, `definitions: registry`, and the CLI's refusal to start unsafely.

Most tests call the app in-process (Starlette's TestClient); the ones that need a real socket
(the SDK-shaped client, the http store) serve it with uvicorn in a thread.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cli_helpers import make_project, run_cli
from servers import running_app

from signals_batch.api.registry import definitions_from_registry
from signals_batch.api.server import bind_token, create_app, is_loopback
from signals_batch.definitions import DefinitionError
from signals_batch.errors import InvalidInput
from signals_batch.project import Project
from signals_batch.stores.base import GroupSpec, ProfileRow
from signals_batch.stores.local import LocalStore

with warnings.catch_warnings():  # starlette would rather use `httpx2`; httpx works the same
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "serve-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REG = "/api/v1/registry"
PAGE_VIEW = {"vendor": "com.snowplowanalytics.snowplow", "name": "page_view", "version": "1-0-0"}


def group_json(name: str = "shop_user", version: int = 1, **changes) -> dict:
    """A batch group as the SDK sends it (model_dump: no `type`, offline, is_published)."""
    data = {
        "name": name,
        "version": version,
        "attribute_key": {"name": "domain_userid", "key": "domain_userid"},
        "owner": "data@example.com",
        "online": False,
        "offline": True,
        "is_published": True,
        "ttl": "P30D",
        "attributes": [
            {"name": "views", "type": "int64", "aggregation": "counter", "events": [PAGE_VIEW],
             "period": "P7D"},
            {"name": "last_os", "type": "string", "aggregation": "last", "events": [PAGE_VIEW],
             "property": {"type": "entity", "vendor": "nl.basjes", "name": "yauaa_context",
                          "major_version": 1, "path": "operatingSystemName"}},
        ],
    }  # fmt: skip
    data.update(changes)
    return data


SPEC = GroupSpec("shop_user_v1", "domain_userid", ("views", "last_os"),
                 {"views": None, "last_os": None})  # fmt: skip


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / ".signals_batch" / "profiles.sqlite"


@pytest.fixture
def client(store_path: Path) -> Iterator[TestClient]:
    app = create_app(store_path=store_path, token=TOKEN)
    with TestClient(app, headers=AUTH) as test_client:
        yield test_client


def _write_profiles(path: Path, rows: dict[str, dict]) -> None:
    store = LocalStore(path)
    try:
        store.upsert(SPEC, [ProfileRow(k, v, dt.datetime(2025, 1, 9)) for k, v in rows.items()])
    finally:
        store.close()


# --------------------------------------------------------------------------- auth and limits


def test_health_is_open_and_everything_else_needs_the_bearer_token(client):
    bare = {"Authorization": ""}
    assert client.get("/health", headers=bare).json() == {"status": "ok"}
    health_all = client.get("/health-all", headers=bare)
    assert health_all.status_code == 200
    assert health_all.json()["components"] == {"registry": "ok", "store": "ok"}
    for path in (f"{REG}/attribute_groups/", "/api/v1/batch-store/health", "/openapi.json"):
        for headers in (bare, {"Authorization": "Bearer wrong-token"},
                        {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN},
                        {"Authorization": f"Bearer {TOKEN}x"}):  # fmt: skip
            answer = client.get(path, headers=headers)
            assert answer.status_code == 401, (path, headers)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert TOKEN not in answer.text
        assert client.get(path).status_code == 200, path
    posted = client.post(f"{REG}/attribute_groups/", json=group_json(), headers=bare)
    assert posted.status_code == 401
    assert client.get(f"{REG}/attribute_groups/").json() == []  # nothing was stored


def test_oversized_bodies_are_refused_with_413(client, store_path):
    huge = b"x" * (10 * 1024 * 1024 + 1)
    answer = client.post(f"{REG}/attribute_groups/", content=huge,
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 413
    assert "at most 10485760 bytes" in answer.json()["detail"]

    small = create_app(store_path=store_path, token=TOKEN, max_body_bytes=500)
    with TestClient(small, headers=AUTH) as limited:
        body = json.dumps(group_json()).encode()
        assert len(body) > 500

        def chunks() -> Iterator[bytes]:  # streamed: no Content-Length to trust
            for start in range(0, len(body), 100):
                yield body[start : start + 100]

        streamed = limited.post(f"{REG}/attribute_groups/", content=chunks(),
                                headers={"Content-Type": "application/json"})  # fmt: skip
        assert streamed.status_code == 413
        assert limited.get(f"{REG}/attribute_groups/").json() == []


def test_malformed_json_and_wrong_shapes_are_422_with_a_clear_message(client):
    broken = client.post(f"{REG}/attribute_groups/", content=b'{"name": "x",',
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert broken.status_code == 422
    assert broken.json()["detail"].startswith("the request body is not valid JSON")
    listed = client.post(f"{REG}/attribute_groups/", json=[group_json()])
    assert listed.status_code == 422
    assert listed.json()["detail"].startswith("invalid request: ")
    online = client.post("/api/v1/get-online-attributes", json={"attributes": "x"})
    assert online.status_code == 422
    assert "attribute_keys" in online.json()["detail"]


def test_an_invalid_group_is_422_naming_the_attribute_and_is_not_stored(client):
    bad = group_json()
    bad["attributes"][1]["aggregation"] = "average"
    answer = client.post(f"{REG}/attribute_groups/", json=bad)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "group 'shop_user', attribute 'last_os': aggregation" in detail
    assert "'average' is not one of" in detail
    assert answer.json()["problems"][0]["attribute"] == "last_os"
    assert client.get(f"{REG}/attribute_groups/shop_user").status_code == 404

    no_property = group_json()
    del no_property["attributes"][1]["property"]
    answer = client.post(f"{REG}/attribute_groups/", json=no_property)
    assert answer.status_code == 422
    assert "attribute 'last_os'" in answer.json()["detail"]
    assert "requires a property" in answer.json()["detail"]

    # a PUT is validated the same way, and must match its path
    assert client.post(f"{REG}/attribute_groups/", json=group_json()).status_code == 201
    answer = client.put(f"{REG}/attribute_groups/shop_user/versions/1", json=bad)
    assert answer.status_code == 422 and "attribute 'last_os'" in answer.json()["detail"]
    answer = client.put(f"{REG}/attribute_groups/shop_user/versions/1",
                        json=group_json(name="other"))  # fmt: skip
    assert answer.status_code == 422 and "the path 'shop_user'" in answer.json()["detail"]


def test_unknown_groups_versions_keys_and_services_are_404(client):
    assert client.post(f"{REG}/attribute_groups/", json=group_json()).status_code == 201
    for method, path in (
        ("GET", f"{REG}/attribute_groups/nope"),
        ("GET", f"{REG}/attribute_groups/nope/versions"),
        ("GET", f"{REG}/attribute_groups/shop_user/versions/2"),
        ("DELETE", f"{REG}/attribute_groups/shop_user/versions/2"),
        ("GET", f"{REG}/attribute_keys/nope"),
        ("DELETE", f"{REG}/attribute_keys/nope"),
        ("GET", f"{REG}/services/nope"),
        ("DELETE", f"{REG}/services/nope"),
    ):
        answer = client.request(method, path)
        assert answer.status_code == 404, (method, path, answer.text)
        assert "not found" in answer.json()["detail"]
    missing = client.get(f"{REG}/attribute_groups/shop_user/versions/2").json()["detail"]
    assert missing == "attribute group 'shop_user' version 2 not found (versions: 1)"
    put = client.put(f"{REG}/attribute_groups/shop_user/versions/2", json=group_json(version=2))
    assert put.status_code == 404
    online = client.post("/api/v1/get-online-attributes",
                         json={"attributes": ["shop_user_v2:views"],
                               "attribute_keys": {"domain_userid": ["u1"]}})  # fmt: skip
    assert online.status_code == 404
    assert "version 2 not found" in online.json()["detail"]
    unknown_attribute = client.post("/api/v1/get-online-attributes",
                                    json={"attributes": ["shop_user_v1:nope"],
                                          "attribute_keys": {"domain_userid": ["u1"]}})  # fmt: skip
    assert unknown_attribute.status_code == 404
    assert "has no attribute 'nope'" in unknown_attribute.json()["detail"]
    publish = client.post("/api/v1/engines/publish",
                          json={"attribute_groups": [{"name": "shop_user", "version": 9}]})
    assert publish.status_code == 404


# --------------------------------------------------------------------------- registry CRUD


def test_attribute_key_round_trip(client):
    key = {"name": "customer", "description": "a custom key",
           "property": {"type": "atomic", "name": "user_id"}, "is_published": False}
    created = client.post(f"{REG}/attribute_keys/", json=key)
    assert created.status_code == 201
    assert created.json()["blobl_path"] == "this.user_id"
    assert client.post(f"{REG}/attribute_keys/", json=key).status_code == 400  # SDK: then PUT
    updated = client.put(f"{REG}/attribute_keys/customer", json={**key, "description": "new"})
    assert updated.json()["description"] == "new"
    fetched = client.get(f"{REG}/attribute_keys/customer").json()
    assert {k: fetched[k] for k in key} == {**key, "description": "new"}
    assert [k["name"] for k in client.get(f"{REG}/attribute_keys/").json()] == ["customer"]
    invalid = client.post(f"{REG}/attribute_keys/", json={"name": "nameless_key"})
    assert invalid.status_code == 422 and "unknown attribute key" in invalid.json()["detail"]
    assert client.delete(f"{REG}/attribute_keys/customer").json() == {"ok": True}
    assert client.get(f"{REG}/attribute_keys/customer").status_code == 404


def test_attribute_group_versions_round_trip(client):
    v1, v2 = group_json(), group_json(version=2, description="second")
    assert client.post(f"{REG}/attribute_groups/", json=v1).status_code == 201
    assert client.post(f"{REG}/attribute_groups/", json=v1).status_code == 400  # exists
    assert client.post(f"{REG}/attribute_groups/", json=v2).status_code == 201
    latest = client.get(f"{REG}/attribute_groups/shop_user").json()
    assert latest["version"] == 2 and latest["description"] == "second"
    assert client.get(f"{REG}/attribute_groups/shop_user/versions").json() == [1, 2]

    first = client.get(f"{REG}/attribute_groups/shop_user/versions/1").json()
    assert {k: first[k] for k in v1 if k != "attribute_key"} == {
        k: v for k, v in v1.items() if k != "attribute_key"
    }
    assert first["attribute_key"]["name"] == "domain_userid"
    assert first["attribute_key"]["blobl_path"] == "this.domain_userid"
    assert (first["full_name"], first["feast_name"]) == ("shop_user_v1", "shop_user_v1")
    assert first["stream_source_name"] is None
    assert first["attribute_key_or_name"] == "domain_userid"
    assert first["attribute_group_or_attribute_key_ttl"] == "P30D"

    source = {"name": "shop_user_v1_source", "database": "warehouse", "schema": "signals",
              "table": "shop_user_v1_attributes", "timestamp_field": "updated_at"}
    updated = client.put(f"{REG}/attribute_groups/shop_user/versions/1",
                         json=group_json(online=True, batch_source=source))  # fmt: skip
    assert updated.status_code == 200, updated.text
    assert updated.json()["online"] is True and updated.json()["batch_source"] == source

    batch = client.get(f"{REG}/attribute_groups/", params={"offline": "true"}).json()
    assert [(g["name"], g["version"]) for g in batch] == [("shop_user", 1), ("shop_user", 2)]
    assert client.get(f"{REG}/attribute_groups/", params={"offline": "false"}).json() == []

    assert client.delete(f"{REG}/attribute_groups/shop_user/versions/2").json() == {"ok": True}
    assert client.get(f"{REG}/attribute_groups/shop_user").json()["version"] == 1


def test_the_sdk_models_accept_what_the_registry_answers(client):
    models = pytest.importorskip("snowplow_signals.models")
    client.post(f"{REG}/attribute_keys/", json={"name": "domain_userid", "key": "domain_userid"})
    created = client.post(f"{REG}/attribute_groups/", json=group_json()).json()
    models.AttributeGroup.model_validate(created)  # what the SDK reads after a POST / PUT
    fetched = client.get(f"{REG}/attribute_groups/shop_user/versions/1").json()
    response = models.AttributeGroupResponse.model_validate(fetched)
    assert response.attribute_key.blobl_path == "this.domain_userid"
    service = {"name": "shop", "owner": "data@example.com",
               "attribute_groups": [{"name": "shop_user", "version": 1}]}
    models.Service.model_validate(client.post(f"{REG}/services/", json=service).json())
    models.AttributeKey.model_validate(client.get(f"{REG}/attribute_keys/domain_userid").json())


def test_service_round_trip_checks_its_groups_exist(client):
    service = {"name": "shop", "owner": "data@example.com",
               "attribute_groups": [{"name": "shop_user", "version": 1}]}
    unknown = client.post(f"{REG}/services/", json=service)
    assert unknown.status_code == 422
    assert "unknown attribute group shop_user_v1" in unknown.json()["detail"]
    client.post(f"{REG}/attribute_groups/", json=group_json())
    assert client.post(f"{REG}/services/", json=service).status_code == 201
    assert client.post(f"{REG}/services/", json=service).status_code == 400
    updated = client.put(f"{REG}/services/shop", json={**service, "description": "d"})
    assert updated.json()["description"] == "d"
    assert client.get(f"{REG}/services/shop").json()["attribute_groups"] == [
        {"name": "shop_user", "version": 1}
    ]
    assert [s["name"] for s in client.get(f"{REG}/services/").json()] == ["shop"]
    empty = client.post(f"{REG}/services/", json={"name": "empty", "attribute_groups": []})
    assert empty.status_code == 422 and "attribute_groups" in empty.json()["detail"]
    assert client.delete(f"{REG}/services/shop").json() == {"ok": True}


def test_a_stream_group_is_stored_with_shape_checks_only(client):
    stream = group_json(name="live", offline=False)
    stream["attributes"][0]["period"] = "PT1H"  # fine for the stream engine, not for batch
    assert client.post(f"{REG}/attribute_groups/", json=stream).status_code == 201
    found = client.get(f"{REG}/attribute_groups/live").json()
    assert found["stream_source_name"] == "live_v1_stream"
    batch = group_json(name="hourly")
    batch["attributes"][0]["period"] = "PT1H"
    answer = client.post(f"{REG}/attribute_groups/", json=batch)
    assert answer.status_code == 422 and "whole number of days" in answer.json()["detail"]


def test_durations_in_pydantics_year_notation_are_stored_in_days(client):
    """The SDK (pydantic) writes timedelta(days=365) as "P1Y" and means 365 days by it."""
    sdk_like = group_json(ttl="P1Y")
    sdk_like["attributes"][1]["ttl"] = "P1Y35DT1H"
    sdk_like["attribute_key"]["ttl"] = "P2Y"
    answer = client.post(f"{REG}/attribute_groups/", json=sdk_like)
    assert answer.status_code == 201, answer.text
    stored = client.get(f"{REG}/attribute_groups/shop_user/versions/1").json()
    assert stored["ttl"] == "P365D"
    assert stored["attributes"][1]["ttl"] == "P400DT1H"
    assert stored["attribute_key"]["ttl"] == "P730D"
    by_hand = group_json(name="monthly")
    by_hand["attributes"][0]["period"] = "P1M"  # never written by pydantic: a calendar month
    answer = client.post(f"{REG}/attribute_groups/", json=by_hand)
    assert answer.status_code == 422 and "months or years" in answer.json()["detail"]


# --------------------------------------------------------------------------- engines


def test_publish_and_unpublish_flip_the_flags(client, store_path):
    _write_profiles(store_path, {"u1": {"views": 3, "last_os": "Linux"}})
    client.post(f"{REG}/attribute_keys/", json={"name": "domain_userid"})
    client.post(f"{REG}/attribute_groups/", json=group_json(is_published=False))
    client.post(f"{REG}/services/", json={"name": "shop", "attribute_groups": [
        {"name": "shop_user", "version": 1}]})  # fmt: skip
    ask = {"attributes": ["shop_user_v1:views"], "attribute_keys": {"domain_userid": ["u1"]}}
    refused = client.post("/api/v1/get-online-attributes", json=ask)
    assert refused.status_code == 404 and "is not published" in refused.json()["detail"]

    everything = {"attribute_keys": [{"name": "domain_userid"}], "services": [{"name": "shop"}],
                  "attribute_groups": [{"name": "shop_user", "version": 1}]}
    assert client.post("/api/v1/engines/publish", json=everything).json() == {
        "status": "published"
    }
    assert client.get(f"{REG}/attribute_groups/shop_user/versions/1").json()["is_published"]
    assert client.get(f"{REG}/services/shop").json()["is_published"]
    assert client.get(f"{REG}/attribute_keys/domain_userid").json()["is_published"]
    assert client.post("/api/v1/get-online-attributes", json=ask).json() == {
        "domain_userid": ["u1"], "views": [3]
    }
    assert client.post("/api/v1/engines/publish", json=everything).json() == {
        "status": "nothing to publish"
    }

    # all or nothing: one unknown reference changes no flag
    partial = {"services": [{"name": "shop"}],
               "attribute_groups": [{"name": "shop_user", "version": 1},
                                    {"name": "ghost", "version": 1}]}  # fmt: skip
    assert client.post("/api/v1/engines/unpublish", json=partial).status_code == 404
    assert client.get(f"{REG}/services/shop").json()["is_published"]

    assert client.post("/api/v1/engines/unpublish", json=everything).json() == {
        "status": "unpublished"
    }
    assert not client.get(f"{REG}/attribute_groups/shop_user/versions/1").json()["is_published"]
    assert client.post("/api/v1/get-online-attributes", json=ask).status_code == 404
    unsupported = client.post("/api/v1/engines/publish", json={"event_logs": [{"name": "x"}]})
    assert unsupported.status_code == 422 and "event_logs" in unsupported.json()["detail"]


# --------------------------------------------------------------------------- online attributes


def test_get_online_attributes_by_attributes_and_by_service(client, store_path):
    client.post(f"{REG}/attribute_groups/", json=group_json())
    client.post(f"{REG}/services/", json={"name": "shop", "attribute_groups": [
        {"name": "shop_user", "version": 1}]})  # fmt: skip
    _write_profiles(store_path, {"u1": {"views": 3, "last_os": "Linux"},
                                 "u2": {"views": 0, "last_os": None}})  # fmt: skip
    url = "/api/v1/get-online-attributes"
    keys = {"domain_userid": ["u2", "u1", "nobody"]}
    answer = client.post(url, json={"attributes": ["shop_user_v1:last_os", "shop_user_v1:views"],
                                    "attribute_keys": keys})  # fmt: skip
    assert answer.json() == {"domain_userid": ["u2", "u1", "nobody"],
                             "last_os": [None, "Linux", None], "views": [0, 3, None]}
    full = client.post(url, json={"attributes": ["shop_user_v1:views"], "attribute_keys": keys,
                                  "full_attribute_names": True})  # fmt: skip
    assert full.json() == {
        "domain_userid": keys["domain_userid"], "shop_user_v1:views": [0, 3, None]
    }
    by_user = {"domain_userid": ["u1"]}
    service = client.post(url, json={"service": "shop", "attribute_keys": by_user})
    assert service.json() == {"domain_userid": ["u1"], "views": [3], "last_os": ["Linux"]}

    for body, message in (
        ({"attributes": ["shop_user_v1:views"], "attribute_keys": {"user_id": ["u1"]}},
         "keyed by domain_userid"),
        ({"service": "shop", "attribute_keys": {"user_id": ["u1"]}},
         "no attribute group keyed by user_id"),
        ({"attributes": ["views"], "attribute_keys": keys}, "<group>_v<version>:<attribute>"),
        ({"attribute_keys": keys}, "either `attributes`"),
        ({"attributes": ["shop_user_v1:views"], "service": "shop", "attribute_keys": keys},
         "either `attributes`"),
        ({"attributes": ["shop_user_v1:views"], "attribute_keys": {"domain_userid": []}},
         "at least one identifier"),
        ({"attributes": ["shop_user_v1:views"],
          "attribute_keys": {"domain_userid": [str(i) for i in range(1001)]}}, "at most 1000"),
    ):  # fmt: skip
        refused = client.post(url, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert message in refused.json()["detail"]
    assert client.post(url, json={"service": "ghost", "attribute_keys": keys}).status_code == 404


def test_the_http_store_pushes_through_the_mounted_router(store_path, monkeypatch):
    from signals_batch.stores.http import HttpStore

    monkeypatch.setenv("SIGNALS_SANDBOX_TOKEN", TOKEN)
    with running_app(create_app(store_path=store_path, token=TOKEN)) as url:
        import httpx

        httpx.post(f"{url}{REG}/attribute_groups/", json=group_json(), headers=AUTH)
        store = HttpStore(url)
        try:
            store.upsert(SPEC, [ProfileRow("u9", {"views": 9, "last_os": "iOS"},
                                           dt.datetime(2025, 1, 2))])  # fmt: skip
        finally:
            store.close()
        answer = httpx.post(f"{url}/api/v1/get-online-attributes", headers=AUTH,
                            json={"attributes": ["shop_user_v1:last_os"],
                                  "attribute_keys": {"domain_userid": ["u9"]}})  # fmt: skip
        assert answer.json() == {"domain_userid": ["u9"], "last_os": ["iOS"]}
        assert httpx.get(f"{url}/api/v1/batch-store/health").status_code == 401


# --------------------------------------------------------------------------- definitions: registry


def test_definitions_registry_reads_the_published_batch_groups_through_the_api(
    tmp_path, monkeypatch
):
    project_dir = make_project(tmp_path / "project")
    store = project_dir / ".signals_batch" / "profiles.sqlite"
    monkeypatch.setenv("SIGNALS_SANDBOX_TOKEN", TOKEN)
    with running_app(create_app(store_path=store, token=TOKEN)) as url:
        import httpx

        with httpx.Client(base_url=url, headers=AUTH) as http:
            http.post(f"{REG}/attribute_groups/", json=group_json())
            http.post(f"{REG}/attribute_groups/", json=group_json(version=2, is_published=False))
            http.post(f"{REG}/attribute_groups/", json=group_json(name="live", offline=False))
        (project_dir / "signals_batch.yml").write_text(yaml.safe_dump(
            {"definitions": "registry", "signals_api": {"url": url, "auth": "sandbox"}}))
        definitions = Project(project_dir).definitions
    assert [g.ident for g in definitions.groups] == ["shop_user_v1"]
    assert definitions.groups[0].attributes[1].property.vendor == "nl.basjes"
    assert any("shop_user_v2 is not published" in n for n in definitions.notices)
    assert "live" not in {g.name for g in definitions.groups}  # stream: asked offline only

    monkeypatch.setenv("SIGNALS_SANDBOX_TOKEN", "wrong")
    with running_app(create_app(store_path=store, token=TOKEN)) as url:
        (project_dir / "signals_batch.yml").write_text(yaml.safe_dump(
            {"definitions": "registry", "signals_api": {"url": url, "retries": 0}}))
        with pytest.raises(Exception, match="HTTP 401"):
            _ = Project(project_dir).definitions


def test_definitions_registry_needs_an_api_url_and_valid_groups(tmp_path):
    project_dir = make_project(tmp_path / "project")
    (project_dir / "signals_batch.yml").write_text("definitions: registry\n")
    with pytest.raises(InvalidInput, match="signals_api.url"):
        _ = Project(project_dir).definitions
    bad = group_json(full_name="shop_user_v1", feast_name="shop_user_v1")
    bad["attributes"][0]["aggregation"] = "average"
    with pytest.raises(DefinitionError, match="attribute 'views'"):
        definitions_from_registry([bad], "registry http://x")


# --------------------------------------------------------------------------- refusing to start


def test_serve_refuses_to_start_without_a_token_unless_no_auth_on_loopback(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("SIGNALS_SANDBOX_TOKEN", raising=False)
    project_dir = make_project(tmp_path / "project")
    result = run_cli(capsys, "serve", "-p", str(project_dir), "--port", "1")
    assert result.code == 2
    assert "no token: set SIGNALS_SANDBOX_TOKEN" in result.err
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        result = run_cli(capsys, "serve", "-p", str(project_dir), "--host", host, "--no-auth")
        assert result.code == 2, host
        assert "--no-auth is only allowed on a loopback address" in result.err
    monkeypatch.setenv("SIGNALS_SANDBOX_TOKEN", "   ")
    assert run_cli(capsys, "serve", "-p", str(project_dir)).code == 2

    assert bind_token("127.0.0.1", None, no_auth=True) is None
    assert bind_token("0.0.0.0", " tok ", no_auth=False) == "tok"
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com"))


def test_serve_on_a_port_in_use_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    import socket

    monkeypatch.setenv("SIGNALS_SANDBOX_TOKEN", "a-token")
    project_dir = make_project(tmp_path / "project")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(capsys, "serve", "-p", str(project_dir), "--port", str(port))
    assert result.code == 1, result.err
    assert result.err.strip() == (f"error: cannot listen on 127.0.0.1:{port}: Address already "
                                  "in use; choose another --port or stop what is using it")


def test_the_server_logs_go_to_stderr_as_json_lines_with_log_format_json(capsys):
    """stdout is for data; `--log-format json` makes uvicorn's lines JSON like the CLI's."""
    import logging
    import logging.config

    from signals_batch.api.server import uvicorn_log_config
    from signals_batch.cli import _JsonFormatter

    loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    try:
        for formatter in (None, _JsonFormatter):
            logging.config.dictConfig(uvicorn_log_config(formatter))
            logging.getLogger("uvicorn.error").info("Started server process [1]")
            logging.getLogger("uvicorn.access").info(
                '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/health", "1.1", 200)
            captured = capsys.readouterr()
            assert captured.out == ""
            lines = captured.err.splitlines()
            assert len(lines) == 2, lines
            if formatter is None:
                assert lines[0] == "INFO:     Started server process [1]"
                assert '"GET /health HTTP/1.1" 200' in lines[1]
            else:
                records = [json.loads(line) for line in lines]
                assert records[0]["message"] == "Started server process [1]"
                assert records[1]["message"] == '127.0.0.1:5 - "GET /health HTTP/1.1" 200'
                assert records[1]["logger"] == "uvicorn.access"
    finally:
        for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate
