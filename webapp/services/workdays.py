"""Working days (工作日) on the official Chinese calendar with its make-up weekends (调休), the
days the association maintains itself, and Monday–Friday where neither knows the year."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import CalendarDay, User, utcnow
from webapp.services import audit, reference_data
from webapp.services.errors import InvalidFormData, NotFound

log = logging.getLogger(__name__)

KINDS = ("holiday", "workday")
NOTE_MAX = 100
# A diagram asking for more than about ten years of working days has a typo, not a deadline.
MAX_WORKING_DAYS = 2600
DEADLINE_TIME = time(23, 59, 59)
REMINDER_TIME = time(9, 0)

# Years already reported as falling back to Monday–Friday: one warning per year and process.
_warned_years: set[int] = set()


@cache
def package_knows(year: int) -> bool:
    """Whether the chinese_calendar package has the official holidays of this year."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=16384)
def _official(day: date) -> bool:
    # The package's data is fixed for the process's life, and each of its answers checks the
    # day against its whole table (a min and a max over it): a yearly start asks it thousands
    # of times for the same few weeks.
    return chinese_calendar.is_workday(day)


def _official_or_weekday(day: date) -> bool:
    if package_knows(day.year):
        return _official(day)
    if day.year not in _warned_years:
        _warned_years.add(day.year)
        log.warning(
            "no official holiday data for %s: working days there fall back to Mon–Fri", day.year
        )
    return day.weekday() < 5


class _Calendar:
    """A working-day test over owner-entered rows, loaded once for a whole computation.

    It remembers the days it counted to: a yearly start counts the same 20, 40 and 60 working
    days from the same day for each of thousands of members, a day at a time. Kept as long as
    the calendar is (reference_data), so a change of the calendar starts a new memory."""

    def __init__(self, rows: Iterable[tuple[date, str]]):
        # Not dict(rows): a SQLAlchemy Result has .keys(), so dict() would take it for a mapping.
        self._kinds = {day: kind for day, kind in rows}
        self._counted: dict[tuple[date, int, int], date] = {}

    def __call__(self, day: date) -> bool:
        kind = self._kinds.get(day)
        if kind is not None:
            return kind == "workday"
        return _official_or_weekday(day)

    def counted(self, start: date, n: int, step: int) -> date:
        """The n-th working day from start in the direction of step (+1 or -1), start not
        counted; n == 0: start itself if it is a working day, else the next one that way."""
        key = (start, n, step)
        day = self._counted.get(key)
        if day is None:
            day = self._count(start, n, step)
            if len(self._counted) >= _MAX_COUNTED:
                self._counted.clear()
            self._counted[key] = day
        return day

    def _count(self, day: date, n: int, step: int) -> date:
        delta = timedelta(days=step)
        if n == 0:
            while not self(day):
                day += delta
            return day
        while n:
            day += delta
            if self(day):
                n -= 1
        return day


# Distinct (day, count) questions remembered per calendar: a few years of daily deadlines.
_MAX_COUNTED = 4096


_CACHE_KEY = "workdays_calendar"


def _load_calendar() -> _Calendar:
    # Outside an app context there is no database to ask; the package and Mon–Fri still answer.
    if not has_app_context():
        return _Calendar(())
    # Looked up once per transaction (a yearly start computes three deadlines for each of
    # thousands of cases in a handful of transactions), and kept by the process while the
    # calendar does not change (reference_data). The owner's edits (set_day,
    # delete_day) drop it, and they commit, which begins a transaction with its own load.
    transaction = db.session().get_transaction()
    cached = db.session.info.get(_CACHE_KEY)
    if transaction is not None and cached is not None and cached[0] is transaction:
        return cached[1]
    calendar = reference_data.kept("calendar", _read_calendar)
    db.session.info[_CACHE_KEY] = (db.session().get_transaction(), calendar)
    return calendar


def _read_calendar() -> _Calendar:
    return _Calendar(db.session.execute(_CALENDAR_DAYS))


_CALENDAR_DAYS = select(CalendarDay.day, CalendarDay.kind)


def _forget_calendar() -> None:
    db.session.info.pop(_CACHE_KEY, None)


def is_working_day(day: date) -> bool:
    """An owner-entered day if any, else the official calendar, else Monday–Friday."""
    if has_app_context():
        row = db.session.get(CalendarDay, day)
        if row is not None:
            return row.kind == "workday"
    return _official_or_weekday(day)


def _check_count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_WORKING_DAYS:
        raise ValueError(f"a number of working days must be 0..{MAX_WORKING_DAYS}, not {n!r}")
    return n


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after start (start not counted); n == 0: start or the next one."""
    n = _check_count(n)
    return _load_calendar().counted(start, n, 1)


def subtract_working_days(day: date, n: int) -> date:
    """The n-th working day before day; n == 0: day or the working day before it."""
    n = _check_count(n)
    return _load_calendar().counted(day, n, -1)


def working_days_between(a: date, b: date) -> int:
    """How many working days lie in (a, b]; negative when b is before a."""
    if b < a:
        return -working_days_between(b, a)
    is_working = _load_calendar()
    return sum(is_working(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))


def year_coverage(years: Iterable[int]) -> dict[int, str]:
    """Where each year's working days come from: "official", "association" or "weekdays"."""
    years = sorted(set(years))
    unknown = [y for y in years if not package_knows(y)]
    entered = set()
    if unknown:
        entered = {
            d.year
            for d in db.session.scalars(
                select(CalendarDay.day).where(
                    CalendarDay.day >= date(unknown[0], 1, 1),
                    CalendarDay.day <= date(unknown[-1], 12, 31),
                )
            )
        }
    return {
        y: "official" if package_knows(y) else "association" if y in entered else "weekdays"
        for y in years
    }


def uncovered_years(years: Iterable[int]) -> list[int]:
    """The years with neither official data nor any owner-entered day: Mon–Fri is in force."""
    return [y for y, source in year_coverage(years).items() if source == "weekdays"]


# --- What a BPMN diagram may call: plain values in and out, ISO 8601 strings for times. ---


def local_zone() -> ZoneInfo:
    """The association's time zone (BABEL_DEFAULT_TIMEZONE)."""
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai")


def local_today() -> date:
    """Today's date in the association's time zone."""
    return datetime.now(UTC).astimezone(local_zone()).date()


def _local_date(value: str | date | datetime | None) -> date:
    """The local date of an ISO date/datetime string (or value); None is today."""
    if value is None:
        return local_today()
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO 8601 date or date-time: {value!r}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:  # a time without offset is the association's local time
            return value.date()
        return value.astimezone(local_zone()).date()
    if isinstance(value, date):
        return value
    raise ValueError(f"not a date: {value!r}")


def _at(day: date, when: time) -> str:
    return datetime.combine(day, when, tzinfo=local_zone()).isoformat()


def closing_time(day: date) -> datetime:
    """The last second of a day in the association's time zone, as UTC: a deadline."""
    return datetime.combine(day, DEADLINE_TIME, tzinfo=local_zone()).astimezone(UTC)


def working_days_later(n: int, start: str | None = None) -> str:
    """23:59:59 local time of the n-th working day after start (ISO string; None = now)."""
    return _at(add_working_days(_local_date(start), int(n)), DEADLINE_TIME)


def working_days_before(deadline: str, n: int) -> str:
    """09:00 local time of the n-th working day before the deadline's local date."""
    return _at(subtract_working_days(_local_date(deadline), int(n)), REMINDER_TIME)


def today() -> str:
    """The association's local date, ISO 8601."""
    return local_today().isoformat()


DIAGRAM_FUNCTIONS = {
    "working_days_later": working_days_later,
    "working_days_before": working_days_before,
    "today": today,
}


# --- The days the process owner maintains. ---


def days_from(first: date) -> list[CalendarDay]:
    """Owner-entered days from `first` on, in date order."""
    return list(
        db.session.scalars(
            select(CalendarDay).where(CalendarDay.day >= first).order_by(CalendarDay.day)
        )
    )


def set_day(day: date, kind: str, note: str, user: User) -> CalendarDay:
    """Add or replace an owner-entered day, audited, and commit."""
    note = (note or "").strip()
    errors = {}
    if kind not in KINDS:
        errors["kind"] = [_("Please choose one of the options.")]
    if len(note) > NOTE_MAX:
        errors["note"] = [_("At most %(count)d characters.", count=NOTE_MAX)]
    if errors:
        raise InvalidFormData(errors, {"day": day, "kind": kind, "note": note})
    row = db.session.get(CalendarDay, day)
    previous = None if row is None else {"kind": row.kind, "note": row.note}
    if row is None:
        row = CalendarDay(day=day)
        db.session.add(row)
    row.kind, row.note, row.updated_by_id, row.updated_at = kind, note, user.id, utcnow()
    _forget_calendar()
    audit.record(
        "calendar_day_set",
        actor_id=user.id,
        data={"day": day.isoformat(), "kind": kind, "note": note, "previous": previous},
    )
    db.session.commit()
    return row


def delete_day(day: date, user: User | None = None) -> None:
    """Remove an owner-entered day (the official calendar or Mon–Fri applies again); commit."""
    row = db.session.get(CalendarDay, day)
    if row is None:
        raise NotFound()
    audit.record(
        "calendar_day_deleted",
        actor_id=user.id if user else None,
        data={"day": day.isoformat(), "kind": row.kind, "note": row.note},
    )
    db.session.delete(row)
    _forget_calendar()
    db.session.commit()
