"""Seeded generator of Snowplow atomic events at benchmark scale, written in DuckDB SQL.

The Python generator in ``signals_batch.sample_events`` builds rows one by one (right for
tests, far too slow for millions of rows). This one expresses every column as a function of
a row number: ``range()`` gives the rows and ``hash(seed, row, tag)`` gives each row its
pseudo-random draws, so DuckDB generates, sorts by load time and writes 10M events in
seconds, with the same columns and types as ``sample_events.EVENT_COLUMNS``.

Shape of the data (per batch):

- sessions of 8 event slots; a session belongs to one user (a few heavy users, many light
  ones), one day and one app; the first event is a page view carrying the entrance
  (referrer / marketing fields), later ones page pings, page views, product views, link
  clicks, structured events and purchases;
- JSON columns: web page / YAUAA / product contexts (arrays), purchase v1 / v2 and link
  click self-describing events (objects); purchases are 1-0-0, 1-0-2 and 2-0-0;
- 1% of events without cookies (NULL ids), 0.5% with '' ids; user_id only when logged in;
- ~5% late arrivals (loaded 1-10 days after they happened) and ~3% re-delivered
  event_ids (half identical, half with another derived_tstamp and page), loaded later;
- rows are inserted in load_tstamp order, as a loader appends them.

Usage::

    python bench/generate.py --events 10000000 --days 30 --users 200000 --seed 1 --db x.duckdb
    python bench/generate.py --append-day --db x.duckdb      # one more day, loaded after the rest

``--append-day`` adds about events/days events for the day after the newest event day:
events of that day plus late ones from the 10 days before and re-delivered copies, all with
load_tstamps after the newest already in the table (what one more day of loading brings).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path

import duckdb

from signals_batch.sample_events import (
    CONTENT_PAGES,
    COUPONS,
    DEVICE_WEIGHTS,
    DEVICES,
    ENTRANCE_WEIGHTS,
    ENTRANCES,
    EVENT_COLUMNS,
    LINK_CLICK,
    LINK_TARGETS,
    LOCATION_WEIGHTS,
    LOCATIONS,
    PRODUCT_CONTEXT,
    PRODUCTS,
    PURCHASE_V1,
    PURCHASE_V2,
    SITE,
    STRUCT_EVENTS,
    STRUCT_WEIGHTS,
    WEB_PAGE_CONTEXT,
    YAUAA_CONTEXT,
)

TABLE = "atomic.events"
META_TABLE = "atomic.bench_generator_batches"  # what was generated, for --append-day
SESSION_SLOTS = 8
MAX_GAP_MS = 180_000  # longest pause between two events of a session
DAY_MS = 86_400_000
DUPLICATE_FRACTION = 0.03
LATE_FRACTION = 0.05

# After the first page view: page_ping, page_view, product_view, link_click, struct, purchase.
ACTIONS = ["page_ping", "page_view", "product_view", "link_click", "struct", "purchase"]
ACTION_WEIGHTS = [38, 24, 14, 6, 14, 4]
# Referrer fields of the events after a session's landing page (None: NULL).
INSIDE_SITE = {"page_referrer": SITE + "/", "refr_medium": "internal"}
PAGES = CONTENT_PAGES + [(f"/products/{sku.lower()}", name) for sku, name, _, _ in PRODUCTS]


# --------------------------------------------------------------------------------------
# SQL building helpers
# --------------------------------------------------------------------------------------


def lit(value) -> str:
    """A SQL literal for a Python scalar."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def list_lit(values, sql_type: str = "VARCHAR") -> str:
    return f"CAST([{', '.join(lit(v) for v in values)}] AS {sql_type}[])"


def pick(draw: str, weights: list[float]) -> str:
    """A 1-based index chosen by `draw` (uniform in [0, 1)) with the given weights."""
    total = float(sum(weights))
    bounds, running = [], 0.0
    for weight in weights[:-1]:
        running += weight
        bounds.append(running / total)
    cases = " ".join(f"WHEN {draw} < {b!r} THEN {n}" for n, b in enumerate(bounds, 1))
    return f"(CASE {cases} ELSE {len(weights)} END)"


class Draws:
    """Uniform draws in [0, 1) from DuckDB's hash of (seed, row expression, tag)."""

    def __init__(self, seed: int | str):
        self.seed = lit(str(seed))

    def u(self, row: str, tag: str) -> str:
        return f"((hash({self.seed}, {row}, '{tag}') % 1000003)::DOUBLE / 1000003.0)"

    def int(self, row: str, tag: str, low: int, high: int) -> str:
        """An integer in [low, high]."""
        return f"({low} + (hash({self.seed}, {row}, '{tag}') % {high - low + 1})::BIGINT)"

    def uuid(self, row: str, tag: str) -> str:
        """A random (version 4, variant 1) UUID as text, from two 64-bit hashes.

        Cheap: no md5, no string slicing; DuckDB's UUID to VARCHAR cast formats it."""
        version_mask = (2**64 - 1) ^ 0xF000
        high = f"((hash({self.seed}, {row}, '{tag}/h') & {version_mask}::UBIGINT) | 16384::UBIGINT)"
        low = f"((hash({self.seed}, {row}, '{tag}/l') & {2**62 - 1}::UBIGINT) | {2**63}::UBIGINT)"
        return f"CAST(CAST(({high}::UHUGEINT << 64) | {low} AS UUID) AS VARCHAR)"


def _epoch_ms(instant: dt.datetime) -> int:
    """Milliseconds since 1970-01-01 of a naive UTC datetime."""
    return (instant - dt.datetime(1970, 1, 1)) // dt.timedelta(milliseconds=1)


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------
# One batch of events
# --------------------------------------------------------------------------------------


class Batch:
    """The SQL of one batch of events.

    Batch 0 covers days [first_day, first_day + days) from `start` and caps every load at
    one hour after its last day (a snapshot of the warehouse then). A later batch
    (`load_after` set) is one day of new events plus late events of the 10 days before,
    every row loaded after `load_after`.

    Two statements, so that only narrow rows are sorted: `order_sql` computes each row's
    identity and times and sorts them by load time; `insert_sql` then derives every
    other column from those, in that order (projections only, which keeps the order).
    """

    def __init__(
        self,
        *,
        n_events: int,
        users: int,
        seed: int,
        batch: int,
        start: dt.date,
        first_day: int,
        days: int,
        load_after: dt.datetime | None = None,
    ):
        self.n_duplicates = round(n_events * DUPLICATE_FRACTION) if n_events > 1 else 0
        self.n_distinct = n_events - self.n_duplicates
        self.n_sessions = max(1, math.ceil(self.n_distinct / SESSION_SLOTS))
        self.users = users
        self.days = days
        self.user_draw = Draws(f"{seed}")  # users are the same people in every batch
        self.draw = Draws(f"{seed}:{batch}")
        self.origin_ms = _epoch_ms(dt.datetime.combine(start, dt.time()))
        self.range_start_ms = self.origin_ms + first_day * DAY_MS
        self.range_end_ms = self.range_start_ms + days * DAY_MS  # exclusive
        self.load_cap_ms = self.range_end_ms + 3_600_000
        self.appending = load_after is not None
        # a new batch's loads are shifted so that its first one comes after `load_after`
        self.load_shift_ms = (
            max(0, _epoch_ms(load_after) + 1 - self.range_start_ms) if self.appending else 0
        )

    def order_sql(self) -> str:
        """SELECT (i, dup, s, slot, uid, altered, event_ms, moved_ms, collector_ms, load_ms)
        ordered by load time: i numbers the distinct events, dup the re-delivered copies."""
        draw, slots = self.draw, SESSION_SLOTS
        session_span_ms = DAY_MS - SESSION_SLOTS * MAX_GAP_MS - 1_000
        s = f"(i // {slots})"
        if self.appending:  # a late event of a new batch happened 1-10 days before it arrives
            event_ms = (
                f"CASE WHEN late THEN GREATEST({self.origin_ms}, derived_ms - late_ms) "
                "ELSE derived_ms END"
            )
            first_load = "derived_ms + collector_ms + load_ms"
            lowest, highest = str(self.origin_ms), str(self.range_end_ms)
            dup_load = "GREATEST(first_load_ms, event_ms + moved_ms + collector_ms) + dup_delay_ms"
        else:
            event_ms = "derived_ms"
            first_load = f"""CASE WHEN late THEN LEAST(derived_ms + late_ms,
                     derived_ms + collector_ms + floor(late_fraction
                     * ({self.load_cap_ms} - derived_ms - collector_ms))::BIGINT)
                 ELSE derived_ms + collector_ms + load_ms END"""
            lowest, highest = str(self.range_start_ms), str(self.range_end_ms)
            dup_load = f"""GREATEST(first_load_ms, event_ms + moved_ms + collector_ms)
                 + LEAST(dup_delay_ms, floor(dup_fraction * ({self.load_cap_ms}
                   - GREATEST(first_load_ms, event_ms + moved_ms + collector_ms)))::BIGINT)"""
        return f"""
WITH
rows AS (
    SELECT i, NULL::BIGINT AS dup FROM range({self.n_distinct}) AS t(i)
    UNION ALL
    SELECT (hash({draw.seed}, k, 'dup') % {max(self.n_distinct, 1)})::BIGINT AS i, k AS dup
    FROM range({self.n_duplicates}) AS t(k)
),
timed AS (
    SELECT
        i, dup, {s} AS s, i % {slots} AS slot,
        -- a few heavy users, many light ones
        LEAST({self.users - 1}, floor({self.users} * pow({draw.u(s, "user")}, 1.5)))::BIGINT AS uid,
        {self.range_start_ms} + floor({draw.u(s, "day")} * {self.days})::BIGINT * {DAY_MS}
            + floor(({draw.u(s, "t1")} + {draw.u(s, "t2")}) / 2 * {session_span_ms})::BIGINT
            + (i % {slots}) * {draw.int(s, "gap", 2_000, MAX_GAP_MS)}
            + {draw.int("i", "jit", 0, 999)} AS derived_ms,
        {draw.u("i", "late")} < {LATE_FRACTION} AS late,
        {draw.int("i", "lated", DAY_MS, 10 * DAY_MS)} AS late_ms,
        {draw.u("i", "latef")} AS late_fraction,
        {draw.int("i", "coll", 20, 3000)} AS collector_ms,
        {draw.int("i", "load", 2_000, 600_000)} AS load_ms,
        -- a re-delivered copy: half of them with another time (+-6 h) and page
        dup IS NOT NULL AND {draw.u("dup", "alter")} < 0.5 AS altered,
        {draw.int("dup", "shift", -6 * 3_600_000, 6 * 3_600_000)} AS shift_ms,
        {draw.int("dup", "ddelay", 60_000, 3 * DAY_MS)} AS dup_delay_ms,
        {draw.u("dup", "dfrac")} AS dup_fraction
    FROM rows
),
placed AS (
    SELECT *, {event_ms} AS event_ms, {first_load} AS first_load_ms FROM timed
),
moved AS (
    SELECT *,
        CASE WHEN altered
             THEN LEAST({highest} - 1, GREATEST({lowest}, event_ms + shift_ms)) - event_ms
             ELSE 0 END AS moved_ms
    FROM placed
)
SELECT
    i, dup, s, slot, uid, altered, event_ms, moved_ms, collector_ms,
    CASE WHEN dup IS NULL THEN first_load_ms ELSE {dup_load} END + {self.load_shift_ms} AS load_ms
FROM moved
ORDER BY load_ms, i, dup
"""

    def insert_sql(self, order_table: str) -> str:
        """INSERT the batch into the events table from its sorted `order_table`."""
        draw, user_draw = self.draw, self.user_draw
        products = [
            _json({"sku": s, "name": n, "price": p, "category": c}) for s, n, p, c in PRODUCTS
        ]
        prices = [float(p) for _, _, p, _ in PRODUCTS]
        yauaa = [
            _json([{"operatingSystemName": os, "deviceClass": cls, "agentName": agent}])
            for _, cls, os, agent in DEVICES
        ]
        coupons = [_json(c) for c in COUPONS]
        n_products = len(PRODUCTS)
        product_slots = [
            f"(((hash({draw.seed}, i, 'prod') % {n_products}) + {offset}) % {n_products} + 1)"
            "::BIGINT"
            for offset in (0, 3, 5)
        ]
        page_key = "s, slot // 3"  # a new page every 3 slots of a session

        def col(values, index):
            return f"({list_lit(values)})[{index}]"

        def price(index):
            return f"({list_lit(prices, 'DOUBLE')})[{index}]"

        def json_col(values, index):
            """A JSON value from a constant list: no per-row parsing."""
            return f"(CAST([{', '.join(lit(v) for v in values)}] AS JSON[]))[{index}]"

        # every product list a row can hold: 1-3 products at offsets 0, 3, 5 from the first
        product_lists = [
            "["
            + ",".join(products[(first + offset) % n_products] for offset in (0, 3, 5)[:count])
            + "]"
            for count in (1, 2, 3)
            for first in range(n_products)
        ]

        def when(condition, expression):
            return f"CASE WHEN {condition} THEN {expression} END"

        # Each draw is computed once (a column), and only for the rows that use it (CASE):
        # DuckDB evaluates a CASE branch only for its rows.
        is_purchase, has_products, is_cart = "act = 6", "act IN (3, 6)", "act = 5 AND se IN (5, 6)"
        raw = f"""
    SELECT
        *,
        {draw.u("i", "act")} AS r_act,
        {draw.u("s", "ent")} AS r_ent,
        {user_draw.u("uid", "loc")} AS r_loc,
        {user_draw.u("uid", "dev")} AS r_dev,
        {draw.uuid("i", "event_id")} AS event_uuid,
        {user_draw.uuid("uid", "domain_userid")} AS user_uuid,
        {user_draw.uuid("uid", "network_userid")} AS network_uuid,
        {draw.uuid("s", "domain_sessionid")} AS session_uuid,
        {draw.uuid(page_key, "page_view_id")} AS page_view_uuid,
        CASE WHEN altered THEN {draw.int("dup", "dpage", 1, len(PAGES))}
             ELSE {draw.int(page_key, "page", 1, len(PAGES))} END AS page,
        {draw.u("i", "ids")} AS ids_roll,
        {draw.int("i", "dvce", 0, 1500)} AS dvce_ms,
        {draw.u("s", "app")} < 0.9 AS main_app,
        {draw.u("s", "login")} < 0.7 AND {user_draw.u("uid", "login")} < 0.5 AS logged_in
    FROM {order_table}"""
        drawn = f"""
    SELECT
        *,
        CASE WHEN slot = 0 THEN 2 ELSE {pick("r_act", ACTION_WEIGHTS)} END AS act,
        {pick("r_ent", ENTRANCE_WEIGHTS)} AS ent,
        {pick("r_loc", LOCATION_WEIGHTS)} AS loc,
        {pick("r_dev", DEVICE_WEIGHTS)} AS dev
    FROM ({raw}) AS raw"""
        typed = f"""
    SELECT
        *,
        {when("act = 5", pick(draw.u("i", "se"), STRUCT_WEIGHTS))} AS se,
        {when("act = 4", draw.int("i", "link", 1, len(LINK_TARGETS)))} AS link,
        {when(has_products, draw.int("i", "nprod", 1, 3))} AS np,
        {when("act IN (3, 5, 6)", product_slots[0])} AS p1,
        {when(has_products, product_slots[1])} AS p2,
        {when(has_products, product_slots[2])} AS p3,
        {when(is_purchase, draw.int("i", "q1", 1, 3))} AS q1,
        {when(is_purchase, draw.int("i", "q2", 1, 3))} AS q2,
        {when(is_purchase, draw.int("i", "q3", 1, 3))} AS q3,
        {when(is_purchase, pick(draw.u("i", "pv"), [75, 20, 5]))} AS pv,
        {when(is_purchase, pick(draw.u("i", "cur"), [50, 30, 20]))} AS cur,
        {when(is_purchase, draw.u("i", "coupon") + " < 0.4")} AS has_coupon,
        {when(is_purchase, draw.int("i", "cpn", 1, len(COUPONS)))} AS coupon,
        {when(is_purchase, draw.int("i", "order", 0, 10**8))} AS order_no,
        {when("NOT logged_in", draw.u("i", "uidr"))} AS user_id_roll
    FROM ({drawn}) AS drawn"""
        total = (
            f"{price('p1')} * q1 + CASE WHEN np >= 2 THEN {price('p2')} * q2 ELSE 0 END"
            f" + CASE WHEN np >= 3 THEN {price('p3')} * q3 ELSE 0 END"
        )
        shaped = f"""
    SELECT
        *,
        {when(is_purchase, total)} AS raw_total,
        CASE WHEN {has_products} THEN {json_col(product_lists, "(np - 1) * 8 + p1")}
             WHEN {is_cart} THEN {json_col(product_lists, "p1")} END AS products
    FROM ({typed}) AS typed"""
        purchase_json = f"""CASE WHEN act = 6 THEN concat(
        '{{"order_id":"ORD-', lpad(order_no::VARCHAR, 8, '0'),
        '","total":', round(raw_total, 2)::VARCHAR,
        ',"currency":"', {col(["GBP", "USD", "EUR"], "cur")},
        '","items":', (q1 + CASE WHEN np >= 2 THEN q2 ELSE 0 END
                       + CASE WHEN np >= 3 THEN q3 ELSE 0 END)::VARCHAR,
        CASE WHEN has_coupon THEN ',"coupon":' || {col(coupons, "coupon")} ELSE '' END,
        '}}') END"""
        struct_values = [None if e[3] is None else float(e[3]) for e in STRUCT_EVENTS]
        entrance = {
            "page_referrer": 0,
            "refr_medium": 1,
            "refr_source": 2,
            "mkt_medium": 3,
            "mkt_source": 4,
            "mkt_campaign": 5,
        }
        expressions = {
            "event_id": "event_uuid",
            "app_id": "CASE WHEN main_app THEN 'acme-web' ELSE 'acme-web-beta' END",
            "platform": "'web'",
            "event": col(
                ["page_view", "page_ping", "unstruct", "unstruct", "struct", "unstruct"], "act"
            ),
            "event_vendor": """CASE WHEN act IN (3, 6) THEN 'com.acme'
         WHEN act = 5 THEN 'com.google.analytics'
         ELSE 'com.snowplowanalytics.snowplow' END""",
            "event_name": col(
                ["page_ping", "page_view", "product_view", "link_click", "event", "purchase"], "act"
            ),
            "event_format": "'jsonschema'",
            "event_version": f"""CASE WHEN act = 4 THEN '1-0-1'
         WHEN act = 6 THEN {col(["1-0-0", "1-0-2", "2-0-0"], "pv")} ELSE '1-0-0' END""",
            "collector_tstamp": "epoch_ms(event_ms + moved_ms + collector_ms)",
            "dvce_created_tstamp": "epoch_ms(event_ms + moved_ms - dvce_ms)",
            "derived_tstamp": "epoch_ms(event_ms + moved_ms)",
            "load_tstamp": "epoch_ms(load_ms)",
            "domain_userid": """CASE WHEN ids_roll < 0.01 THEN NULL WHEN ids_roll < 0.015 THEN ''
         ELSE user_uuid END""",
            "domain_sessionid": """CASE WHEN ids_roll < 0.01 THEN NULL WHEN ids_roll < 0.015 THEN ''
         ELSE session_uuid END""",
            "domain_sessionidx": f"{draw.int('s', 'sidx', 1, 40)}::INTEGER",
            "user_id": """CASE
         WHEN logged_in THEN concat('user-', lpad(uid::VARCHAR, 6, '0'), '@acme.test')
         WHEN user_id_roll < 0.8 THEN NULL ELSE '' END""",
            "network_userid": "network_uuid",
            "geo_country": col([loc[0] for loc in LOCATIONS], "loc"),
            "geo_city": col([loc[1] for loc in LOCATIONS], "loc"),
            "page_url": f"{lit(SITE)} || {col([p for p, _ in PAGES], 'page')}",
            "page_urlpath": col([p for p, _ in PAGES], "page"),
            "page_title": col([t for _, t in PAGES], "page"),
            **{
                name: f"CASE WHEN slot < 3 THEN {col([e[n] for e in ENTRANCES], 'ent')} "
                f"ELSE {lit(INSIDE_SITE.get(name))} END"
                for name, n in entrance.items()
            },
            "se_category": f"CASE WHEN act = 5 THEN {col([e[0] for e in STRUCT_EVENTS], 'se')} END",
            "se_action": f"CASE WHEN act = 5 THEN {col([e[1] for e in STRUCT_EVENTS], 'se')} END",
            "se_label": f"""CASE
         WHEN act = 5 AND se IN (5, 6) THEN {col([s for s, _, _, _ in PRODUCTS], "p1")}
         WHEN act = 5 THEN {col([e[2] for e in STRUCT_EVENTS], "se")} END""",
            "se_value": f"""CASE WHEN act = 5 AND se IN (5, 6) THEN {price("p1")}
         WHEN act = 5 THEN ({list_lit(struct_values, "DOUBLE")})[se] END""",
            "tr_total": "CASE WHEN act = 6 THEN round(raw_total, 2) END",
            "br_lang": col([loc[3] for loc in LOCATIONS], "loc"),
            "dvce_type": col([d[0] for d in DEVICES], "dev"),
            "os_timezone": col([loc[2] for loc in LOCATIONS], "loc"),
            WEB_PAGE_CONTEXT: """concat('[{"id":"', page_view_uuid, '"}]')""",
            YAUAA_CONTEXT: json_col(yauaa, "dev"),
            PRODUCT_CONTEXT: "products",
            PURCHASE_V1: f"CASE WHEN pv < 3 THEN {purchase_json} END",
            PURCHASE_V2: f"CASE WHEN pv = 3 THEN {purchase_json} END",
            LINK_CLICK: when(
                "act = 4",
                json_col(
                    [_json({"targetUrl": t, "elementId": e}) for t, e in LINK_TARGETS], "link"
                ),
            ),
        }
        names = [name for name, _ in EVENT_COLUMNS]
        assert set(expressions) == set(names), set(names) ^ set(expressions)
        projected = ",\n    ".join(
            f"CAST({expressions[name]} AS {sql_type}) AS {name}" for name, sql_type in EVENT_COLUMNS
        )
        return (
            f"INSERT INTO {TABLE} ({', '.join(names)})\n"
            f"SELECT\n    {projected}\nFROM ({shaped}) AS shaped"
        )

    def write(self, con) -> None:
        """Insert the batch, in load order, into the events table of `con`."""
        con.execute(f"CREATE OR REPLACE TEMP TABLE bench_generator_order AS {self.order_sql()}")
        con.execute(self.insert_sql("bench_generator_order"))
        con.execute("DROP TABLE bench_generator_order")


def _prepare(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS atomic")
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in EVENT_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({columns})")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {META_TABLE} (batch INTEGER, seed BIGINT, users BIGINT, "
        "start_date DATE, first_day INTEGER, days INTEGER, events BIGINT, created_at TIMESTAMP)"
    )


def generate(
    db: str | Path,
    events: int,
    days: int,
    users: int,
    seed: int = 1,
    start: dt.date = dt.date(2025, 1, 1),
    replace: bool = True,
) -> dict:
    """Write a fresh events table (batch 0) into `db`; return what was written."""
    if events < 1 or days < 1 or users < 1:
        raise ValueError("events, days and users must be >= 1")
    started = time.perf_counter()
    with duckdb.connect(str(db)) as con:
        if replace:
            con.execute(f"DROP TABLE IF EXISTS {TABLE}")
            con.execute(f"DROP TABLE IF EXISTS {META_TABLE}")
        _prepare(con)
        if con.execute(f"SELECT count(*) FROM {META_TABLE}").fetchone()[0]:
            raise ValueError(f"{db} already holds generated events: use replace or --append-day")
        Batch(
            n_events=events, users=users, seed=seed, batch=0, start=start, first_day=0, days=days
        ).write(con)
        con.execute(
            f"INSERT INTO {META_TABLE} VALUES (0, ?, ?, ?, 0, ?, ?, now()::TIMESTAMP)",
            [seed, users, start, days, events],
        )
        con.execute("CHECKPOINT")
    return {"events": events, "days": days, "seconds": round(time.perf_counter() - started, 2)}


def append_day(db: str | Path, events: int | None = None) -> dict:
    """Append one more day of events, loaded after every row already there.

    `events` defaults to the first batch's events per day. Returns the new day (the event
    day of the appended events, i.e. the day after the newest day generated so far).
    """
    started = time.perf_counter()
    with duckdb.connect(str(db)) as con:
        meta = con.execute(
            f"SELECT max(batch), any_value(seed), any_value(users), min(start_date), "
            f"max(first_day + days), arg_min(events // days, batch) FROM {META_TABLE}"
        ).fetchone()
        if meta[0] is None:
            raise ValueError(f"{db} has no generated events: generate them first")
        batch, seed, users, start, next_day, per_day = meta
        n = events or per_day
        load_after = con.execute(f"SELECT max(load_tstamp) FROM {TABLE}").fetchone()[0]
        Batch(
            n_events=n,
            users=users,
            seed=seed,
            batch=batch + 1,
            start=start,
            first_day=next_day,
            days=1,
            load_after=load_after,
        ).write(con)
        con.execute(
            f"INSERT INTO {META_TABLE} VALUES (?, ?, ?, ?, ?, 1, ?, now()::TIMESTAMP)",
            [batch + 1, seed, users, start, next_day, n],
        )
        con.execute("CHECKPOINT")
    day = start + dt.timedelta(days=next_day)
    return {"events": n, "day": day, "seconds": round(time.perf_counter() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="DuckDB file (created if missing)")
    parser.add_argument("--events", type=int, default=None, help="events (rows) to write")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    parser.add_argument(
        "--append-day",
        action="store_true",
        help="append one more day (default size: events per day of the first batch)",
    )
    args = parser.parse_args(argv)
    if args.append_day:
        result = append_day(args.db, args.events)
        print(
            f"appended {result['events']} events for {result['day']} in {result['seconds']} s",
            file=sys.stderr,
        )
    else:
        result = generate(
            args.db, args.events or 10_000_000, args.days, args.users, args.seed, args.start
        )
        print(
            f"wrote {result['events']} events over {result['days']} days in {result['seconds']} s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
