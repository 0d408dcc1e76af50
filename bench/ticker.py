"""The ticker: an idle tick (nothing due) among many instances, and the time to fire many due
timers (notice periods that ended in the past). Prints JSON.

    .venv/bin/python bench/ticker.py [--instances 100000] [--due 10000] [--database ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench import harness, population  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import ProcessInstance, utcnow  # noqa: E402
from webapp.services import timers  # noqa: E402


def idle_tick(app, ticks: int = 50) -> dict:
    """What one tick costs when nothing is due: the due-timer query (and nothing else)."""
    with app.app_context():
        for _ in range(3):
            timers.fire_due()
        times = []
        for _ in range(ticks):
            start = time.perf_counter()
            fired = timers.fire_due()
            times.append(time.perf_counter() - start)
            if fired:
                raise RuntimeError("the idle tick fired timers")
        plans = harness.query_plans(timers.fire_due)
        db.session.remove()
    return {**harness.summary_ms(times), "plans": plans}


def fire_many(app, templates, applicant_ids, count: int) -> dict:
    """Insert `count` instances whose notice period ended an hour ago, then tick until all fired."""
    notice = [t for t in templates if t.kind == "notice"]
    with app.app_context():
        cloner = population.Cloner()
        cloner.clone(notice, count, applicant_ids, timer_due=utcnow() - timedelta(hours=1))
        start = time.perf_counter()
        fired = 0
        while True:
            moved = timers.fire_due()
            fired += moved
            if not moved:
                break
        seconds = time.perf_counter() - start
        still_due = db.session.scalar(
            select(func.count(ProcessInstance.id)).where(ProcessInstance.next_timer_at <= utcnow())
        )
        db.session.remove()
    return {
        "due": count,
        "fired": fired,
        "still_due": still_due,
        "seconds": round(seconds, 2),
        "per_s": round(fired / seconds, 1) if seconds else None,
    }


def run(instances: int = 100000, due: int = 10000, database: str = "sqlite") -> dict:
    with tempfile.TemporaryDirectory() as tmp, harness.bench_database(database, Path(tmp)) as url:
        app = harness.make_app(url, Path(tmp))
        templates = population.make_templates(app, 8, at_notice=2)
        with app.app_context():
            others = harness.add_applicants(1000)
            db.session.remove()
        population.grow(app, templates, others, instances)
        idle = idle_tick(app)
        firing = fire_many(app, templates, others, due)
        with app.app_context():
            db.engine.dispose()
    return {
        "what": "ticker: idle tick among open instances (20% waiting on a future timer), "
        "then firing due notice timers",
        "database": database,
        "cpu_count": os.cpu_count(),
        "instances": instances,
        "idle_tick_ms": idle["p50"],
        "idle_tick_ms_p95": idle["p95"],
        "idle_tick_plans": idle["plans"],
        "fire_due": firing,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=100000)
    parser.add_argument("--due", type=int, default=10000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(json.dumps(run(args.instances, args.due, args.database)))


if __name__ == "__main__":
    main()
