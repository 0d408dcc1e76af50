"""What the API tells anyone, without a login: the applicants on public notice (what the board
shows, nothing more) and whether a certificate is valid (what its verification page shows)."""

from __future__ import annotations

import re

from flask import jsonify

from webapp.api import bp
from webapp.services import members, notice
from webapp.services.errors import NotFound

# Verification codes are token_urlsafe: anything else cannot be one, and never reaches the
# database (PostgreSQL refuses a NUL in a text parameter with an error, not a miss).
CERTIFICATE_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")
# As the verification page: always fresh, never indexed, the code not passed on.
PRIVATE_LOOKUP = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


def iso(moment) -> str | None:
    """A timestamp as ISO 8601 with its UTC offset, or None."""
    return moment.isoformat() if moment is not None else None


@bp.get("/notices")
def list_notices():
    """The applicants whose notice period is running, the soonest to close first."""
    items = [
        {
            "case_id": entry.case_id,
            "name": entry.name,
            "member_type": entry.member_type,
            "region": entry.region,
            "industry": entry.industry,
            "notice_until": iso(entry.closes_at),
        }
        for entry in notice.on_notice()
    ]
    return jsonify(items=items)


@bp.get("/certificates/<token>")
def verify_certificate(token: str):
    """Whether the certificate with this verification code is valid, and whose it is."""
    found = members.find_by_token(token) if CERTIFICATE_CODE.fullmatch(token) else None
    if found is None:
        raise NotFound("certificate")
    member = found.member
    body = {
        "valid": found.valid,
        "number": member.member_number,
        "member_name": found.name,
        "member_type": member.member_type,
        "issued_at": iso(found.issued_at),
        "revoked_at": iso(found.revoked_at),
    }
    return jsonify(body), 200, PRIVATE_LOOKUP
