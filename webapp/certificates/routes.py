"""Download a member certificate, verify one by the code in its QR code."""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, render_template, send_file
from flask_login import current_user, login_required

from webapp.services import member_changes, member_types, members

bp = Blueprint("certificates", __name__)


@bp.get("/cases/<id:case_id>/certificate.pdf")
@login_required
def pdf(case_id: int):
    """The certificate of an application, for its applicant and the committee only."""
    certificate = members.certificate_for(current_user, case_id)
    body = members.render_pdf(certificate, members.verify_url(certificate.verify_token))
    response = send_file(
        BytesIO(body),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"certificate-{certificate.member.member_number}.pdf",
        conditional=False,
        etag=False,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/verify/<token>")
def verify(token: str):
    """Public: whether the certificate with this code is valid, and nothing more about it."""
    certificate = members.find_by_token(token)
    status = 200 if certificate is not None else 404
    # A re-issued certificate (same number) says which one replaced it, never its code.
    current = None
    if certificate is not None and certificate.revoked_at is not None:
        current = member_changes.current_certificate(certificate.member_id)
    page = render_template(
        "certificates/verify.html",
        certificate=certificate,
        current=current,
        type_labels=member_types.labels(),
    )
    # Always fresh (a revocation shows at once), never indexed, the code never sent onwards.
    headers = {
        "Cache-Control": "no-store",
        "X-Robots-Tag": "noindex, nofollow",
        "Referrer-Policy": "no-referrer",
    }
    return page, status, headers
