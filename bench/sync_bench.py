"""Benchmark of `signals-batch sync` into redis, side by side with Feast's `materialize`.

    python bench/sync_bench.py                          # 1M rows + 5M rows (the published run)
    python bench/sync_bench.py --rows 20000 --big-rows 50000    # a quick check

What it measures, in one run, against one redis-server it starts on a free loopback port in
a temp dir (no persistence):

(a) the first sync of --rows rows x 20 attributes (strings, ints, doubles, bools, a
    timestamp, a list and a dict; group ttl 90 days, two attributes with a ttl of their own)
    through the real code path (`signals_batch.sync.syncer.sync_groups` with a `RedisStore`)
    in a child process: rows/s and the child's peak RSS (VmHWM);
(b) a second sync with nothing changed: its time (sync_groups, and the whole process);
(c) the first sync of --big-rows rows: its peak RSS (target < 300 MB) and rows/s;
(d) Feast's `materialize` of the same --rows rows, from a Parquet file source, into the same
    redis-server: the baseline a user would otherwise pick. Feast runs in a virtualenv of its
    own (--feast-python; made with `pip install 'feast[redis]'` when missing) so its pins
    never touch this project's environment.

The tables are built with SQL in a DuckDB file, shaped like an attribute table (key column,
one column per attribute; updated_at is the start of one of the last 30 daily runs). Results
go to BENCHMARKS.md between the markers `<!-- BEGIN sync-bench -->` and
`<!-- END sync-bench -->` only.
Targets: >= 100k rows/s into redis, >= 10x Feast, a no-change sync < 1 s, 5M rows < 300 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # this checkout's signals_batch, whatever is installed
sys.path.insert(0, str(BENCH))

from report import replace_section  # noqa: E402  (bench/report.py)

TARGETS = {"rows_per_second": 100_000, "vs_feast": 10.0, "no_change_seconds": 1.0,
           "big_rss_mb": 300.0}
DEFAULT_FEAST_PYTHON = "/tmp/feast-venv/bin/python"

KEY = "user_id"
TTL_DAYS = 90
#: updated_at is the start of the daily run that last changed the row, as in a table the
#: engine keeps: RUN_DAYS distinct values, the rows of one run ordered by key
RUN_DAYS = 30
# name -> (declared type, aggregation fields of the definition, SQL of the value from i)
# (the definitions are valid signals-batch attributes; the values are made up with SQL)
ATTRIBUTES: dict[str, tuple[str, dict[str, Any], str]] = {
    "last_app_id": ("string", {"aggregation": "last", "property": "app_id"},
                    "'acme-' || (i % 7)"),
    "last_page_url": ("string", {"aggregation": "last", "property": "page_url"},
                      "CASE WHEN i % 5 = 0 THEN NULL "
                      "ELSE 'https://shop.example.com/p/' || (i % 997) || '?ref=home' END"),
    "last_country": ("string", {"aggregation": "last", "property": "geo_country",
                                "ttl": "P30D"},
                     "['GB', 'US', 'DE', 'FR', 'NL'][1 + i % 5]"),
    "first_session_id": ("string", {"aggregation": "first", "property": "domain_sessionid"},
                         "printf('%016x-%04x', hash(i), i % 65536)"),
    "page_views_7d": ("int64", {"aggregation": "counter", "period": "P7D"}, "i * 7 % 1000"),
    "sessions_30d": ("int64", {"aggregation": "approx_count_distinct",
                               "property": "domain_sessionid", "period": "P30D"}, "i % 13"),
    "link_clicks_30d": ("int64", {"aggregation": "counter", "period": "P30D"},
                        "i * 31 % 10007"),
    "purchases": ("int64", {"aggregation": "counter"}, "i % 4"),
    "active_days_30d": ("int32", {"aggregation": "approx_count_distinct", "period": "P30D",
                                  "property": {"type": "atomic", "name": "derived_tstamp",
                                               "date_part": "active_day"}},
                        "CAST(i % 31 AS INTEGER)"),
    "max_screen_width": ("int32", {"aggregation": "max", "property": "dvce_screenwidth"},
                         "CAST(320 + i % 2240 AS INTEGER)"),
    "revenue_30d": ("double", {"aggregation": "sum", "property": "tr_total", "period": "P30D"},
                    "(i % 100000) / 7.0"),
    "mean_order_value": ("double", {"aggregation": "mean", "property": "tr_total"},
                         "CASE WHEN i % 3 = 0 THEN NULL ELSE (i % 5000) / 3.0 END"),
    "max_order_value": ("double", {"aggregation": "max", "property": "tr_total"},
                        "(i % 977) * 1.25"),
    "last_cookies": ("bool", {"aggregation": "last", "property": "br_cookies"}, "i % 2 = 0"),
    "last_is_mobile": ("bool", {"aggregation": "last", "property": "dvce_ismobile"},
                       "i % 3 = 0"),
    "first_seen": ("timestamp", {"aggregation": "first", "property": "derived_tstamp",
                                 "ttl": "P30D"},
                   "TIMESTAMP '2025-01-01' + to_seconds(CAST(i % 8640000 AS BIGINT))"),
    "seconds_since_last": ("int64", {"aggregation": "time_since_last",
                                     "property": "derived_tstamp", "time_unit": "s"},
                           "i % 86400"),
    "categories_30d": ("string_list", {"aggregation": "unique_list", "property": "page_title",
                                       "period": "P30D"},
                       "CASE i % 4 WHEN 0 THEN []::VARCHAR[] WHEN 1 THEN ['cat_' || (i % 9)] "
                       "WHEN 2 THEN ['cat_' || (i % 9), 'cat_' || ((i + 1) % 9)] "
                       "ELSE ['books', 'garden', 'cat_' || (i % 9)] END"),
    "category_counts": ("dict", {"aggregation": "category_count", "property": "page_title"},
                        "CAST('{\"books\":' || (i % 10) || ',\"garden\":' || (i % 3) || '}' "
                        "AS JSON)"),
    "favourite_category": ("string", {"aggregation": "most_frequent",
                                      "property": "page_title"},
                           "'cat_' || (i % 9)"),
}
SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER", "double": "DOUBLE",
             "bool": "BOOLEAN", "timestamp": "TIMESTAMP", "string_list": "VARCHAR[]",
             "dict": "JSON"}


def group_definition(name: str) -> dict[str, Any]:
    """The attribute group whose table the bench syncs, as a definition."""
    return {
        "name": name,
        "version": 1,
        "attribute_key": KEY,
        "owner": "bench@example.com",
        "ttl": f"P{TTL_DAYS}D",
        "attributes": [{"name": n, "type": t, "events": [], **spec}
                       for n, (t, spec, _) in ATTRIBUTES.items()],
    }


def table_name(rows: int) -> str:
    return f"sync_{rows}_v1_attributes"


def group_name(rows: int) -> str:
    return f"sync_{rows}"


# --------------------------------------------------------------------------------------
# Child: one sync in its own process (peak RSS is the child's own)
# --------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process' peak resident set (VmHWM), in MB."""
    status = Path("/proc/self/status")
    if status.exists():
        match = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
        if match:
            return int(match.group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_sync(db: str, url: str, rows: int) -> None:
    """Sync the table of `rows` rows into redis once; print the numbers as JSON."""
    process_started = float(os.environ.get("SYNC_BENCH_STARTED", time.time()))
    import duckdb

    from signals_batch.definitions.models import AttributeGroup
    from signals_batch.stores.redis_store import RedisStore
    from signals_batch.sync.syncer import sync_groups

    group = AttributeGroup.model_validate(group_definition(group_name(rows)))
    rss_before = peak_rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    store = RedisStore(url)
    con = duckdb.connect(db)
    try:
        summary = sync_groups(con, [group], store, "main")
    finally:
        con.close()
        store.close()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    (result,) = summary.groups
    print(json.dumps({
        "seconds": seconds,
        "process_seconds": time.time() - process_started,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu,
        "rows_read": result.rows_read,
        "rows_written": result.rows_written,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_sync_mb": rss_before,
    }))


# --------------------------------------------------------------------------------------
# Parent: data, redis-server, Feast
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, directory: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found (apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory),
             "--save", "", "--appendonly", "no", "--logfile", str(directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        self.client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        self.version = self.client.info("server")["redis_version"]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def used_memory_mb(self) -> float:
        return self.client.info("memory")["used_memory"] / 2**20

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(30)


def build_table(db: Path, rows: int, now: dt.datetime) -> float:
    """The attribute table of `rows` rows, made with SQL; seconds it took."""
    import duckdb

    started = time.perf_counter()
    columns = ",\n  ".join(f"CAST({sql} AS {SQL_TYPES[t]}) AS {name}"
                           for name, (t, _, sql) in ATTRIBUTES.items())
    con = duckdb.connect(str(db))
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"""
            create or replace table {table_name(rows)} as
            select 'user_' || lpad(CAST(i AS VARCHAR), 9, '0') AS {KEY},
              {columns},
              TIMESTAMP '{now.isoformat()}' - to_days(CAST(hash(i) % {RUN_DAYS} AS INTEGER))
                AS updated_at
            from range({rows}) r(i)""")
    finally:
        con.close()
    return time.perf_counter() - started


def run_sync(db: Path, url: str, rows: int, redis_server: RedisServer) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]).rstrip(os.pathsep), "SYNC_BENCH_STARTED": repr(time.time())}
    cpu = redis_server.cpu_seconds()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child-sync", str(db),
         "--url", url, "--rows", str(rows)],
        capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the sync failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["redis_cpu_seconds"] = redis_server.cpu_seconds() - cpu
    result["rows_per_second"] = result["rows_read"] / result["seconds"]
    return result


def check_store(url: str, rows: int, db: Path) -> int:
    """Keys in redis for the group; one key read back and compared with the table."""
    import duckdb

    from signals_batch.stores.redis_store import RedisStore

    store = RedisStore(url)
    con = duckdb.connect(str(db), read_only=True)
    try:
        count = store.count(f"{group_name(rows)}_v1")
        key = f"user_{rows // 2 + 1:09d}"
        found = store.get(f"{group_name(rows)}_v1", key)
        (page_views,) = con.execute(
            f"select page_views_7d from {table_name(rows)} where {KEY} = ?", [key]).fetchone()
        if found is None or found["page_views_7d"] != page_views:
            import redis

            client = redis.Redis.from_url(url)
            redis_key = f"signals:{group_name(rows)}_v1:{key}"
            raise SystemExit(f"{key}: the store has {found}, the table {page_views}; redis: "
                             f"{client.hgetall(redis_key)}, pttl {client.pttl(redis_key)}, "
                             f"{client.dbsize()} keys")
        return count
    finally:
        con.close()
        store.close()


# --------------------------------------------------------------------------------------
# Feast
# --------------------------------------------------------------------------------------

FEAST_SCRIPT = '''
import datetime as dt, json, os, re, resource, sys, time
from pathlib import Path
repo, parquet, port, start, end, ttl_days = sys.argv[1:7]
import feast
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Bool, Float64, Int32, Int64, String, UnixTimestamp
TYPES = {"string": String, "int64": Int64, "int32": Int32, "double": Float64, "bool": Bool,
         "timestamp": UnixTimestamp, "string_list": Array(String), "dict": String}
attributes = json.loads(os.environ["SYNC_BENCH_ATTRIBUTES"])
Path(repo).mkdir(parents=True, exist_ok=True)
Path(repo, "feature_store.yaml").write_text(f"""project: sync_bench
registry: {repo}/registry.db
provider: local
online_store:
  type: redis
  connection_string: "127.0.0.1:{port}"
  key_ttl_seconds: {int(ttl_days) * 86400}
offline_store:
  type: file
entity_key_serialization_version: 3
""")
store = FeatureStore(repo_path=repo)
user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING)
source = FileSource(name="bench_source", path=parquet, timestamp_field="updated_at")
view = FeatureView(name="bench_user", entities=[user], ttl=dt.timedelta(days=int(ttl_days)),
                   schema=[Field(name=n, dtype=TYPES[t]) for n, t in attributes.items()],
                   online=True, source=source)
store.apply([user, view])
def hwm():
    m = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())
    return int(m.group(1)) / 1024
rss_before = hwm()
started = time.perf_counter()
store.materialize(dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end))
seconds = time.perf_counter() - started
probe = store.get_online_features(features=["bench_user:page_views_7d"],
                                  entity_rows=[{"user_id": os.environ["SYNC_BENCH_PROBE"]}])
print(json.dumps({"seconds": seconds, "peak_rss_mb": hwm(), "rss_before_mb": rss_before,
                  "version": feast.__version__,
                  "probe": probe.to_dict()["page_views_7d"][0]}))
'''


def feast_python(path: str, log: Path) -> tuple[str | None, str]:
    """The Python of Feast's virtualenv, made when missing; (python, '') or (None, why)."""
    python = Path(path)
    if not python.exists():
        venv = python.parent.parent
        print(f"making Feast's virtualenv in {venv} (pip install 'feast[redis]')",
              file=sys.stderr, flush=True)
        with log.open("w") as out:
            made = subprocess.run([sys.executable, "-m", "venv", str(venv)], stdout=out,
                                  stderr=subprocess.STDOUT, check=False)
            if made.returncode == 0:
                made = subprocess.run([str(python), "-m", "pip", "install", "feast[redis]"],
                                      stdout=out, stderr=subprocess.STDOUT, check=False)
        if made.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            return None, "installing Feast failed: " + " / ".join(tail)
    probe = subprocess.run([str(python), "-c", "import feast, redis; print(feast.__version__)"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return None, ("Feast does not import in its virtualenv: "
                      + " / ".join(probe.stderr.strip().splitlines()[-3:]))
    return str(python), ""


def run_feast(python: str, work: Path, db: Path, rows: int, url_port: int,
              redis_server: RedisServer, now: dt.datetime) -> dict[str, Any]:
    import duckdb

    parquet = work / "feast_source.parquet"
    con = duckdb.connect(str(db), read_only=True)
    try:  # the same rows; the dict as its JSON text (Feast has no JSON type)
        con.execute(f"copy (select * replace (CAST(category_counts AS VARCHAR) "
                    f"AS category_counts) from {table_name(rows)}) to '{parquet}' "
                    f"(format parquet)")
    finally:
        con.close()
    script = work / "feast_materialize.py"
    script.write_text(FEAST_SCRIPT)
    before_keys = redis_server.client.dbsize()
    cpu = redis_server.cpu_seconds()
    env = {**os.environ,
           "SYNC_BENCH_ATTRIBUTES": json.dumps({n: t for n, (t, _, _) in ATTRIBUTES.items()}),
           "SYNC_BENCH_PROBE": f"user_{rows // 2 + 1:09d}", "PYTHONPATH": ""}
    start = (now - dt.timedelta(days=RUN_DAYS + 1)).isoformat()
    end = (now + dt.timedelta(minutes=1)).isoformat()
    done = subprocess.run(
        [python, str(script), str(work / "feast_repo"), str(parquet), str(url_port), start,
         end, str(TTL_DAYS)], capture_output=True, text=True, env=env, cwd=work, check=False)
    if done.returncode != 0:
        return {"error": "Feast's materialize failed: "
                + " / ".join(done.stderr.strip().splitlines()[-5:])}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["keys_written"] = redis_server.client.dbsize() - before_keys
    result["rows_per_second"] = rows / result["seconds"]
    result["redis_cpu_seconds"] = redis_server.cpu_seconds() - cpu
    return result


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with_name = Path("/proc/cpuinfo")
    if with_name.exists():
        match = re.search(r"model name\s*:\s*(.+)", with_name.read_text())
        if match:
            cpu = match.group(1).strip()
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        match = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read_text())
        if match:
            memory = f"{int(match.group(1)) / 2**20:.1f} GiB"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": importlib.metadata.version("duckdb"),
        "redis-py": importlib.metadata.version("redis"),
    }


def load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def ratio(value: float, target: float, higher_is_better: bool = True) -> str:
    met = value >= target if higher_is_better else value < target
    return "met" if met else "**not met**"


def report(result: dict[str, Any]) -> str:
    m, first, again, big = (result["machine"], result["first"], result["no_change"],
                            result.get("big"))
    feast = result.get("feast") or {}
    rows = first["rows_read"]
    lines = [
        "## Sync into redis (`bench/sync_bench.py`)",
        "",
        f"Run {result['date']} on {m['cpu']}, {m['cores']} cores, {m['memory']} RAM, "
        f"{m['os']}; Python {m['python']}, DuckDB {m['duckdb']}, redis-server "
        f"{result['redis_version']} (redis-py {m['redis-py']}), "
        + (f"Feast {feast['version']}" if "version" in feast else "Feast: not run")
        + f". Load average (1/5/15 min) at the start: {result['load_start']}, at the end: "
        f"{result['load_end']} (the machine is shared: other work ran at the same time).",
        "",
        f"One attribute group of 20 attributes (4 strings, 4 int64, 2 int32, 3 doubles, "
        f"2 bools, a timestamp, an int64 duration, a string list, a dict, a string; group ttl "
        f"{TTL_DAYS} days, 2 attributes with a ttl of 30 days), its table built with SQL in "
        f"DuckDB; `sync_groups` with a `RedisStore` in a child process, against a local "
        f"redis-server (no persistence). Feast materializes the same rows from a Parquet file "
        f"into the same redis-server (its own key layout, key ttl {TTL_DAYS} days).",
        "",
        "| measure | signals-batch | target | |",
        "| --- | --- | --- | --- |",
        f"| first sync of {rows:,} rows | {first['seconds']:.2f} s, "
        f"**{first['rows_per_second']:,.0f} rows/s** | >= {TARGETS['rows_per_second']:,} "
        f"rows/s | {ratio(first['rows_per_second'], TARGETS['rows_per_second'])} "
        f"({first['rows_per_second'] / TARGETS['rows_per_second']:.2f}x the target) |",
        f"| peak RSS of that sync's process | {first['peak_rss_mb']:.0f} MB "
        f"({first['rss_before_sync_mb']:.0f} MB before the sync) | | |",
        f"| sync with nothing changed | **{again['seconds']:.3f} s** (whole process, imports "
        f"included: {again['process_seconds']:.2f} s), {again['rows_read']} rows sent | "
        f"< {TARGETS['no_change_seconds']:g} s | "
        f"{ratio(again['seconds'], TARGETS['no_change_seconds'], False)} |",
    ]
    if big:
        lines.append(
            f"| first sync of {big['rows_read']:,} rows | {big['seconds']:.1f} s, "
            f"{big['rows_per_second']:,.0f} rows/s, **peak RSS {big['peak_rss_mb']:.0f} MB** | "
            f"< {TARGETS['big_rss_mb']:g} MB | "
            f"{ratio(big['peak_rss_mb'], TARGETS['big_rss_mb'], False)} |")
    if "seconds" in feast:
        speedup = first["rows_per_second"] / feast["rows_per_second"]
        lines += [
            f"| Feast `materialize` of the same {rows:,} rows | {feast['seconds']:.1f} s, "
            f"{feast['rows_per_second']:,.0f} rows/s, peak RSS {feast['peak_rss_mb']:.0f} MB | "
            "| |",
            f"| signals-batch vs Feast | **{speedup:.1f}x** faster | >= "
            f"{TARGETS['vs_feast']:g}x | {ratio(speedup, TARGETS['vs_feast'])} |",
        ]
    else:
        lines.append(f"| Feast `materialize` | not measured: {feast.get('error', 'skipped')} | "
                     "| |")
    per_row = 1e6 / rows
    lines += [
        "",
        f"CPU time of the first sync: the sync's process {first['cpu_seconds']:.1f} s "
        f"({first['cpu_seconds'] * per_row:.1f} us a row: DuckDB reading, sorting and "
        f"encoding, Python packing), redis-server {first['redis_cpu_seconds']:.1f} s "
        f"({first['redis_cpu_seconds'] * per_row:.1f} us a row). The two run at once, so at "
        f"these costs a row, even with a core each to themselves, the sync could not exceed "
        f"about {rows / max(first['cpu_seconds'], first['redis_cpu_seconds'], 1e-9):,.0f} "
        f"rows/s (the larger of the two); other work on the machine takes from that"
        + (f". Feast's materialize: redis-server {feast['redis_cpu_seconds']:.1f} s"
           if "redis_cpu_seconds" in feast else "")
        + f". Building the {rows:,}-row table took {result['build_seconds']:.1f} s; "
        f"redis held {result['redis_memory_mb']:.0f} MB after the first sync.",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sync-bench-"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "load_start": load_average()}
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    python, why = (None, "--no-feast") if args.no_feast else feast_python(
        args.feast_python, work / "feast-install.log")
    if python is None:
        say(f"Feast: {why}")
    server = RedisServer(work / "redis")
    result["redis_version"] = server.version
    try:
        db = work / "warehouse.duckdb"
        say(f"building the {args.rows:,}-row table")
        result["build_seconds"] = build_table(db, args.rows, now)
        say("first sync")
        result["first"] = run_sync(db, server.url, args.rows, server)
        say(f"  {result['first']}")
        result["redis_memory_mb"] = server.used_memory_mb()
        keys = check_store(server.url, args.rows, db)
        assert keys == args.rows, f"{keys} keys in redis for {args.rows} rows"
        say("sync with nothing changed")
        result["no_change"] = run_sync(db, server.url, args.rows, server)
        say(f"  {result['no_change']}")
        if python is not None:
            say("Feast materialize")
            result["feast"] = run_feast(python, work, db, args.rows, server.port, server, now)
            say(f"  {result['feast']}")
        else:
            result["feast"] = {"error": why}
        if args.big_rows:
            server.client.flushall()
            say(f"building the {args.big_rows:,}-row table")
            big_db = work / "big.duckdb"
            build_table(big_db, args.big_rows, now)
            say(f"first sync of {args.big_rows:,} rows")
            result["big"] = run_sync(big_db, server.url, args.big_rows, server)
            say(f"  {result['big']}")
            big_db.unlink()
    finally:
        server.stop()
        result["load_end"] = load_average()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of (a), (b), (d)")
    parser.add_argument("--big-rows", type=int, default=5_000_000,
                        help="rows of (c), the memory check; 0 skips it")
    parser.add_argument("--feast-python", default=os.environ.get("FEAST_PYTHON",
                                                                 DEFAULT_FEAST_PYTHON),
                        help="the python of a virtualenv with feast[redis] (made if missing)")
    parser.add_argument("--no-feast", action="store_true")
    parser.add_argument("--workdir", help="default: a new temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the workdir")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--child-sync", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_sync:
        child_sync(args.child_sync, args.url, args.rows)
        return 0
    result = run(args)
    text = report(result)
    print(text)
    print(json.dumps(result, indent=1), file=sys.stderr)
    if not args.no_write:
        replace_section(Path(args.output), "sync-bench", text)
        print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
