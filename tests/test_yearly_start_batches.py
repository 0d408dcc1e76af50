"""A yearly start goes through the register in batches, each from where the last stopped: a member
made active behind that mark during the round still gets its case before the occurrence is done,
and on PostgreSQL the query for the next batch looks each member up by the unique index even
under a generic plan (it once joined every member with every started case: quadratic). On
PostgreSQL tickers start an occurrence side by side, each taking a part of the register: a part
another ticker holds is left to it, the occurrence ends only once no part is held, and two
tickers at once start each member once."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from psycopg import sql
from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql

from tests.conftest import add_user
from tests.test_annual_dues import OPENS, dues_cases
from tests.test_timer_starts import make_member
from webapp.extensions import db
from webapp.models import Member, ScheduledStart, TimerStartCase
from webapp.services import scheduled_starts


def test_each_batch_goes_on_from_the_last_and_a_member_made_active_meanwhile_is_not_missed(
    app, procedure, monkeypatch
):
    names = ["m1", "m2", "m3", "m4", "m5"]
    for name in names:
        add_user(app, name, f"会员{name}", "applicant")
    ids = {
        name: make_member(app, name, status="withdrawn" if name == "m2" else "active")
        for name in names
    }
    assert sorted(ids.values()) == [ids[n] for n in names]  # m2 sits behind the later marks
    monkeypatch.setattr(scheduled_starts, "BATCH", 2)
    asked = []

    def stopping() -> bool:
        # Between two cases of the second batch, m2 comes back (its suspension lifted).
        asked.append(1)
        if len(asked) == 2:
            db.session.execute(update(Member).where(Member.id == ids["m2"]).values(status="active"))
        return False

    procedure.travel_to(OPENS + timedelta(minutes=1))
    with app.app_context():
        row_id = db.session.scalars(select(ScheduledStart.id)).one()
        assert scheduled_starts.start_due(stopping=stopping) == 5
        row = db.session.get(ScheduledStart, row_id)
        assert row.last_at is not None and row.next_at > OPENS  # the occurrence is done
    assert set(dues_cases(app)) == set(ids.values())
    with app.app_context():
        assert scheduled_starts.start_due() == 0


def test_the_next_batch_looks_members_up_one_by_one_under_a_generic_plan(app, procedure):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's generic plans; SQLite probes the unique index always")
        row = db.session.scalars(select(ScheduledStart)).one()
        query = scheduled_starts._pending_members_query(row, OPENS, None, 50, 0)
        dialect = postgresql.psycopg.dialect(paramstyle="numeric_dollar")
        compiled = query.compile(dialect=dialect)
        values = [compiled.params[name] for name in compiled.positiontup]
        with db.engine.connect() as connection:
            raw = connection.connection.driver_connection
            raw.execute("SET plan_cache_mode = force_generic_plan")
            casts = dict(
                re.findall(r"\$(\d+)::(TIMESTAMP WITHOUT TIME ZONE|[A-Z]+)", compiled.string)
            )
            types = ", ".join(casts[str(i + 1)] for i in range(len(values)))
            raw.execute(f"PREPARE pending ({types}) AS {compiled.string}")
            # The values written into the EXECUTE: a server-side parameter there has no type.
            listed = ", ".join(sql.Literal(v).as_string(raw) for v in values)
            plan = [line for (line,) in raw.execute(f"EXPLAIN EXECUTE pending({listed})")]
            raw.execute("DEALLOCATE pending")
    text = "\n".join(plan)
    assert "SubPlan" in text, text
    assert "Anti Join" not in text and "Materialize" not in text, text
    assert "uq_timer_start_case_occurrence" in text, text
    assert TimerStartCase.__table__.name in text


def _members(app, count: int) -> list[int]:
    names = [f"p{i}" for i in range(count)]
    for name in names:
        add_user(app, name, f"会员{name}", "applicant")
    return [make_member(app, name) for name in names]


def _hold_part(row_id: int, part: int):
    """Another ticker in the middle of a batch of that part: its lock, on a connection of its
    own, until it is rolled back."""
    other = db.engine.connect()
    other.execute(
        text("SELECT pg_advisory_xact_lock(:space, :key)"),
        {"space": scheduled_starts._PART_LOCKS, "key": row_id * scheduled_starts.PARTS + part},
    )
    return other


def test_a_part_another_ticker_holds_is_left_to_it_and_the_occurrence_ends_after(app, procedure):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("parts are PostgreSQL's; on SQLite one writer starts the occurrence")
    ids = _members(app, 6)
    held = ids[0] % scheduled_starts.PARTS
    in_held = {i for i in ids if i % scheduled_starts.PARTS == held}
    procedure.travel_to(OPENS + timedelta(minutes=1))
    with app.app_context():
        row_id = db.session.scalars(select(ScheduledStart.id)).one()
        other = _hold_part(row_id, held)
        try:
            started = time.monotonic()
            # The other parts start at once; the held one is the other ticker's.
            assert scheduled_starts.start_due() == len(ids) - len(in_held)
            assert time.monotonic() - started < 30
            row = db.session.get(ScheduledStart, row_id)
            assert row.last_at is None and row.next_at <= OPENS + timedelta(minutes=1)
        finally:
            other.rollback()
            other.close()
        assert set(dues_cases(app)) == set(ids) - in_held
        # Let go (that ticker stopped without starting them): the next tick starts the rest,
        # and ends the occurrence.
        assert scheduled_starts.start_due() == len(in_held)
        row = db.session.get(ScheduledStart, row_id)
        assert row.last_at is not None and row.next_at > OPENS
        assert scheduled_starts.start_due() == 0
    assert set(dues_cases(app)) == set(ids)


def test_two_tickers_start_one_occurrence_side_by_side_each_member_once(
    app, procedure, monkeypatch
):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("parts are PostgreSQL's; on SQLite one writer starts the occurrence")
    ids = _members(app, 24)
    monkeypatch.setattr(scheduled_starts, "BATCH", 2)  # many short batches, interleaved
    procedure.travel_to(OPENS + timedelta(minutes=1))
    together = threading.Barrier(2)
    counts, errors = [], []

    def ticker() -> None:
        try:
            with app.app_context():
                together.wait()
                counts.append(scheduled_starts.start_due())
                db.session.remove()
        except Exception as err:  # reported below, with the thread's error
            errors.append(err)

    threads = [threading.Thread(target=ticker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert sum(counts) == len(ids)
    with app.app_context():
        assert scheduled_starts.start_due() == 0
        started = db.session.scalars(select(TimerStartCase.member_key)).all()
        row = db.session.scalars(select(ScheduledStart)).one()
        assert row.last_at is not None and row.next_at > OPENS and row.error is None
    assert sorted(started) == sorted(ids)  # each member once
    assert set(dues_cases(app)) == set(ids)
