"""Seeded generator of realistic Snowplow atomic events, for tests, demos and benchmarks.

The rows look like what a web shop tracked with Snowplow lands in ``atomic.events``:
sessions of page views and pings, link clicks, product views, structured events and
purchases, with the awkward parts the attribute semantics must survive: missing
users, NULL / '' keys, several versions of one schema, events that arrive days late
and event_ids delivered twice.

``generate_events`` is deterministic for a seed (it uses only its own ``random.Random``),
so a test can regenerate exactly the same data.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate

# --------------------------------------------------------------------------------------
# Table layout
# --------------------------------------------------------------------------------------

WEB_PAGE_CONTEXT = "contexts_com_snowplowanalytics_snowplow_web_page_1"
YAUAA_CONTEXT = "contexts_nl_basjes_yauaa_context_1"
PRODUCT_CONTEXT = "contexts_com_acme_product_1"
PURCHASE_V1 = "unstruct_event_com_acme_purchase_1"
PURCHASE_V2 = "unstruct_event_com_acme_purchase_2"
LINK_CLICK = "unstruct_event_com_snowplowanalytics_snowplow_link_click_1"

EVENT_COLUMNS: list[tuple[str, str]] = [
    ("event_id", "VARCHAR"),
    ("app_id", "VARCHAR"),
    ("platform", "VARCHAR"),
    ("event", "VARCHAR"),
    ("event_vendor", "VARCHAR"),
    ("event_name", "VARCHAR"),
    ("event_format", "VARCHAR"),
    ("event_version", "VARCHAR"),
    ("collector_tstamp", "TIMESTAMP"),
    ("dvce_created_tstamp", "TIMESTAMP"),
    ("derived_tstamp", "TIMESTAMP"),
    ("load_tstamp", "TIMESTAMP"),
    ("domain_userid", "VARCHAR"),
    ("domain_sessionid", "VARCHAR"),
    ("domain_sessionidx", "INTEGER"),
    ("user_id", "VARCHAR"),
    ("network_userid", "VARCHAR"),
    ("geo_country", "VARCHAR"),
    ("geo_city", "VARCHAR"),
    ("page_url", "VARCHAR"),
    ("page_urlpath", "VARCHAR"),
    ("page_title", "VARCHAR"),
    ("page_referrer", "VARCHAR"),
    ("refr_medium", "VARCHAR"),
    ("refr_source", "VARCHAR"),
    ("mkt_medium", "VARCHAR"),
    ("mkt_source", "VARCHAR"),
    ("mkt_campaign", "VARCHAR"),
    ("se_category", "VARCHAR"),
    ("se_action", "VARCHAR"),
    ("se_label", "VARCHAR"),
    ("se_value", "DOUBLE"),
    ("tr_total", "DOUBLE"),
    ("br_lang", "VARCHAR"),
    ("dvce_type", "VARCHAR"),
    ("os_timezone", "VARCHAR"),
    (WEB_PAGE_CONTEXT, "JSON"),
    (YAUAA_CONTEXT, "JSON"),
    (PRODUCT_CONTEXT, "JSON"),
    (PURCHASE_V1, "JSON"),
    (PURCHASE_V2, "JSON"),
    (LINK_CLICK, "JSON"),
]
COLUMN_NAMES = [name for name, _ in EVENT_COLUMNS]

# --------------------------------------------------------------------------------------
# Vocabulary of the fake shop
# --------------------------------------------------------------------------------------

SNOWPLOW = "com.snowplowanalytics.snowplow"
ACME = "com.acme"
GOOGLE_ANALYTICS = "com.google.analytics"

SITE = "https://shop.acme.com"

# (geo_country, geo_city, os_timezone, br_lang); None = the geo lookup failed.
LOCATIONS = [
    ("GB", "London", "Europe/London", "en-GB"),
    ("GB", "Manchester", "Europe/London", "en-GB"),
    ("US", "New York", "America/New_York", "en-US"),
    ("DE", "Berlin", "Europe/Berlin", "de-DE"),
    ("FR", "Paris", "Europe/Paris", "fr-FR"),
    ("NL", "Amsterdam", "Europe/Amsterdam", "nl-NL"),
    (None, None, "UTC", "en"),
]
LOCATION_WEIGHTS = [30, 10, 20, 12, 10, 8, 10]

# (dvce_type, yauaa deviceClass, operatingSystemName, agentName)
DEVICES = [
    ("Computer", "Desktop", "Windows NT", "Chrome"),
    ("Computer", "Desktop", "Mac OS", "Safari"),
    ("Mobile", "Phone", "Android", "Chrome Webview"),
    ("Mobile", "Phone", "iOS", "Mobile Safari"),
    ("Tablet", "Tablet", "iPadOS", "Mobile Safari"),
]
DEVICE_WEIGHTS = [35, 20, 20, 20, 5]

# (sku, name, price, category); prices mix JSON ints and two-decimal floats on purpose.
PRODUCTS = [
    ("SKU-001", "Trail running shoes", 89.99, "shoes"),
    ("SKU-002", "Wool socks", 5, "accessories"),
    ("SKU-003", "Rain jacket", 120, "outerwear"),
    ("SKU-004", "Water bottle", 19.99, "accessories"),
    ("SKU-005", "Headlamp", 34.5, "gear"),
    ("SKU-006", "Energy gel", 2.25, "nutrition"),
    ("SKU-007", "Hiking boots", 149.95, "shoes"),
    ("SKU-008", "Cap", 12, "accessories"),
]

# (page_urlpath, page_title); product pages are added from PRODUCTS.
CONTENT_PAGES = [
    ("/", "Acme shop"),
    ("/products", "All products"),
    ("/cart", "Your cart"),
    ("/checkout", "Checkout"),
    ("/faq", "FAQ"),
    ("/contact-us", "Contact us"),
    ("/blog/spring-sale", "Spring sale: it's 10% off"),
    ("/blog/how-to-choose-shoes", "How to choose shoes"),
]
PAGES = CONTENT_PAGES + [(f"/products/{sku.lower()}", name) for sku, name, _, _ in PRODUCTS]

# How a session arrives: (page_referrer, refr_medium, refr_source, mkt_medium, mkt_source,
# mkt_campaign). The first entry is a direct visit.
ENTRANCES = [
    (None, None, None, None, None, None),
    ("https://www.google.com/", "search", "Google", None, None, None),
    ("https://www.bing.com/", "search", "Bing", None, None, None),
    ("https://www.facebook.com/", "social", "Facebook", "social", "facebook", "spring_sale"),
    ("https://mail.acme.com/", "email", None, "email", "newsletter", "weekly_digest"),
    ("https://partner.example.org/", "unknown", None, "cpc", "partner", "it's 10% off"),
]
ENTRANCE_WEIGHTS = [30, 30, 8, 12, 12, 8]

LINK_TARGETS = [
    ("https://www.instagram.com/acme", "footer-instagram"),
    ("https://help.acme.com/returns", "returns-link"),
    ("https://www.youtube.com/acme", "video-link"),
    ("https://partner.example.org/deal?x=1", "partner-banner"),
]

# (se_category, se_action, se_label, se_value or None); add_to_cart carries a product.
STRUCT_EVENTS = [
    ("video", "play", "intro", None),
    ("video", "pause", "intro", 12.5),
    ("ui", "click", "newsletter-signup", None),
    ("ui", "scroll", "50%", 50),
    ("cart", "add_to_cart", None, None),
    ("cart", "remove_from_cart", None, None),
]
STRUCT_WEIGHTS = [10, 5, 8, 12, 12, 3]

COUPONS = ["SPRING10", "it's 10%", "50%_OFF", 'VIP "gold"', "'; drop table x; --", ""]

# Next action inside a session after a page view; weights tuned for a plausible mix.
ACTIONS = ["page_ping", "page_view", "product_view", "link_click", "struct", "purchase"]
ACTION_WEIGHTS = [38, 24, 14, 6, 14, 4]

MS_PER_SECOND = 1000
MS_PER_MINUTE = 60 * MS_PER_SECOND
MS_PER_HOUR = 60 * MS_PER_MINUTE
MS_PER_DAY = 24 * MS_PER_HOUR


# --------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------


@dataclass
class _User:
    domain_userid: str
    network_userid: str
    login_id: str | None
    location: tuple
    device: tuple
    activity: float  # relative weight: a few heavy users, many light ones

    @cached_property
    def yauaa_context(self) -> str:
        _, device_class, os_name, agent = self.device
        return _json(
            [{"operatingSystemName": os_name, "deviceClass": device_class, "agentName": agent}]
        )


@dataclass
class _Session:
    user: _User
    domain_sessionid: str
    start_ms: int
    app_id: str
    logged_in: bool
    entrance: tuple
    rows: list[dict] = field(default_factory=list)


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class _EventFactory:
    """Builds sessions of events; all instants are integer milliseconds from ``start``."""

    def __init__(self, rng: random.Random, start: dt.date, days: int):
        self.rng = rng
        self.origin = dt.datetime.combine(start, dt.time())
        self.range_ms = days * MS_PER_DAY

    # ---- identifiers -------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def instant(self, ms: int) -> dt.datetime:
        return self.origin + dt.timedelta(milliseconds=ms)

    def new_user(self, number: int) -> _User:
        rng = self.rng
        return _User(
            domain_userid=self.uuid(),
            network_userid=self.uuid(),
            login_id=f"user-{number:05d}@acme.test" if rng.random() < 0.5 else None,
            location=rng.choices(LOCATIONS, LOCATION_WEIGHTS)[0],
            device=rng.choices(DEVICES, DEVICE_WEIGHTS)[0],
            activity=rng.paretovariate(1.5),
        )

    # ---- sessions ----------------------------------------------------------------------

    def session(self, user: _User, day: int, n_events: int) -> _Session:
        """One visit of ``n_events`` events on day ``day`` (0-based) of the range."""
        rng = self.rng
        # Daytime-heavy start, then keep the whole visit inside the generated range.
        start_ms = day * MS_PER_DAY + int(rng.triangular(0, MS_PER_DAY, 0.6 * MS_PER_DAY))
        session = _Session(
            user=user,
            domain_sessionid=self.uuid(),
            start_ms=start_ms,
            app_id="acme-web" if rng.random() < 0.9 else "acme-web-beta",
            logged_in=user.login_id is not None and rng.random() < 0.7,
            entrance=rng.choices(ENTRANCES, ENTRANCE_WEIGHTS)[0],
        )
        # Seconds to minutes between events; tighter when a huge visit must fit the range.
        longest_gap = min(3 * MS_PER_MINUTE, self.range_ms // (2 * n_events))
        shortest_gap = min(2 * MS_PER_SECOND, longest_gap)
        offsets = [0]
        for _ in range(n_events - 1):
            offsets.append(offsets[-1] + rng.randint(shortest_gap, longest_gap))
        latest_start = self.range_ms - 1 - offsets[-1]
        session.start_ms = max(0, min(start_ms, latest_start))

        page: dict = {}  # fields every event on the current page repeats
        for index, offset in enumerate(offsets):
            action = "page_view" if index == 0 else rng.choices(ACTIONS, ACTION_WEIGHTS)[0]
            if action == "page_view":
                row, page = self._page_view(session, page)
            elif action == "page_ping":
                row = self._base(session, "page_ping", SNOWPLOW, "page_ping", "1-0-0")
            elif action == "product_view":
                row = self._product_view(session)
            elif action == "link_click":
                row = self._link_click(session)
            elif action == "struct":
                row = self._struct(session)
            else:
                row = self._purchase(session)
            row.update(page)
            self._place(row, session, session.start_ms + offset)
            session.rows.append(row)
        return session

    # ---- rows --------------------------------------------------------------------------

    def _base(self, session: _Session, event: str, vendor: str, name: str, version: str):
        row = dict.fromkeys(COLUMN_NAMES)
        row.update(
            event_id=self.uuid(),
            app_id=session.app_id,
            platform="web",
            event=event,
            event_vendor=vendor,
            event_name=name,
            event_format="jsonschema",
            event_version=version,
        )
        return row

    def _place(self, row, session: _Session, derived_ms: int) -> None:
        """Fill what every event of the session shares: time, identity, device."""
        rng = self.rng
        user = session.user
        country, city, timezone, language = user.location
        dvce_type = user.device[0]

        row["derived_tstamp"] = self.instant(derived_ms)
        row["collector_tstamp"] = self.instant(derived_ms + rng.randint(20, 3000))
        row["dvce_created_tstamp"] = self.instant(derived_ms - rng.randint(0, 1500))

        row["domain_userid"] = user.domain_userid
        row["domain_sessionid"] = session.domain_sessionid
        row["network_userid"] = user.network_userid
        roll = rng.random()
        if roll < 0.01:  # server-side event: no browser cookie at all
            row["domain_userid"] = row["domain_sessionid"] = None
        elif roll < 0.015:  # broken tracker config: cookie written as empty string
            row["domain_userid"] = row["domain_sessionid"] = ""
        if session.logged_in:
            row["user_id"] = user.login_id
        else:
            row["user_id"] = None if rng.random() < 0.8 else ""

        row.update(
            geo_country=country,
            geo_city=city,
            br_lang=language,
            dvce_type=dvce_type,
            os_timezone=timezone,
        )
        row[YAUAA_CONTEXT] = user.yauaa_context

    def _page_view(self, session: _Session, previous: dict) -> tuple[dict, dict]:
        """A page view and the page fields the following events on that page repeat."""
        row = self._base(session, "page_view", SNOWPLOW, "page_view", "1-0-0")
        path, title = self.rng.choice(PAGES)
        page = {
            "page_urlpath": path,
            "page_url": SITE + path,
            "page_title": title,
            WEB_PAGE_CONTEXT: _json([{"id": self.uuid()}]),
        }
        if not previous:  # landing page: the session's entrance
            referrer, medium, source, mkt_medium, mkt_source, campaign = session.entrance
            page.update(
                page_referrer=referrer,
                refr_medium=medium,
                refr_source=source,
                mkt_medium=mkt_medium,
                mkt_source=mkt_source,
                mkt_campaign=campaign,
            )
        else:
            page.update(
                page_referrer=previous["page_url"],
                refr_medium="internal",
                refr_source=None,
                mkt_medium=None,
                mkt_source=None,
                mkt_campaign=None,
            )
        return row, page

    def _products(self, count: int) -> list[dict]:
        chosen = self.rng.sample(PRODUCTS, count)
        return [{"sku": s, "name": n, "price": p, "category": c} for s, n, p, c in chosen]

    def _product_view(self, session: _Session):
        row = self._base(session, "unstruct", ACME, "product_view", "1-0-0")
        row[PRODUCT_CONTEXT] = _json(self._products(self.rng.randint(1, 3)))
        return row

    def _link_click(self, session: _Session):
        row = self._base(session, "unstruct", SNOWPLOW, "link_click", "1-0-1")
        target, element = self.rng.choice(LINK_TARGETS)
        row[LINK_CLICK] = _json({"targetUrl": target, "elementId": element})
        return row

    def _struct(self, session: _Session):
        rng = self.rng
        row = self._base(session, "struct", GOOGLE_ANALYTICS, "event", "1-0-0")
        category, action, label, value = rng.choices(STRUCT_EVENTS, STRUCT_WEIGHTS)[0]
        if category == "cart":
            products = self._products(1)
            label = products[0]["sku"]
            value = products[0]["price"]
            row[PRODUCT_CONTEXT] = _json(products)
        row.update(
            se_category=category,
            se_action=action,
            se_label=label,
            se_value=None if value is None else float(value),
        )
        return row

    def _purchase(self, session: _Session):
        rng = self.rng
        # Mostly 1-0-0, some 1-0-2 (same major) and a few 2-0-0 (another column).
        version = rng.choices(["1-0-0", "1-0-2", "2-0-0"], [75, 20, 5])[0]
        row = self._base(session, "unstruct", ACME, "purchase", version)
        products = self._products(rng.randint(1, 3))
        quantities = [rng.randint(1, 3) for _ in products]
        total = round(sum(p["price"] * q for p, q in zip(products, quantities, strict=True)), 2)
        payload = {
            "order_id": f"ORD-{rng.randint(0, 10**8):08d}",
            "total": total,
            "currency": rng.choices(["GBP", "USD", "EUR"], [50, 30, 20])[0],
            "items": sum(quantities),
        }
        if rng.random() < 0.4:
            payload["coupon"] = rng.choice(COUPONS)
        row[PURCHASE_V2 if version.startswith("2-") else PURCHASE_V1] = _json(payload)
        row[PRODUCT_CONTEXT] = _json(products)
        row["tr_total"] = float(total)
        return row


def _user_days(rng: random.Random, users: list[_User], days: int):
    """Endless (user, day) visits, heavy users more often, each pair once per round.

    A new round (pairs seen again) starts only when picks keep hitting used pairs, which
    happens when users x days is small for the number of events asked for.
    """
    cumulative = list(accumulate(user.activity for user in users))
    indexes = range(len(users))
    seen: set[tuple[int, int]] = set()
    misses = 0
    while True:
        index = rng.choices(indexes, cum_weights=cumulative)[0]
        day = rng.randrange(days)
        if (index, day) in seen:
            misses += 1
            if misses > 50:
                seen.clear()
            continue
        misses = 0
        seen.add((index, day))
        yield users[index], day


def generate_events(
    n_events: int,
    days: int,
    users: int,
    seed: int,
    start: dt.date,
    late_fraction: float = 0.05,
    duplicate_fraction: float = 0.03,
) -> list[dict]:
    """Return ``n_events`` atomic event rows (dicts keyed by ``COLUMN_NAMES``).

    ``round(n_events * duplicate_fraction)`` of them are re-delivered copies of another
    row's event_id (loaded later); the rest are distinct events whose ``derived_tstamp``
    lies in ``[start, start + days)``. ``late_fraction`` of the distinct events load
    1-10 days after they happened, the others seconds to minutes after. Rows come
    sorted by ``load_tstamp``. Timestamps are naive UTC with whole milliseconds; JSON
    columns hold compact JSON text or None.
    """
    if n_events < 0 or days < 1 or users < 1:
        raise ValueError("n_events must be >= 0, days and users >= 1")
    rng = random.Random(seed)
    factory = _EventFactory(rng, start, days)
    n_duplicates = round(n_events * duplicate_fraction) if n_events > 1 else 0
    n_distinct = n_events - n_duplicates

    sessions = _generate_sessions(rng, factory, days, users, n_distinct)
    distinct = _number_sessions(sessions)[:n_distinct]
    _assign_load_times(rng, factory, distinct, late_fraction)
    duplicates = _redeliver(rng, factory, distinct, n_duplicates)

    rows = distinct + duplicates
    rows.sort(key=lambda row: (row["load_tstamp"], row["event_id"]))
    return rows


def _generate_sessions(rng, factory: _EventFactory, days, users, n_distinct):
    people = [factory.new_user(number) for number in range(users)]
    visits = _user_days(rng, people, days)
    # About 2 sessions of ~8 events per active user-day; when users x days is too small
    # for that, sessions get longer rather than users getting more than 3 a day.
    active_user_days = max(1, min(users * days, n_distinct // 16))
    mean_length = max(2.0, n_distinct / (2 * active_user_days))
    sessions: list[_Session] = []
    produced = 0
    while produced < n_distinct:
        user, day = next(visits)
        for _ in range(rng.randint(1, 3)):
            length = round(rng.expovariate(1 / mean_length))
            length = max(1, min(n_distinct - produced, length))
            sessions.append(factory.session(user, day, length))
            produced += length
            if produced >= n_distinct:
                break
    return sessions


def _number_sessions(sessions: list[_Session]) -> list[dict]:
    """Set domain_sessionidx in time order per user; return all rows by derived time."""
    by_user: dict[str, list[_Session]] = {}
    for session in sessions:
        by_user.setdefault(session.user.domain_userid, []).append(session)
    for user_sessions in by_user.values():
        user_sessions.sort(key=lambda s: s.start_ms)
        for index, session in enumerate(user_sessions, start=1):
            for row in session.rows:
                row["domain_sessionidx"] = index
    rows = [row for session in sessions for row in session.rows]
    rows.sort(key=lambda row: (row["derived_tstamp"], row["event_id"]))
    return rows


def _assign_load_times(rng, factory: _EventFactory, rows: list[dict], late_fraction: float):
    late = set(rng.sample(range(len(rows)), round(len(rows) * late_fraction)))
    for index, row in enumerate(rows):
        if index in late:
            delay = rng.randint(MS_PER_DAY, 10 * MS_PER_DAY)
            row["load_tstamp"] = row["derived_tstamp"] + dt.timedelta(milliseconds=delay)
        else:
            delay = rng.randint(2 * MS_PER_SECOND, 10 * MS_PER_MINUTE)
            row["load_tstamp"] = row["collector_tstamp"] + dt.timedelta(milliseconds=delay)


def _redeliver(rng, factory: _EventFactory, rows: list[dict], count: int) -> list[dict]:
    """Copies of existing event_ids loaded later: half byte-identical, half altered
    (another derived_tstamp and page, as a buggy tracker retry can produce)."""
    if not rows:
        return []
    range_end = factory.instant(factory.range_ms - 1)
    copies = []
    for _ in range(count):
        original = rng.choice(rows)
        copy = dict(original)
        if rng.random() < 0.5:
            shift = dt.timedelta(milliseconds=rng.choice([-1, 1]) * rng.randint(1, 6 * MS_PER_HOUR))
            derived = min(max(original["derived_tstamp"] + shift, factory.origin), range_end)
            shift = derived - original["derived_tstamp"]
            path, title = rng.choice(PAGES)
            copy.update(
                derived_tstamp=derived,
                collector_tstamp=original["collector_tstamp"] + shift,
                dvce_created_tstamp=original["dvce_created_tstamp"] + shift,
                page_urlpath=path,
                page_url=SITE + path,
                page_title=title,
            )
        # Loaded after the first copy and, like any event, after it was collected.
        delay = dt.timedelta(milliseconds=rng.randint(MS_PER_MINUTE, 3 * MS_PER_DAY))
        copy["load_tstamp"] = max(original["load_tstamp"], copy["collector_tstamp"]) + delay
        copies.append(copy)
    return copies


# --------------------------------------------------------------------------------------
# DuckDB
# --------------------------------------------------------------------------------------


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _qualified(table: str) -> str:
    return ".".join(_quote(part) for part in table.split("."))


def count_events(con, table: str = "atomic.events") -> int:
    """How many rows an existing events table holds."""
    [(rows,)] = con.execute(f"SELECT count(*) FROM {_qualified(table)}").fetchall()
    return rows


def create_events_table(con, table: str = "atomic.events") -> None:
    """Create the schema (when ``table`` is qualified) and the table, if missing."""
    parts = table.split(".")
    if len(parts) > 1:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_qualified('.'.join(parts[:-1]))}")
    columns = ", ".join(f"{_quote(name)} {sql_type}" for name, sql_type in EVENT_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {_qualified(table)} ({columns})")


def write_events(con, rows: list[dict], table: str = "atomic.events") -> None:
    """Insert ``rows`` (missing keys = NULL) into an existing events table.

    Uses DuckDB's bulk appender (about 1 s for 50k rows; executemany takes ~2 min).
    Older duckdb without ``appender``: one INSERT that UNNESTs one list per column.
    """
    if not rows:
        return
    if hasattr(con, "appender"):
        appender = con.appender(table, columns=COLUMN_NAMES)
        appender.append_rows([tuple(row.get(name) for name in COLUMN_NAMES) for row in rows])
        appender.flush()
        return
    column_values = [[row.get(name) for row in rows] for name in COLUMN_NAMES]
    selects = ", ".join(
        f"CAST(UNNEST(${position}) AS {sql_type})"
        for position, (_, sql_type) in enumerate(EVENT_COLUMNS, start=1)
    )
    names = ", ".join(_quote(name) for name in COLUMN_NAMES)
    con.execute(f"INSERT INTO {_qualified(table)} ({names}) SELECT {selects}", column_values)


# --------------------------------------------------------------------------------------
# Arrival batches
# --------------------------------------------------------------------------------------


def loads(rows: list[dict], n_batches: int) -> list[list[dict]]:
    """Split rows into ``n_batches`` arrival batches in ``load_tstamp`` order.

    Each batch is a contiguous load-time slice with about the same number of rows, and
    rows sharing a ``load_tstamp`` always land in the same batch, so "load_tstamp
    greater than the newest already processed" picks up exactly the next batch.
    """
    if n_batches < 1:
        raise ValueError("n_batches must be >= 1")
    ordered = sorted(rows, key=lambda row: row["load_tstamp"])
    stamps = [row["load_tstamp"] for row in ordered]
    batches = []
    begin = 0
    for number in range(1, n_batches + 1):
        end = round(number * len(ordered) / n_batches)
        if 0 < end < len(ordered):
            end = bisect_left(stamps, stamps[end])  # never split one load instant
        end = max(end, begin)
        batches.append(ordered[begin:end])
        begin = end
    return batches
