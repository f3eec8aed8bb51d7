"""Definitions and hand-made events that exercise every aggregation, operator and window rule.

The groups are plain dicts (the YAML shape), so the same objects feed both the engine and the
independent oracle in tests/oracle.py.
"""

from __future__ import annotations

import datetime as dt
import json

from signals_batch.sample_events import (
    COLUMN_NAMES,
    PRODUCT_CONTEXT,
    PURCHASE_V1,
    PURCHASE_V2,
    YAUAA_CONTEXT,
)

SP = "com.snowplowanalytics.snowplow"
PAGE_VIEW = {"vendor": SP, "name": "page_view", "version": "1-0-0"}
PAGE_PING = {"vendor": SP, "name": "page_ping"}
PURCHASE_1 = {"vendor": "com.acme", "name": "purchase", "version": "1-0-0"}  # matches 1-0-2
PURCHASE_2 = {"vendor": "com.acme", "name": "purchase", "version": "2-0-0"}
PRODUCT_VIEW = {"vendor": "com.acme", "name": "product_view"}
STRUCT = {"vendor": "com.google.analytics", "name": "event"}

TOTAL = f"{PURCHASE_V1}:total"
PRICE = {"type": "entity", "vendor": "com.acme", "name": "product", "major_version": 1,
         "path": "price"}
CATEGORY = f"{PRODUCT_CONTEXT}[0]:category"
OS = {"type": "entity", "vendor": "nl.basjes", "name": "yauaa_context", "major_version": 1,
      "path": "operatingSystemName"}
COUPON = {"type": "event", "vendor": "com.acme", "name": "purchase", "major_version": 1,
          "path": "coupon"}
DERIVED = {"type": "atomic", "name": "derived_tstamp"}


def _attr(name, type_, aggregation, prop=None, events=None, period=None, **extra):
    attribute = {"name": name, "type": type_, "aggregation": aggregation,
                 "events": events or []}
    if prop is not None:
        attribute["property"] = prop
    if period is not None:
        attribute["period"] = period
    attribute.update(extra)
    return attribute


def _group(name, key, attributes, **extra):
    return {"name": name, "version": 1, "type": "batch", "attribute_key": key,
            "owner": "tests@example.com", "attributes": attributes, **extra}


AGGREGATIONS = _group("aggregations", "domain_userid", [
    _attr("page_views_7d", "int64", "counter", events=[PAGE_VIEW], period="P7D"),
    _attr("page_views_1d", "int32", "counter", events=[PAGE_VIEW], period="P1D"),
    _attr("all_events", "int64", "counter"),
    _attr("events_with_coupon", "int64", "counter", COUPON, events=[PURCHASE_1]),
    _attr("revenue_30d", "double", "sum", TOTAL, events=[PURCHASE_1], period="P30D"),
    _attr("revenue_int", "int64", "sum", "tr_total", events=[PURCHASE_1]),
    _attr("cheapest_product", "double", "min", PRICE, events=[PRODUCT_VIEW]),
    _attr("last_path_alpha", "string", "max", "page_urlpath", events=[PAGE_VIEW]),
    _attr("latest_event_time", "timestamp", "max", DERIVED, period="P2W"),
    _attr("mean_order", "float", "mean", TOTAL, events=[PURCHASE_1], period="P2W"),
    _attr("mean_order_int", "int64", "mean", TOTAL, events=[PURCHASE_1]),
    _attr("first_source", "string", "first", "mkt_source", events=[PAGE_VIEW]),
    _attr("last_os_48h", "string", "last", OS, period="PT48H"),
    _attr("second_product_sku", "string", "first", f"{PRODUCT_CONTEXT}[1]:sku"),
    _attr("last_seen_unix", "unix_timestamp", "last", DERIVED),
    _attr("categories_7d", "string_list", "unique_list", CATEGORY, events=[PRODUCT_VIEW],
          period="P7D"),
    _attr("item_counts", "int64_list", "unique_list", f"{PURCHASE_V1}:items"),
    _attr("top_path_7d", "string", "most_frequent", "page_urlpath", events=[PAGE_VIEW],
          period="P7D"),
    _attr("rarest_city", "string", "least_frequent", "geo_city"),
    _attr("struct_actions", "dict", "category_count", "se_action", events=[STRUCT]),
    _attr("active_days", "int64", "approx_count_distinct",
          {**DERIVED, "date_part": "active_day"}),
    _attr("hours_since_first", "int64", "time_since_first", DERIVED, time_unit="h"),
    _attr("minutes_since_last_purchase", "int64", "time_since_last", "event_id",
          events=[PURCHASE_1], period="P30D", time_unit="min"),
    _attr("days_since_last", "int32", "time_since_last", DERIVED, time_unit="d"),
    _attr("seconds_since_last_view", "int64", "time_since_last", DERIVED, events=[PAGE_VIEW],
          time_unit="s", period="P7D"),
    _attr("favourite_hour", "int32", "most_frequent", {**DERIVED, "date_part": "hour_of_day"}),
    _attr("weekdays", "int32_list", "unique_list", {**DERIVED, "date_part": "day_of_week"}),
    _attr("months", "int32_list", "unique_list", {**DERIVED, "date_part": "month_of_year"}),
    _attr("weeks", "string_list", "unique_list", {**DERIVED, "date_part": "active_week"}),
    _attr("first_month", "string", "first", {**DERIVED, "date_part": "active_month"}),
    # value counts of a property with one value a day, taken from the key-and-day aggregate
    _attr("busiest_day_7d", "string", "most_frequent", {**DERIVED, "date_part": "active_day"},
          events=[PAGE_VIEW], period="P7D"),
    _attr("events_per_month", "dict", "category_count",
          {**DERIVED, "date_part": "active_month"}),
    _attr("coupon_or_none", "string", "most_frequent", COUPON, events=[PURCHASE_1],
          default_value="none"),
    _attr("categories_or_default", "string_list", "unique_list", CATEGORY,
          events=[PRODUCT_VIEW], period="P1D", default_value=["nothing"]),
    _attr("actions_or_default", "dict", "category_count", "se_action", events=[STRUCT],
          period="P1D", default_value={"none": 0}),
    _attr("gift_last", "bool", "last", f"{PURCHASE_V1}:gift"),
    # integers beyond 2**53 keep every digit; unix seconds from numbers and timestamps mixed
    _attr("first_order_id", "int64", "first", f"{PURCHASE_V1}:order_id"),
    _attr("last_order_id", "int64", "last", f"{PURCHASE_V1}:order_id"),
    _attr("order_ids", "int64_list", "unique_list", f"{PURCHASE_V1}:order_id"),
    _attr("most_order_id", "int64", "most_frequent", f"{PURCHASE_V1}:order_id"),
    _attr("earliest_paid", "unix_timestamp", "min", f"{PURCHASE_V1}:paid_at"),
    _attr("latest_paid", "unix_timestamp", "max", f"{PURCHASE_V1}:paid_at"),
    _attr("last_paid", "unix_timestamp", "last", f"{PURCHASE_V1}:paid_at"),
    _attr("first_paid", "unix_timestamp", "first", f"{PURCHASE_V1}:paid_at"),
    # a single default for a list is a one-item list; a number default of an int type
    # (one out of its range is refused by validation)
    _attr("order_ids_or_zero", "int64_list", "unique_list", f"{PURCHASE_V1}:order_id",
          period="P1D", default_value=0),
    _attr("last_order_id_or_none", "int64", "max", f"{PURCHASE_V1}:order_id", period="P1D",
          default_value=-1),
    _attr("major_two_total", "double", "sum", f"{PURCHASE_V2}:total", events=[PURCHASE_2]),
    _attr("path_country", "string", "last",
          {"type": "calculated", "operation": "concat", "separator": "|",
           "properties": [{"type": "atomic", "name": "page_urlpath"},
                          {"type": "atomic", "name": "geo_country"}]}),
    _attr("value_plus_total", "double", "sum",
          {"type": "calculated", "operation": "sum",
           "properties": [{"type": "atomic", "name": "se_value"},
                          {"type": "atomic", "name": "tr_total"}]}),
    _attr("price_times_items", "double", "max",
          {"type": "calculated", "operation": "product",
           "properties": [{"type": "event", "vendor": "com.acme", "name": "purchase",
                           "major_version": 1, "path": "items"}, PRICE]}),
    _attr("min_price_or_value", "double", "min",
          {"type": "calculated", "operation": "min",
           "properties": [PRICE, {"type": "atomic", "name": "se_value"}]}),
    _attr("max_price_or_value", "double", "max",
          {"type": "calculated", "operation": "max",
           "properties": [PRICE, {"type": "atomic", "name": "se_value"}]}),
    _attr("login_or_cookie", "string", "last",
          {"type": "calculated", "operation": "coalesce",
           "properties": [{"type": "atomic", "name": "user_id"},
                          {"type": "atomic", "name": "domain_userid"}]}),
    _attr("calculated_hour", "string", "most_frequent",
          {"type": "calculated", "operation": "coalesce", "date_part": "hour_of_day",
           "properties": [{"type": "atomic", "name": "dvce_created_tstamp",
                           "date_part": "active_day"},
                          DERIVED]}),
])


def _criterion(prop, operator, value=None):
    criterion = {"property": prop, "operator": operator}
    if operator not in ("is null", "is not null"):
        criterion["value"] = value
    return criterion


def _count(name, *criteria, any_=None, events=None, period=None):
    criteria_dict = {}
    if criteria:
        criteria_dict["all"] = list(criteria)
    if any_:
        criteria_dict["any"] = any_
    extra = {"criteria": criteria_dict} if criteria_dict else {}
    return _attr(name, "int64", "counter", events=events, period=period, **extra)


CRITERIA = _group("criteria", "domain_sessionid", [
    _count("gb", _criterion("geo_country", "=", "GB")),
    _count("not_gb", _criterion("geo_country", "!=", "GB")),
    _count("low_value", _criterion("se_value", "<", 20)),
    _count("high_value", _criterion("se_value", ">", 20)),
    _count("value_at_most_12_5", _criterion("se_value", "<=", 12.5)),
    _count("big_orders", _criterion(TOTAL, ">=", 100), events=[PURCHASE_1]),
    _count("text_compare", _criterion("page_urlpath", "<", "/c")),
    _count("sale_pages", _criterion("page_urlpath", "like", "%sale%")),
    _count("not_product_pages", _criterion("page_urlpath", "not like", "/products/%"),
           events=[PAGE_VIEW]),
    _count("underscore_like", _criterion("page_urlpath", "like", "/fa_")),
    _count("case_sensitive_like", _criterion("page_urlpath", "like", "/FAQ")),
    _count("gb_or_fr", _criterion("geo_country", "in", ["GB", "FR"])),
    _count("not_us", _criterion("geo_country", "not in", ["US"])),
    _count("no_country", _criterion("geo_country", "is null")),
    _count("with_campaign", _criterion("mkt_campaign", "is not null")),
    _count("gift", _criterion(f"{PURCHASE_V1}:gift", "=", True)),
    _count("no_gift", _criterion(f"{PURCHASE_V1}:gift", "!=", True)),
    _count("two_items", _criterion(f"{PURCHASE_V1}:items", "=", 2)),
    _count("items_in", _criterion(f"{PURCHASE_V1}:items", "in", [1, 3])),
    _count("quote_coupon", _criterion(COUPON, "=", "it's 10%")),
    _count("injection_coupon", _criterion(COUPON, "=", "'; drop table x; --")),
    _count("percent_like", _criterion(COUPON, "like", "50%_OFF")),
    _count("double_quote_coupon", _criterion(COUPON, "=", 'VIP "gold"')),
    _count("empty_coupon", _criterion(COUPON, "=", "")),
    _count("jinja_looking", _criterion("page_title", "=", "{{ x }} {% y %}")),
    _count("campaign_quote", _criterion("mkt_campaign", "like", "%it's 10\\%%")),
    _count("all_and_any", _criterion("geo_country", "=", "GB"),
           any_=[_criterion("dvce_type", "=", "Mobile"), _criterion("br_lang", "like", "de%")]),
    _count("any_only", any_=[_criterion("geo_city", "=", "Paris"),
                             _criterion("geo_city", "=", "Berlin")]),
    _count("entity_criterion", _criterion(OS, "in", ["iOS", "iPadOS"]), period="P7D"),
    _count("calculated_criterion",
           _criterion({"type": "calculated", "operation": "concat", "separator": "-",
                       "properties": [{"type": "atomic", "name": "geo_country"},
                                      {"type": "atomic", "name": "dvce_type"}]},
                      "=", "GB-Mobile")),
    _count("date_part_criterion", _criterion({**DERIVED, "date_part": "day_of_week"}, ">=", 6)),
    _count("any_event_name", events=[{"name": "purchase"}]),
    _count("two_event_kinds", events=[PAGE_PING, PRODUCT_VIEW]),
    _count("major_two", events=[PURCHASE_2]),
])

USER_ID_GROUP = _group("logged_in", "user_id", [
    _attr("purchases", "int64", "counter", events=[PURCHASE_1]),
    _attr("first_page", "string", "first", "page_urlpath", events=[PAGE_VIEW]),
    _attr("devices", "string_list", "unique_list", "dvce_type"),
], ttl="P30D")

CUSTOM_KEY_GROUP = _group("by_device_class", {
    "name": "device_class",
    "property": {"type": "entity", "vendor": "nl.basjes", "name": "yauaa_context",
                 "major_version": 1, "path": "deviceClass"},
}, [
    _attr("views", "int64", "counter", events=[PAGE_VIEW]),
    _attr("countries", "string_list", "unique_list", "geo_country"),
])

NETWORK_GROUP = _group("network", "network_userid", [
    _attr("orders_7d", "int64", "counter", events=[PURCHASE_1], period="P7D"),
], version=2)

# A group added to the definitions after some runs: its first run reads its history. Counts
# every event, so an event read twice (history and this run's events) shows.
ADDED_LATER_GROUP = _group("added_later", "domain_userid", [
    _attr("all_events", "int64", "counter"),
    _attr("page_views_7d", "int64", "counter", events=[PAGE_VIEW], period="P7D"),
])

# Every attribute has a window: an incremental run reads only the partials of the longest one.
RECENT_GROUP = _group("recent", "domain_userid", [
    _attr("views_7d", "int64", "counter", events=[PAGE_VIEW], period="P7D"),
    _attr("revenue_3d", "double", "sum", TOTAL, events=[PURCHASE_1], period="P3D"),
    _attr("mean_order_10d", "double", "mean", TOTAL, events=[PURCHASE_1], period="P10D"),
    _attr("categories_2w", "string_list", "unique_list", CATEGORY, events=[PRODUCT_VIEW],
          period="P2W"),
    _attr("favourite_category_5d", "string", "most_frequent", CATEGORY,
          events=[PRODUCT_VIEW], period="P5D"),
    _attr("last_os_7d", "string", "last", OS, period="P7D"),
    _attr("first_source_5d", "string", "first", "mkt_source", period="P5D"),
    _attr("active_days_10d", "int32", "approx_count_distinct",
          {**DERIVED, "date_part": "active_day"}, period="P10D"),
    _attr("hours_since_last_view_7d", "int64", "time_since_last", DERIVED,
          events=[PAGE_VIEW], period="P7D", time_unit="h"),
    _attr("max_price_2w", "double", "max", PRICE, events=[PRODUCT_VIEW], period="P2W"),
])

ALL_GROUPS = [AGGREGATIONS, CRITERIA, USER_ID_GROUP, CUSTOM_KEY_GROUP, NETWORK_GROUP, RECENT_GROUP]


def edge_events(start: dt.date) -> list[dict]:
    """Events the generator does not make: exact ties, boundaries, odd JSON values."""
    midnight = dt.datetime.combine(start, dt.time())
    rows = []

    def event(event_id, day, seconds, name="page_view", vendor=SP, version="1-0-0",
              user="edge-user", **values):
        row = dict.fromkeys(COLUMN_NAMES)
        derived = midnight + dt.timedelta(days=day, seconds=seconds)
        row.update(event_id=event_id, event_vendor=vendor, event_name=name,
                   event_version=version, event="page_view", platform="web",
                   derived_tstamp=derived, collector_tstamp=derived,
                   dvce_created_tstamp=derived,
                   load_tstamp=derived + dt.timedelta(minutes=5),
                   domain_userid=user, domain_sessionid=f"{user}-session",
                   network_userid=f"{user}-network", geo_country="GB", page_urlpath="/")
        row[YAUAA_CONTEXT] = json.dumps([{"operatingSystemName": "Edge OS",
                                          "deviceClass": "Robot"}])
        row.update(values)
        rows.append(row)
        return row

    # Two page views at the same instant: first/last break the tie on event_id.
    event("edge-b", 3, 3600, page_urlpath="/tie-b", mkt_source="second")
    event("edge-a", 3, 3600, page_urlpath="/tie-a", mkt_source="first")
    # Day boundaries: the first instant of a day and the last millisecond of the day before.
    event("edge-midnight", 5, 0, page_urlpath="/midnight")
    event("edge-before-midnight", 4, 86399.999, page_urlpath="/before-midnight")
    # Odd purchase payloads: string numbers, non-numbers, canonical numbers, bools.
    # order_id: integers beyond 2**53 and at the int64 limits; paid_at: unix seconds as
    # numbers (halves round away from zero) and as timestamp text, in one min / max.
    for i, payload in enumerate([
        {"total": "12.5", "items": "2", "gift": True, "coupon": "50%_OFF",
         "order_id": 123456789012345678, "paid_at": 2.5},
        {"total": "abc", "items": 2.0, "gift": False, "coupon": "50xxOFF",
         "order_id": "-9223372036854775808", "paid_at": "2025-01-07T10:00:00+02:00"},
        {"total": 12.50, "items": 10, "gift": "yes", "coupon": "it's 10%",
         "order_id": 9223372036854775808, "paid_at": 1736244000123},
        {"total": 1e3, "items": 9, "gift": "TRUE", "order_id": " +9007199254740993 ",
         "paid_at": "-2.5"},
        {"total": -0.5, "items": None, "coupon": None, "order_id": 9223372036854775807,
         "paid_at": 9007199254740993},
    ]):
        event(f"edge-purchase-{i}", 6, 100 + i, name="purchase", vendor="com.acme",
              version="1-0-1", **{PURCHASE_V1: json.dumps(payload), "tr_total": 2.5 * i})
    # A major-version-2 purchase and a version with no vendor match.
    event("edge-purchase-v2", 6, 200, name="purchase", vendor="com.acme", version="2-1-0",
          **{PURCHASE_V2: json.dumps({"total": 42})})
    event("edge-other-vendor", 6, 300, name="purchase", vendor="com.other", version="1-0-0")
    # Struct values around the criteria thresholds, and odd page titles.
    event("edge-struct-1", 7, 10, name="event", vendor="com.google.analytics",
          se_action="pause", se_value=12.5, page_title="{{ x }} {% y %}")
    event("edge-struct-2", 7, 20, name="event", vendor="com.google.analytics",
          se_action="click", se_value=20.0, page_urlpath="/faq")
    # A key that looks like SQL, and a custom key value with a quote.
    event("edge-sql-key", 7, 30, user="x'); drop table y; --")
    event("edge-quote-class", 7, 40, **{YAUAA_CONTEXT: json.dumps(
        [{"operatingSystemName": "Quote OS", "deviceClass": "it's"}])})
    # The same event re-delivered later with other content: the first copy counts.
    copy = dict(event("edge-dup", 8, 50, page_urlpath="/original"))
    copy.update(load_tstamp=copy["load_tstamp"] + dt.timedelta(days=1), page_urlpath="/copy",
                derived_tstamp=copy["derived_tstamp"] + dt.timedelta(days=1))
    rows.append(copy)
    # A late event: happened on day 2, loaded on day 9.
    late = event("edge-late", 2, 500, page_urlpath="/late")
    late["load_tstamp"] = midnight + dt.timedelta(days=9, hours=1)
    rows.sort(key=lambda r: (r["load_tstamp"], r["event_id"]))
    return rows
