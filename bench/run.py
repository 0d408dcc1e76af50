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

from bench import completion, harness, lists, storage, throughput, ticker  # noqa: E402

BENCH = Path(__file__).resolve().parent
CRASH_FIGURES = ("crash_runs", "kills", "steps", "inconsistencies", "returncode", "skipped")
QUICK = {
    "databases": ["sqlite"],
    "completion_n": 150,
    "sizes": [1000, 10000],
    "requests": 50,
    "timers_due": 500,
    "throughput_n": 1200,
    "crash_runs": 3,
}
FULL = {
    "databases": ["sqlite", "postgresql"],
    "completion_n": 500,
    "sizes": [1000, 10000, 100000],
    "requests": 200,
    "timers_due": 10000,
    "throughput_n": 4000,
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


def _ticker(due: int):
    def measure(app, templates, applicant_ids) -> dict:
        idle = ticker.idle_tick(app)
        return {
            "idle_tick_ms": idle["p50"],
            "idle_tick_ms_p95": idle["p95"],
            "idle_tick_plans": idle["plans"],
            "list_plans": lists.plans(app),
            "fire_due": ticker.fire_many(app, templates, applicant_ids, due),
        }

    return measure


def run(settings: dict) -> dict:
    results, seconds = {}, {}
    for database in settings["databases"]:
        steps = {
            "completion": lambda db=database: completion.run(settings["completion_n"], db),
            "lists": lambda db=database: lists.run(
                settings["sizes"], db, settings["requests"], after=_ticker(settings["timers_due"])
            ),
            "throughput": lambda db=database: throughput.run(settings["throughput_n"], 3, 6, db),
            "storage": lambda db=database: storage.run(db),
        }
        for name, step in steps.items():
            print(f"bench: {name} on {database}…", file=sys.stderr, flush=True)
            start = time.perf_counter()
            results[f"{name}_{database}"] = step()
            seconds[f"{name}_{database}"] = round(time.perf_counter() - start, 1)
    for database in settings["databases"]:
        runs = settings["crash_runs"]
        print(f"bench: crash safety on {database}, {runs} runs…", file=sys.stderr, flush=True)
        start = time.perf_counter()
        results[f"crash_safety_{database}"] = crash_safety(runs, database)
        seconds[f"crash_safety_{database}"] = round(time.perf_counter() - start, 1)
    return {**headline(results, settings), "details": results, "seconds": seconds}


def headline(results: dict, settings: dict) -> dict:
    """The figures the issue asks for, SQLite first, PostgreSQL beside them when it ran."""
    c, li = results["completion_sqlite"], results["lists_sqlite"]
    figures = {
        "cpu_count": os.cpu_count(),
        # Non-empty until a migration creates every index the models declare (see harness).
        "indexes_added_outside_migrations": harness.ADDED_INDEXES,
        "quick": settings is QUICK,
        "completion_ratio": c["completion_ratio"],
        "completion_ms_p50": c["completion_ms_p50"],
        "completion_ms_p95": c["completion_ms_p95"],
        "engine_ms_p50": c["engine_ms_p50"],
        "engine_ms_p95": c["engine_ms_p95"],
        "inbox_sizes": settings["sizes"],
        "inbox_p95_ms_small": li["inbox_p95_ms_small"],
        "inbox_p95_ms_large": li["inbox_p95_ms_large"],
        "inbox_ratio": li["inbox_ratio"],
        "my_applications_p95_ms_small": li["my_applications_p95_ms_small"],
        "my_applications_p95_ms_large": li["my_applications_p95_ms_large"],
        "my_applications_ratio": li["my_applications_ratio"],
        "completions_per_s": results["throughput_sqlite"]["completions_per_s"],
        "idle_tick_ms": li["idle_tick_ms"],
        "timers_fired_per_s": li["fire_due"]["per_s"],
        "timers_fire_s": li["fire_due"]["seconds"],
        "timers_due": li["fire_due"]["due"],
        "bytes_per_instance": results["storage_sqlite"]["bytes_per_instance"],
        "raw_bytes_per_instance": results["storage_sqlite"]["raw_bytes_per_instance"],
        "all_rows_bytes_per_instance": results["storage_sqlite"]["all_rows_bytes_per_instance"],
    }
    if "completion_postgresql" in results:
        c, li = results["completion_postgresql"], results["lists_postgresql"]
        figures.update(
            {
                "pg_completion_ratio": c["completion_ratio"],
                "pg_completion_ms_p50": c["completion_ms_p50"],
                "pg_engine_ms_p50": c["engine_ms_p50"],
                "pg_inbox_p95_ms_small": li["inbox_p95_ms_small"],
                "pg_inbox_p95_ms_large": li["inbox_p95_ms_large"],
                "pg_inbox_ratio": li["inbox_ratio"],
                "pg_my_applications_ratio": li["my_applications_ratio"],
                "pg_completions_per_s": results["throughput_postgresql"]["completions_per_s"],
                "pg_idle_tick_ms": li["idle_tick_ms"],
                "pg_timers_fired_per_s": li["fire_due"]["per_s"],
                "pg_bytes_per_instance": results["storage_postgresql"]["bytes_per_instance"],
            }
        )
    for key in ("crash_safety_sqlite", "crash_safety_postgresql"):
        if key in results:
            crash = results[key]
            figures[key] = {k: crash[k] for k in CRASH_FIGURES if k in crash}
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="SQLite only, smaller sizes")
    args = parser.parse_args()
    settings = QUICK if args.quick else dict(FULL)
    if not args.quick and not pg_available():
        settings["databases"] = ["sqlite"]
        print("NOTE: no PostgreSQL at BENCH_PG_URL: SQLite only", file=sys.stderr)
    start = time.perf_counter()
    figures = run(settings)
    figures["total_seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
