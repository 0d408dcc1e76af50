"""Rows a step writes by the dozen go out in one statement: the council's vote tasks are one
INSERT (on SQLite too, where the task's own id tells the inserted rows apart), a case's timer
waits are one INSERT, and a yearly start reads the people of a batch's members once, not once
per case."""

from __future__ import annotations

import re

import time_machine
from sqlalchemy import event, func, select

from tests import staged
from tests.procedure import START
from tests.test_annual_dues import OPENS
from tests.test_running_counts import _members
from webapp.extensions import db
from webapp.models import Case, TimerWait
from webapp.services import scheduled_starts, timers


class _Statements:
    """The statements the database is sent while in the `with` (executemany counts once)."""

    def __enter__(self):
        self.seen: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self._seen)
        return self

    def _seen(self, _conn, _cursor, statement, *_args):
        self.seen.append(" ".join(statement.split()))

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._seen)

    def matching(self, pattern: str) -> list[str]:
        return [s for s in self.seen if re.match(pattern, s, re.IGNORECASE)]


def test_the_councils_vote_tasks_are_written_in_one_insert(app):
    with time_machine.travel(START, tick=False) as traveller:
        with app.test_request_context():
            [case_id] = staged.on_notice(1)
            closes = db.session.get(Case, case_id).notice_closes_at
            traveller.move_to(closes.replace(microsecond=0).timestamp() + 60)
            with _Statements() as statements:
                assert timers.fire_due() == 1
            votes = staged.open_tasks(case_id, "council_vote")
    assert len(votes) == len(staged.COUNCIL)
    assert len({v.task_guid for v in votes}) == len(votes)
    # Each row got its own id back, matched by its task id: one vote per council member.
    assert len({v.assignee_id for v in votes}) == len(votes)
    assert len(statements.matching(r"INSERT INTO human_task")) == 1, statements.seen


def _yearly_start_of_six(app, procedure) -> _Statements:
    """Six members' dues cases started by one tick (one batch); the statements it sent."""
    _members(app, 6)
    procedure.travel_to(OPENS)
    with app.app_context():
        with _Statements() as statements:
            assert scheduled_starts.start_due() == 6
    return statements


def test_a_yearly_start_reads_its_members_people_once_per_batch(app, procedure):
    statements = _yearly_start_of_six(app, procedure)
    people = statements.matching(r"SELECT user_account\.id\b.* FROM user_account")
    # One batch: its six members' people in one query, none per case.
    assert len(people) == 1, people


def test_a_cases_timer_waits_are_written_in_one_insert(app, procedure):
    statements = _yearly_start_of_six(app, procedure)
    with app.app_context():
        waits = db.session.execute(
            select(TimerWait.instance_id, func.count())
            .where(TimerWait.state == "waiting")
            .group_by(TimerWait.instance_id)
        ).all()
    # Each dues case waits on several timers at once (its reminders, its deadline): one
    # statement writes them.
    assert len(waits) == 6 and all(count > 1 for _instance, count in waits), waits
    assert len(statements.matching(r"INSERT INTO timer_wait")) == 6, statements.seen
