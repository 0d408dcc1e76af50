"""The ticker: an idle tick (nothing due) among many instances, and the time to fire many due
timers (notice periods that ended in the past). Prints JSON.

    .venv/bin/python bench/ticker.py [--instances 100000] [--due 10000] [--database ...]
                                     [--tickers 2]   # ticker processes side by side
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench import harness, population  # noqa: E402
from webapp import collector  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import ProcessInstance, utcnow  # noqa: E402
from webapp.services import timers  # noqa: E402
from webapp.services.workflow import engine, source_for  # noqa: E402


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


def _tick_until_done(app, limit: int | None = None) -> int:
    """What a ticker does: fire due timers until none is left; how many it fired."""
    fired = 0
    with app.app_context():
        while True:
            moved = timers.fire_due(limit=limit or 10_000)
            fired += moved
            if not moved:
                break
        db.session.remove()
    return fired


def _ticker_process(url: str, tmp: str, start_at: float, answer) -> None:
    # A ticker of its own, as `flask tick` runs in another process: its own app and pool.
    app = harness.make_app(url, Path(tmp))
    collector.tune()  # as `flask tick --interval N` does
    time.sleep(max(0.0, start_at - time.time()))  # all tickers start together
    begin = time.process_time()
    fired = _tick_until_done(app, limit=50)
    answer.put((fired, time.process_time() - begin))


def fire_many(app, templates, applicant_ids, count: int, tickers: int = 1) -> dict:
    """Insert `count` instances whose notice period ended an hour ago, then tick until all
    fired: in this process, or with `tickers` ticker processes side by side."""
    notice = [t for t in templates if t.kind == "notice"]
    with app.app_context():
        cloner = population.Cloner()
        cloner.clone(notice, count, applicant_ids, timer_due=utcnow() - timedelta(hours=1))
        url = db.engine.url.render_as_string(hide_password=False)
        db.session.remove()
        db.engine.dispose()
    adapter = adapter_timers(app)
    cpu = None
    if tickers == 1:
        start = time.perf_counter()
        fired = _tick_until_done(app)
        seconds = time.perf_counter() - start
    else:
        context = multiprocessing.get_context("spawn")
        answers = context.Queue()
        start_at = time.time() + 15  # time for each to build its app
        processes = [
            context.Process(
                target=_ticker_process,
                args=(url, str(Path(app.config["UPLOAD_DIR"]).parent), start_at, answers),
            )
            for _ in range(tickers)
        ]
        for process in processes:
            process.start()
        results = [answers.get() for _ in processes]
        seconds = time.time() - start_at
        for process in processes:
            process.join()
        fired = sum(n for n, _cpu in results)
        cpu = sum(c for _n, c in results)
    with app.app_context():
        still_due = db.session.scalar(
            select(func.count(ProcessInstance.id)).where(ProcessInstance.next_timer_at <= utcnow())
        )
        db.session.remove()
    return {
        "due": count,
        "tickers": tickers,
        "fired": fired,
        "still_due": still_due,
        "seconds": round(seconds, 2),
        "per_s": round(fired / seconds, 1) if seconds else None,
        "cpu_ms_per_timer": round(cpu / fired * 1000, 2) if cpu and fired else None,
        # The floor: the same timers fired by webapp.engine alone (SpiffWorkflow and our
        # adapter: restore, fire, run on, serialize), no database, nothing written.
        "adapter_ms_per_timer": adapter["p50"],
        "cpu_adapter_ratio": round(cpu / fired * 1000 / adapter["p50"], 2)
        if cpu and fired
        else None,
    }


def adapter_timers(app, sample: int = 100) -> dict:
    """webapp.engine.fire_timers on the stored states of due instances, timed (ms), each
    restored afresh as a ticker does; the session is rolled back after (nothing is written)."""
    with app.app_context():
        rows = db.session.execute(
            select(ProcessInstance.state, ProcessInstance.version_id)
            .where(ProcessInstance.next_timer_at <= utcnow())
            .limit(sample + 5)
        ).all()
        engine.restored.clear()
        times = []
        for state, version_id in rows:
            source = source_for(version_id)
            start = time.perf_counter()
            engine.fire_timers(source, state)
            times.append(time.perf_counter() - start)
        db.session.rollback()
        db.session.remove()
    return harness.summary_ms(times[5:])


def run(
    instances: int = 100000, due: int = 10000, database: str = "sqlite", tickers: int = 1
) -> dict:
    with tempfile.TemporaryDirectory() as tmp, harness.bench_database(database, Path(tmp)) as url:
        app = harness.make_app(url, Path(tmp))
        templates = population.make_templates(app, 8, at_notice=2)
        with app.app_context():
            others = harness.add_applicants(1000)
            db.session.remove()
        population.grow(app, templates, others, instances)
        idle = idle_tick(app)
        firing = fire_many(app, templates, others, due, tickers)
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
    parser.add_argument("--tickers", type=int, default=1, help="ticker processes side by side")
    args = parser.parse_args()
    print(json.dumps(run(args.instances, args.due, args.database, args.tickers)))


if __name__ == "__main__":
    main()
