"""Three `flask tick` processes on one database and many due notice-period timers: each timer
fires exactly once (one timer_fired audit row, one vote opened, one set of notifications).

The applications are put on notice through the services on a clock set back to June, so their
notice periods have ended by the real clock the ticker processes read.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests import staged
from tests.servers import PUBLIC_BASE_URL, SECRET_KEY
from webapp.extensions import db
from webapp.models import AuditEvent, Case, HumanTask, OutboxMessage, ProcessInstance
from webapp.services import timers

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).with_name("flask"))
# The figure is 1,000 (TICKER_TEST_TIMERS=1000, about a minute to prepare); the suite
# runs on both databases, so it uses fewer.
TIMERS = int(os.environ.get("TICKER_TEST_TIMERS", "200"))
TICKERS = 3


def ticker_env(database_url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "FLASK_APP": "webapp:create_app",
    }


def start_tickers(database_url: str, count: int) -> list[subprocess.Popen]:
    """Tickers that have started: each has installed its stop handler and said so.

    Their output is read unbuffered: a buffered readline of the first line would also take what
    a quick ticker printed next ("started 60 case(s)"), which `communicate` (reading the pipe
    itself) then never sees."""
    env = ticker_env(database_url)
    tickers = [
        subprocess.Popen(
            [FLASK, "tick", "--interval", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,
        )
        for _ in range(count)
    ]
    try:
        for ticker in tickers:
            first = ticker.stdout.readline().decode()  # a raw pipe: one byte at a time
            assert first.startswith("ticker started"), first + ticker.stdout.read().decode()
    except BaseException:
        for ticker in tickers:
            ticker.kill()
        raise
    return tickers


def stop_tickers(tickers: list[subprocess.Popen]) -> list[str]:
    """SIGTERM each ticker and collect its output. A ticker stops between two instances and
    prints what it fired, so the counts add up however the signal meets it."""
    for ticker in tickers:
        ticker.terminate()
    logs = [ticker.communicate(timeout=60)[0].decode() for ticker in tickers]
    for ticker, log in zip(tickers, logs, strict=True):
        assert ticker.returncode == 0 and log.rstrip().endswith("ticker stopped"), log
    return logs


def fired_in(log: str) -> int:
    """How many timers a ticker says it fired ("fired N timer(s)" per busy tick)."""
    return sum(int(line.split()[1]) for line in log.splitlines() if line.startswith("fired "))


def wait_until_fired(app, ids: list[int], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout  # monotonic: the test's clock may be travelling
    while time.monotonic() < deadline:
        with app.app_context():
            waiting = db.session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.id.in_(ids), Case.stage == "notice")
            )
        if not waiting:
            return
        time.sleep(0.5)
    raise AssertionError(f"{waiting} notice timer(s) still waiting after {timeout} s")


@pytest.fixture
def on_notice(app, procedure):
    """Applications whose notice periods ended months ago (the clock is set back to June)."""
    with app.test_request_context():
        return staged.on_notice(TIMERS)


def test_three_tickers_fire_each_due_timer_exactly_once(app, database_url, on_notice):
    tickers = start_tickers(database_url, TICKERS)
    try:
        wait_until_fired(app, on_notice)
    finally:
        logs = stop_tickers(tickers)
    assert sum(fired_in(log) for log in logs) == TIMERS, logs

    with app.app_context():
        instance_ids = db.session.scalars(
            select(Case.instance_id).where(Case.id.in_(on_notice))
        ).all()
        fired = Counter(
            db.session.scalars(
                select(AuditEvent.instance_id).where(AuditEvent.action == "timer_fired")
            )
        )
        assert {i: fired[i] for i in instance_ids} == dict.fromkeys(instance_ids, 1)
        assert not db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "timer_failed")
        )
        # Every application is in its council vote, with one vote task per council member.
        stages = Counter(db.session.scalars(select(Case.stage).where(Case.id.in_(on_notice))))
        assert stages == {"approval": TIMERS}
        votes = Counter(
            db.session.scalars(
                select(HumanTask.instance_id).where(
                    HumanTask.bpmn_id == "council_vote", HumanTask.state == "ready"
                )
            )
        )
        assert {i: votes[i] for i in instance_ids} == dict.fromkeys(instance_ids, 3)
        # The vote opening was announced once per application and council member.
        opened = Counter(
            db.session.execute(
                select(OutboxMessage.case_id, OutboxMessage.recipient_id).where(
                    OutboxMessage.case_id.in_(on_notice),
                    OutboxMessage.event == "task_waiting",
                )
            ).all()
        )
        assert opened and max(opened.values()) == 1, opened.most_common(3)
        without_deadline = db.session.scalar(
            select(func.count())
            .select_from(ProcessInstance)
            .where(ProcessInstance.id.in_(instance_ids), ProcessInstance.next_timer_at.is_(None))
        )
        assert without_deadline == 0  # each waits on its vote deadline now
    # A tick now finds nothing due.
    again = subprocess.run(
        [FLASK, "tick"], cwd=ROOT, env=ticker_env(database_url), capture_output=True, text=True
    )
    assert again.returncode == 0 and "fired 0 timer(s)" in again.stdout, again


def test_a_ticker_skips_an_instance_another_ticker_holds(app, procedure):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time")
    with app.test_request_context():
        ids = staged.on_notice(3)
        held = db.session.get(Case, ids[0]).instance_id
        closes = db.session.get(Case, ids[0]).notice_closes_at
    assert procedure.after(closes, timedelta(minutes=-1)) == 0  # not yet due
    procedure.travel_to(closes + timedelta(minutes=1))
    with app.app_context():
        other = db.engine.connect()  # another ticker, in the middle of firing this one
        other.execute(
            select(ProcessInstance.id).where(ProcessInstance.id == held).with_for_update()
        )
        try:
            started = time.monotonic()
            assert timers.fire_due() == 2  # the others, without waiting for the held one
            assert time.monotonic() - started < 10
        finally:
            other.rollback()
            other.close()
        assert timers.fire_due() == 1  # released: now it fires, once
        assert timers.fire_due() == 0
        fired = db.session.scalars(
            select(AuditEvent.instance_id).where(AuditEvent.action == "timer_fired")
        ).all()
    assert sorted(fired) == sorted(procedure.case(i).instance_id for i in ids)
