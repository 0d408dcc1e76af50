"""The yearly dues cycle's start: one case per active member of the register, opened by the
shipped annual_dues diagram's timer start (scheduled_starts.start_due, what the ticker runs).
Prints JSON: cases started per second and the process's memory as the run goes on.

    .venv/bin/python bench/dues_start.py              # 1,000 members, SQLite
    .venv/bin/python bench/dues_start.py --full       # 100,000 members
    .venv/bin/python bench/dues_start.py --members 5000 --database postgresql
    .venv/bin/python bench/dues_start.py --database postgresql --tickers 2   # side by side

Issue 15's goal: >= 500 cases/s for 100,000 members, with peak memory flat.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402

from bench import harness  # noqa: E402
from webapp import collector  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import (  # noqa: E402
    Case,
    DuesEntry,
    Member,
    ModelVersion,
    OutboxMessage,
    ProcessInstance,
    ProcessModel,
    ScheduledStart,
    utcnow,
)
from webapp.services import scheduled_starts  # noqa: E402
from webapp.services.workflow import engine  # noqa: E402

KEY = "annual_dues"
CHUNK = 5000


def _rss_mb() -> float:
    """The process's resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


def make_register(count: int) -> None:
    """`count` active members, each with the admission case that made it (rows only: the
    bench measures the dues start, not admission)."""
    users = harness.add_applicants(min(count, 1000))
    version_id = db.session.scalar(
        select(ModelVersion.id).join(ProcessModel).where(ProcessModel.key != KEY).limit(1)
    )
    now = utcnow()
    for first in range(0, count, CHUNK):
        size = min(CHUNK, count - first)
        base_instance = (db.session.scalar(select(func.max(ProcessInstance.id))) or 0) + 1
        db.session.execute(
            ProcessInstance.__table__.insert(),
            [
                {
                    "id": base_instance + i,
                    "version_id": version_id,
                    "state": "",
                    "status": "finished",
                    "lock_version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(size)
            ],
        )
        base_case = (db.session.scalar(select(func.max(Case.id))) or 0) + 1
        db.session.execute(
            Case.__table__.insert(),
            [
                {
                    "id": base_case + i,
                    "instance_id": base_instance + i,
                    "applicant_id": users[(first + i) % len(users)],
                    "data": {},
                    "facts": {},
                    "stage": "",
                    "status": "admitted",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(size)
            ],
        )
        db.session.execute(
            Member.__table__.insert(),
            [
                {
                    "member_number": f"B-{first + i:07d}",
                    "case_id": base_case + i,
                    "user_id": users[(first + i) % len(users)],
                    "name": f"会员单位 {first + i}",
                    "member_type": "unit" if i % 3 else "individual",
                    "admitted_on": date(2026, 1, 5),
                    "status": "active",
                    "created_at": now,
                }
                for i in range(size)
            ],
        )
        db.session.commit()
    if db.session.get_bind().dialect.name == "postgresql":
        # The ids were given explicitly: the sequences must go past them, or each case the
        # start opens collides with one of these and is retried (which the bench would time).
        for table in ("process_instance", "case_file", "member"):
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        db.session.commit()


@contextmanager
def _timed_engine_starts():
    """The seconds of each engine start made meanwhile (a list, filled as they happen)."""
    spent, start = [], engine.start

    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return start(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - began)

    engine.start = timed
    try:
        yield spent
    finally:
        del engine.start  # the class's method again


def run(members: int, database: str, tickers: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as tmp, harness.bench_database(database, Path(tmp)) as url:
        app = harness.make_app(url, Path(tmp))
        with app.app_context():
            make_register(members)
            row = db.session.scalars(
                select(ScheduledStart).join(ProcessModel).where(ProcessModel.key == KEY)
            ).one()
            opens = row.next_at + timedelta(minutes=1)
            db.session.remove()
        if tickers > 1:
            return _side_by_side(app, url, members, database, tickers, opens)
        collector.tune()  # as the ticker (`flask tick --interval N`) does
        rss = {"before": _rss_mb()}
        started, batches = 0, 0
        begin, cpu = time.perf_counter(), time.process_time()
        with app.app_context(), _timed_engine_starts() as in_engine:
            while True:
                # One tick's worth (the ticker's own limit), as a ticker would run it.
                moved = scheduled_starts.start_due(now=opens, limit=1000)
                if not moved:
                    break
                started += moved
                batches += 1
                if started >= members // 2 and "half" not in rss:
                    rss["half"] = _rss_mb()
            seconds = time.perf_counter() - begin
            cpu = time.process_time() - cpu
            rss["end"] = _rss_mb()
            again = scheduled_starts.start_due(now=opens)  # the same occurrence: nothing new
            entries, mails = _written()
    return {
        "database": database,
        "members": members,
        "tickers": 1,
        "cases_started": started,
        "dues_entries": entries,
        "messages_queued": mails,
        "second_start_made": again,
        "seconds": round(seconds, 2),
        "cases_started_per_s": round(started / seconds, 1) if seconds else None,
        # This process's CPU per case (the database server's not counted): steadier than the
        # rate on a machine others share.
        "cpu_ms_per_case": round(cpu / started * 1000, 2) if started else None,
        # The floor: the time inside webapp.engine's start (SpiffWorkflow, our adapter, and the
        # diagram functions the start's script calls: open_dues reads and writes its entry).
        "engine_ms_per_case": round(sum(in_engine) / started * 1000, 2) if started else None,
        "engine_share": round(sum(in_engine) / seconds, 2) if seconds else None,
        "goal_per_s": 500,
        "rss_mb": rss,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "when": utcnow().astimezone(UTC).isoformat(timespec="seconds"),
    }


def _written() -> tuple[int, int]:
    """The dues entries and messages the start wrote (each case has one of each)."""
    entries = db.session.scalar(select(func.count()).select_from(DuesEntry))
    mails = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    db.session.remove()
    return entries, mails


def _ticker_process(url: str, tmp: str, opens, start_at: float, answer) -> None:
    # A ticker of its own, as `flask tick` runs in another process: its own app and pool.
    app = harness.make_app(url, Path(tmp))
    collector.tune()
    time.sleep(max(0.0, start_at - time.time()))  # all tickers start together
    began, started = time.process_time(), 0
    with app.app_context():
        while True:
            moved = scheduled_starts.start_due(now=opens, limit=1000)
            started += moved
            if not moved:
                # Nothing for this one now: done, or the rest held by another ticker, which
                # ends the occurrence; a ticker looks again at its next tick.
                still_due = select(func.count()).where(ScheduledStart.next_at <= opens)
                if not db.session.scalar(still_due):
                    break
                db.session.rollback()
                time.sleep(0.05)
        db.session.remove()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    answer.put((started, time.process_time() - began, time.time(), peak))


def _side_by_side(app, url: str, members: int, database: str, tickers: int, opens) -> dict:
    """The same start by `tickers` ticker processes at once (on PostgreSQL each takes parts of
    the register; on SQLite one writer holds the occurrence at a time)."""
    with app.app_context():
        tmp = str(Path(app.config["UPLOAD_DIR"]).parent)
        db.engine.dispose()
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    start_at = time.time() + 15  # time for each to build its app
    processes = [
        context.Process(target=_ticker_process, args=(url, tmp, opens, start_at, answers))
        for _ in range(tickers)
    ]
    for process in processes:
        process.start()
    results = [answers.get() for _ in processes]
    for process in processes:
        process.join()
    seconds = max(ended for _n, _cpu, ended, _peak in results) - start_at
    started = sum(n for n, _cpu, _ended, _peak in results)
    cpu = sum(c for _n, c, _ended, _peak in results)
    with app.app_context():
        entries, mails = _written()
    return {
        "database": database,
        "members": members,
        "tickers": tickers,
        "cases_started": started,
        "cases_started_by_each": [n for n, _cpu, _ended, _peak in results],
        "dues_entries": entries,
        "messages_queued": mails,
        "seconds": round(seconds, 2),
        "cases_started_per_s": round(started / seconds, 1) if seconds else None,
        # The tickers' CPU per case, all of them (the database server's not counted).
        "cpu_ms_per_case": round(cpu / started * 1000, 2) if started else None,
        "engine_ms_per_case": None,  # timed in one process only
        "engine_share": None,
        "goal_per_s": 500,
        "rss_mb": None,
        "peak_rss_mb": round(max(peak for _n, _cpu, _ended, peak in results), 1),
        "when": utcnow().astimezone(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=None)
    parser.add_argument("--full", action="store_true", help="100,000 members")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--tickers", type=int, default=1, help="ticker processes side by side")
    args = parser.parse_args()
    members = args.members or (100_000 if args.full else 1000)
    print(json.dumps(run(members, args.database, args.tickers), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
