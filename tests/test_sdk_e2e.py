"""End to end with the unmodified `snowplow-signals` SDK against a real `signals-batch serve`.

publish (SDK) -> `definitions: registry` run -> sync (store + republish online through the
API) -> the SDK reads the group back online with its batch source, and reads each key's
attributes, equal to that key's row of the attributes table; the same through a service.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from servers import free_port

from signals_batch import sample_events
from signals_batch.project import Project
from signals_batch.scaffold import init_project
from signals_batch.sync.source import _json_ready
from signals_batch.warehouse import connect

pytestmark = [pytest.mark.server, pytest.mark.dbt]

sdk = pytest.importorskip("snowplow_signals")

START = dt.date(2025, 1, 1)
AS_OF = START + dt.timedelta(days=10)
TOKEN = "sbx-e2e-" + secrets.token_hex(12)
OWNER = "data@example.com"
PAGE_VIEW = {"vendor": "com.snowplowanalytics.snowplow", "name": "page_view", "version": "1-0-0"}
PURCHASE = {"vendor": "com.acme", "name": "purchase", "version": "1-0-0"}
PRODUCT_VIEW = {"vendor": "com.acme", "name": "product_view", "version": "1-0-0"}


def user_group():
    """A batch group in the SDK's long property forms (entity, event, atomic)."""
    from snowplow_signals import (
        AtomicProperty,
        Attribute,
        BatchAttributeGroup,
        Criteria,
        Criterion,
        EntityProperty,
        Event,
        EventProperty,
        domain_userid,
    )

    return BatchAttributeGroup(
        name="sdk_user",
        version=1,
        attribute_key=domain_userid,
        owner=OWNER,
        online=False,
        ttl=dt.timedelta(days=365),  # pydantic writes it "P1Y"
        attributes=[
            Attribute(name="page_views_7d", type="int64", aggregation="counter",
                      events=[Event(**PAGE_VIEW)], period=dt.timedelta(days=7)),
            Attribute(name="last_os", type="string", aggregation="last",
                      events=[Event(**PAGE_VIEW)],
                      property=EntityProperty(vendor="nl.basjes", name="yauaa_context",
                                              major_version=1, path="operatingSystemName")),
            Attribute(name="revenue", type="double", aggregation="sum",
                      events=[Event(**PURCHASE)],
                      property=EventProperty(vendor="com.acme", name="purchase",
                                             major_version=1, path="total")),
            Attribute(name="categories", type="string_list", aggregation="unique_list",
                      events=[Event(**PRODUCT_VIEW)],
                      property=EntityProperty(vendor="com.acme", name="product",
                                              major_version=1, path="category")),
            Attribute(name="first_source", type="string", aggregation="first",
                      events=[Event(**PAGE_VIEW)], property=AtomicProperty(name="mkt_source")),
            Attribute(name="gb_views", type="int64", aggregation="counter",
                      events=[Event(**PAGE_VIEW)],
                      criteria=Criteria(all=[Criterion.eq(AtomicProperty(name="geo_country"),
                                                          "GB")])),
        ],
    )  # fmt: skip


def session_group():
    from snowplow_signals import Attribute, BatchAttributeGroup, Event, domain_sessionid

    return BatchAttributeGroup(
        name="sdk_session",
        version=1,
        attribute_key=domain_sessionid,
        owner=OWNER,
        online=False,
        attributes=[
            Attribute(name="session_views", type="int64", aggregation="counter",
                      events=[Event(**PAGE_VIEW)]),
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def env_token() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIGNALS_SANDBOX_TOKEN", TOKEN)
        for name in list(os.environ):
            if name.startswith("SIGNALS_BATCH_"):
                patch.delenv(name)
        yield


def _wait_healthy(url: str, process: subprocess.Popen, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def _start_server(folder: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`signals-batch serve` for the project on a free port; settings point at it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = yaml.safe_load((folder / "signals_batch.yml").read_text())
    settings["definitions"] = "registry"
    settings["signals_api"] = {"url": url, "auth": "sandbox", "retries": 1}
    (folder / "signals_batch.yml").write_text(yaml.safe_dump(settings))
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "signals_batch.cli", "serve", "-p", str(folder),
             "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    return process, url


@pytest.fixture(scope="module")
def served(tmp_path_factory, env_token) -> Iterator[tuple[Path, str, Path]]:
    """A project (sample events, `definitions: registry`) and `signals-batch serve` for it."""
    folder = tmp_path_factory.mktemp("sdk-e2e")
    init_project(folder, start_date=START.isoformat(), examples=False)
    log = folder / "serve.log"
    process, url = _start_server(folder, log)  # it starts while the events are written
    events = sample_events.generate_events(n_events=1500, days=10, users=25, seed=5,
                                           start=START)  # fmt: skip
    with connect(folder, create=True) as con:
        sample_events.create_events_table(con)
        sample_events.write_events(con, events)
    for attempt in range(3):  # another process may have taken the free port first
        if _wait_healthy(url, process):
            break
        process.terminate()
        process.wait(10)
        if attempt == 2:
            pytest.fail(f"signals-batch serve did not start:\n{log.read_text()[-3000:]}")
        process, url = _start_server(folder, log)
    try:
        yield folder, url, log
    finally:
        process.terminate()
        process.wait(10)


def _table(folder: Path, table: str, key: str) -> dict[str, dict]:
    with connect(folder) as con:
        cursor = con.execute(f'select * from signals."{table}" order by "{key}"')
        columns = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}


def test_publish_run_sync_read_back_with_the_real_sdk(served):
    from snowplow_signals import Service, SignalsSandbox, domain_sessionid, domain_userid

    folder, url, log = served
    sp = SignalsSandbox(api_url=url, sandbox_token=TOKEN)
    users, sessions = user_group(), session_group()
    sp.publish([domain_userid, domain_sessionid, users, sessions])

    before = sp.get_attribute_group(name="sdk_user", version=1)
    assert before.online is False and before.batch_source is None and before.is_published

    project = Project(folder)
    assert [g.ident for g in project.definitions.batch_groups] == ["sdk_session_v1", "sdk_user_v1"]
    summary = project.run(as_of=AS_OF)
    assert {g.group: g.rows for g in summary.groups}["sdk_user_v1"] == 25
    synced = Project(folder).sync()
    assert all(g.republished for g in synced.groups), synced.to_dict()

    after = sp.get_attribute_group(name="sdk_user", version=1)
    assert after.online is True and after.is_published
    assert after.batch_source is not None
    assert (after.batch_source.schema_, after.batch_source.table) == (
        "signals", "sdk_user_v1_attributes",
    )  # fmt: skip
    assert after.batch_source.timestamp_field == "updated_at"
    assert sp.get_attribute_group(name="sdk_user").version == 1  # latest

    names = [a.name for a in users.attributes]
    types = {a.name: a.type for a in users.attributes}
    rows = _table(folder, "sdk_user_v1_attributes", "domain_userid")
    assert len(rows) == 25
    for key, row in rows.items():
        got = sp.get_group_attributes(name="sdk_user", version=1, attributes=names,
                                      attribute_key="domain_userid", identifier=key)  # fmt: skip
        expected = {"domain_userid": key, **{n: _json_ready(row[n], types[n]) for n in names}}
        assert got == expected, key
    unknown = sp.get_group_attributes(
        name="sdk_user", version=1, attributes=["revenue"], attribute_key="domain_userid",
        identifier="nobody",
    )  # fmt: skip
    assert unknown == {"domain_userid": "nobody", "revenue": None}

    # a service over both groups: asked by domain_userid, it serves the user group
    sp.publish([Service(name="sdk_service", owner=OWNER, attribute_groups=[users, sessions])])
    key = next(iter(rows))
    by_service = sp.get_service_attributes(name="sdk_service", attribute_key="domain_userid",
                                           identifier=key)  # fmt: skip
    assert by_service == {"domain_userid": key, **{n: _json_ready(rows[key][n], types[n])
                                                  for n in names}}  # fmt: skip
    session_rows = _table(folder, "sdk_session_v1_attributes", "domain_sessionid")
    session, row = next(iter(session_rows.items()))
    assert sp.get_service_attributes(
        name="sdk_service", attribute_key="domain_sessionid", identifier=session
    ) == {"domain_sessionid": session, "session_views": row["session_views"]}

    assert TOKEN not in log.read_text()  # the access log never shows the bearer token
