"""The member register for the groups that keep it (search, filters, paging, export, a
member's page) and a member's own page, 我的会籍."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.services import catalogue, member_register, member_types, members, register

bp = Blueprint("register", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _keepers_only() -> None:
    if not current_user.keeps_register:
        abort(403)


def _headings() -> list[str]:
    names = {
        "member_number": _("Member number"),
        "name": _("Name"),
        "member_type": _("Member type"),
        "status": _("Status"),
        "region": _("Region"),
        "industry": _("Industry"),
        "credit_code": _("Unified social credit code"),
        "id_number": _("ID number"),
        "legal_representative": _("Legal representative"),
        "contact_person": _("Contact person"),
        "phone": _("Phone"),
        "email": _("E-mail"),
        "address": _("Address"),
        "admitted_on": _("Admitted on"),
    }
    return [names[c] for c in member_register.EXPORT_COLUMNS]


@bp.get("/members")
@login_required
def index():
    """The register: search, filter and page through members, for its keepers."""
    _keepers_only()
    f = member_register.RegisterFilter.of(request.args)
    before = request.args.get("before", type=int)
    if before is not None and before < 1:
        abort(404)
    rows, next_before = member_register.search(f, before)
    return render_template(
        "register/index.html",
        rows=rows,
        certificates=member_register.current_certificates([m.id for m in rows]),
        f=f,
        before=before,
        next_before=next_before,
        choices=member_register.choices(),
        statuses=register.STATUSES,
        type_labels=member_types.labels(),
        value_labels=member_register.value_labels(),
    )


@bp.get("/members/export.csv")
@login_required
def export_csv():
    """What the filter shows, as CSV; audited."""
    _keepers_only()
    f = member_register.RegisterFilter.of(request.args)
    member_register.record_export(current_user, f, "csv")
    body = member_register.export_csv(f, _headings(), member_types.labels())
    return _attachment(body, "text/csv", "members.csv")


@bp.get("/members/export.xlsx")
@login_required
def export_xlsx():
    """What the filter shows, as an XLSX workbook; audited."""
    _keepers_only()
    f = member_register.RegisterFilter.of(request.args)
    member_register.record_export(current_user, f, "xlsx")
    body = member_register.export_xlsx(f, _headings(), member_types.labels())
    return _attachment(body, XLSX, "members.xlsx")


def _attachment(body, mimetype: str, name: str):
    # Sent from the temporary file it was written to; never cached (member data, 004 第一条).
    response = send_file(
        body,
        mimetype=mimetype,
        as_attachment=True,
        download_name=name,
        conditional=False,
        etag=False,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/members/<id:member_id>")
@login_required
def member(member_id: int):
    """One member: details, status and detail history, cases, certificates."""
    _keepers_only()
    page = member_register.member_page(member_id)
    return render_template(
        "register/member.html",
        page=page,
        id_number=member_register.shown_id_number(current_user, page.member.id_number),
        type_labels=member_types.labels(),
        value_labels=member_register.value_labels(),
    )


@bp.get("/membership")
@login_required
def membership():
    """我的会籍: the signed-in account's memberships, their certificates, cases and what each
    may start."""
    pages = [
        member_register.member_page_of(m) for m in member_register.memberships_of(current_user)
    ]
    return render_template(
        "register/membership.html",
        pages=pages,
        procedures=[p for p in catalogue.startable(current_user) if catalogue.MEMBER in p.starters],
        mask=member_register.mask_id_number,
        verify_url=members.verify_url,
        type_labels=member_types.labels(),
        value_labels=member_register.value_labels(),
    )
