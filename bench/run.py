"""All the benchmarks in one run, printing ONE JSON object with the headline figures first.

    .venv/bin/python bench/run.py --quick   # SQLite, 1k/10k instances, a few minutes
    .venv/bin/python bench/run.py           # full sizes (1k/10k/100k), SQLite and PostgreSQL

PostgreSQL comes from BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test):
each benchmark creates its own database next to that one and drops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (  # noqa: E402
    completion,
    desk,
    dues_start,
    harness,
    lists,
    register,
    storage,
    throughput,
    ticker,
)

BENCH = Path(__file__).resolve().parent
CRASH_FIGURES = ("crash_runs", "kills", "steps", "inconsistencies", "returncode", "skipped")
QUICK = {
    "databases": ["sqlite"],
    "completion_n": 150,
    "sizes": [1000, 10000],
    "requests": 50,
    "timers_due": 500,
    "tickers": 2,
    "throughput_n": 1200,
    "dues_members": 1000,
    "list_sizes": [1000, 10000],
    "crash_runs": 3,
}
FULL = {
    "databases": ["sqlite", "postgresql"],
    "completion_n": 500,
    "sizes": [1000, 10000, 100000],
    "requests": 200,
    "timers_due": 10000,
    "tickers": 2,
    "throughput_n": 4000,
    "dues_members": 10000,
    "list_sizes": [1000, 100000],
    "crash_runs": 50,
}


def pg_available() -> bool:
    try:
        with harness._pg_admin():
            return True
    except Exception:
        return False


def crash_safety(runs: int, database: str = "sqlite") -> dict:
    """H4's crash test (SIGKILL under load, restart, `flask check`), run as its own process."""
    script = BENCH / "crash_safety.py"
    if not script.exists():
        return {"skipped": "bench/crash_safety.py is not there yet"}
    done = subprocess.run(
        [sys.executable, str(script), "--runs", str(runs), "--database", database],
        capture_output=True,
        text=True,
        cwd=BENCH.parent,
    )
    for line in reversed(done.stdout.strip().splitlines()):
        try:
            return {**json.loads(line), "returncode": done.returncode}
        except ValueError:
            continue
    return {"returncode": done.returncode, "stderr": done.stderr[-2000:]}


def _ticker(due: int, tickers: int):
    def measure(app, templates, applicant_ids) -> dict:
        idle = ticker.idle_tick(app)
        return {
            "idle_tick_ms": idle["p50"],
            "idle_tick_ms_p95": idle["p95"],
            "idle_tick_plans": idle["plans"],
            "list_plans": lists.plans(app),
            "fire_due": ticker.fire_many(app, templates, applicant_ids, due, tickers),
        }

    return measure


def run(settings: dict) -> dict:
    results, seconds = {}, {}
    for database in settings["databases"]:
        steps = {
            "completion": lambda db=database: completion.run(settings["completion_n"], db),
            "lists": lambda db=database: lists.run(
                settings["sizes"],
                db,
                settings["requests"],
                after=_ticker(settings["timers_due"], settings["tickers"]),
            ),
            "throughput": lambda db=database: throughput.run(settings["throughput_n"], 3, 6, db),
            "storage": lambda db=database: storage.run(db),
            # PostgreSQL's tickers start an occurrence side by side; SQLite has one writer.
            "dues_start": lambda db=database: dues_start.run(
                settings["dues_members"], db, settings["tickers"] if db == "postgresql" else 1
            ),
            "desk": lambda db=database: desk.run(settings["list_sizes"], db, 30),
            "register": lambda db=database: register.run(settings["list_sizes"], db, 20),
        }
        for name, step in steps.items():
            print(f"bench: {name} on {database}…", file=sys.stderr, flush=True)
            start = time.perf_counter()
            results[f"{name}_{database}"] = step()
            seconds[f"{name}_{database}"] = round(time.perf_counter() - start, 1)
    for database in settings["databases"] if settings["crash_runs"] else []:
        runs = settings["crash_runs"]
        print(f"bench: crash safety on {database}, {runs} runs…", file=sys.stderr, flush=True)
        start = time.perf_counter()
        results[f"crash_safety_{database}"] = crash_safety(runs, database)
        seconds[f"crash_safety_{database}"] = round(time.perf_counter() - start, 1)
    return {**headline(results, settings), "details": results, "seconds": seconds}


def _figures(results: dict, database: str) -> dict:
    """One database's headline figures."""
    c, li = results[f"completion_{database}"], results[f"lists_{database}"]
    dues = results[f"dues_start_{database}"]
    desk_ratios = results[f"desk_{database}"]["p95_ratio_largest_to_smallest"]
    return {
        "completion_ratio": c["completion_ratio"],
        "completion_adapter_ratio": c["completion_adapter_ratio"],
        "completion_ms_p50": c["completion_ms_p50"],
        "completion_ms_p95": c["completion_ms_p95"],
        "engine_ms_p50": c["engine_ms_p50"],
        "engine_ms_p95": c["engine_ms_p95"],
        "adapter_ms_p50": c["adapter_ms_p50"],
        "server_cpu_ms_per_completion": c["server_cpu_ms_per_completion"],
        "completions_per_s": results[f"throughput_{database}"]["completions_per_s"],
        "completions_per_s_all_busy": results[f"throughput_{database}"].get(
            "completions_per_s_all_busy"
        ),
        "timers_fired_per_s": li["fire_due"]["per_s"],
        "timers_fire_s": li["fire_due"]["seconds"],
        "timers_due": li["fire_due"]["due"],
        "timers_tickers": li["fire_due"].get("tickers", 1),
        "timers_cpu_ms_per_timer": li["fire_due"].get("cpu_ms_per_timer"),
        "timers_adapter_ms": li["fire_due"].get("adapter_ms_per_timer"),
        "timers_cpu_adapter_ratio": li["fire_due"].get("cpu_adapter_ratio"),
        "idle_tick_ms": li["idle_tick_ms"],
        "cases_started_per_s": dues["cases_started_per_s"],
        "cases_start_cpu_ms_per_case": dues.get("cpu_ms_per_case"),
        "cases_start_engine_ms_per_case": dues.get("engine_ms_per_case"),
        "cases_start_engine_share": dues.get("engine_share"),
        "cases_started": dues["cases_started"],
        "cases_start_tickers": dues.get("tickers", 1),
        "cases_start_peak_rss_mb": dues["peak_rss_mb"],
        "cases_start_rss_mb": dues["rss_mb"],
        "inbox_p95_ms_small": li["inbox_p95_ms_small"],
        "inbox_p95_ms_large": li["inbox_p95_ms_large"],
        "inbox_ratio": li["inbox_ratio"],
        "my_applications_ratio": li["my_applications_ratio"],
        "all_cases_ratio": desk_ratios["all_cases"],
        "desk_ratios": desk_ratios,
        "register_search_ratio": results[f"register_{database}"]["p95_ratio"],
        "bytes_per_instance": results[f"storage_{database}"]["bytes_per_instance"],
        "raw_bytes_per_instance": results[f"storage_{database}"]["raw_bytes_per_instance"],
        "all_rows_bytes_per_instance": results[f"storage_{database}"][
            "all_rows_bytes_per_instance"
        ],
    }


def headline(results: dict, settings: dict) -> dict:
    """The figures the issue asks for, SQLite's unprefixed, PostgreSQL's beside them (pg_)."""
    figures = {
        "cpu_count": os.cpu_count(),
        # Non-empty until a migration creates every index the models declare (see harness).
        "indexes_added_outside_migrations": harness.ADDED_INDEXES,
        "quick": settings["sizes"] == QUICK["sizes"],
        "list_sizes": settings["sizes"],
        "desk_register_sizes": settings["list_sizes"],
        "dues_members": settings["dues_members"],
    }
    if "completion_sqlite" in results:
        figures.update(_figures(results, "sqlite"))
    if "completion_postgresql" in results:
        figures.update({f"pg_{k}": v for k, v in _figures(results, "postgresql").items()})
    for key in ("crash_safety_sqlite", "crash_safety_postgresql"):
        if key in results:
            crash = results[key]
            figures[key] = {k: crash[k] for k in CRASH_FIGURES if k in crash}
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="SQLite only, smaller sizes")
    parser.add_argument("--skip-crash", action="store_true", help="no crash-safety runs")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), help="only this one")
    args = parser.parse_args()
    settings = dict(QUICK) if args.quick else dict(FULL)
    if args.database:
        settings["databases"] = [args.database]
    if args.skip_crash:
        settings = {**settings, "crash_runs": 0}
    if "postgresql" in settings["databases"] and not pg_available():
        settings["databases"] = ["sqlite"]
        print("NOTE: no PostgreSQL at BENCH_PG_URL: SQLite only", file=sys.stderr)
    start = time.perf_counter()
    figures = run(settings)
    figures["total_seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
