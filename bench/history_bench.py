"""Does a one-day incremental run cost the same whatever the history? (SEMANTICS.md section 7)

    python bench/history_bench.py                   # 100k events a day, 30 vs 120 days
    python bench/history_bench.py --per-day 20000   # a quick check

Two event sets with the same events per day and the same users, one with --short days of
history and one with --long days. On each: a full refresh as of the day after the last one,
one more day of events appended, then a one-day incremental run (best of --repeat, each from
a flushed copy of the database taken before it). The group is the engine benchmark's
`bench_user` (bench/definitions.py): windows of 7 and 30 days and a lifetime mean, so a
recomputed key needs its lifetime values. The contract is that the incremental run costs what
the new data and the moved windows cost, not the history: the long/short ratio should be
close to 1. Numbers go to BENCHMARKS.md (section history-growth).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402  (bench/generate.py)
from report import replace_section  # noqa: E402
from run_bench import (  # noqa: E402
    START,
    Timing,
    copy_database,
    engine_run,
    machine_facts,
    make_project,
)

MODELS = [
    "signals_batch_events_this_run",
    "bench_user_v1_daily",
    "bench_user_v1_lifetime",
    "bench_user_v1_attributes",
    "signals_batch_event_ids",
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(work: Path, days: int, args: argparse.Namespace) -> dict[str, Any]:
    """Full refresh over `days` days, then the best of --repeat one-day incremental runs."""
    events_db = work / f"events_{days}d.duckdb"
    log(f"{days} days: generating {args.per_day * days:,} events for {args.users:,} users ...")
    generate.generate(events_db, args.per_day * days, days, args.users, args.seed, START)
    project = make_project(work / f"history_{days}d", 1, events_db)
    events_db.unlink()
    as_of = START + dt.timedelta(days=days)
    full = engine_run(project, as_of, full_refresh=True)
    log(f"  full refresh as of {as_of}: {full['seconds']:.2f} s")
    appended = generate.append_day(project / "warehouse.duckdb", args.per_day)
    copy_database(project / "warehouse.duckdb", project / "snapshot.duckdb")
    incremental = Timing(f"incremental, {days} days of history")
    for _ in range(args.repeat):
        copy_database(project / "snapshot.duckdb", project / "warehouse.duckdb")
        incremental.add(engine_run(project, as_of + dt.timedelta(days=1), full_refresh=False))
    return {"days": days, "full": full, "appended": appended, "incremental": incremental}


def report(short: dict, long: dict, args: argparse.Namespace, load: tuple) -> str:
    facts = machine_facts()
    a, b = short["incremental"], long["incremental"]
    ratio = b.seconds / a.seconds
    lines = [
        "## A one-day incremental run vs the length of the history (`bench/history_bench.py`)",
        "",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {facts['CPU']} "
        f"({facts['cores']} cores, {facts['RAM']}), duckdb {facts['duckdb']}, "
        f"dbt-core {facts['dbt-core']}, signals-batch {facts['signals-batch']}; load "
        f"average {load[0][0]:.2f} at the start, {load[1][0]:.2f} at the end.",
        "",
        f"{args.per_day:,} events a day, {args.users:,} users, seed {args.seed}; group "
        "`bench_user` (windows of 7 and 30 days and a lifetime mean). Each history gets a full "
        f"refresh, then one more day ({short['appended']['events']:,} events, late and "
        "re-delivered ones included) and a one-day incremental run, best of "
        f"{args.repeat} (wall clock seconds, dbt's per-model times of the best run).",
        "",
        f"| | {short['days']} days of history | {long['days']} days of history | ratio |",
        "|---|---:|---:|---:|",
        f"| full refresh | {short['full']['seconds']:.2f} | {long['full']['seconds']:.2f} | "
        f"{long['full']['seconds'] / short['full']['seconds']:.2f}x |",
        f"| **one-day incremental run** | **{a.seconds:.2f}** | **{b.seconds:.2f}** | "
        f"**{ratio:.2f}x** |",
        f"| CPU of the incremental run | {a.cpu_seconds:.1f} | {b.cpu_seconds:.1f} | "
        f"{b.cpu_seconds / a.cpu_seconds:.2f}x |",
    ]
    for model in MODELS:
        x, y = a.best["models"].get(model), b.best["models"].get(model)
        if x is None or y is None:
            continue
        lines.append(f"| `{model}` | {x:.2f} | {y:.2f} | {y / x:.2f}x |" if x else
                     f"| `{model}` | {x:.2f} | {y:.2f} | |")
    lines += [
        f"| keys written by the incremental run | {a.best['changed']['bench_user_v1']:,} | "
        f"{b.best['changed']['bench_user_v1']:,} | |",
        "",
        f"Trials: {a.all_seconds()} s ({short['days']} days), {b.all_seconds()} s "
        f"({long['days']} days). SEMANTICS.md section 7: a run's cost follows the new data "
        "and the keys whose windows moved, not the history; with "
        f"{long['days'] // short['days']}x the history the one-day run costs {ratio:.2f}x.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-day", type=int, default=100_000, help="events a day")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--short", type=int, default=30, help="days of the short history")
    parser.add_argument("--long", type=int, default=120, help="days of the long history")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", default="/tmp/signals-batch-history-bench")
    parser.add_argument("--output", default=str(BENCH.parent / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    work = Path(args.workdir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    load_start = os.getloadavg()
    short = measure(work, args.short, args)
    long = measure(work, args.long, args)
    text = report(short, long, args, (load_start, os.getloadavg()))
    replace_section(Path(args.output), "history-growth", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
