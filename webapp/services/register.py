"""The member register as a diagram acts on it: enter a case's subject under a lifelong number,
issue, re-issue and revoke its certificates, change its status. Each runs inside the step's own
transaction (webapp.services.case_step says which case) and writes its audit row there, so a
step that fails later leaves no member or certificate behind.

A diagram calls them as functions (`DIAGRAM_FUNCTIONS`); what admission does at its end is its
`record_admission` script, not code here.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Case, Certificate, Member, MemberNumberCounter, utcnow
from webapp.services import audit, case_step, member_changes, member_types

# The register's own states (004, 002: 暂停, 退会, 除名, 视为自动退会). Which procedure leads to
# which is the diagrams' business.
STATUSES = ("active", "suspended", "withdrawn", "expelled", "lapsed")
MAX_TEXT = 200


def local_date(moment: datetime) -> date:
    """The calendar date of a UTC moment in the association's time zone."""
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def next_member_number(
    member_type: str | None, now: datetime, version_id: int | None = None
) -> str:
    """The next number of the year's series for this member type (its code from the model's
    member types); numbers are never reused."""
    type_code = member_types.number_code(member_type, version_id)
    series = f"{now.year}-{type_code}"
    for _attempt in range(3):
        bumped = db.session.execute(
            update(MemberNumberCounter)
            .where(MemberNumberCounter.series == series)
            .values(last=MemberNumberCounter.last + 1)
            .execution_options(synchronize_session=False)
        )
        if bumped.rowcount == 1:
            break
        try:
            with db.session.begin_nested():
                db.session.execute(insert(MemberNumberCounter).values(series=series, last=1))
            break
        except IntegrityError:
            continue  # another issuance created the series first; bump it instead
    seq = db.session.scalar(
        select(MemberNumberCounter.last).where(MemberNumberCounter.series == series)
    )
    fmt = current_app.config["MEMBER_NUMBER_FORMAT"]
    return fmt.format(year=now.year, type=type_code, seq=seq)


def enter(
    case: Case,
    now: datetime,
    actor_id: int | None = None,
    name: str | None = None,
    member_type: str | None = None,
    region: str | None = None,
    industry: str | None = None,
) -> Member:
    """Enter the case's subject into the register, once per case; does not commit.

    An account that was a member before keeps its number (004: 终身一号): it is entered again
    under it, not given a new one."""
    member = _member_of(case)
    if member is not None:
        return member
    name = name or case.name or (case.data or {}).get("name") or ""
    member_type = member_type or case.member_type or (case.data or {}).get("member_type") or ""
    region = region if region is not None else case.region
    industry = industry if industry is not None else case.industry
    earlier = _earlier_membership(case)
    before = None
    if earlier is not None:
        member = earlier
        before = member.status
        member.status = "active"
        # The account that applied again now acts for the member (我的会籍, its procedures).
        member.user_id = case.applicant_id or member.user_id
        member.name, member.member_type = name, member_type
        member.region, member.industry = region, industry
    else:
        member = Member(
            # A number given earlier in the case (at approval) is kept.
            member_number=case.member_number
            or next_member_number(member_type, now, case.instance.version_id),
            case_id=case.id,
            user_id=case.applicant_id,
            name=name,
            member_type=member_type,
            region=region,
            industry=industry,
            admitted_on=local_date(now),
            status="active",
        )
        db.session.add(member)
    member_changes.copy_details(member, case.data or {})
    db.session.flush()
    member_changes.record_status(member, before, "active", "", case, actor_id, now)
    case.subject_member_id = member.id  # the case is now about the member it made
    case.member_number = member.member_number
    case.admitted_at = case.admitted_at or now
    db.session.flush()
    audit.record(
        "member_registered",
        actor_id,
        case.instance_id,
        data={"member_number": member.member_number, "member_id": member.id},
    )
    return member


def _earlier_membership(case: Case) -> Member | None:
    """The register entry this case takes up again (004: 终身一号), locked until commit.

    The identity the case applies under (credit code or ID number) names its earlier entry
    whatever the account; without one, the account's own ended membership (one account may hold
    several memberships, a person and the units it represents, so only one that ended). The
    entry is locked and read again: a re-admission racing this one waits here and then finds
    the same entry, instead of handing out a second number."""
    candidate = None
    if case.identity_code:
        candidate = db.session.scalar(
            select(Member.id)
            .where(
                Member.id.in_(
                    select(Case.subject_member_id).where(
                        Case.identity_code == case.identity_code,
                        Case.subject_member_id.is_not(None),
                        Case.id != case.id,
                    )
                )
            )
            .order_by(Member.id)
            .limit(1)
        )
    if candidate is None:
        candidate = db.session.scalar(
            select(Member.id)
            .where(Member.user_id == case.applicant_id, Member.status != "active")
            .order_by(Member.id)
            .limit(1)
        )
    if candidate is None:
        return None
    return db.session.scalars(
        select(Member)
        .where(Member.id == candidate)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def certify(case: Case, member: Member, now: datetime, actor_id: int | None = None):
    """Issue the member a certificate under this case, once per case; does not commit."""
    existing = db.session.scalars(select(Certificate).where(Certificate.case_id == case.id)).first()
    if existing is not None:
        return existing  # issuing twice must never hand out a second certificate
    # A member holds one valid certificate: one still valid from an earlier admission (a
    # re-admission that raced this one) gives way to this one.
    for earlier in db.session.scalars(
        select(Certificate).where(
            Certificate.member_id == member.id, Certificate.revoked_at.is_(None)
        )
    ).all():
        revoke(earlier, now, actor_id)
    certificate = Certificate(
        member=member,
        case_id=case.id,
        verify_token=secrets.token_urlsafe(18),
        holder_name=member.name,
        issued_on=local_date(now),
        issued_at=now,
    )
    db.session.add(certificate)
    # Flushed now so that a concurrent second issuance fails on the unique application_id
    # instead of committing a duplicate.
    db.session.flush()
    audit.record(
        "certificate_issued",
        actor_id,
        case.instance_id,
        data={"member_number": member.member_number, "certificate_id": certificate.id},
    )
    return certificate


def revoke(certificate: Certificate, now: datetime, actor_id: int | None = None) -> None:
    """Mark a certificate as no longer valid (withdrawal, expulsion); does not commit."""
    if certificate.revoked_at is not None:
        return
    certificate.revoked_at = now
    instance_id = db.session.scalar(select(Case.instance_id).where(Case.id == certificate.case_id))
    audit.record(
        "certificate_revoked",
        actor_id,
        instance_id,
        data={"member_number": certificate.member.member_number, "certificate_id": certificate.id},
    )


def _member_of(case: Case) -> Member | None:
    """The member the case is about: the one it chose, or the one it entered."""
    if case.subject_member_id is not None:
        return db.session.get(Member, case.subject_member_id)
    return db.session.scalars(select(Member).where(Member.case_id == case.id)).first()


def _text(value, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise ValueError(f"{what} is longer than {MAX_TEXT} characters")
    return value


# --- what diagrams call ---------------------------------------------------------------------


def register_member(
    name: str | None = None,
    member_type: str | None = None,
    region: str | None = None,
    industry: str | None = None,
) -> str:
    """Enter the case's subject into the register (details default to the case's own);
    returns its member number."""
    case, actor_id = case_step.current()
    member = enter(
        case,
        utcnow(),
        actor_id,
        name=_text(name, "name"),
        member_type=_text(member_type, "member_type"),
        region=_text(region, "region"),
        industry=_text(industry, "industry"),
    )
    return member.member_number


def issue_certificate() -> str:
    """Issue the case's member a certificate (once per case); returns its verification code."""
    case, actor_id = case_step.current()
    member = _member_of(case)
    if member is None:
        raise ValueError("the case has no member: call register_member first")
    return certify(case, member, utcnow(), actor_id).verify_token


def revoke_certificates() -> int:
    """Revoke every valid certificate of the case's member; returns how many."""
    case, actor_id = case_step.current()
    member = _member_of(case)
    if member is None:
        raise ValueError("the case is not about a member")
    now = utcnow()
    valid = db.session.scalars(
        select(Certificate).where(
            Certificate.member_id == member.id, Certificate.revoked_at.is_(None)
        )
    ).all()
    for certificate in valid:
        revoke(certificate, now, actor_id)
    return len(valid)


def reissue(member: Member, case: Case, now: datetime, actor_id: int | None) -> Certificate:
    """A new certificate for the member under this case with the same number; its earlier valid
    ones are revoked at that moment. Once per case; does not commit."""
    existing = db.session.scalars(select(Certificate).where(Certificate.case_id == case.id)).first()
    if existing is not None:
        return existing
    for certificate in db.session.scalars(
        select(Certificate).where(
            Certificate.member_id == member.id, Certificate.revoked_at.is_(None)
        )
    ).all():
        revoke(certificate, now, actor_id)
    return certify(case, member, now, actor_id)


def reissue_certificate() -> str:
    """Issue the case's member a new certificate with the same number and revoke the earlier
    one; returns the new verification code."""
    case, actor_id = case_step.current()
    member = _member_of(case)
    if member is None:
        raise ValueError("the case is not about a member")
    return reissue(member, case, utcnow(), actor_id).verify_token


def set_member_status(status: str, reason: str = "") -> str:
    """Change the register status of the case's member; returns the status it had."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    case, actor_id = case_step.current()
    member = _member_of(case)
    if member is None:
        raise ValueError("the case is not about a member")
    before = member.status
    member.status = status
    reason = _text(reason, "reason") or ""
    member_changes.record_status(member, before, status, reason, case, actor_id)
    audit.record(
        "member_status_changed",
        actor_id,
        case.instance_id,
        data={
            "member_number": member.member_number,
            "from": before,
            "to": status,
            "reason": reason,
        },
    )
    return before


DIAGRAM_FUNCTIONS = {
    "register_member": register_member,
    "issue_certificate": issue_certificate,
    "revoke_certificates": revoke_certificates,
    "set_member_status": set_member_status,
    "reissue_certificate": reissue_certificate,
    **member_changes.DIAGRAM_FUNCTIONS,
}
