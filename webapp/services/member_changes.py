"""The history of the register: every change of a member's status or details is a row saying
from what, to what, why, in which case and by whom; a changed name re-issues the certificate
under the same number (webapp.services.register). Diagrams call `change_member_details`, which acts
on the member of the case being moved, inside its step's transaction.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models import (
    Case,
    Certificate,
    Member,
    MemberDetailChange,
    MemberStatusChange,
    utcnow,
)
from webapp.services import audit, case_step, groups, member_types, model_data, voting

# What a member may have changed, with its longest length. The identifiers (credit code, ID
# number) and the number are the member's identity and are not changed by a change of details.
CHANGEABLE = {
    "name": 200,
    "legal_representative": 100,
    "contact_person": 100,
    "phone": 30,
    "email": 254,
    "address": 300,
    "region": 50,
    "industry": 50,
}
# The details copied from an admission case's data into the register.
COPIED = (
    "legal_representative",
    "contact_person",
    "phone",
    "email",
    "address",
    "credit_code",
    "id_number",
)
_PHONE = re.compile(r"^[0-9+\-() ]{7,20}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_REASON = 2000


def copy_details(member: Member, data: dict) -> None:
    """Take the contact details and identifiers an admission case's data holds."""
    for field in COPIED:
        value = (data or {}).get(field)
        if isinstance(value, str) and value.strip():
            limit = Member.__table__.c[field].type.length
            setattr(member, field, value.strip()[:limit])


def record_status(
    member: Member,
    before: str | None,
    after: str,
    reason: str,
    case: Case | None,
    actor_id: int | None,
    now: datetime | None = None,
) -> MemberStatusChange:
    """Write one row of status history; does not commit."""
    row = MemberStatusChange(
        member_id=member.id,
        from_status=before,
        to_status=after,
        reason=(reason or "")[:MAX_REASON],
        case_id=case.id if case is not None else None,
        actor_id=actor_id,
        at=now or utcnow(),
    )
    db.session.add(row)
    return row


def validated(changes) -> dict[str, str | None]:
    """The changes cleaned, or ValueError naming every bad field at once."""
    if not isinstance(changes, dict) or not changes:
        raise ValueError("changes must be a non-empty dict of field → new value")
    problems, clean = [], {}
    for field, value in changes.items():
        if field not in CHANGEABLE:
            problems.append(f"{field}: not a detail that can be changed")
            continue
        if value is not None and not isinstance(value, str):
            problems.append(f"{field}: must be text")
            continue
        value = (value or "").strip() or None
        if value is not None and len(value) > CHANGEABLE[field]:
            problems.append(f"{field}: longer than {CHANGEABLE[field]} characters")
        elif field == "name" and (value is None or len(value) < 2):
            problems.append("name: at least 2 characters")
        elif field == "phone" and value is not None and not _PHONE.match(value):
            problems.append("phone: not a telephone number")
        elif field == "email" and value is not None and not _EMAIL.match(value):
            problems.append("email: not an e-mail address")
        else:
            clean[field] = value
    if problems:
        raise ValueError("; ".join(problems))
    return clean


def apply_changes(
    member: Member,
    changes: dict,
    reason: str,
    case: Case | None,
    actor_id: int | None,
    now: datetime,
) -> dict[str, dict[str, str | None]]:
    """Change the member's details with a row of history per changed field; returns field →
    {old, new} for what actually changed. Does not commit."""
    clean = validated(changes)
    changed = {}
    for field, new in clean.items():
        old = getattr(member, field)
        if old == new:
            continue
        setattr(member, field, new)
        db.session.add(
            MemberDetailChange(
                member_id=member.id,
                field=field,
                old_value=old,
                new_value=new,
                reason=(reason or "")[:MAX_REASON],
                case_id=case.id if case is not None else None,
                actor_id=actor_id,
                at=now,
            )
        )
        changed[field] = {"old": old, "new": new}
    if changed:
        audit.record(
            "member_details_changed",
            actor_id,
            case.instance_id if case is not None else None,
            data={"member_number": member.member_number, "fields": sorted(changed)},
        )
    return changed


def current_certificate(member_id: int) -> Certificate | None:
    """The member's certificate that is not revoked, newest first."""
    return db.session.scalars(
        select(Certificate)
        .where(Certificate.member_id == member_id, Certificate.revoked_at.is_(None))
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
    ).first()


def _subject(case: Case) -> Member:
    member = db.session.get(Member, case.subject_member_id) if case.subject_member_id else None
    if member is None:
        raise ValueError("the case is not about a member")
    return member


# --- what diagrams call ---------------------------------------------------------------------


def change_member_details(changes: dict, reason: str = "") -> dict:
    """Change the details of the case's member (a dict of field → new value); returns field →
    {old, new} for what changed."""
    case, actor_id = case_step.current()
    if reason is not None and not isinstance(reason, str):
        raise ValueError("reason must be text")
    return apply_changes(_subject(case), changes, reason or "", case, actor_id, utcnow())


def set_member_type(member_type: str, reason: str = "", decided_by: dict | None = None) -> dict:
    """Give the case's member another type (a key of the live models' member types), with a
    row of the register's history; returns {old, new} (equal when it had that type already).
    The member number keeps the code of the type it was admitted as: numbers are for life.

    `decided_by` names a body that decided, e.g. {"by": group_key, "vote": vote_result}: the
    history then says the council decided, with the tally, rather than the one member whose
    ballot happened to complete the vote."""
    case, actor_id = case_step.current()
    decision = _decision(decided_by)
    if not isinstance(member_type, str) or member_type not in model_data.live(member_types.FILE):
        raise ValueError("member_type must be one of the member types the models name")
    if reason is not None and not isinstance(reason, str):
        raise ValueError("reason must be text")
    member = _subject(case)
    old = member.member_type
    if old != member_type:
        member.member_type = member_type
        db.session.add(
            MemberDetailChange(
                member_id=member.id,
                field="member_type",
                old_value=old,
                new_value=member_type,
                reason=(reason or "")[:MAX_REASON],
                case_id=case.id,
                actor_id=actor_id,
                decided_by=decision,
                at=utcnow(),
            )
        )
        audit.record(
            "member_type_changed",
            actor_id,
            case.instance_id,
            data={
                "member_number": member.member_number,
                "from": old,
                "to": member_type,
                **({"decided_by": decision} if decision else {}),
            },
        )
    return {"old": old, "new": member_type}


def _decision(decided_by) -> dict | None:
    """The body and tally a diagram names, checked and kept to what the history shows."""
    if decided_by is None:
        return None
    if not isinstance(decided_by, dict) or groups.label(decided_by.get("by"), None) is None:
        raise ValueError('decided_by must be {"by": a group\'s key, "vote": a vote\'s result}')
    decision = {"by": groups.lane_group(decided_by["by"]) or decided_by["by"]}
    vote = decided_by.get("vote") or {}
    if not isinstance(vote, dict):
        raise ValueError("decided_by's vote must be a vote's result")
    for count in (*voting.VOTE_CHOICES, "eligible"):
        if count in vote:
            if not isinstance(vote[count], int) or isinstance(vote[count], bool):
                raise ValueError(f"decided_by's vote {count} must be a number")
            decision[count] = vote[count]
    return decision


def only_open_case(*_fields) -> str:
    """A submission check: '' when no other case of this procedure about the case's member is
    open, else why not — one open case per member and procedure, decided before the next one
    is submitted. The fields it is called with only say where the form shows the refusal.

    A case is open from the submission this check let through (its `submitted_at`) until it
    ends: a draft nobody submitted blocks nobody and, refused, can be deleted by its starter."""
    case, _actor = case_step.current()
    member = _subject(case)
    if db.session.get_bind().dialect.name == "postgresql":
        # Two submissions about one member take turns until commit, so the second sees the
        # first (SQLite serializes every writer already).
        key = zlib.crc32(f"open-case:{case.model_id}:{member.id}".encode())
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    other = db.session.scalars(
        select(Case)
        .where(
            Case.subject_member_id == member.id,
            Case.model_id == case.model_id,
            Case.status == "in_progress",
            Case.submitted_at.is_not(None),
            Case.id != case.id,
        )
        .order_by(Case.id)
        .limit(1)
    ).first()
    if other is not None:
        return _(
            "%(member)s already has an open case of this procedure (case #%(case)s): it must "
            "be decided before another one is submitted.",
            member=member.name or member.member_number,
            case=other.id,
        )
    case.submitted_at = case.submitted_at or utcnow()
    return ""


DIAGRAM_FUNCTIONS = {
    "only_open_case": only_open_case,
    "change_member_details": change_member_details,
    "set_member_type": set_member_type,
}
