"""Annual dues (年度会费) as the diagrams keep them and finance reads them.

A dues procedure's steps call the functions of `DIAGRAM_FUNCTIONS` (inside the step's own
transaction, on the case being moved: webapp.services.case_step): open the year's dues of the
case's member, record the member's declaration, confirm or return it, extend the period, close
it unpaid. Amounts, dates and who confirms are the diagram's model data; nothing here knows a
procedure. The arrears list reads the `dues_entry` table by its indexes.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import bindparam, or_, select

from webapp.extensions import db
from webapp.models import Case, DuesEntry, Member, User, parse_iso, utcnow
from webapp.models.dues import OWING
from webapp.services import audit, case_step, xlsx
from webapp.services.errors import Forbidden
from webapp.services.register import _member_of, _text
from webapp.services.workdays import _local_date

MAX_AMOUNT = Decimal("100000000")
PAGE = 50


def _amount(value, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{what} must be a number")
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(f"{what} must be a number") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise ValueError(f"{what} must be between 0 and {MAX_AMOUNT}")
    return amount


def _moment(value, what: str) -> datetime:
    moment = parse_iso(value)
    if moment is None:
        raise ValueError(f"{what} must be an ISO date and time")
    return moment


def _entry() -> tuple[DuesEntry, Case, int | None]:
    case, actor_id = case_step.current()
    entry = db.session.scalars(select(DuesEntry).where(DuesEntry.case_id == case.id)).first()
    if entry is None:
        raise ValueError("the case has no dues: call open_dues first")
    return entry, case, actor_id


def _log(action: str, entry: DuesEntry, case: Case, actor_id: int | None, **extra) -> None:
    _log_row(action, {"year": entry.year, "state": entry.state, "member_id": entry.member_id},
             case, actor_id, **extra)  # fmt: skip


def _log_row(action: str, entry: dict, case: Case, actor_id: int | None, **extra) -> None:
    data = {"year": entry["year"], "state": entry["state"], "member_id": entry["member_id"]}
    audit.record(action, actor_id, case.instance_id, data={**data, **extra})


# --- what diagrams call ---------------------------------------------------------------------


def year_of(moment: str | None = None) -> int:
    """The association's calendar year of an ISO date or time (None: today) — e.g. of the
    timer occurrence that started the case, so a late start still bills that year."""
    return _local_date(moment).year


def open_dues(year, amount, due_at, currency: str = "CNY", confirmed_by: str = "") -> int:
    """Open the year's dues of the case's member (once per case); returns the entry's id.
    `confirmed_by`: the group that confirms receipt, which sees the entry among the arrears."""
    case, actor_id = case_step.current()
    member = _member_of(case)
    if member is None:
        raise ValueError("the case is not about a member")
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
        raise ValueError("year must be a year such as 2027")
    if any(isinstance(row, DuesEntry) for row in db.session.new):
        db.session.flush()  # an entry not yet written would escape the read below
    connection = db.session.connection()
    # The case's own entry and another case's for the same year, in one read (a yearly start
    # opens one per member).
    found = connection.execute(
        _SAME_CASE_OR_YEAR, {"case_id": case.id, "member_id": member.id, "year": year}
    ).all()
    existing = next((row.id for row in found if row.case_id == case.id), None)
    if existing is not None:
        return existing
    if found:
        raise ValueError(f"the dues of {year} are already open for this member")
    now = utcnow()
    entry = {
        "member_id": member.id,
        "case_id": case.id,
        "year": year,
        "amount_due": _amount(amount, "amount"),
        "currency": (_text(currency, "currency") or "CNY")[:3],
        "due_at": _moment(due_at, "due_at"),
        "confirmed_by_group": (_text(confirmed_by, "confirmed_by") or "")[:50],
        "state": "open",
        "created_at": now,
        "updated_at": now,
    }
    # Nothing in the step reads the entry as an object: one prebuilt INSERT gives its id, where
    # the unit of work took a flush round (a yearly start opens one per member).
    entry_id = connection.execute(_OPEN_ENTRY, entry).scalar_one()
    _log_row("dues_opened", entry, case, actor_id, amount=str(entry["amount_due"]))
    return entry_id


# Built once (a yearly start runs them for every member).
_entries = DuesEntry.__table__
_SAME_CASE_OR_YEAR = select(_entries.c.id, _entries.c.case_id).where(
    (_entries.c.case_id == bindparam("case_id"))
    | ((_entries.c.member_id == bindparam("member_id")) & (_entries.c.year == bindparam("year")))
)
_OPEN_ENTRY = _entries.insert().returning(_entries.c.id)


def declare_dues(amount, reference: str = "", receipt: str | None = None) -> str:
    """Record the member's declaration of payment; returns the new state."""
    entry, case, actor_id = _entry()
    if entry.state == "paid":
        raise ValueError("these dues are already paid")
    entry.declared_amount = _amount(amount, "amount")
    entry.declared_reference = (_text(reference, "reference") or "")[:100]
    entry.declared_receipt = (_text(receipt, "receipt") or None) if receipt else None
    entry.declared_at = entry.updated_at = utcnow()
    entry.state = "declared"
    _log("dues_declared", entry, case, actor_id, amount=str(entry.declared_amount))
    return entry.state


def confirm_dues(received, reason: str = "") -> str:
    """Finance's answer to a declaration: received (paid) or returned with the reason."""
    entry, case, actor_id = _entry()
    if entry.state != "declared":
        raise ValueError("only a declaration can be confirmed or returned")
    now = utcnow()
    entry.state = "paid" if received else "returned"
    entry.confirmed_by_id, entry.confirmed_at, entry.updated_at = actor_id, now, now
    entry.reason = None if received else (_text(reason, "reason") or "")
    _log("dues_confirmed" if received else "dues_returned", entry, case, actor_id)
    return entry.state


def extend_dues(due_at, reason: str = "") -> str:
    """A new deadline for unpaid dues (the secretariat's extension); returns it (ISO)."""
    entry, case, actor_id = _entry()
    if entry.state == "paid":
        raise ValueError("these dues are already paid")
    entry.due_at = _moment(due_at, "due_at")
    entry.state = "open" if entry.state == "unpaid" else entry.state
    entry.reason, entry.updated_at = _text(reason, "reason") or "", utcnow()
    _log("dues_extended", entry, case, actor_id, due_at=entry.due_at.isoformat())
    return entry.due_at.isoformat()


def close_dues_unpaid(reason: str = "") -> str:
    """The period ended without payment and a consequence followed (recorded with reasons)."""
    entry, case, actor_id = _entry()
    if entry.state == "paid":
        raise ValueError("these dues are already paid")
    entry.state, entry.reason, entry.updated_at = "unpaid", _text(reason, "reason") or "", utcnow()
    _log("dues_unpaid", entry, case, actor_id)
    return entry.state


def waive_dues(reason: str, closed_as: str, outcome_code: str) -> dict:
    """Waive what the case's member owes (e.g. a withdrawal's waiver, with its reasons): each
    owing entry becomes `waived`, and the dues case still open for it ends where it stands,
    its tasks and timers cancelled, with the status and outcome the calling diagram names (the
    dues procedure's own, e.g. "waived", "dues_waived") — nobody is asked to pay or reminded
    again. Returns how many entries, their total, and the dues cases closed."""
    # Imported here: the engine (in workflow) is made with the diagram functions, these too.
    from webapp.services.workflow import engine, lock_case, save_result, source_for

    case, actor_id = case_step.current()
    member = _member_of(case)
    if member is None:
        raise ValueError("the case is not about a member")
    reason = _text(reason, "reason") or ""
    for name, value, longest in (("closed_as", closed_as, 20), ("outcome_code", outcome_code, 40)):
        if not isinstance(value, str) or not value or len(value) > longest:
            raise ValueError(f"{name} must name a status or an outcome of the dues procedure")
    entries = db.session.scalars(
        select(DuesEntry)
        .where(DuesEntry.member_id == member.id, DuesEntry.state.in_(OWING))
        .order_by(DuesEntry.year)
    ).all()
    now, closed = utcnow(), []
    for entry in entries:
        entry.state, entry.reason, entry.updated_at = "waived", reason, now
        dues_case = db.session.get(Case, entry.case_id)
        if dues_case is not None and dues_case.status == "in_progress":
            with case_step.aside():
                locked = lock_case(dues_case.instance_id)
                if locked.case is not None and locked.instance.status == "running":
                    result = engine.cancel(
                        source_for(locked.instance.version_id), locked.instance.state
                    )
                    save_result(locked.instance, result, ready=locked.ready)
                    locked.case.status, locked.case.outcome_code = closed_as, outcome_code
                    locked.case.outcome_reason, locked.case.updated_at = reason, now
                    closed.append(locked.case.id)
        _log("dues_waived", entry, case, actor_id, reason=reason, dues_case=entry.case_id)
    total = sum((e.amount_due for e in entries), Decimal("0.00"))
    return {"count": len(entries), "total": str(total), "closed_cases": closed}


def dues_outstanding() -> dict:
    """What the case's member still owes: the total, how many years, and each unpaid entry
    (year, amount, state, deadline), oldest first — e.g. for a withdrawal to show and, where
    the model says so, to be settled first. Only entries whose state owes count (declared
    and not yet confirmed is still owed)."""
    case, _actor = case_step.current()
    member = _member_of(case)
    if member is None:
        raise ValueError("the case is not about a member")
    entries = db.session.scalars(
        select(DuesEntry)
        .where(DuesEntry.member_id == member.id, DuesEntry.state.in_(OWING))
        .order_by(DuesEntry.year)
    ).all()
    total = sum((e.amount_due for e in entries), Decimal("0.00"))
    return {
        "count": len(entries),
        "total": str(total),
        "currency": entries[0].currency if entries else "CNY",
        "entries": [
            {
                "year": e.year,
                "amount": str(e.amount_due),
                "currency": e.currency,
                "state": e.state,
                "due_at": e.due_at.isoformat(),
            }
            for e in entries
        ],
    }


def dues_settled(answer) -> str:
    """A submission check for a step where someone says the member's dues are settled (the
    field's value "settled"): refused, with what is still owed, while any is; any other
    answer (a waiver) passes."""
    if answer != "settled":
        return ""
    owed = dues_outstanding()
    if not owed["count"]:
        return ""
    return _(
        "The member still owes %(total)s %(currency)s of dues (%(years)s).",
        total=owed["total"],
        currency=owed["currency"],
        years=", ".join(str(e["year"]) for e in owed["entries"]),
    )


DIAGRAM_FUNCTIONS = {
    "dues_outstanding": dues_outstanding,
    "dues_settled": dues_settled,
    "year_of": year_of,
    "open_dues": open_dues,
    "declare_dues": declare_dues,
    "confirm_dues": confirm_dues,
    "extend_dues": extend_dues,
    "close_dues_unpaid": close_dues_unpaid,
    "waive_dues": waive_dues,
}


# --- the arrears list -----------------------------------------------------------------------


@dataclass(frozen=True)
class ArrearsFilter:
    year: int | None = None
    state: str | None = None  # one of OWING; None: all that owe
    overdue: bool = False
    q: str = ""


def may_see_arrears(user: User) -> bool:
    """The groups that keep the register see every entry; a group that confirms dues, its own."""
    if user.keeps_register:
        return True
    keys = user.group_keys
    if not keys:
        return False
    found = db.session.scalar(
        select(DuesEntry.id).where(DuesEntry.confirmed_by_group.in_(keys)).limit(1)
    )
    return found is not None


def _query(user: User, flt: ArrearsFilter):
    if not may_see_arrears(user):
        raise Forbidden("not_allowed")
    query = (
        select(DuesEntry, Member)
        .join(Member, Member.id == DuesEntry.member_id)
        .where(DuesEntry.state.in_([flt.state] if flt.state in OWING else OWING))
    )
    if not user.keeps_register:
        query = query.where(DuesEntry.confirmed_by_group.in_(user.group_keys))
    if flt.year is not None:
        query = query.where(DuesEntry.year == flt.year)
    if flt.overdue:
        query = query.where(DuesEntry.due_at < utcnow())
    if flt.q:
        like = f"%{flt.q}%"
        query = query.where(or_(Member.name.like(like), Member.member_number.like(like)))
    return query.order_by(DuesEntry.year.desc(), DuesEntry.due_at, DuesEntry.id)


def arrears(user: User, flt: ArrearsFilter, page: int = 1) -> tuple[list, bool]:
    """One page of the entries that owe, and whether there is a next page."""
    page = max(1, page)
    rows = db.session.execute(_query(user, flt).offset((page - 1) * PAGE).limit(PAGE + 1)).all()
    return rows[:PAGE], len(rows) > PAGE


def years() -> list[int]:
    return list(db.session.scalars(select(DuesEntry.year).distinct().order_by(DuesEntry.year)))


COLUMNS = (
    "member_number",
    "name",
    "member_type",
    "year",
    "amount_due",
    "currency",
    "due_at",
    "state",
    "declared_amount",
    "declared_reference",
)


def _values(entry: DuesEntry, member: Member) -> list:
    return [
        member.member_number,
        member.name,
        member.member_type,
        entry.year,
        entry.amount_due,
        entry.currency,
        entry.due_at.date().isoformat(),
        entry.state,
        entry.declared_amount if entry.declared_amount is not None else "",
        entry.declared_reference or "",
    ]


def _all_rows(user: User, flt: ArrearsFilter, label=str) -> Iterator[list]:
    # Read in chunks: an export of a large register streams in constant memory.
    query = _query(user, flt).execution_options(yield_per=1000)
    for entry, member in db.session.execute(query):
        values = _values(entry, member)
        values[7] = label(values[7])  # the state, in the reader's language
        yield values


def export_csv(user: User, flt: ArrearsFilter, headers: list[str], label=str) -> Iterator[str]:
    """The filtered arrears as CSV lines (UTF-8 with BOM, for spreadsheet programs)."""
    rows = _all_rows(user, flt, label)  # checks the right before the first line is sent
    _audit_export(user, flt, "csv")

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        yield "\ufeff" + buffer.getvalue()
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([_csv_safe(v) for v in row])
            yield buffer.getvalue()

    return lines()


def export_xlsx(user: User, flt: ArrearsFilter, headers: list[str], label=str):
    """The filtered arrears as an XLSX workbook, written row by row to a temporary file (the
    caller sends and closes it): constant memory however many rows."""
    rows = _all_rows(user, flt, label)
    _audit_export(user, flt, "xlsx")
    return xlsx.workbook(
        itertools.chain([headers], ([_csv_safe(str(v)) for v in row] for row in rows)),
        sheet="dues",
    )


def _csv_safe(value):
    # A cell a spreadsheet would run as a formula is written as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _audit_export(user: User, flt: ArrearsFilter, kind: str) -> None:
    # Member data leaves the system: who took which selection (004 第一条).
    audit.record(
        "dues_arrears_exported",
        user.id,
        data={
            "format": kind,
            "year": flt.year,
            "state": flt.state,
            "overdue": flt.overdue,
            "q": flt.q,
        },
    )
    db.session.commit()
