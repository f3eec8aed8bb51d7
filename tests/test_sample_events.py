"""The sample event generator: deterministic, realistic, and loadable into DuckDB."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict

import duckdb
import pytest

from signals_batch.sample_events import (
    COLUMN_NAMES,
    EVENT_COLUMNS,
    PRODUCT_CONTEXT,
    PURCHASE_V1,
    PURCHASE_V2,
    create_events_table,
    generate_events,
    loads,
    write_events,
)

START = dt.date(2025, 3, 1)
DAYS = 10
N_EVENTS = 6000


@pytest.fixture(scope="module")
def rows():
    return generate_events(N_EVENTS, days=DAYS, users=150, seed=42, start=START)


def first_copies(rows):
    """The copy of each event_id with the earliest load_tstamp."""
    firsts = {}
    for row in sorted(rows, key=lambda r: r["load_tstamp"]):
        firsts.setdefault(row["event_id"], row)
    return list(firsts.values())


def json_numbers(value):
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from json_numbers(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_numbers(item)


# ======================================================================================
# Determinism and shape
# ======================================================================================


def test_same_seed_same_rows(rows):
    assert generate_events(N_EVENTS, days=DAYS, users=150, seed=42, start=START) == rows


def test_other_seed_other_rows(rows):
    other = generate_events(N_EVENTS, days=DAYS, users=150, seed=43, start=START)
    assert {r["event_id"] for r in other}.isdisjoint({r["event_id"] for r in rows})


def test_columns_and_types():
    types = dict(EVENT_COLUMNS)
    assert types["event_id"] == "VARCHAR"
    assert types["domain_sessionidx"] == "INTEGER"
    assert types["se_value"] == types["tr_total"] == "DOUBLE"
    for name in ("collector_tstamp", "dvce_created_tstamp", "derived_tstamp", "load_tstamp"):
        assert types[name] == "TIMESTAMP"
    for name, sql_type in EVENT_COLUMNS:
        if name.startswith(("contexts_", "unstruct_event_")):
            assert sql_type == "JSON"
    assert len(set(COLUMN_NAMES)) == len(COLUMN_NAMES)


def test_every_row_has_every_column(rows):
    assert len(rows) == N_EVENTS
    assert all(list(row) == COLUMN_NAMES for row in rows)


def test_timestamps_are_naive_whole_milliseconds(rows):
    for row in rows:
        for name in ("collector_tstamp", "dvce_created_tstamp", "derived_tstamp", "load_tstamp"):
            stamp = row[name]
            assert stamp.tzinfo is None and stamp.microsecond % 1000 == 0
        assert row["load_tstamp"] > row["derived_tstamp"]


def test_event_times_spread_over_the_days(rows):
    origin = dt.datetime.combine(START, dt.time())
    days = Counter((row["derived_tstamp"] - origin).days for row in rows)
    assert set(days) == set(range(DAYS))
    assert min(days.values()) > N_EVENTS / DAYS / 4  # no empty-ish day


def test_rows_are_sorted_by_load_time(rows):
    stamps = [row["load_tstamp"] for row in rows]
    assert stamps == sorted(stamps)


def test_json_columns_are_compact_text_with_short_numbers(rows):
    json_columns = [n for n, t in EVENT_COLUMNS if t == "JSON"]
    for row in rows:
        for name in json_columns:
            text = row[name]
            if text is None:
                continue
            assert isinstance(text, str)
            value = json.loads(text)
            assert json.dumps(value, separators=(",", ":"), ensure_ascii=False) == text
            for number in json_numbers(value):
                assert isinstance(number, int) or re.fullmatch(r"-?\d+\.\d{1,2}", repr(number))


# ======================================================================================
# Late and duplicate events
# ======================================================================================


def test_duplicate_fraction(rows):
    copies = Counter(row["event_id"] for row in rows)
    assert sum(count - 1 for count in copies.values()) == round(N_EVENTS * 0.03)


def test_duplicates_load_later_some_identical_some_altered(rows):
    by_id = defaultdict(list)
    for row in rows:
        by_id[row["event_id"]].append(row)
    identical = altered = 0
    for copies in by_id.values():
        if len(copies) == 1:
            continue
        first, *later = sorted(copies, key=lambda r: r["load_tstamp"])
        for copy in later:
            assert copy["load_tstamp"] > first["load_tstamp"]
            same = {k: v for k, v in copy.items() if k != "load_tstamp"} == {
                k: v for k, v in first.items() if k != "load_tstamp"
            }
            identical += same
            altered += not same
            if not same:
                assert copy["derived_tstamp"] != first["derived_tstamp"]
    assert identical > 20 and altered > 20


def test_late_fraction(rows):
    distinct = first_copies(rows)
    late = [r for r in distinct if r["load_tstamp"] - r["derived_tstamp"] >= dt.timedelta(days=1)]
    assert len(late) / len(distinct) == pytest.approx(0.05, abs=0.01)
    assert all(r["load_tstamp"] - r["derived_tstamp"] <= dt.timedelta(days=10) for r in late)


def test_fractions_are_parameters():
    rows = generate_events(2000, 5, 50, 1, START, late_fraction=0.2, duplicate_fraction=0.1)
    assert len(rows) - len({r["event_id"] for r in rows}) == 200
    distinct = first_copies(rows)
    late = [r for r in distinct if r["load_tstamp"] - r["derived_tstamp"] >= dt.timedelta(days=1)]
    assert len(late) / len(distinct) == pytest.approx(0.2, abs=0.02)
    clean = generate_events(500, 5, 50, 1, START, late_fraction=0, duplicate_fraction=0)
    assert len({r["event_id"] for r in clean}) == 500


# ======================================================================================
# Realism: event mix, keys, sessions, payloads
# ======================================================================================


def test_event_mix(rows):
    kinds = Counter((r["event"], r["event_vendor"], r["event_name"]) for r in rows)
    for kind in [
        ("page_view", "com.snowplowanalytics.snowplow", "page_view"),
        ("page_ping", "com.snowplowanalytics.snowplow", "page_ping"),
        ("unstruct", "com.snowplowanalytics.snowplow", "link_click"),
        ("unstruct", "com.acme", "purchase"),
        ("unstruct", "com.acme", "product_view"),
        ("struct", "com.google.analytics", "event"),
    ]:
        assert kinds[kind] > 0, kind
    assert all(r["event_format"] == "jsonschema" for r in rows)


def test_purchase_versions_and_columns(rows):
    purchases = [r for r in rows if r["event_name"] == "purchase"]
    versions = Counter(r["event_version"] for r in purchases)
    assert set(versions) == {"1-0-0", "1-0-2", "2-0-0"}
    assert versions["1-0-0"] > versions["1-0-2"] > versions["2-0-0"]
    for row in purchases:
        major_two = row["event_version"].startswith("2-")
        assert (row[PURCHASE_V2] is not None) == major_two
        assert (row[PURCHASE_V1] is not None) == (not major_two)
        payload = json.loads(row[PURCHASE_V2] if major_two else row[PURCHASE_V1])
        assert row["tr_total"] == payload["total"]


def test_coupons_sometimes_absent_sometimes_awkward(rows):
    payloads = [json.loads(r[PURCHASE_V1]) for r in rows if r[PURCHASE_V1]]
    coupons = [p["coupon"] for p in payloads if "coupon" in p]
    assert 0 < len(coupons) < len(payloads)
    assert any("'" in c for c in coupons) and any("%" in c for c in coupons)


def test_products_only_where_products_are_involved(rows):
    for row in rows:
        if row[PRODUCT_CONTEXT] is None:
            continue
        products = json.loads(row[PRODUCT_CONTEXT])
        assert 1 <= len(products) <= 3
        assert row["event_name"] in ("product_view", "purchase") or row["se_action"] in (
            "add_to_cart",
            "remove_from_cart",
        )
        assert all(set(p) == {"sku", "name", "price", "category"} for p in products)


def test_struct_events_fill_se_fields(rows):
    structs = [r for r in rows if r["event"] == "struct"]
    assert all(r["se_category"] and r["se_action"] for r in structs)
    assert any(r["se_value"] is not None for r in structs)
    assert all(r["se_category"] is None for r in rows if r["event"] != "struct")


def test_keys_include_null_and_empty(rows):
    domain_userids = Counter(
        "null" if r["domain_userid"] is None else "empty" if r["domain_userid"] == "" else "set"
        for r in rows
    )
    assert domain_userids["null"] > 0 and domain_userids["empty"] > 0
    assert domain_userids["set"] > 0.95 * len(rows)
    user_ids = Counter(r["user_id"] for r in rows)
    assert user_ids[None] > 0 and user_ids[""] > 0 and len(user_ids) > 10
    assert None in {r["geo_country"] for r in rows}


def test_one_to_three_sessions_per_active_user_day(rows):
    sessions = defaultdict(set)
    for row in first_copies(rows):
        if row["domain_userid"]:
            key = (row["domain_userid"], row["derived_tstamp"].date())
            sessions[key].add(row["domain_sessionid"])
    counts = Counter(len(ids) for ids in sessions.values())
    # A visit may run past midnight and count for two days, so allow a little slack.
    assert sum(n for size, n in counts.items() if size > 3) <= 0.02 * len(sessions)
    assert counts[1] > 0 and counts[2] > 0


def test_session_index_grows_with_time(rows):
    session_start = {}  # (user, session) -> (first event time, domain_sessionidx)
    for row in first_copies(rows):
        if row["domain_userid"]:
            key = (row["domain_userid"], row["domain_sessionid"])
            begin = session_start.get(key, (row["derived_tstamp"],))[0]
            session_start[key] = (min(begin, row["derived_tstamp"]), row["domain_sessionidx"])
    by_user = defaultdict(list)
    for (user, _), start_and_index in session_start.items():
        by_user[user].append(start_and_index)
    for sessions in by_user.values():
        indexes = [index for _, index in sorted(sessions)]
        assert indexes == sorted(indexes) and indexes[0] >= 1


# ======================================================================================
# DuckDB
# ======================================================================================


def read_back(con, table):
    names = ", ".join(f'"{name}"' for name in COLUMN_NAMES)
    fetched = con.execute(f"SELECT {names} FROM {table}").fetchall()
    return sorted(fetched, key=lambda r: (r[0], r[COLUMN_NAMES.index("load_tstamp")]))


def as_tuples(rows):
    tuples = [tuple(row[name] for name in COLUMN_NAMES) for row in rows]
    return sorted(tuples, key=lambda r: (r[0], r[COLUMN_NAMES.index("load_tstamp")]))


def test_write_events_round_trips(rows):
    con = duckdb.connect()
    create_events_table(con)
    create_events_table(con)  # idempotent
    write_events(con, rows)
    assert read_back(con, "atomic.events") == as_tuples(rows)
    types = {
        name: sql_type for name, sql_type, *_ in con.execute("DESCRIBE atomic.events").fetchall()
    }
    assert types == dict(EVENT_COLUMNS)


def test_write_events_in_batches_and_other_tables(rows, tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    create_events_table(con, "raw.my_events")
    create_events_table(con, "events")
    for batch in loads(rows, 4):
        write_events(con, batch, "raw.my_events")
    write_events(con, [], "raw.my_events")
    write_events(con, rows[:10], "events")
    assert read_back(con, "raw.my_events") == as_tuples(rows)
    assert con.execute("SELECT count(*) FROM events").fetchone() == (10,)


class WithoutAppender:
    """A connection as duckdb < 2 offers it: no bulk appender."""

    def __init__(self, con):
        self.execute = con.execute


def test_write_events_without_an_appender(rows):
    con = duckdb.connect()
    create_events_table(con)
    write_events(WithoutAppender(con), rows[:500])
    assert read_back(con, "atomic.events") == as_tuples(rows[:500])


def test_json_columns_are_queryable(rows):
    con = duckdb.connect()
    create_events_table(con)
    write_events(con, rows)
    skus = con.execute(
        f"SELECT count(*) FROM atomic.events WHERE {PRODUCT_CONTEXT}->>'$[0].sku' LIKE 'SKU-%'"
    ).fetchone()[0]
    assert skus == sum(1 for r in rows if r[PRODUCT_CONTEXT])


# ======================================================================================
# Arrival batches
# ======================================================================================


@pytest.mark.parametrize("n_batches", [1, 3, 7])
def test_loads_splits_by_load_time(rows, n_batches):
    batches = loads(rows, n_batches)
    assert len(batches) == n_batches
    assert sum(len(batch) for batch in batches) == len(rows)
    assert sorted(map(id, (r for b in batches for r in b))) == sorted(map(id, rows))
    for earlier, later in zip(batches, batches[1:], strict=False):
        assert max(r["load_tstamp"] for r in earlier) < min(r["load_tstamp"] for r in later)
    sizes = [len(batch) for batch in batches]
    assert max(sizes) - min(sizes) <= 2


def test_loads_never_splits_one_load_instant():
    base = generate_events(40, 2, 5, 3, START)
    stamp = base[0]["load_tstamp"]
    tied = [{**row, "load_tstamp": stamp} for row in base[:30]] + base[30:]
    batches = loads(tied, 4)
    holding = [
        i for i, batch in enumerate(batches) if any(r["load_tstamp"] == stamp for r in batch)
    ]
    assert len(holding) == 1
    assert sum(len(batch) for batch in batches) == 40
