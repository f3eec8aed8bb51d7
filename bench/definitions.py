"""The attribute groups the benchmark runs.

`bench_user` (group 0) has 11 attributes mixing counter / sum / mean / first / last /
unique_list / most_frequent / approx_count_distinct over 7-day, 30-day and lifetime
windows, with one criterion. Groups 1-9 have the same shapes with another attribute key
and extra criteria, so that "10 groups" is ten realistic, different groups over the same
events. `bench/baseline.sql` computes group 0 by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SNOWPLOW = "com.snowplowanalytics.snowplow"
PAGE_VIEW_V1 = {"vendor": SNOWPLOW, "name": "page_view", "version": "1-0-0"}
PAGE_VIEW = {"vendor": SNOWPLOW, "name": "page_view"}
LINK_CLICK = {"vendor": SNOWPLOW, "name": "link_click"}
PURCHASE_V1 = {"vendor": "com.acme", "name": "purchase", "version": "1-0-0"}
PURCHASE = {"vendor": "com.acme", "name": "purchase"}
PRODUCT_VIEW = {"vendor": "com.acme", "name": "product_view"}

PURCHASE_TOTAL = "unstruct_event_com_acme_purchase_1:total"
PRODUCT_CATEGORY = "contexts_com_acme_product_1[0]:category"
LINK_TARGET = "unstruct_event_com_snowplowanalytics_snowplow_link_click_1:targetUrl"
OPERATING_SYSTEM = {
    "type": "entity",
    "vendor": "nl.basjes",
    "name": "yauaa_context",
    "major_version": 1,
    "path": "operatingSystemName",
}

# Group i: (attribute key, extra criterion on its counters / sums / means, country)
VARIANTS: list[tuple[str, dict | None, str]] = [
    ("domain_userid", None, "GB"),
    ("user_id", {"property": "app_id", "operator": "=", "value": "acme-web"}, "US"),
    (
        "network_userid",
        {"property": "dvce_type", "operator": "in", "value": ["Mobile", "Tablet"]},
        "DE",
    ),
    ("domain_sessionid", {"property": "br_lang", "operator": "like", "value": "en%"}, "FR"),
    ("domain_userid", {"property": "refr_medium", "operator": "!=", "value": "internal"}, "NL"),
    ("user_id", {"property": "geo_country", "operator": "in", "value": ["GB", "US"]}, "GB"),
    ("network_userid", {"property": "mkt_medium", "operator": "is not null"}, "US"),
    ("domain_userid", {"property": "os_timezone", "operator": "like", "value": "Europe/%"}, "DE"),
    ("user_id", {"property": "app_id", "operator": "!=", "value": "acme-web-beta"}, "FR"),
    ("network_userid", {"property": "dvce_type", "operator": "=", "value": "Computer"}, "NL"),
]


def group(index: int) -> dict[str, Any]:
    """Attribute group number `index` (0-9) in the Signals API JSON shape."""
    key, extra, country = VARIANTS[index]

    def criteria(*criteria: dict | None) -> dict[str, Any]:
        wanted = [c for c in (*criteria, extra) if c]
        return {"criteria": {"all": wanted}} if wanted else {}

    country_criterion = {"property": "geo_country", "operator": "=", "value": country}
    attributes = [
        {
            "name": "page_views_7d",
            "type": "int64",
            "aggregation": "counter",
            "events": [PAGE_VIEW_V1],
            "period": "P7D",
            **criteria(),
        },
        {
            "name": "page_views_30d",
            "type": "int64",
            "aggregation": "counter",
            "events": [PAGE_VIEW],
            "period": "P30D",
            **criteria(),
        },
        {
            "name": "revenue_30d",
            "type": "double",
            "aggregation": "sum",
            "events": [PURCHASE_V1],
            "property": PURCHASE_TOTAL,
            "period": "P30D",
            **criteria(),
        },
        {
            "name": "mean_order_value",
            "type": "double",
            "aggregation": "mean",
            "events": [PURCHASE],
            "property": PURCHASE_TOTAL,
            **criteria(),
        },
        {
            "name": "first_mkt_source",
            "type": "string",
            "aggregation": "first",
            "events": [PAGE_VIEW],
            "property": "mkt_source",
        },
        {
            "name": "last_os",
            "type": "string",
            "aggregation": "last",
            "events": [PAGE_VIEW],
            "property": OPERATING_SYSTEM,
        },
        {
            "name": "categories_30d",
            "type": "string_list",
            "aggregation": "unique_list",
            "events": [PRODUCT_VIEW],
            "property": PRODUCT_CATEGORY,
            "period": "P30D",
        },
        {
            "name": "favourite_category",
            "type": "string",
            "aggregation": "most_frequent",
            "events": [PRODUCT_VIEW],
            "property": PRODUCT_CATEGORY,
        },
        {
            "name": "active_days_30d",
            "type": "int64",
            "aggregation": "approx_count_distinct",
            "events": [],
            "property": {"type": "atomic", "name": "derived_tstamp", "date_part": "active_day"},
            "period": "P30D",
        },
        {
            "name": "link_targets_7d",
            "type": "int64",
            "aggregation": "approx_count_distinct",
            "events": [LINK_CLICK],
            "property": LINK_TARGET,
            "period": "P7D",
        },
        {
            "name": f"{country.lower()}_page_views_7d",
            "type": "int64",
            "aggregation": "counter",
            "events": [PAGE_VIEW],
            "period": "P7D",
            **criteria(country_criterion),
        },
    ]
    return {
        "name": "bench_user" if index == 0 else f"bench_group_{index}",
        "version": 1,
        "type": "batch",
        "attribute_key": key,
        "owner": "bench@example.com",
        "description": f"benchmark group {index} keyed by {key}",
        "attributes": attributes,
    }


def groups(count: int) -> list[dict[str, Any]]:
    if not 1 <= count <= len(VARIANTS):
        raise ValueError(f"between 1 and {len(VARIANTS)} groups")
    return [group(i) for i in range(count)]


def write(project_dir: Path, count: int) -> Path:
    """Write the first `count` groups as the project's definitions/bench.yml."""
    path = Path(project_dir) / "definitions" / "bench.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(groups(count), sort_keys=False), encoding="utf-8")
    return path
