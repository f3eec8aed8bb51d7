"""Hand-computed cases for the test oracle (tests/oracle.py).

Every expected value here is worked out by hand from SEMANTICS.md and
docs/semantics-notes.md, so the oracle can be trusted when it judges the SQL.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
from oracle import compute, parse_period_days, value_text

SNOWPLOW = "com.snowplowanalytics.snowplow"
PAGE_VIEW = {"vendor": SNOWPLOW, "name": "page_view"}
PURCHASE = {"vendor": "com.acme", "name": "purchase"}
PURCHASE_COLUMN = "unstruct_event_com_acme_purchase_1"

START = dt.date(2025, 1, 1)
AS_OF = dt.date(2025, 1, 10)  # default window end: 2025-01-09 (exclusive 2025-01-10 00:00)

_ids = itertools.count(1)


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0, ms: int = 0):
    """A January 2025 instant."""
    return dt.datetime(2025, 1, day, hour, minute, second, ms * 1000)


def event(when: dt.datetime, user: str | None = "u1", **fields) -> dict:
    """An atomic row: a page view by ``user`` at ``when``, loaded a minute later."""
    row = {
        "event_id": f"e{next(_ids):05d}",
        "event_vendor": SNOWPLOW,
        "event_name": "page_view",
        "event_version": "1-0-0",
        "derived_tstamp": when,
        "collector_tstamp": when,
        "load_tstamp": when + dt.timedelta(minutes=1),
        "domain_userid": user,
    }
    row.update(fields)
    return row


def purchase(when: dt.datetime, payload: dict | None, user="u1", version="1-0-0", **fields):
    column = {PURCHASE_COLUMN: None if payload is None else json.dumps(payload)}
    return event(
        when,
        user,
        event_vendor="com.acme",
        event_name="purchase",
        event_version=version,
        **column,
        **fields,
    )


def attribute(name="a", type="int64", aggregation="counter", **fields) -> dict:
    return {"name": name, "type": type, "aggregation": aggregation, **fields}


def rows_of(
    atomic_rows, attributes, key="domain_userid", as_of=AS_OF, start=START, current_day=False
):
    """The output rows of one batch group ``g`` holding ``attributes``."""
    group = {"name": "g", "version": 1, "type": "batch", "attribute_key": key}
    group["attributes"] = attributes
    return compute(atomic_rows, [group], as_of, start, current_day)["g_v1_attributes"]


def value_of(atomic_rows, /, **attribute_fields):
    """Attribute ``a``'s value for user u1 (None when u1 has no row)."""
    rows = rows_of(atomic_rows, [attribute(**attribute_fields)])
    return rows["u1"]["a"] if "u1" in rows else None


def value_of_current_day(atomic_rows, /, **attribute_fields):
    """As ``value_of``, with include_current_day: true."""
    rows = rows_of(atomic_rows, [attribute(**attribute_fields)], current_day=True)
    return rows["u1"]["a"] if "u1" in rows else None


# ======================================================================================
# Aggregations
# ======================================================================================


class TestAggregations:
    def test_counter_counts_matching_events(self):
        events = [event(at(2)), event(at(3)), event(at(3), event_name="page_ping")]
        assert value_of(events, events=[PAGE_VIEW]) == 2

    def test_counter_with_property_counts_non_null_values(self):
        events = [event(at(2), page_title="Home"), event(at(3)), event(at(4), page_title="")]
        assert value_of(events, property="page_title") == 2

    def test_sum_adds_numbers_and_ignores_the_rest(self):
        events = [
            purchase(at(2), {"total": 19.99}),
            purchase(at(3), {"total": 5}),
            purchase(at(4), {"total": "7.01"}),  # a numeric string is a number
            purchase(at(5), {"total": "abc"}),
            purchase(at(6), {"total": None}),
        ]
        assert value_of(
            events, type="double", aggregation="sum", property=f"{PURCHASE_COLUMN}:total"
        ) == pytest.approx(32.0)

    def test_sum_of_nothing_is_zero(self):
        events = [event(at(2))]
        assert value_of(events, aggregation="sum", property="tr_total") == 0

    def test_min_max_numeric_for_numeric_types(self):
        events = [event(at(2), se_label="10"), event(at(3), se_label="9"), event(at(4))]
        assert value_of(events, aggregation="min", property="se_label") == 9
        assert value_of(events, aggregation="max", property="se_label") == 10

    def test_integers_beyond_two_to_the_53_keep_every_digit(self):
        big = 2**53 + 1  # 9007199254740993: no double holds it
        events = [purchase(at(2), {"id": big}), purchase(at(3), {"id": f" +{big + 2} "}),
                  purchase(at(4), {"id": 2**63})]
        prop = f"{PURCHASE_COLUMN}:id"
        assert value_of(events, aggregation="first", property=prop) == big
        assert value_of(events, aggregation="last", property=prop) is None  # beyond int64
        assert value_of(events, type="int64_list", aggregation="unique_list",
                        property=prop) == [big + 2, big, None]
        assert value_of(events, type="int32", aggregation="first", property=prop) is None

    def test_out_of_range_numbers_are_null_for_unix_timestamp_and_float(self):
        """Found by fuzzing the engine against the oracle: the engine was right."""
        events = [purchase(at(2), {"total": 1.5e300})]
        prop = f"{PURCHASE_COLUMN}:total"
        for type_name in ("unix_timestamp", "float"):
            assert value_of(events, type=type_name, aggregation="sum", property=prop) is None
            assert value_of(events, type=type_name, aggregation="first", property=prop) is None
        assert value_of(events, type="double", aggregation="first", property=prop) == 1.5e300
        assert value_of([purchase(at(2), {"total": 3e38})], type="float", aggregation="max",
                        property=prop) == 3e38

    def test_a_calculated_sum_of_negative_zeros_is_negative_zero_as_text(self):
        events = [purchase(at(2), {"total": "-0"})]
        calculated = {"type": "calculated", "operation": "sum",
                      "properties": [f"{PURCHASE_COLUMN}:total"]}
        assert value_of(events, type="string", aggregation="last",
                        property=calculated) == "-0.0"
        events = [purchase(at(2), {"total": "-0", "tax": 0})]
        calculated["properties"].append(f"{PURCHASE_COLUMN}:tax")
        assert value_of(events, type="string", aggregation="last", property=calculated) == "0.0"

    def test_min_max_of_unix_timestamp_read_numbers_and_timestamps_as_seconds(self):
        events = [purchase(at(2), {"t": "1970-01-01T00:01:00+00:00"}),
                  purchase(at(3), {"t": 2.5}), purchase(at(4), {"t": 2**53 + 1})]
        prop = f"{PURCHASE_COLUMN}:t"
        assert value_of(events, type="unix_timestamp", aggregation="min", property=prop) == 3
        assert value_of(events, type="unix_timestamp", aggregation="max",
                        property=prop) == 2**53 + 1
        assert value_of(events[:1], type="unix_timestamp", aggregation="max",
                        property=prop) == 60

    def test_min_max_as_text_for_string(self):
        events = [event(at(2), se_label="10"), event(at(3), se_label="9")]
        assert value_of(events, type="string", aggregation="min", property="se_label") == "10"
        assert value_of(events, type="string", aggregation="max", property="se_label") == "9"

    def test_min_of_nothing_is_null(self):
        assert value_of([event(at(2))], aggregation="min", property="se_value") is None

    def test_mean_and_int_rounding(self):
        events = [event(at(2), se_value=1.0), event(at(3), se_value=2.0), event(at(4))]
        assert value_of(events, type="double", aggregation="mean", property="se_value") == 1.5
        # 1.5 rounds half away from zero for an int type
        assert value_of(events, type="int32", aggregation="mean", property="se_value") == 2
        negative = [event(at(2), se_value=-1.0), event(at(3), se_value=-2.0)]
        assert value_of(negative, aggregation="mean", property="se_value") == -2

    def test_mean_of_nothing_is_null(self):
        assert (
            value_of([event(at(2))], type="double", aggregation="mean", property="se_value") is None
        )

    def test_first_and_last_skip_events_without_a_value(self):
        events = [
            event(at(2), page_title=None),
            event(at(3), page_title="second"),
            event(at(4), page_title="third"),
            event(at(5), page_title=None),
        ]
        assert value_of(events, type="string", aggregation="first", property="page_title") == (
            "second"
        )
        assert value_of(events, type="string", aggregation="last", property="page_title") == (
            "third"
        )

    def test_first_and_last_break_ties_on_event_id(self):
        events = [
            event(at(3), event_id="b", page_title="from b"),
            event(at(3), event_id="a", page_title="from a"),
            event(at(3), event_id="c", page_title="from c"),
        ]
        first = value_of(events, type="string", aggregation="first", property="page_title")
        last = value_of(events, type="string", aggregation="last", property="page_title")
        assert (first, last) == ("from a", "from c")

    def test_unique_list_sorted_as_text_then_cast(self):
        events = [event(at(2), se_label=label) for label in ["9", "10", "9", None]]
        assert value_of(
            events, type="string_list", aggregation="unique_list", property="se_label"
        ) == ["10", "9"]
        assert value_of(
            events, type="int64_list", aggregation="unique_list", property="se_label"
        ) == [10, 9]

    def test_unique_list_of_nothing_is_empty(self):
        events = [event(at(2))]
        assert (
            value_of(events, type="string_list", aggregation="unique_list", property="se_label")
            == []
        )

    def test_most_and_least_frequent_with_ties_on_smallest_value(self):
        labels = ["b", "b", "a", "a", "c", "d"]
        events = [event(at(2), se_label=label) for label in labels]
        common = dict(type="string", property="se_label")
        assert value_of(events, aggregation="most_frequent", **common) == "a"
        assert value_of(events, aggregation="least_frequent", **common) == "c"

    def test_category_count(self):
        events = [event(at(2), geo_country=c) for c in ["GB", "US", "GB", None]]
        assert value_of(
            events, type="dict", aggregation="category_count", property="geo_country"
        ) == {"GB": 2, "US": 1}

    def test_approx_count_distinct_counts_text_values(self):
        events = [
            purchase(at(2), {"items": 1}),
            purchase(at(3), {"items": "1"}),  # same text as the number 1
            purchase(at(4), {"items": 2}),
            purchase(at(5), {}),
        ]
        prop = f"{PURCHASE_COLUMN}:items"
        assert value_of(events, aggregation="approx_count_distinct", property=prop) == 2

    def test_time_since_first_and_last_floor_whole_units(self):
        # Window end instant: 2025-01-10 00:00:00.
        events = [event(at(8, 0, 0, 0, 500)), event(at(9, 23, 59, 59, 500))]
        assert value_of(events, aggregation="time_since_last", time_unit="s") == 0
        assert value_of(events, aggregation="time_since_first", time_unit="h") == 47
        assert value_of(events, aggregation="time_since_first", time_unit="d") == 1
        assert value_of(events, aggregation="time_since_first", time_unit="min") == 47 * 60 + 59

    def test_time_since_with_property_ignores_null_values(self):
        events = [event(at(7), page_title="x"), event(at(9))]
        assert (
            value_of(events, aggregation="time_since_last", time_unit="h", property="page_title")
            == 60
        )

    def test_time_since_of_nothing_is_null(self):
        events = [event(at(2))]
        assert value_of(events, aggregation="time_since_last", property="tr_total") is None

    def test_time_since_uses_end_of_as_of_day_when_it_is_included(self):
        events = [event(at(10, 6))]
        assert value_of_current_day(events, aggregation="time_since_last", time_unit="h") == 18


# ======================================================================================
# Criteria
# ======================================================================================

INJECTION = "'; drop table x; --"


def matches(operator, value, prop_value, prop="page_title") -> bool:
    """Does a criterion {prop operator value} let an event with ``prop_value`` through?"""
    events = [event(at(2), **{prop: prop_value})]
    criterion = {"property": prop, "operator": operator, "value": value}
    return value_of(events, criteria={"all": [criterion]}) == 1


class TestCriteria:
    @pytest.mark.parametrize(
        ("operator", "value", "prop_value", "expected"),
        [
            ("=", "Home", "Home", True),
            ("=", "Home", "home", False),
            ("!=", "Home", "Shop", True),
            ("!=", "Home", "Home", False),
            ("<", "b", "a", True),
            (">", "b", "a", False),
            ("<=", "a", "a", True),
            (">=", "b", "a", False),
            ("like", "Ho%", "Home", True),
            ("like", "ho%", "Home", False),  # case-sensitive
            ("like", "H_me", "Home", True),
            ("like", "H_me", "Hoome", False),
            ("not like", "%shop%", "Home", True),
            ("not like", "%ome", "Home", False),
            ("in", ["Home", "Shop"], "Shop", True),
            ("in", ["Home", "Shop"], "Cart", False),
            ("not in", ["Home", "Shop"], "Cart", True),
            ("not in", ["Home", "Shop"], "Home", False),
            ("is null", None, None, True),
            ("is null", None, "", False),
            ("is not null", None, "", True),
            ("is not null", None, None, False),
        ],
    )
    def test_operators_on_text(self, operator, value, prop_value, expected):
        assert matches(operator, value, prop_value) is expected

    @pytest.mark.parametrize(
        "operator, value",
        [("=", "x"), ("!=", "x"), ("<", "x"), (">", "x"), ("<=", "x"), (">=", "x"),
         ("like", "%"), ("not like", "x"), ("in", ["x"]), ("not in", ["x"]),
         ("=", 1), ("!=", 1), ("=", True), ("!=", True)],
    )  # fmt: skip
    def test_null_property_is_false_except_is_null(self, operator, value):
        assert matches(operator, value, None) is False

    def test_not_in_with_a_null_option_never_holds(self):
        assert matches("not in", ["a", None], "b") is False
        assert matches("in", ["b", None], "b") is True

    @pytest.mark.parametrize(
        ("operator", "value", "prop_value", "expected"),
        [
            ("=", 10, "10.0", True),  # numeric value compares numerically
            ("=", "10", "10.0", False),  # string value compares as text
            (">", 9, "10", True),  # 10 > 9 as numbers...
            (">", "9", "10", False),  # ...but "10" < "9" as text
            ("<", 5, " 4.5 ", True),  # surrounding blanks still a number
            ("=", 1, "abc", False),  # not a number: false
            ("!=", 1, "abc", False),  # ...both ways
            ("in", [1, 2], "2.0", True),
            ("not in", [1, 2], "3", True),
        ],
    )
    def test_numeric_values_compare_numerically(self, operator, value, prop_value, expected):
        assert matches(operator, value, prop_value, prop="se_label") is expected

    def test_numeric_value_against_a_json_number(self):
        events = [purchase(at(2), {"total": 12.5}), purchase(at(3), {"total": 9})]
        criteria = {
            "all": [{"property": f"{PURCHASE_COLUMN}:total", "operator": ">=", "value": 10}]
        }
        assert value_of(events, criteria=criteria) == 1

    @pytest.mark.parametrize(
        ("value", "prop_value", "expected"),
        [(True, "true", True), (True, "TRUE", True), (False, "false", True),
         (True, "false", False), (True, "1", False), (False, "yes", False)],
    )  # fmt: skip
    def test_bool_values(self, value, prop_value, expected):
        assert matches("=", value, prop_value, prop="se_label") is expected

    def test_bool_value_against_a_json_bool(self):
        events = [purchase(at(2), {"gift": True}), purchase(at(3), {"gift": False})]
        criteria = {
            "all": [{"property": f"{PURCHASE_COLUMN}:gift", "operator": "=", "value": True}]
        }
        assert value_of(events, criteria=criteria) == 1

    @pytest.mark.parametrize(
        ("operator", "value", "prop_value", "expected"),
        [
            ("=", "it's", "it's", True),
            ("=", INJECTION, INJECTION, True),
            ("=", INJECTION, "anything", False),
            ("like", "%'%", "it's", True),
            ("like", "%10%%", "it's 10% off", True),
            ("=", "10%", "10% off", False),  # outside LIKE, % is just a character
            ("=", "10%", "10%", True),
            ("like", "a.c", "abc", False),  # regex characters are literal
            ("like", "a\\%", "a\\bc", True),  # no escape character: \ is literal
            ("like", "[ab]", "a", False),
            ("like", INJECTION, INJECTION, True),
            ("in", [INJECTION, "it's"], "it's", True),
            ("not like", "%drop table%", INJECTION, False),
        ],
    )
    def test_values_are_data_never_code(self, operator, value, prop_value, expected):
        assert matches(operator, value, prop_value) is expected

    def test_all_and_any_together(self):
        def row(title, country):
            return event(at(2), page_title=title, geo_country=country)

        events = [row("Home", "GB"), row("Home", "US"), row("Shop", "GB"), row("Cart", "DE")]
        criteria = {
            "all": [{"property": "geo_country", "operator": "in", "value": ["GB", "DE"]}],
            "any": [
                {"property": "page_title", "operator": "=", "value": "Home"},
                {"property": "page_title", "operator": "=", "value": "Cart"},
            ],
        }
        assert value_of(events, criteria=criteria) == 2

    def test_any_holds_when_one_criterion_is_null_and_another_true(self):
        events = [event(at(2), page_title=None, geo_country="GB")]
        criteria = {
            "any": [
                {"property": "page_title", "operator": "=", "value": "Home"},
                {"property": "geo_country", "operator": "=", "value": "GB"},
            ]
        }
        assert value_of(events, criteria=criteria) == 1

    def test_criteria_on_entity_and_event_properties(self):
        events = [
            purchase(at(2), {"currency": "GBP"}, contexts_com_acme_product_1='[{"sku":"A"}]'),
            purchase(at(3), {"currency": "USD"}, contexts_com_acme_product_1='[{"sku":"A"}]'),
            purchase(at(4), {"currency": "GBP"}, contexts_com_acme_product_1='[{"sku":"B"}]'),
        ]
        entity = {"type": "entity", "vendor": "com.acme", "name": "product",
                  "major_version": 1, "path": "sku"}  # fmt: skip
        unstruct = {"type": "event", "vendor": "com.acme", "name": "purchase",
                    "major_version": 1, "path": "$.currency"}  # fmt: skip
        criteria = {
            "all": [
                {"property": entity, "operator": "=", "value": "A"},
                {"property": unstruct, "operator": "=", "value": "GBP"},
            ]
        }
        assert value_of(events, criteria=criteria) == 1


# ======================================================================================
# Event matching, deduplication, start_date, keys
# ======================================================================================


class TestEventsThatCount:
    def test_version_matches_on_major_only(self):
        events = [
            purchase(at(2), {}, version="1-0-0"),
            purchase(at(3), {}, version="1-0-2"),
            purchase(at(4), {}, version="2-0-0"),
        ]
        assert value_of(events, events=[{**PURCHASE, "version": "1-0-0"}]) == 2
        assert value_of(events, events=[{**PURCHASE, "version": "2-1-0"}]) == 1
        assert value_of(events, events=[PURCHASE]) == 3  # no version: every version

    def test_events_list_is_an_or_and_empty_matches_everything(self):
        events = [
            event(at(2)),
            event(at(3), event_name="page_ping"),
            purchase(at(4), {}),
        ]
        page_ping = {"vendor": SNOWPLOW, "name": "page_ping"}
        assert value_of(events, events=[PAGE_VIEW, page_ping]) == 2
        assert value_of(events, events=[]) == 3
        assert value_of(events) == 3

    def test_event_id_counts_once_the_earliest_load(self):
        first = event(at(3), event_id="x", page_title="first load")
        redelivered = {**first, "load_tstamp": at(5), "derived_tstamp": at(4),
                       "page_title": "second load"}  # fmt: skip
        for rows in ([first, redelivered], [redelivered, first]):
            assert value_of(rows) == 1
            assert value_of(rows, type="string", aggregation="last", property="page_title") == (
                "first load"
            )

    def test_duplicates_loaded_together_prefer_smallest_derived_then_collector(self):
        load = at(6)
        a = event(at(3), event_id="x", load_tstamp=load, collector_tstamp=at(3, 13),
                  page_title="a")  # fmt: skip
        b = event(at(3), event_id="x", load_tstamp=load, collector_tstamp=at(3, 12),
                  page_title="b")  # fmt: skip
        c = event(at(4), event_id="x", load_tstamp=load, collector_tstamp=at(1), page_title="c")
        fields = dict(type="string", aggregation="last", property="page_title")
        assert value_of([a, b, c], **fields) == "b"
        assert value_of([c, a], **fields) == "a"

    def test_the_counted_copy_decides_the_day(self):
        # The first load says day 2 (outside P3D), a later copy says day 8 (inside).
        first = event(at(2), event_id="x", load_tstamp=at(2, 13))
        copy = {**first, "derived_tstamp": at(8), "load_tstamp": at(8, 13)}
        assert value_of([copy, first], period="P3D") == 0

    def test_late_events_count_on_their_event_day(self):
        late = event(at(3), load_tstamp=at(9, 23))
        assert value_of([late], period="P7D") == 1

    def test_events_before_start_date_never_count(self):
        events = [event(at(1, 23, 59, 59)), event(at(2))]
        rows = rows_of(events, [attribute()], start=dt.date(2025, 1, 2))
        assert rows["u1"]["a"] == 1

    def test_null_and_empty_keys_never_count(self):
        events = [event(at(2), user=None), event(at(2), user=""), event(at(2), user="u1")]
        assert rows_of(events, [attribute()]) == {"u1": {"a": 1}}

    def test_key_aliases_and_other_builtin_keys(self):
        events = [
            event(at(2), user="u1", domain_sessionid="s1", user_id="alice"),
            event(at(3), user="u1", domain_sessionid="s2", user_id=""),
        ]
        assert rows_of(events, [attribute()], key="user") == {"u1": {"a": 2}}
        assert rows_of(events, [attribute()], key="session") == {"s1": {"a": 1}, "s2": {"a": 1}}
        assert rows_of(events, [attribute()], key="user_id") == {"alice": {"a": 1}}
        assert rows_of(events, [attribute()], key={"name": "domain_sessionid"}) == {
            "s1": {"a": 1},
            "s2": {"a": 1},
        }

    def test_custom_key_takes_the_property_value(self):
        events = [
            purchase(at(2), {"order_id": "o1"}),
            purchase(at(3), {"order_id": "o1"}),
            purchase(at(4), {"order_id": ""}),
            purchase(at(5), {}),
            purchase(at(6), {"order_id": 7}),
        ]
        key = {"name": "order_id", "property": f"{PURCHASE_COLUMN}:order_id"}
        assert rows_of(events, [attribute()], key=key) == {"o1": {"a": 2}, "7": {"a": 1}}


class TestKeyRows:
    def test_a_key_with_a_match_outside_the_period_still_gets_a_row(self):
        events = [event(at(2))]
        rows = rows_of(events, [attribute(period="P1D", events=[PAGE_VIEW])])
        assert rows == {"u1": {"a": 0}}

    def test_no_row_without_any_matching_event(self):
        events = [event(at(2), event_name="page_ping")]
        assert rows_of(events, [attribute(events=[PAGE_VIEW])]) == {}

    def test_criteria_decide_the_row_too(self):
        events = [event(at(2), geo_country="US")]
        criteria = {"all": [{"property": "geo_country", "operator": "=", "value": "GB"}]}
        assert rows_of(events, [attribute(criteria=criteria)]) == {}

    def test_no_row_for_events_after_the_window_end(self):
        events = [event(at(10))]  # the as-of day itself
        assert rows_of(events, [attribute()]) == {}
        assert rows_of(events, [attribute()], current_day=True) == {"u1": {"a": 1}}

    def test_every_attribute_gets_a_value_on_a_row(self):
        events = [event(at(2))]
        attributes = [
            attribute("views"),
            attribute("orders", events=[PURCHASE]),
            attribute("spend", "double", "sum", events=[PURCHASE], property="tr_total"),
            attribute("last_total", "double", "last", events=[PURCHASE], property="tr_total"),
        ]
        assert rows_of(events, attributes) == {
            "u1": {"views": 1, "orders": 0, "spend": 0.0, "last_total": None}
        }

    def test_groups_and_table_names(self):
        groups = [
            {"name": "users", "version": 3, "type": "batch", "attribute_key": "domain_userid",
             "attributes": [attribute()]},
            {"name": "plain", "attribute_key": "domain_userid", "attributes": [attribute()]},
            {"name": "stream", "type": "stream", "attribute_key": "domain_userid",
             "attributes": [attribute()]},
            {"name": "ext", "type": "external_batch", "attribute_key": "domain_userid",
             "fields": []},
        ]  # fmt: skip
        result = compute([event(at(2))], groups, AS_OF, START)
        assert result == {
            "users_v3_attributes": {"u1": {"a": 1}},
            "plain_v1_attributes": {"u1": {"a": 1}},
        }


# ======================================================================================
# Windows
# ======================================================================================


class TestWindows:
    def daily_events(self):
        return [event(at(day, 0)) for day in range(1, 11)]  # one a day, Jan 1 .. Jan 10

    def test_period_covers_the_n_days_before_as_of(self):
        assert value_of(self.daily_events(), period="P7D") == 7  # Jan 3 .. Jan 9

    def test_include_current_day_shifts_the_window_by_one_day(self):
        assert value_of_current_day(self.daily_events(), period="P7D") == 7  # Jan 4 .. Jan 10
        events = [event(at(3, 23, 59, 59, 999)), event(at(4, 0))]
        assert value_of_current_day(events, period="P7D") == 1

    def test_lifetime_runs_from_start_date(self):
        assert value_of(self.daily_events()) == 9  # Jan 1 .. Jan 9
        assert value_of_current_day(self.daily_events()) == 10
        rows = rows_of(self.daily_events(), [attribute()], start=dt.date(2025, 1, 5))
        assert rows["u1"]["a"] == 5

    def test_period_is_clipped_by_start_date(self):
        rows = rows_of(self.daily_events(), [attribute(period="P30D")], start=dt.date(2025, 1, 6))
        assert rows["u1"]["a"] == 4

    @pytest.mark.parametrize(
        ("period", "days"),
        [("P7D", 7), ("P2W", 14), ("PT48H", 2), ("P1DT24H", 2), ("PT1440M", 1),
         (86400, 1), (172800.0, 2), (dt.timedelta(days=3), 3), (None, None)],
    )  # fmt: skip
    def test_period_forms(self, period, days):
        assert parse_period_days(period) == days

    @pytest.mark.parametrize("period", ["P1DT12H", "PT1H", "P1M", "P1Y", "P", "PT", "7D", 3600, 0])
    def test_periods_that_are_not_whole_days_are_invalid(self, period):
        with pytest.raises(ValueError):
            parse_period_days(period)

    def test_week_period_through_compute(self):
        assert value_of(self.daily_events(), period="P2W") == 9


# ======================================================================================
# Values: properties, text, date_part, calculated, casts, default_value
# ======================================================================================


class TestValues:
    @pytest.mark.parametrize(
        ("json_text", "text"),
        [('{"v":12.50}', "12.5"), ('{"v":1e3}', "1000.0"), ('{"v":7}', "7"),
         ('{"v":true}', "true"), ('{"v":"it\'s"}', "it's"), ('{"v":[1, "a"]}', '[1,"a"]'),
         ('{"v":{"b":1}}', '{"b":1}')],
    )  # fmt: skip
    def test_json_values_as_text(self, json_text, text):
        events = [event(at(2), **{PURCHASE_COLUMN: json_text})]
        got = value_of(events, type="string", aggregation="last", property=f"{PURCHASE_COLUMN}:v")
        assert got == text

    @pytest.mark.parametrize(
        ("stamp", "text"),
        [(at(2, 3, 4, 5), "2025-01-02 03:04:05"),
         (at(2, 3, 4, 5, 100), "2025-01-02 03:04:05.1"),
         (at(2, 3, 4, 5, 120), "2025-01-02 03:04:05.12"),
         (dt.datetime(2025, 1, 2, 3, 4, 5, 100), "2025-01-02 03:04:05.0001")],
    )  # fmt: skip
    def test_timestamps_as_text_follow_duckdb(self, stamp, text):
        assert value_text(stamp) == text

    def test_atomic_double_as_text(self):
        events = [event(at(2), se_value=5.0), event(at(3), se_value=19.99)]
        assert value_of(
            events, type="string_list", aggregation="unique_list", property="se_value"
        ) == ["19.99", "5.0"]

    def test_entity_index_and_paths(self):
        products = '[{"sku":"A","tags":["x","y"]},{"sku":"B","tags":["z"]}]'
        events = [event(at(2), contexts_com_acme_product_1=products)]

        def last(prop):
            return value_of(events, type="string", aggregation="last", property=prop)

        entity = {"type": "entity", "vendor": "com.acme", "name": "product", "major_version": 1}
        assert last({**entity, "path": "sku"}) == "A"  # index defaults to 0
        assert last({**entity, "path": "sku", "index": 1}) == "B"
        assert last({**entity, "path": "$.tags[1]", "index": 0}) == "y"
        assert last({**entity, "path": "tags[0]", "index": 5}) is None
        assert last("contexts_com_acme_product_1[1]:tags[0]") == "z"
        assert last("contexts_com_acme_product_1:sku") == "A"
        # a context column holding an object, not an array, has no element 0: every
        # spelling reads NULL (the short form without an index used to read the object)
        events[0]["contexts_com_acme_product_1"] = '{"sku": "C"}'
        for spelling in ({**entity, "path": "sku"}, "contexts_com_acme_product_1[0]:sku",
                         "contexts_com_acme_product_1:sku"):
            assert last(spelling) is None

    def test_event_property_column_name_from_vendor_and_major(self):
        events = [
            event(at(2), **{"unstruct_event_com_my_co_sign_up_2": '{"plan":"pro"}'}),
            event(at(3), **{"unstruct_event_com_my_co_sign_up_1": '{"plan":"free"}'}),
        ]
        prop = {"type": "event", "vendor": "com.my-co", "name": "Sign-Up",
                "major_version": 2, "path": "plan"}  # fmt: skip
        assert value_of(events, type="string", aggregation="last", property=prop) == "pro"

    def test_camel_case_schema_names_read_the_loaders_snake_case_column(self):
        # org.w3/PerformanceTiming is loaded as contexts_org_w3_performance_timing_1
        events = [event(at(2), contexts_org_w3_performance_timing_1='[{"domComplete": 7}]'),
                  event(at(3), contexts_org_w3_performancetiming_1='[{"domComplete": 9}]')]
        prop = {"type": "entity", "vendor": "org.w3", "name": "PerformanceTiming",
                "major_version": 1, "path": "domComplete"}  # fmt: skip
        assert value_of(events, type="int64", aggregation="max", property=prop) == 7
        renamed = {**prop, "vendor": "com.acme.myApp", "name": "pageURLView"}
        events = [event(at(2), contexts_com_acme_my_app_page_url_view_1='[{"domComplete": 5}]')]
        assert value_of(events, type="int64", aggregation="max", property=renamed) == 5

    @pytest.mark.parametrize(
        ("part", "expected"),
        [("hour_of_day", 23), ("day_of_week", 7), ("month_of_year", 1),
         ("active_day", "2025-01-05"), ("active_week", "2024-12-30"),
         ("active_month", "2025-01-01")],
    )  # fmt: skip
    def test_date_part(self, part, expected):
        events = [event(at(5, 23, 30))]  # Sunday 2025-01-05
        prop = {"type": "atomic", "name": "derived_tstamp", "date_part": part}
        type_name = "int32" if isinstance(expected, int) else "string"
        assert value_of(events, type=type_name, aggregation="last", property=prop) == expected

    def test_date_part_on_json_text_and_non_timestamps(self):
        events = [
            purchase(at(2), {"at": "2025-01-06T10:00:00Z"}),  # Monday
            purchase(at(3), {"at": "2025-01-08 01:02:03.456"}),  # Wednesday
            purchase(at(4), {"at": "not a time"}),
        ]
        prop = {"type": "event", "vendor": "com.acme", "name": "purchase", "major_version": 1,
                "path": "at", "date_part": "day_of_week"}  # fmt: skip
        assert value_of(events, type="int32_list", aggregation="unique_list", property=prop) == [
            1,
            3,
        ]
        assert value_of(events, aggregation="counter", property=prop) == 2

    def test_date_part_active_days_counts_distinct_days(self):
        events = [event(at(2, 1)), event(at(2, 23)), event(at(4, 5))]
        prop = {"type": "atomic", "name": "derived_tstamp", "date_part": "active_day"}
        assert value_of(events, aggregation="approx_count_distinct", property=prop) == 2

    @pytest.mark.parametrize(
        ("operation", "separator", "expected"),
        [("concat", "-", "a-2.5"), ("concat", None, "a2.5"), ("coalesce", None, "a"),
         ("sum", None, None), ("product", None, None), ("min", None, 2.5), ("max", None, 2.5)],
    )  # fmt: skip
    def test_calculated_with_a_non_number_and_a_null(self, operation, separator, expected):
        events = [event(at(2), se_label="a", se_value=2.5, se_action=None)]
        prop = {"type": "calculated", "operation": operation, "separator": separator,
                "properties": ["se_label", "se_action", "se_value"]}  # fmt: skip
        assert value_of(events, type="string", aggregation="last", property=prop) == (
            None if expected is None else value_text(expected)
        )

    @pytest.mark.parametrize(
        ("operation", "expected"),
        [("sum", 7.5), ("product", 12.5), ("min", 2.5), ("max", 5.0)],
    )
    def test_calculated_over_numbers(self, operation, expected):
        events = [purchase(at(2), {"total": 5}, se_value=2.5)]
        prop = {"type": "calculated", "operation": operation,
                "properties": [{"type": "atomic", "name": "se_value"},
                               f"{PURCHASE_COLUMN}:total"]}  # fmt: skip
        assert value_of(events, type="double", aggregation="sum", property=prop) == expected

    def test_calculated_all_null_is_null(self):
        events = [event(at(2))]
        for operation in ("concat", "coalesce", "min", "sum"):
            prop = {"type": "calculated", "operation": operation,
                    "properties": ["se_label", "se_action"]}  # fmt: skip
            assert value_of(events, type="string", aggregation="last", property=prop) is None

    @pytest.mark.parametrize(
        ("type_name", "value", "expected"),
        [("int64", "2.5", 3), ("int64", "-2.5", -3), ("int32", "2.4", 2),
         ("int32", "3000000000", None), ("int64", "abc", None), ("double", " 1e3 ", 1000.0),
         ("double", "nan", None), ("float", "1_000", None), ("bool", "TRUE", True),
         ("bool", "1", None), ("string", "x", "x"), ("bytes", "x", "x"),
         ("timestamp", "2025-01-02T03:04:05Z", dt.datetime(2025, 1, 2, 3, 4, 5)),
         ("timestamp", "2025-01-02 05:04:05+02:00", dt.datetime(2025, 1, 2, 3, 4, 5)),
         ("timestamp", "yesterday", None),
         ("unix_timestamp", "1735787045.5", 1735787046),
         ("unix_timestamp", "2025-01-02 03:04:05.900", 1735787045),
         ("dict", '{"b":1,"a":2}', {"a": 2, "b": 1}), ("dict", "[1]", None)],
    )  # fmt: skip
    def test_casts(self, type_name, value, expected):
        events = [event(at(2), se_label=value)]
        got = value_of(events, type=type_name, aggregation="last", property="se_label")
        assert got == expected and type(got) is type(expected)

    def test_timestamp_and_unix_timestamp_from_atomic_timestamps(self):
        events = [event(at(2, 3, 4, 5, 900)), event(at(3, 0, 0, 1))]
        common = dict(aggregation="max", property="derived_tstamp")
        assert value_of(events, type="timestamp", **common) == at(3, 0, 0, 1)
        assert value_of(events, type="unix_timestamp", **common) == 1735862401
        assert value_of(events, type="string", **common) == "2025-01-03 00:00:01"

    @pytest.mark.parametrize(
        ("fields", "expected"),
        [(dict(type="string", aggregation="last", default_value="none"), "none"),
         (dict(type="string_list", aggregation="unique_list", default_value=["n"]), ["n"]),
         (dict(type="int64_list", aggregation="unique_list", default_value=7), [7]),
         (dict(type="int64", aggregation="max", default_value=1.5e300), None),
         (dict(type="dict", aggregation="category_count", default_value={"n": 0}), {"n": 0}),
         (dict(type="double", aggregation="mean", default_value=1), 1.0),
         (dict(type="int64", aggregation="counter", default_value=5), 0),
         (dict(type="int64", aggregation="sum", default_value=5), 0)],
    )  # fmt: skip
    def test_default_value_replaces_null_and_empty_but_not_zero(self, fields, expected):
        # A page view gives the row; the attribute itself sees no purchase.
        events = [event(at(2))]
        tested = attribute("tested", events=[PURCHASE], property="tr_total", **fields)
        rows = rows_of(events, [attribute("row"), tested])
        assert rows["u1"]["tested"] == expected

    def test_output_python_types(self):
        events = [purchase(at(2), {"total": 19.99, "items": 2})]
        rows = rows_of(
            events,
            [
                attribute("n", "int32"),
                attribute("total", "double", "sum", property=f"{PURCHASE_COLUMN}:total"),
                attribute("items", "string", "last", property=f"{PURCHASE_COLUMN}:items"),
                attribute("at", "timestamp", "last", property="derived_tstamp"),
            ],
        )
        assert rows == {"u1": {"n": 1, "total": 19.99, "items": "2", "at": at(2)}}
        assert isinstance(rows["u1"]["total"], float)
