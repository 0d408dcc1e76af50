"""A yearly start goes through the register in batches, each from where the last stopped: a member
made active behind that mark during the round still gets its case before the occurrence is done,
and on PostgreSQL the query for the next batch looks each member up by the unique index even
under a generic plan (it once joined every member with every started case: quadratic)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from psycopg import sql
from sqlalchemy import select, update
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
