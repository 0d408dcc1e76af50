"""Deadlines count working days on the official Chinese calendar (holidays and make-up weekends),
on days the association enters for later years, and on Monday–Friday where nobody knows better."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from webapp.engine.sandbox import SandboxEnvironment
from webapp.extensions import db
from webapp.models import AuditEvent, CalendarDay, User
from webapp.services import workdays
from webapp.services.workdays import (
    DIAGRAM_FUNCTIONS,
    add_working_days,
    is_working_day,
    subtract_working_days,
    uncovered_years,
    working_days_before,
    working_days_between,
    working_days_later,
)


@pytest.fixture
def ctx(app):
    """An app context, as the engine and the services have when they count days."""
    with app.app_context():
        yield


def _enter(day: date, kind: str, note: str = "") -> None:
    owner = db.session.scalars(select(User).where(User.username == "owner")).one()
    workdays.set_day(day, kind, note, owner)


# --- Spring Festival 2026: holidays Sun 15 – Mon 23 February, make-up Saturdays 14 and 28 ---


def test_spring_festival_week_is_not_worked_and_its_make_up_saturdays_are(ctx):
    assert not any(is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert is_working_day(date(2026, 2, 14))  # Saturday, worked
    assert is_working_day(date(2026, 2, 28))  # Saturday, worked
    assert is_working_day(date(2026, 2, 24))


def test_a_count_across_the_spring_festival_skips_the_holiday_and_counts_the_saturdays(ctx):
    # Thursday 12 Feb: Fri 13, Sat 14, (holiday), Tue 24, Wed 25, Thu 26.
    assert add_working_days(date(2026, 2, 12), 5) == date(2026, 2, 26)
    assert add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    # Thursday 26 Feb: Fri 27, Sat 28, Mon 2 March.
    assert add_working_days(date(2026, 2, 26), 3) == date(2026, 3, 2)
    assert working_days_between(date(2026, 2, 13), date(2026, 2, 24)) == 2
    assert subtract_working_days(date(2026, 2, 24), 1) == date(2026, 2, 14)


# --- National Day 2026: holidays 1–7 October, make-up Sun 20 September and Sat 10 October ---


def test_national_day_week_is_skipped_and_its_make_up_days_count(ctx):
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)  # a Saturday, worked
    assert subtract_working_days(date(2026, 10, 8), 1) == date(2026, 9, 30)
    assert is_working_day(date(2026, 9, 20))  # a Sunday, worked
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 12)) == 4
    assert working_days_between(date(2026, 10, 12), date(2026, 9, 30)) == -4


def test_zero_working_days_is_the_day_itself_or_the_next_working_day(ctx):
    assert add_working_days(date(2026, 2, 14), 0) == date(2026, 2, 14)
    assert add_working_days(date(2026, 2, 15), 0) == date(2026, 2, 24)
    assert subtract_working_days(date(2026, 2, 22), 0) == date(2026, 2, 14)


def test_a_negative_count_is_refused(ctx):
    with pytest.raises(ValueError):
        add_working_days(date(2026, 2, 12), -1)


# --- Years the official calendar does not know yet ---


def test_a_deadline_set_in_late_december_reaches_2027_on_monday_to_friday(ctx):
    # Sunday 20 Dec 2026: 9 working days to Thu 31 Dec, the 10th is Friday 1 January 2027.
    assert add_working_days(date(2026, 12, 20), 10) == date(2027, 1, 1)
    assert uncovered_years([2026, 2027, 2028]) == [2027, 2028]


def test_an_owner_entered_2027_holiday_is_honoured(ctx):
    _enter(date(2027, 1, 1), "holiday", "元旦")
    assert not is_working_day(date(2027, 1, 1))
    assert add_working_days(date(2026, 12, 20), 10) == date(2027, 1, 4)
    assert uncovered_years([2026, 2027, 2028]) == [2028]


def test_an_owner_entered_day_overrides_the_official_calendar(ctx):
    _enter(date(2026, 2, 28), "holiday", "协会放假")
    _enter(date(2026, 2, 22), "workday", "协会值班")
    assert not is_working_day(date(2026, 2, 28))
    assert is_working_day(date(2026, 2, 22))
    assert add_working_days(date(2026, 2, 21), 1) == date(2026, 2, 22)


def test_any_date_gets_an_answer_and_a_missing_year_is_warned_about_once(ctx, caplog, monkeypatch):
    # Alembic's fileConfig in migrations/env.py disables loggers that existed before the upgrade.
    monkeypatch.setattr(logging.getLogger("webapp.services.workdays"), "disabled", False)
    # Warned once per process: an earlier test may have asked about 2031 (a 5-year ban does).
    monkeypatch.setattr(workdays, "_warned_years", set())
    with caplog.at_level(logging.WARNING, logger="webapp.services.workdays"):
        assert is_working_day(date(2031, 3, 3))  # a Monday
        assert not is_working_day(date(2031, 3, 8))  # a Saturday
    warnings = [r for r in caplog.records if "2031" in r.getMessage()]
    assert len(warnings) == 1 and "Mon–Fri" in warnings[0].getMessage()
    assert is_working_day(date(1999, 1, 4)) and is_working_day(date(9999, 12, 31))


# --- Functions a diagram calls: ISO strings in, ISO strings out, in the association's zone ---


def test_a_notice_opened_on_friday_8_may_2026_closes_five_working_days_later(ctx):
    # Saturday 9 May is the make-up day for Labour Day: 9, 11, 12, 13, 14.
    with time_machine.travel(datetime(2026, 5, 8, 2, 0, tzinfo=UTC), tick=False):
        assert working_days_later(5) == "2026-05-14T23:59:59+08:00"
    assert working_days_later(5, "2026-05-08") == "2026-05-14T23:59:59+08:00"
    assert working_days_later(5, "2026-05-08T10:00:00+08:00") == "2026-05-14T23:59:59+08:00"


def test_working_days_later_counts_from_the_local_date_not_the_utc_date(ctx):
    # 17:00 UTC on Friday 8 May is 01:00 on Saturday 9 May in Beijing.
    with time_machine.travel(datetime(2026, 5, 8, 17, 0, tzinfo=UTC), tick=False):
        assert working_days_later(5) == "2026-05-15T23:59:59+08:00"
        assert DIAGRAM_FUNCTIONS["today"]() == "2026-05-09"


def test_a_reminder_three_working_days_before_the_deadline(ctx):
    assert working_days_before("2026-10-08T23:59:59+08:00", 3) == "2026-09-28T09:00:00+08:00"
    # The same deadline written in UTC is still 8 October in Beijing.
    assert working_days_before("2026-10-08T15:59:59+00:00", 3) == "2026-09-28T09:00:00+08:00"


def test_diagram_functions_run_in_the_sandbox(ctx):
    sandbox = SandboxEnvironment(DIAGRAM_FUNCTIONS)
    with time_machine.travel(datetime(2026, 11, 22, 4, 0, tzinfo=UTC), tick=False):
        assert sandbox.evaluate("today()", {}) == "2026-11-22"
        closes = sandbox.evaluate("working_days_later(days)", {"days": 10})
        assert closes == "2026-12-04T23:59:59+08:00"
        reminder = sandbox.evaluate("working_days_before(closes, 3)", {"closes": closes})
        assert reminder == "2026-12-01T09:00:00+08:00"


def test_a_timezone_from_the_configuration_is_used(app):
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Berlin"
    with app.app_context():
        assert working_days_later(0, "2026-05-08") == "2026-05-08T23:59:59+02:00"


# --- The process owner's calendar page ---


@pytest.fixture
def on_22_november_2026():
    """Today as in the brief; logins happen inside it too (a session from the future is void)."""
    with time_machine.travel(datetime(2026, 11, 22, 4, 0, tzinfo=UTC), tick=False):
        yield


def test_owner_sees_the_warning_for_a_year_without_holidays(app, actors, on_22_november_2026):
    owner = actors("owner")
    owner.get("/lang/en")
    page = owner.get("/admin/calendar").get_data(as_text=True)
    assert 'data-uncovered="2027"' in page and 'data-uncovered="2028"' in page
    assert "2027: no official holiday data; counting Monday–Friday" in page
    assert 'data-year="2026" data-source="official"' in page
    assert "/admin/calendar" in owner.get("/models").get_data(as_text=True)


def test_owner_adds_and_deletes_a_day(app, actors, on_22_november_2026):
    owner = actors("owner")
    response = owner.post(
        "/admin/calendar",
        {"day": "2027-02-08", "kind": "holiday", "note": "春节"},
        token_page="/admin/calendar",
    )
    assert response.status_code == 302
    page = owner.get("/admin/calendar").get_data(as_text=True)
    assert 'data-day="2027-02-08" data-kind="holiday"' in page and "春节" in page
    assert 'data-uncovered="2027"' not in page
    assert 'data-year="2027" data-source="association"' in page
    # Entering the same day again replaces it.
    owner.post(
        "/admin/calendar",
        {"day": "2027-02-08", "kind": "workday", "note": "调休上班"},
        token_page="/admin/calendar",
    )
    with app.app_context():
        row = db.session.get(CalendarDay, date(2027, 2, 8))
        assert (row.kind, row.note) == ("workday", "调休上班")
        assert row.updated_by_id is not None

    response = owner.post("/admin/calendar/2027-02-08/delete", {}, token_page="/admin/calendar")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(CalendarDay, date(2027, 2, 8)) is None
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("calendar_day_%"))
        ).all()
    assert actions == ["calendar_day_set", "calendar_day_set", "calendar_day_deleted"]


def test_a_council_member_may_not_see_or_change_the_calendar(app, actors):
    council = actors("council")
    assert council.get("/admin/calendar").status_code == 403
    response = council.post("/admin/calendar", {"day": "2027-02-08", "kind": "holiday"})
    assert response.status_code == 403
    assert council.post("/admin/calendar/2027-02-08/delete", {}).status_code == 403
    with app.app_context():
        assert db.session.get(CalendarDay, date(2027, 2, 8)) is None


def test_a_bad_date_is_a_form_error_not_a_crash(app, actors):
    owner = actors("owner")
    for bad in ("2027-02-30", "tomorrow", ""):
        response = owner.post(
            "/admin/calendar", {"day": bad, "kind": "holiday"}, token_page="/admin/calendar"
        )
        assert response.status_code == 200, bad
        assert "is-invalid" in response.get_data(as_text=True), bad
    response = owner.post(
        "/admin/calendar", {"day": "2027-02-08", "kind": "weekend"}, token_page="/admin/calendar"
    )
    assert response.status_code == 200 and "is-invalid" in response.get_data(as_text=True)
    assert owner.post("/admin/calendar/2027-02-30/delete", {}).status_code == 404
    assert owner.post("/admin/calendar/2027-03-01/delete", {}).status_code == 404
    with app.app_context():
        assert db.session.scalars(select(CalendarDay)).all() == []


def test_a_transaction_loads_the_owners_days_once_and_an_edit_is_seen_at_once(ctx):
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if "calendar_day" in statement:
            statements.append(statement)

    from sqlalchemy import event

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(3):  # a yearly start: three deadlines per case, many cases
            add_working_days(date(2026, 2, 21), 1)
        assert len(statements) == 1
        _enter(date(2026, 2, 23), "workday", "协会值班")  # commits: the next count sees it
        assert add_working_days(date(2026, 2, 21), 1) == date(2026, 2, 23)
        workdays.delete_day(date(2026, 2, 23), None)
        assert add_working_days(date(2026, 2, 21), 1) == date(2026, 2, 24)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_a_count_asked_again_is_answered_from_memory_until_the_calendar_changes(ctx, monkeypatch):
    # A yearly start asks the same 60 working days from the same day for every member.
    days_looked_at = []
    looked_at = workdays._official_or_weekday
    monkeypatch.setattr(
        workdays, "_official_or_weekday", lambda day: days_looked_at.append(day) or looked_at(day)
    )
    start = date(2027, 3, 1)  # Monday–Friday: no official data for 2027
    assert add_working_days(start, 60) == date(2027, 5, 24)
    assert len(days_looked_at) == 84
    db.session.commit()  # another transaction, the same calendar
    assert add_working_days(start, 60) == date(2027, 5, 24)
    assert subtract_working_days(date(2027, 5, 24), 60) == start
    assert len(days_looked_at) == 84 + 84
    assert subtract_working_days(date(2027, 5, 24), 60) == start
    assert len(days_looked_at) == 84 + 84
    _enter(date(2027, 3, 2), "holiday")  # the owner's change commits: counted afresh
    assert add_working_days(start, 60) == date(2027, 5, 25)
