"""A step's new rows (tasks, messages, a started case) and its case's changes are written by
prebuilt statements, not the unit of work (webapp.services.row_writes): the objects stand as
the database has them and nothing is left for a flush; a savepoint rolled back takes the
objects out of the session with their rows; the running counts of cases move exactly once; a
batch's messages go in one statement; and a yearly start that meets a member another ticker
started goes on with the next ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from tests import staged
from tests.conftest import add_user
from tests.test_annual_dues import OPENS, dues_cases, start_due
from tests.test_timer_starts import make_member
from webapp.extensions import db
from webapp.models import (
    Case,
    HumanTask,
    OutboxMessage,
    ProcessInstance,
    TimerStartCase,
    User,
    utcnow,
)
from webapp.services import row_writes, scheduled_starts, stage_counts


def _message(user: User, event_name: str = "row_writes_test", n: int = 1) -> OutboxMessage:
    return OutboxMessage(
        recipient_id=user.id, event=event_name, params={"n": n}, to_address=user.email or ""
    )


class _Statements:
    """The INSERT statements sent to the database while it is open."""

    def __init__(self) -> None:
        self.inserts: list[str] = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            self.inserts.append(statement)


def test_new_rows_are_stored_with_their_defaults_and_nothing_is_left_to_flush(app):
    with app.app_context():
        secretary = db.session.scalars(select(User).where(User.username == "secretary")).one()
        messages = [_message(secretary, n=n) for n in (1, 2, 3)]
        before = utcnow()
        with _Statements() as seen:
            row_writes.insert_objects(messages)
        assert len(seen.inserts) == 1  # all rows in one statement
        assert len({m.id for m in messages}) == 3 and None not in {m.id for m in messages}
        # The mapper's defaults, set on the objects as they were written.
        assert all(m.attempts == 0 and m.locale == "zh_CN" for m in messages)
        assert all(m.created_at >= before for m in messages)
        assert not db.session.new and not db.session.dirty
        assert db.session.get(OutboxMessage, messages[0].id) is messages[0]
        db.session.commit()
        stored = db.session.execute(
            select(OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.params).where(
                OutboxMessage.event == "row_writes_test"
            )
        ).all()
        # Each object has its own row's id.
        assert sorted((r.id, r.attempts, r.params["n"]) for r in stored) == [
            (m.id, 0, m.params["n"]) for m in messages
        ]


def test_a_relationship_set_on_a_new_row_is_refused(app):
    with app.app_context():
        secretary = db.session.scalars(select(User).where(User.username == "secretary")).one()
        task = HumanTask(task_guid="x" * 36, bpmn_id="t", title="t", completed_by=secretary)
        with pytest.raises(ValueError, match="relationship"):
            row_writes.insert_objects([task])
        db.session.rollback()


def test_a_savepoint_rolled_back_takes_the_rows_objects_out_of_the_session(app):
    with app.app_context():
        secretary = db.session.scalars(select(User).where(User.username == "secretary")).one()
        kept = _message(secretary)
        row_writes.insert_objects([kept])
        with pytest.raises(RuntimeError), db.session.begin_nested():
            dropped = _message(secretary)
            row_writes.insert_objects([dropped])
            raise RuntimeError("the case's start failed")
        assert dropped not in db.session and kept in db.session
        # SQLite gives the next row the id the rolled-back one had: no clash in the session.
        again = _message(secretary)
        row_writes.insert_objects([again])
        db.session.commit()
        assert (
            db.session.scalar(select(func.count()).where(OutboxMessage.event == "row_writes_test"))
            == 2
        )


def test_gathered_rows_are_written_at_the_end_in_one_statement_or_not_at_all(app):
    with app.app_context():
        secretary = db.session.scalars(select(User).where(User.username == "secretary")).one()
        with _Statements() as seen, row_writes.gathered():
            messages = [_message(secretary) for _ in range(3)]
            for message in messages:
                row_writes.insert_objects([message])
            with row_writes.gathered():  # within another: written when the outer one ends
                row_writes.insert_objects([_message(secretary)])
            assert not seen.inserts and all(m.id is None for m in messages)
        assert len(seen.inserts) == 1
        assert [m.id for m in messages] == sorted(m.id for m in messages)
        with pytest.raises(RuntimeError), row_writes.gathered():
            row_writes.insert_objects([_message(secretary, "never_written")])
            raise RuntimeError
        db.session.commit()
        counts = dict(
            db.session.execute(
                select(OutboxMessage.event, func.count()).group_by(OutboxMessage.event)
            ).all()
        )
        assert counts.get("row_writes_test") == 4 and "never_written" not in counts


def test_a_cases_changes_are_written_at_once_and_counted_once(app):
    with app.test_request_context():
        [case_id] = staged.submitted(1)
        case = db.session.get(Case, case_id)
        assert stage_counts.kept() == stage_counts.counted()
        old_stage = case.stage
        case.stage, case.facts = "row_writes_stage", {"a": 1}
        stage_counts.write(case)
        assert not db.session.is_modified(case) and case not in db.session.dirty
        stored = db.session.execute(select(Case.stage, Case.facts).where(Case.id == case_id)).one()
        assert (stored.stage, stored.facts) == ("row_writes_stage", {"a": 1})
        db.session.commit()
        counts = stage_counts.kept()
        assert counts == stage_counts.counted()
        assert counts.get((case.model_id, "row_writes_stage")) == 1
        assert (case.model_id, old_stage) not in counts


def test_a_versioned_or_unstored_row_is_left_to_the_flush(app):
    with app.test_request_context():
        [case_id] = staged.submitted(1)
        instance = db.session.get(ProcessInstance, db.session.get(Case, case_id).instance_id)
        instance.updated_at = utcnow()
        assert not row_writes.update_changed(instance)  # its version column is the mapper's
        assert db.session.is_modified(instance)
        assert not row_writes.update_changed(Case(title="new"))
        db.session.rollback()


def test_a_yearly_start_goes_on_past_a_member_another_ticker_started(app, procedure, monkeypatch):
    add_user(app, "member2", "会员二", "applicant")
    add_user(app, "member3", "会员三", "applicant")
    first, second, third = (
        make_member(app, name, "unit") for name in ("applicant", "member2", "member3")
    )
    procedure.travel_to(OPENS + timedelta(minutes=1))
    with app.app_context():
        assert scheduled_starts.start_due(limit=1) == 1
    assert set(dues_cases(app)) == {first}
    # The next batch still lists the first member, as a ticker reading before another's commit
    # would: its start is refused by the unique key, and the others start.
    listed = scheduled_starts._pending_members

    def stale(row, key_at, types, size, after=0, part=None):
        rows = listed(row, key_at, types, size, after, part)
        return [db.session.get(type(rows[0]), first), *rows] if rows else rows

    monkeypatch.setattr(scheduled_starts, "_pending_members", stale)
    assert start_due(app) == 2
    monkeypatch.setattr(scheduled_starts, "_pending_members", listed)
    assert start_due(app) == 0
    cases = dues_cases(app)
    assert set(cases) == {first, second, third}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TimerStartCase)) == 3
        started = db.session.scalars(
            select(Case).join(TimerStartCase, TimerStartCase.case_id == Case.id)
        ).all()
        # Each case has its instance and its first task; the counts agree with the cases.
        for case in started:
            assert db.session.get(ProcessInstance, case.instance_id).status == "running"
            assert (
                db.session.scalar(
                    select(func.count()).where(
                        HumanTask.instance_id == case.instance_id, HumanTask.state == "ready"
                    )
                )
                >= 1
            )
        assert stage_counts.kept() == stage_counts.counted()
