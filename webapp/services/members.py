"""The member register and member certificates: admitting an application enters it into the
register under a lifelong number and issues one certificate that anyone can verify by its code."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from webapp.config import DEV_BASE_URL
from webapp.extensions import db
from webapp.models import Application, Certificate, Member, User
from webapp.services import applications, audit
from webapp.services.certificate_pdf import render_pdf
from webapp.services.errors import NotFound

__all__ = [
    "admit",
    "certificate_for",
    "find_by_token",
    "member_register",
    "render_pdf",
    "revoke",
    "verify_url",
]


def admit(application: Application, now: datetime, actor_id: int | None = None) -> Certificate:
    """Enter the applicant into the register and issue its certificate, once; does not commit."""
    existing = certificate_of(application.id)
    if existing is not None:
        return existing  # issuing twice must never hand out a second number or certificate
    if application.member_number is None:
        application.member_number = applications.next_member_number(
            application.member_type, now, application.instance.version_id
        )
    today = local_date(now)
    member = db.session.scalars(
        select(Member).where(Member.application_id == application.id)
    ).first()
    if member is None:
        data = application.data or {}
        member = Member(
            member_number=application.member_number,
            application_id=application.id,
            user_id=application.applicant_id,
            name=application.name or data.get("name") or "",
            member_type=application.member_type or data.get("member_type") or "",
            region=application.region,
            industry=application.industry,
            admitted_on=today,
            status="active",
        )
        db.session.add(member)
        db.session.flush()
        audit.record(
            "member_registered",
            actor_id,
            application.instance_id,
            data={"member_number": member.member_number, "member_id": member.id},
        )
    certificate = Certificate(
        member=member,
        application_id=application.id,
        verify_token=secrets.token_urlsafe(18),
        issued_on=today,
        issued_at=now,
    )
    db.session.add(certificate)
    application.admitted_at = application.admitted_at or now
    # Flushed now so that a concurrent second issuance fails on the unique application_id
    # instead of committing a duplicate.
    db.session.flush()
    audit.record(
        "certificate_issued",
        actor_id,
        application.instance_id,
        data={"member_number": member.member_number, "certificate_id": certificate.id},
    )
    return certificate


def revoke(certificate: Certificate, now: datetime, actor_id: int | None = None) -> None:
    """Mark a certificate as no longer valid (withdrawal, expulsion); does not commit."""
    if certificate.revoked_at is not None:
        return
    certificate.revoked_at = now
    instance_id = db.session.scalar(
        select(Application.instance_id).where(Application.id == certificate.application_id)
    )
    audit.record(
        "certificate_revoked",
        actor_id,
        instance_id,
        data={"member_number": certificate.member.member_number, "certificate_id": certificate.id},
    )


def certificate_for(user: User, application_id: int) -> Certificate:
    """The certificate of an application the user may see; NotFound if none or not theirs."""
    application = applications.visible(user, application_id)
    certificate = certificate_of(application.id)
    if certificate is None:
        raise NotFound("certificate")
    return certificate


def find_by_token(token: str) -> Certificate | None:
    """The certificate a verification code belongs to, or None for an unknown code."""
    if not token or len(token) > 40:
        return None
    return db.session.scalars(select(Certificate).where(Certificate.verify_token == token)).first()


def member_register(limit: int = 500, offset: int = 0) -> list[tuple[Member, Certificate | None]]:
    """Register entries, most recently admitted first, each with its certificate."""
    rows = db.session.execute(
        select(Member, Certificate)
        .outerjoin(Certificate, Certificate.member_id == Member.id)
        .order_by(Member.admitted_on.desc(), Member.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [(member, certificate) for member, certificate in rows]


def verify_url(token: str) -> str:
    """Public address of a certificate's verification page, on PUBLIC_BASE_URL only: a QR code
    printed from a request's Host header would send its readers wherever the requester chose."""
    parts = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or DEV_BASE_URL)
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "https"
    )
    return adapter.build("certificates.verify", {"token": token}, force_external=True)


def local_date(moment: datetime) -> date:
    """The calendar date of a UTC moment in the association's time zone."""
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def certificate_of(application_id: int) -> Certificate | None:
    """The certificate issued for an application, if any."""
    return db.session.scalars(
        select(Certificate).where(Certificate.application_id == application_id)
    ).first()
