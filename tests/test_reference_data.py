"""The working-day calendar and the groups' names are kept by each process between
transactions, and never outlive a change: one made around the app (plain SQL on another
connection, as another process or an import would) is seen by the next transaction, a change
rolled back leaves nothing behind, and a transaction with nothing changed reads one stamp
instead of the table."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event, text

from webapp.extensions import db
from webapp.models import CalendarDay
from webapp.services import groups, reference_data, workdays

MONDAY = date(2027, 3, 1)  # a year the packaged calendar does not know: Monday–Friday


def _elsewhere(statement: str, **params) -> None:
    """Run and commit a statement on a connection of its own, as another process would."""
    db.session.rollback()
    with db.engine.begin() as connection:
        connection.execute(text(statement), params)


def _next_working_day(day: date) -> date:
    db.session.rollback()  # each answer from a transaction of its own
    return workdays.add_working_days(day, 1)


def test_a_calendar_day_written_elsewhere_is_seen_by_the_next_transaction(app):
    with app.app_context():
        assert _next_working_day(MONDAY) == date(2027, 3, 2)
        _elsewhere(
            "INSERT INTO calendar_day (day, kind, note, updated_at) "
            "VALUES (:day, 'holiday', '', CURRENT_TIMESTAMP)",
            day=date(2027, 3, 2),
        )
        assert _next_working_day(MONDAY) == date(2027, 3, 3)
        _elsewhere(
            "UPDATE calendar_day SET kind = 'workday' WHERE day = :day", day=date(2027, 3, 2)
        )
        assert _next_working_day(MONDAY) == date(2027, 3, 2)
        _elsewhere("DELETE FROM calendar_day")
        assert _next_working_day(date(2027, 3, 5)) == date(2027, 3, 8)


def test_a_group_renamed_elsewhere_is_seen_by_the_next_transaction(app):
    with app.app_context():
        assert groups.lane_map().get("Secretariat") == "secretariat"
        db.session.rollback()
        _elsewhere("UPDATE user_group SET name_en = 'General Office' WHERE key = 'secretariat'")
        names = groups.lane_map()
        assert names.get("General Office") == "secretariat"
        assert "Secretariat" not in names


def test_a_change_rolled_back_leaves_nothing_behind(app):
    with app.app_context():
        assert _next_working_day(MONDAY) == date(2027, 3, 2)
        db.session.rollback()
        # A transaction sees its own holiday, and rolls back.
        db.session.add(CalendarDay(day=date(2027, 3, 2), kind="holiday", note=""))
        db.session.flush()
        assert workdays.add_working_days(MONDAY, 1) == date(2027, 3, 3)
        db.session.rollback()
        # Another change commits: the stamp is new again, and differs from the one the
        # rolled-back transaction saw (a counter would have come back to the same number).
        _elsewhere(
            "INSERT INTO calendar_day (day, kind, note, updated_at) "
            "VALUES (:day, 'holiday', '', CURRENT_TIMESTAMP)",
            day=date(2027, 3, 4),
        )
        assert _next_working_day(MONDAY) == date(2027, 3, 2)
        assert _next_working_day(date(2027, 3, 3)) == date(2027, 3, 5)


def test_an_unchanged_calendar_and_groups_cost_one_stamp_read_per_transaction(app):
    with app.app_context():
        _next_working_day(MONDAY)  # this process's copies
        groups.lane_map()
        seen: list[str] = []

        def record(_conn, _cursor, statement, *_args):
            seen.append(" ".join(statement.split()))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert _next_working_day(MONDAY) == date(2027, 3, 2)
            assert groups.lane_map().get("council") == "council"
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert not [s for s in seen if "FROM calendar_day" in s or "FROM user_group" in s], seen
        assert len([s for s in seen if "FROM reference_stamp" in s]) == 1, seen


def test_a_change_after_the_stamps_were_read_is_seen_by_the_same_transaction(app):
    with app.app_context():
        assert _next_working_day(MONDAY) == date(2027, 3, 2)  # this process's copy
        db.session.rollback()
        groups.lane_map()  # the transaction reads every kind's stamp here
        db.session.add(CalendarDay(day=date(2027, 3, 2), kind="holiday", note=""))
        # Reading the calendar flushes the new day, and its trigger stamps it anew: the stamps
        # read before are forgotten and read again.
        assert workdays.add_working_days(MONDAY, 1) == date(2027, 3, 3)
        db.session.rollback()
        assert _next_working_day(MONDAY) == date(2027, 3, 2)


def test_stamps_read_before_a_savepoint_rolled_back_are_read_again(app):
    # A write rolled back with its savepoint may have stamped a kind: what was read before it
    # no longer counts (the stamps the rollback restored are read again).
    with app.app_context():
        db.session.rollback()
        groups.lane_map()
        seen: list[str] = []

        def record(_conn, _cursor, statement, *_args):
            seen.append(" ".join(statement.split()))

        with db.session.begin_nested() as savepoint:
            db.session.add(CalendarDay(day=date(2027, 3, 2), kind="holiday", note=""))
            db.session.flush()
            reference_data.kept("groups", groups._read_names)  # the stamps as the new day left them
            savepoint.rollback()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            reference_data.kept("groups", groups._read_names)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        db.session.rollback()
        assert len([s for s in seen if "FROM reference_stamp" in s]) == 1, seen


def test_a_transactions_own_change_not_yet_flushed_is_seen(app):
    with app.app_context():
        assert _next_working_day(MONDAY) == date(2027, 3, 2)  # this process's copy
        db.session.rollback()
        # Pending in the session only: reading the stamp flushes it, and the trigger stamps it.
        db.session.add(CalendarDay(day=date(2027, 3, 2), kind="holiday", note=""))
        assert workdays.add_working_days(MONDAY, 1) == date(2027, 3, 3)
        db.session.rollback()
        assert _next_working_day(MONDAY) == date(2027, 3, 2)
