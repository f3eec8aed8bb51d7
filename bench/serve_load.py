"""Load test of `signals-batch serve`: concurrent readers of get-online-attributes while a
sync writes into the same store. Bounded in requests and in time; prints the results.

    python bench/serve_load.py                          # 32 readers, <= 20000 requests, <= 20 s
    python bench/serve_load.py --readers 64 --seconds 30 --json

Setup (not measured): a project from `signals-batch init` (its example groups) with sample
events in DuckDB, one `run`, then `signals-batch serve` in its own process on a free loopback
port, then a first `sync` (which registers and publishes the groups through the server).

Measured: `--readers` asyncio tasks sharing one httpx.AsyncClient (one connection each),
each asking for one random user's attributes of the user group, until `--requests` requests
are done or `--seconds` have passed. Meanwhile `signals-batch sync --full` runs again and
again in another process (every row rewritten, every group republished through the API).
Reported: requests, errors (any non-200 or transport error), latency p50/p90/p99/max,
requests per second, and how many syncs (and rows) were written during the window.
Results go to stdout; nothing is written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signals_batch import sample_events  # noqa: E402
from signals_batch.project import Project  # noqa: E402
from signals_batch.scaffold import init_project  # noqa: E402
from signals_batch.warehouse import connect  # noqa: E402

START = dt.date(2025, 1, 1)
GROUP = "ecommerce_user_v1"
ATTRIBUTES = ["page_views_7d", "revenue_30d", "last_os", "product_categories_viewed"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_project(folder: Path, events: int, users: int, days: int) -> list[str]:
    """A project with sample events, run once; returns the user keys of the user group."""
    init_project(folder, start_date=START.isoformat())
    rows = sample_events.generate_events(n_events=events, days=days, users=users, seed=11,
                                         start=START)  # fmt: skip
    with connect(folder, create=True) as con:
        sample_events.create_events_table(con)
        sample_events.write_events(con, rows)
    Project(folder).run(as_of=START + dt.timedelta(days=days))
    with connect(folder) as con:
        keys = con.execute(f"select domain_userid from signals.{GROUP}_attributes").fetchall()
    return [k for (k,) in keys]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "signals_batch.cli", *args]


def start_server(folder: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    log = (folder / "serve.log").open("ab")
    process = subprocess.Popen(
        cli("-q", "serve", "-p", str(folder), "--port", str(port)),
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited; see {folder / 'serve.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.terminate()
    raise RuntimeError("serve did not start in 30 s")


class SyncLoop(threading.Thread):
    """`signals-batch sync --full` in another process, again and again, until stopped."""

    def __init__(self, folder: Path, env: dict[str, str]):
        super().__init__(daemon=True)
        self.folder, self.env = folder, env
        self.stop = threading.Event()
        self.runs: list[dict[str, Any]] = []
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            done = subprocess.run(cli("-q", "sync", "--full", "--json", "-p", str(self.folder)),
                                  env=self.env, capture_output=True, text=True)  # fmt: skip
            if done.returncode != 0:
                self.failures.append(done.stderr.strip()[-500:])
                continue
            summary = json.loads(done.stdout)
            self.runs.append({
                "seconds": round(time.perf_counter() - started, 2),
                "rows": sum(g["rows_written"] for g in summary["groups"]),
            })  # fmt: skip


async def readers(url: str, token: str, keys: list[str], n: int, max_requests: int,
                  max_seconds: float) -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    errors: dict[str, int] = {}
    issued = 0
    deadline = time.perf_counter() + max_seconds
    rng = random.Random(1)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    headers = {"Authorization": f"Bearer {token}"}
    attributes = [f"{GROUP}:{a}" for a in ATTRIBUTES]

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=30) as client:  # fmt: skip

        async def reader() -> None:
            nonlocal issued
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                body = {"attributes": attributes,
                        "attribute_keys": {"domain_userid": [rng.choice(keys)]}}  # fmt: skip
                started = time.perf_counter()
                try:
                    response = await client.post("/api/v1/get-online-attributes", json=body)
                    ok = response.status_code == 200 and len(response.json()) == 1 + len(ATTRIBUTES)
                    kind = None if ok else f"HTTP {response.status_code}"
                except httpx.HTTPError as error:
                    kind = type(error).__name__
                latencies.append(time.perf_counter() - started)
                if kind:
                    errors[kind] = errors.get(kind, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(reader() for _ in range(n)))
        elapsed = time.perf_counter() - began

    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    return {
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99),
                       "max": round(latencies[-1] * 1000, 2),
                       "mean": round(statistics.fmean(latencies) * 1000, 2)},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20_000, help="at most this many")
    parser.add_argument("--seconds", type=float, default=20.0, help="at most this long")
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--users", type=int, default=4_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--no-sync", action="store_true", help="readers only (a baseline)")
    parser.add_argument("--project-dir", type=Path, default=None,
                        help="build the project here (reused when it exists) instead of in a "
                        "temporary folder")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    args = parser.parse_args()

    def note(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        folder = args.project_dir or Path(tmp) / "project"
        if (folder / "dbt_project.yml").exists():
            with connect(folder) as con:
                keys = [
                    k
                    for (k,) in con.execute(
                        f"select domain_userid from signals.{GROUP}_attributes"
                    ).fetchall()
                ]
        else:
            note(f"building the project ({args.events} events, {args.users} users) ...")
            keys = build_project(folder, args.events, args.users, args.days)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = yaml.safe_load((folder / "signals_batch.yml").read_text())
        settings["signals_api"] = {"url": url, "auth": "sandbox"}
        (folder / "signals_batch.yml").write_text(yaml.safe_dump(settings))
        env = {**os.environ, "SIGNALS_SANDBOX_TOKEN": token,
               "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}  # fmt: skip
        server = start_server(folder, port, env)
        try:
            first = subprocess.run(cli("-q", "sync", "--json", "-p", str(folder)), env=env,
                                   capture_output=True, text=True)  # fmt: skip
            if first.returncode != 0:
                raise RuntimeError(f"the first sync failed: {first.stderr.strip()[-2000:]}")
            rows = sum(g["rows_written"] for g in json.loads(first.stdout)["groups"])
            note(
                f"first sync: {rows} rows; {len(keys)} user keys; reading with "
                f"{args.readers} readers (<= {args.requests} requests, <= {args.seconds:g} s)"
            )
            syncs = SyncLoop(folder, env)
            if not args.no_sync:
                syncs.start()
                time.sleep(0.5)  # let the sync process start writing
            result = asyncio.run(readers(url, token, keys, args.readers, args.requests,
                                         args.seconds))  # fmt: skip
            syncs.stop.set()
            if not args.no_sync:
                syncs.join(120)
        finally:
            server.terminate()
            server.wait(15)
    result.update(
        readers=args.readers,
        bounds={"requests": args.requests, "seconds": args.seconds},
        concurrent_syncs={"completed": len(syncs.runs), "failed": len(syncs.failures),
                          "rows_written": sum(r["rows"] for r in syncs.runs),
                          "seconds_each": [r["seconds"] for r in syncs.runs]},
        machine={"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                 "python": platform.python_version(), "platform": platform.platform()},
        store="local (SQLite, WAL)",
    )  # fmt: skip
    if syncs.failures:
        result["sync_failures"] = syncs.failures
    if args.json:
        print(json.dumps(result, indent=2))
        return
    latency = result["latency_ms"]
    print(f"{result['requests']} requests by {args.readers} readers in {result['seconds']} s: "
          f"{result['requests_per_second']} req/s, {result['errors']} errors; latency p50 "
          f"{latency['p50']} ms, p99 {latency['p99']} ms, max {latency['max']} ms; "
          f"{len(syncs.runs)} full syncs ({result['concurrent_syncs']['rows_written']} rows) "
          f"written meanwhile")  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
