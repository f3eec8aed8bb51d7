"""Attribute groups written with the snowplow-signals SDK (`pip install snowplow-signals`):
set `definitions: examples/definitions/sdk_groups.py` (a Python module is read on its own,
not inside a folder). Every SDK group object at module level is a group; a module-level list
`attribute_groups` would name them instead."""

from datetime import timedelta

from snowplow_signals import (
    AtomicProperty,
    Attribute,
    BatchAttributeGroup,
    EntityProperty,
    Event,
    domain_sessionid,
)

page_view = Event(vendor="com.snowplowanalytics.snowplow", name="page_view", version="1-0-0")
page_ping = Event(vendor="com.snowplowanalytics.snowplow", name="page_ping")

session_engagement = BatchAttributeGroup(
    name="session_engagement",
    version=1,
    attribute_key=domain_sessionid,
    owner="product@example.com",
    ttl=timedelta(days=30),
    attributes=[
        Attribute(name="page_views", type="int64", aggregation="counter", events=[page_view]),
        Attribute(name="page_pings", type="int64", aggregation="counter", events=[page_ping]),
        Attribute(
            name="landing_page",
            type="string",
            aggregation="first",
            events=[page_view],
            property=AtomicProperty(name="page_urlpath"),
        ),
        Attribute(
            name="device_os",
            type="string",
            aggregation="last",
            events=[page_view],
            property=EntityProperty(
                vendor="nl.basjes",
                name="yauaa_context",
                major_version=1,
                path="operatingSystemName",
            ),
        ),
    ],
)
