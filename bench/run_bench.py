"""Benchmarks of signals-batch on DuckDB, written to BENCHMARKS.md.

    python bench/run_bench.py                      # 10M events over 30 days (the published run)
    python bench/run_bench.py --events 200000      # a quick check

Everything is measured side by side within one run, alternating the contestants, so the
ratios hold even on a machine shared with other work:

(a) full refresh (`Project.run(full_refresh=True)`) of the one-group project vs the
    hand-written single-query baseline (bench/baseline.sql) over the same events;
(b) a one-day incremental run (one more day of events appended, `run(as_of=R + 1)`) vs a
    full refresh over the same data;
(c) a full refresh of a project with 10 groups vs the project with 1 group.

Targets: (a) <= 1.5x, (b) <= 15%, (c) <= 2x. Each timing is the best of --repeat trials.
Engine runs happen in a fresh Python process each (as a scheduled `signals-batch run`
would), timed around `Project.run` only, with dbt already imported. The baseline runs in
a fresh Python process too, on a fresh DuckDB connection. The baseline's values are checked
against the engine's, after the full refresh and after the incremental run, so the
comparison is between equal results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import definitions  # noqa: E402  (bench/definitions.py)
import generate  # noqa: E402  (bench/generate.py)
from report import replace_section  # noqa: E402  (bench/report.py)

START = dt.date(2025, 1, 1)
TARGET_SCHEMA = "signals"
BASELINE_TABLE = "bench.baseline_bench_user"
ENGINE_TABLE = f"{TARGET_SCHEMA}.bench_user_v1_attributes"
KEY = "domain_userid"
ATTRIBUTES = [a["name"] for a in definitions.group(0)["attributes"]]
DOUBLE_ATTRIBUTES = {"revenue_30d", "mean_order_value"}

TARGETS = {"full_vs_baseline": 1.5, "incremental_vs_full": 0.15, "ten_vs_one": 2.0}


# --------------------------------------------------------------------------------------
# Worker: one engine run in its own process
# --------------------------------------------------------------------------------------


def worker(project_dir: str, as_of: str, full_refresh: bool) -> None:
    """Run the project once and print {seconds, cpu_seconds, summary, models} as JSON."""
    import dbt.cli.main  # noqa: F401  (import cost is not part of a run)

    from signals_batch.project import Project

    project = Project(project_dir)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    summary = project.run(as_of=dt.date.fromisoformat(as_of), full_refresh=full_refresh)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results = json.loads((project.dir / "target" / "run_results.json").read_text())
    models = {
        r["unique_id"].rsplit(".", 1)[-1]: round(r["execution_time"], 3) for r in results["results"]
    }
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu,
                "new_events": summary.new_events,
                "rows": {g.group: g.rows for g in summary.groups},
                "changed": {g.group: g.changed for g in summary.groups},
                "models": models,
            }
        )
    )


# --------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Trials of one measured thing; `best` is the fastest."""

    label: str
    trials: list[dict[str, Any]] = field(default_factory=list)

    def add(self, trial: dict[str, Any]) -> dict[str, Any]:
        self.trials.append(trial)
        print(
            f"  {self.label}: {trial['seconds']:.2f} s (cpu {trial['cpu_seconds']:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
        return trial

    @property
    def best(self) -> dict[str, Any]:
        return min(self.trials, key=lambda t: t["seconds"])

    @property
    def seconds(self) -> float:
        return self.best["seconds"]

    @property
    def cpu_seconds(self) -> float:
        return min(t["cpu_seconds"] for t in self.trials)

    def all_seconds(self) -> str:
        return ", ".join(f"{t['seconds']:.2f}" for t in self.trials)


def _worker_run(arguments: list[str], what: str, cwd: Path | None = None) -> dict[str, Any]:
    """Run this script as a worker in a fresh Python process; its last stdout line is JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def engine_run(project_dir: Path, as_of: dt.date, full_refresh: bool) -> dict[str, Any]:
    arguments = ["--worker", str(project_dir), "--as-of", as_of.isoformat()]
    if full_refresh:
        arguments.append("--full-refresh")
    return _worker_run(arguments, f"engine run in {project_dir}", cwd=project_dir)


def windows(as_of: dt.date) -> dict[str, str]:
    end_day = as_of - dt.timedelta(days=1)
    return {
        "start_date": START.isoformat(),
        "end_day": end_day.isoformat(),
        "day_7": (as_of - dt.timedelta(days=7)).isoformat(),
        "day_30": (as_of - dt.timedelta(days=30)).isoformat(),
    }


def baseline_sql(as_of: dt.date) -> str:
    sql = (BENCH / "baseline.sql").read_text()
    values = {"target": BASELINE_TABLE, "source": generate.TABLE, **windows(as_of)}
    for name in sorted(values, key=len, reverse=True):
        sql = sql.replace(f"@{name}", values[name])
    return sql


def baseline_run(db: Path, as_of: dt.date) -> dict[str, Any]:
    """The baseline query in a fresh process, as every engine run is: the bench's own
    process (which generated the events) ran it 15-22 s from one run to the next."""
    arguments = ["--baseline-worker", str(db), "--as-of", as_of.isoformat()]
    return _worker_run(arguments, f"baseline query on {db}")


def baseline_worker(db: str, as_of: str) -> None:
    import duckdb

    sql = baseline_sql(dt.date.fromisoformat(as_of))
    with duckdb.connect(db) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS bench")
        con.execute(f"DROP TABLE IF EXISTS {BASELINE_TABLE}")
        con.execute("CHECKPOINT")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        started = time.perf_counter()
        con.execute(sql)
        con.execute("CHECKPOINT")  # as dbt's commit of a table: written to the file
        seconds = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        rows = con.execute(f"SELECT count(*) FROM {BASELINE_TABLE}").fetchone()[0]
    seconds_cpu = usage.ru_utime + usage.ru_stime - cpu
    print(json.dumps({"seconds": seconds, "cpu_seconds": seconds_cpu, "rows": rows}))


def compare(db: Path) -> dict[str, Any]:
    """Engine table vs baseline table, value for value (doubles within 1e-9 relative)."""
    import duckdb

    checks = []
    for name in ATTRIBUTES:
        e, b = f'e."{name}"', f'b."{name}"'
        if name in DOUBLE_ATTRIBUTES:
            checks.append(
                f"NOT (({e} IS NULL AND {b} IS NULL) OR "
                f"abs({e} - {b}) <= 1e-9 * greatest(1, abs({b})))"
            )
        else:
            checks.append(f"{e} IS DISTINCT FROM {b}")
    per_column = ", ".join(
        f'count(*) FILTER (WHERE {check}) AS "{name}"'
        for name, check in zip(ATTRIBUTES, checks, strict=True)
    )
    with duckdb.connect(str(db), read_only=True) as con:
        engine_rows = con.execute(f"SELECT count(*) FROM {ENGINE_TABLE}").fetchone()[0]
        baseline_rows = con.execute(f"SELECT count(*) FROM {BASELINE_TABLE}").fetchone()[0]
        joined = (
            f"FROM {ENGINE_TABLE} AS e FULL OUTER JOIN {BASELINE_TABLE} AS b "
            f'ON e."{KEY}" = b."{KEY}"'
        )
        missing = con.execute(
            f'SELECT count(*) FILTER (WHERE e."{KEY}" IS NULL), '
            f'count(*) FILTER (WHERE b."{KEY}" IS NULL) {joined}'
        ).fetchone()
        differences = con.execute(
            f'SELECT {per_column} {joined} WHERE e."{KEY}" IS NOT NULL AND b."{KEY}" IS NOT NULL'
        ).fetchone()
        bad = {name: n for name, n in zip(ATTRIBUTES, differences, strict=True) if n}
        example = None
        if bad:
            column = next(iter(bad))
            check = checks[ATTRIBUTES.index(column)]
            example = con.execute(
                f'SELECT e."{KEY}", e."{column}", b."{column}" {joined} '
                f'WHERE e."{KEY}" IS NOT NULL AND b."{KEY}" IS NOT NULL AND {check} LIMIT 1'
            ).fetchone()
    return {
        "engine_rows": engine_rows,
        "baseline_rows": baseline_rows,
        "only_in_baseline": missing[0],
        "only_in_engine": missing[1],
        "differing_values": bad,
        "example": example,
        "equal": not bad and not missing[0] and not missing[1] and engine_rows == baseline_rows,
    }


# --------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------


def make_project(directory: Path, n_groups: int, events_db: Path):
    from signals_batch.scaffold import init_project

    init_project(directory, start_date=START.isoformat(), examples=False)
    definitions.write(directory, n_groups)
    copy_database(events_db, directory / "warehouse.duckdb")
    return directory


def copy_database(source: Path, destination: Path) -> None:
    """Copy a DuckDB file (and its WAL), flushed to disk: otherwise the first commit of the
    next timed run waits for the OS to write the whole copy (~1 s a GiB here), a cost no
    nightly run has."""
    for suffix in ("", ".wal"):
        src, dst = Path(f"{source}{suffix}"), Path(f"{destination}{suffix}")
        dst.unlink(missing_ok=True)
        if src.exists():
            shutil.copyfile(src, dst)
            descriptor = os.open(dst, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


def machine_facts() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "signals_batch", "dbt_templates", "macros"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        commit = (commit + (" + uncommitted changes" if dirty else "")) or "unknown"
    except OSError:
        commit = "unknown"
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": memory,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "duckdb": version("duckdb"),
        "dbt-core": version("dbt-core"),
        "dbt-duckdb": version("dbt-duckdb"),
        "signals-batch": f"{version('signals-batch')} (commit {commit})",
    }


# --------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.workdir).resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    users = args.users or max(1_000, args.events // 50)
    as_of = START + dt.timedelta(days=args.days)  # R: windows end on the last generated day
    next_day = as_of + dt.timedelta(days=1)
    load_start = os.getloadavg()
    started_at = dt.datetime.now(dt.timezone.utc)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log(f"generating {args.events:,} events over {args.days} days for {users:,} users ...")
    events_db = work / "events.duckdb"
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    generated = generate.generate(events_db, args.events, args.days, users, args.seed, START)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    generated["cpu_seconds"] = usage.ru_utime + usage.ru_stime - cpu
    log(f"  {generated['seconds']} s (cpu {generated['cpu_seconds']:.1f} s)")

    one = make_project(work / "one_group", 1, events_db)
    ten = make_project(work / "ten_groups", 10, events_db)
    db_size = events_db.stat().st_size
    events_db.unlink()

    full_one = Timing("full refresh, 1 group")
    baseline = Timing("baseline query")
    full_ten = Timing("full refresh, 10 groups")
    log(f"(a) + (c): full refreshes as of {as_of} and the baseline, {args.repeat} rounds")
    for round_number in range(args.repeat):
        log(f" round {round_number + 1}")
        full_one.add(engine_run(one, as_of, full_refresh=True))
        baseline.add(baseline_run(one / "warehouse.duckdb", as_of))
        full_ten.add(engine_run(ten, as_of, full_refresh=True))
    check_full = compare(one / "warehouse.duckdb")
    log(f"  engine vs baseline as of {as_of}: {'equal' if check_full['equal'] else check_full}")

    log(f"(b): one more day of events, then incremental runs as of {next_day}")
    appended = {}
    for project in (one, ten):
        appended = generate.append_day(project / "warehouse.duckdb")
        copy_database(project / "warehouse.duckdb", project / "snapshot.duckdb")
    log(f"  appended {appended['events']:,} events for {appended['day']}")

    incremental_one = Timing("incremental, 1 group")
    full_one_next = Timing("full refresh, 1 group, same data")
    incremental_ten = Timing("incremental, 10 groups")
    noop = Timing("rerun without new data, 1 group")
    check_incremental = None
    for round_number in range(args.repeat):
        log(f" round {round_number + 1}")
        copy_database(one / "snapshot.duckdb", one / "warehouse.duckdb")
        incremental_one.add(engine_run(one, next_day, full_refresh=False))
        if check_incremental is None:
            baseline_run(one / "warehouse.duckdb", next_day)
            check_incremental = compare(one / "warehouse.duckdb")
            log(
                f"  incremental vs baseline as of {next_day}: "
                f"{'equal' if check_incremental['equal'] else check_incremental}"
            )
            noop.add(engine_run(one, next_day, full_refresh=False))
        full_one_next.add(engine_run(one, next_day, full_refresh=True))
        copy_database(ten / "snapshot.duckdb", ten / "warehouse.duckdb")
        incremental_ten.add(engine_run(ten, next_day, full_refresh=False))

    load_end = os.getloadavg()
    return {
        "args": vars(args),
        "users": users,
        "as_of": as_of,
        "next_day": next_day,
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.timezone.utc),
        "load": (load_start, load_end),
        "generated": generated,
        "db_size": db_size,
        "appended": appended,
        "timings": {
            "full_one": full_one,
            "baseline": baseline,
            "full_ten": full_ten,
            "incremental_one": incremental_one,
            "full_one_next": full_one_next,
            "incremental_ten": incremental_ten,
            "noop": noop,
        },
        "checks": {"full": check_full, "incremental": check_incremental},
        "machine": machine_facts(),
    }


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def _verdict(ratio: float, target: float) -> str:
    return "met" if ratio <= target else "**missed**"


def _models_table(timings: list[tuple[str, Timing]]) -> list[str]:
    names: list[str] = []
    for _, timing in timings:
        for name in timing.best["models"]:
            if name not in names:
                names.append(name)
    header = "| model | " + " | ".join(label for label, _ in timings) + " |"
    lines = [header, "|---|" + "---:|" * len(timings)]
    for name in names:
        cells = [
            f"{t.best['models'][name]:.2f}" if name in t.best["models"] else "" for _, t in timings
        ]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    totals = [f"{sum(t.best['models'].values()):.2f}" for _, t in timings]
    lines.append("| *sum of models* | " + " | ".join(totals) + " |")
    overhead = [f"{t.seconds - sum(t.best['models'].values()):.2f}" for _, t in timings]
    lines.append("| *dbt start, parse, compile, hooks* | " + " | ".join(overhead) + " |")
    lines.append(
        "| **`Project.run` total** | "
        + " | ".join(f"**{t.seconds:.2f}**" for _, t in timings)
        + " |"
    )
    return lines


def _check_line(name: str, check: dict[str, Any] | None) -> str:
    if check is None:
        return f"- {name}: not checked"
    if check["equal"]:
        return (
            f"- {name}: **equal** ({check['engine_rows']:,} rows, every attribute, "
            "doubles within 1e-9 relative)"
        )
    return f"- {name}: **DIFFERENT**: {json.dumps(check, default=str)}"


def report(result: dict[str, Any]) -> str:
    t = result["timings"]
    args = result["args"]
    ratios = {
        "full_vs_baseline": t["full_one"].seconds / t["baseline"].seconds,
        "incremental_vs_full": t["incremental_one"].seconds / t["full_one_next"].seconds,
        "ten_vs_one": t["full_ten"].seconds / t["full_one"].seconds,
    }
    cpu_ratios = {
        "full_vs_baseline": t["full_one"].cpu_seconds / t["baseline"].cpu_seconds,
        "incremental_vs_full": t["incremental_one"].cpu_seconds / t["full_one_next"].cpu_seconds,
        "ten_vs_one": t["full_ten"].cpu_seconds / t["full_one"].cpu_seconds,
    }
    g = result["generated"]
    machine = result["machine"]
    appended = result["appended"]
    generation = f"{g['seconds']:.1f} s to generate"
    if "cpu_seconds" in g:
        generation += f" with {g['cpu_seconds']:.1f} s of CPU"
    lines = [
        "## Engine runs: full refresh, incremental, 10 groups (`bench/run_bench.py`)",
        "",
        "This section is rewritten by every run of `bench/run_bench.py`; numbers from the run "
        f"of {result['started_at']:%Y-%m-%d %H:%M} UTC.",
        "",
        f"Data: **{args['events']:,} events** over {args['days']} days "
        f"({START} to {result['as_of'] - dt.timedelta(days=1)}), {result['users']:,} users, "
        f"seed {args['seed']}; ~3% re-delivered event_ids, ~5% late arrivals, JSON contexts "
        f"and self-describing events (`bench/generate.py`: {generation}, "
        f"{result['db_size'] / 2**30:.2f} GiB DuckDB file). "
        f"Reference date R = {result['as_of']}; the incremental run adds "
        f"{appended['events']:,} events for {appended['day']} and runs as of {result['next_day']}. "
        f"Timings: best of {args['repeat']} (wall clock seconds; every trial listed).",
        "",
        "### Results",
        "",
        "| comparison | measured | ratio | target | | ratio of CPU time |",
        "|---|---|---:|---:|---|---:|",
        f"| (a) full refresh, 1 group vs hand-written baseline query | "
        f"{t['full_one'].seconds:.2f} s vs {t['baseline'].seconds:.2f} s | "
        f"{ratios['full_vs_baseline']:.2f}x | <= {TARGETS['full_vs_baseline']}x | "
        f"{_verdict(ratios['full_vs_baseline'], TARGETS['full_vs_baseline'])} | "
        f"{cpu_ratios['full_vs_baseline']:.2f}x |",
        f"| (b) one-day incremental vs full refresh (1 group, same data) | "
        f"{t['incremental_one'].seconds:.2f} s vs {t['full_one_next'].seconds:.2f} s | "
        f"{ratios['incremental_vs_full']:.0%} | <= {TARGETS['incremental_vs_full']:.0%} | "
        f"{_verdict(ratios['incremental_vs_full'], TARGETS['incremental_vs_full'])} | "
        f"{cpu_ratios['incremental_vs_full']:.0%} |",
        f"| (c) full refresh, 10 groups vs 1 group | "
        f"{t['full_ten'].seconds:.2f} s vs {t['full_one'].seconds:.2f} s | "
        f"{ratios['ten_vs_one']:.2f}x | <= {TARGETS['ten_vs_one']}x | "
        f"{_verdict(ratios['ten_vs_one'], TARGETS['ten_vs_one'])} | "
        f"{cpu_ratios['ten_vs_one']:.2f}x |",
        "",
        "| measurement | best (s) | CPU (s) | trials (s) |",
        "|---|---:|---:|---|",
    ]
    for key in (
        "full_one",
        "baseline",
        "full_ten",
        "incremental_one",
        "full_one_next",
        "incremental_ten",
        "noop",
    ):
        timing = t[key]
        lines.append(
            f"| {timing.label} | {timing.seconds:.2f} | {timing.cpu_seconds:.1f} | "
            f"{timing.all_seconds()} |"
        )
    lines += [
        "",
        "CPU time counts every thread (DuckDB uses all cores), so it can exceed the wall "
        "time; it is less sensitive than wall time to other work on the machine. "
        f"The 10-group incremental run took {t['incremental_ten'].seconds:.2f} s "
        f"({t['incremental_ten'].seconds / t['incremental_one'].seconds:.2f}x the 1-group one). "
        f"A rerun with no new data (the fixed cost of a run: dbt start-up, parsing, "
        f"compilation, the state queries) took {t['noop'].seconds:.2f} s.",
        "",
        "#### Same values",
        "",
        "The baseline is only a fair yardstick if it computes the same thing: its table is "
        "compared with the engine's, key by key and attribute by attribute.",
        "",
        _check_line(f"full refresh as of {result['as_of']}", result["checks"]["full"]),
        _check_line(
            f"incremental run as of {result['next_day']} "
            "(baseline recomputed on the appended data)",
            result["checks"]["incremental"],
        ),
        "",
        "#### Where the time goes (dbt's per-model execution time, best trial)",
        "",
        *_models_table(
            [
                ("full refresh, 1 group", t["full_one"]),
                ("incremental, 1 group", t["incremental_one"]),
                ("full refresh, 10 groups", t["full_ten"]),
                ("incremental, 10 groups", t["incremental_ten"]),
            ]
        ),
        "",
        "### Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine.items()],
        f"| load average (1 min) at start / end | {result['load'][0][0]:.2f} / "
        f"{result['load'][1][0]:.2f} |",
        "",
        "The machine was shared with other work during the run (see the load average); "
        "absolute times vary with it, the ratios much less, since every comparison alternates "
        "its contestants within one run.",
        "",
        "### What is measured",
        "",
        "- **Definitions** (`bench/definitions.py`): group `bench_user` (key `domain_userid`) "
        "has 11 attributes: counters over 7 and 30 days (one with a `geo_country` criterion), "
        "sum over 30 days and lifetime mean of a JSON property of a self-describing event, "
        "first / last (atomic column, context entity), unique_list over 30 days and "
        "most_frequent of a context property, approx_count_distinct of active days (every "
        "event) and of link targets. The 10-group project adds 9 groups of the same shapes "
        "keyed by `user_id`, `network_userid`, `domain_sessionid` or `domain_userid`, with "
        "extra criteria.",
        "- **Baseline** (`bench/baseline.sql`): one `CREATE TABLE AS` over `atomic.events`: "
        "deduplication by event_id (earliest load_tstamp) with `QUALIFY row_number()`, then "
        "one `GROUP BY domain_userid` with `FILTER`ed aggregates per attribute and window, "
        "as an analyst would write it for DuckDB; run in a fresh Python process, as the "
        "engine runs are.",
        "- **Full refresh**: `Project.run(as_of=R, full_refresh=True)`, which generates the "
        "models and runs `dbt run --full-refresh` (in-process dbtRunner); timed around "
        "`Project.run`, in a fresh Python process with dbt already imported.",
        "- **Incremental**: from the state of a full refresh as of R, one more day of events "
        "is appended (every load_tstamp after the newest one; late events of the 10 previous "
        "days and re-delivered event_ids included), then `Project.run(as_of=R + 1)`. It is "
        "compared with a full refresh as of R + 1 over the same data, run in the same round. "
        "Each round restores a copy of the database taken before the incremental run.",
        "",
        "### Reproduce",
        "",
        "```bash",
        "pip install -e .",
        f"python bench/run_bench.py --events {args['events']} --days {args['days']} "
        f"--seed {args['seed']} --repeat {args['repeat']}",
        "python bench/run_bench.py --events 200000   # quick check, a minute or two",
        "# the data alone:",
        "python bench/generate.py --events 10000000 --days 30 --users 200000 --seed 1 "
        "--db events.duckdb",
        "python bench/generate.py --append-day --db events.duckdb",
        "```",
        "",
        f"Working files go to `{args['workdir']}` (`--workdir`): the two dbt projects, their "
        "DuckDB files and dbt's `target/run_results.json` / `target/run/` SQL for inspection.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=None, help="default: events / 50")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=None, help="trials per timing (best kept)")
    parser.add_argument("--workdir", default="/tmp/signals-batch-bench")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--full-refresh", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_worker:
        baseline_worker(args.baseline_worker, args.as_of)
        return 0
    if args.worker:
        worker(args.worker, args.as_of, args.full_refresh)
        return 0
    if args.repeat is None:
        args.repeat = 3 if args.events <= 2_000_000 else 2
    result = run(args)
    text = report(result)
    replace_section(Path(args.output), "engine-bench", text)
    print(text)
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
