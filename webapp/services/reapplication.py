"""Re-application control: who may apply again, judged by the identity an application gives
(a credit code or an ID number) against the register's history and its bans.

A user task names a check in its `submissionCheck` property (webapp.services.submission_checks);
`identity_may_apply` is the one admission uses. A diagram imposes a ban with `ban_reapplication`
(an expulsion) and lifts it with `lift_reapplication_ban` (an appeal upheld for the member).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models import Case, Member, ReapplicationBan, utcnow
from webapp.services import audit, case_step
from webapp.services.register import local_date

MAX_CODE = 32


def normalized(code) -> str:
    """The identity as compared: trimmed, upper case ('' for none)."""
    return str(code or "").strip().upper()[:MAX_CODE]


def active_ban(code: str, on: date) -> ReapplicationBan | None:
    """The ban that still bars the identity on that day, the longest first."""
    return db.session.scalars(
        select(ReapplicationBan)
        .where(
            ReapplicationBan.identity_code == code,
            ReapplicationBan.lifted_at.is_(None),
            ReapplicationBan.until > on,
        )
        .order_by(ReapplicationBan.until.desc())
    ).first()


def members_of(code: str) -> list[Member]:
    """The register's entries the identity was ever admitted under (any status)."""
    member_ids = select(Case.subject_member_id).where(
        Case.identity_code == code, Case.subject_member_id.is_not(None)
    )
    return list(
        db.session.scalars(select(Member).where(Member.id.in_(member_ids)).order_by(Member.id))
    )


def refusal(code: str, case: Case | None, today: date) -> str:
    """Why an application under this identity may not go on now ('' when it may)."""
    ban = active_ban(code, today)
    if ban is not None:
        return _(
            "%(code)s may not apply for membership again until %(date)s.",
            code=code,
            date=ban.until.isoformat(),
        )
    current = [m for m in members_of(code) if m.status == "active"]
    if current:
        return _(
            "%(code)s already belongs to a current member (%(number)s).",
            code=code,
            number=current[0].member_number,
        )
    others = select(Case.id).where(Case.identity_code == code, Case.status == "in_progress")
    if case is not None:
        others = others.where(Case.id != case.id)
    if db.session.scalars(others.limit(1)).first() is not None:
        return _("Another application with %(code)s is already in progress.", code=code)
    return ""


@dataclass(frozen=True)
class History:
    """What the register knows of an identity, for the reviewer of a new application."""

    code: str
    members: list[Member]
    bans: list[ReapplicationBan]

    def __bool__(self) -> bool:
        return bool(self.members or self.bans)


def history_of(case: Case) -> History | None:
    """The register's history of the case's identity, other than the case's own entry."""
    if not case.identity_code:
        return None
    members = [m for m in members_of(case.identity_code) if m.id != case.subject_member_id]
    bans = list(
        db.session.scalars(
            select(ReapplicationBan)
            .where(ReapplicationBan.identity_code == case.identity_code)
            .order_by(ReapplicationBan.id)
        )
    )
    return History(case.identity_code, members, bans)


# --- what diagrams call ---------------------------------------------------------------------


def identity_may_apply(*codes) -> str:
    """A submission check: '' when no given identity is banned, a current member's or in
    another open application (the case then applies under the first one given); else why not."""
    case, _actor = case_step.current()
    given = [c for c in (normalized(code) for code in codes) if c]
    today = local_date(utcnow())
    for code in sorted(given):
        _serialize(code)
    for code in given:
        why = refusal(code, case, today)
        if why:
            return why
    if given:
        case.identity_code = given[0]
    return ""


def _serialize(code: str) -> None:
    """Two submissions under one code take turns until commit, so the second sees the first.
    SQLite already serializes every writer; PostgreSQL takes a transaction advisory lock."""
    if db.session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(code.encode("utf-8"))
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _subject_identities(case: Case) -> tuple[Member, list[str]]:
    if case.subject_member_id is None:
        raise ValueError("the case is not about a member")
    member = db.session.get(Member, case.subject_member_id)
    codes = db.session.scalars(
        select(Case.identity_code)
        .where(Case.subject_member_id == member.id, Case.identity_code.is_not(None))
        .distinct()
    ).all()
    return member, sorted(codes)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)


def ban_reapplication(years: int, reason: str = "") -> str:
    """Bar the case's member's identities from applying for `years` years from today; returns
    the first day it may apply again (ISO date)."""
    if not isinstance(years, int) or not 0 < years <= 100:
        raise ValueError("years must be a whole number from 1 to 100")
    case, actor_id = case_step.current()
    member, codes = _subject_identities(case)
    until = _years_later(local_date(utcnow()), years)
    for code in codes:
        db.session.add(
            ReapplicationBan(
                identity_code=code,
                member_id=member.id,
                case_id=case.id,
                until=until,
                reason=str(reason or "")[:200],
            )
        )
    db.session.flush()
    audit.record(
        "reapplication_banned",
        actor_id,
        case.instance_id,
        data={"member_number": member.member_number, "until": until.isoformat(), "codes": codes},
    )
    return until.isoformat()


def lift_reapplication_ban() -> int:
    """Lift every ban on the case's member still in force; returns how many."""
    case, actor_id = case_step.current()
    if case.subject_member_id is None:
        raise ValueError("the case is not about a member")
    bans = db.session.scalars(
        select(ReapplicationBan).where(
            ReapplicationBan.member_id == case.subject_member_id,
            ReapplicationBan.lifted_at.is_(None),
        )
    ).all()
    now = utcnow()
    for ban in bans:
        ban.lifted_at, ban.lifted_case_id = now, case.id
    if bans:
        audit.record(
            "reapplication_ban_lifted", actor_id, case.instance_id, data={"bans": len(bans)}
        )
    return len(bans)


DIAGRAM_FUNCTIONS = {
    "identity_may_apply": identity_may_apply,
    "ban_reapplication": ban_reapplication,
    "lift_reapplication_ban": lift_reapplication_ban,
}
