"""The member register and member certificates: admitting an application enters it into the
register under a lifelong number and issues one certificate that anyone can verify by its code."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from webapp.config import DEV_BASE_URL
from webapp.extensions import db
from webapp.models import Case, Certificate, Member, User
from webapp.services import cases, register
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


def admit(case: Case, now: datetime, actor_id: int | None = None) -> Certificate:
    """Enter the applicant into the register and issue its certificate, once; does not commit.
    (A diagram does this with register_member() and issue_certificate().)"""
    member = register.enter(case, now, actor_id)
    return register.certify(case, member, now, actor_id)


revoke = register.revoke
local_date = register.local_date


def certificate_for(user: User, case_id: int) -> Certificate:
    """The certificate of an application the user may see; NotFound if none or not theirs."""
    case = cases.visible(user, case_id)
    certificate = certificate_of(case.id)
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


def certificate_of(case_id: int) -> Certificate | None:
    """The certificate issued for an application, if any."""
    return db.session.scalars(select(Certificate).where(Certificate.case_id == case_id)).first()
