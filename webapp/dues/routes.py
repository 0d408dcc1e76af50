"""The arrears list (欠费名单): who owes what for which year, and its CSV and XLSX downloads."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    render_template,
    request,
    send_file,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from webapp.models.dues import OWING
from webapp.services import dues, member_types

bp = Blueprint("dues", __name__)
MAX_PAGE = 100_000  # far past any register; a larger number would overflow the database's offset

STATE_LABELS = {
    "open": _l("Not paid"),
    "declared": _l("Declared, awaiting confirmation"),
    "returned": _l("Declaration returned"),
    "paid": _l("Paid"),
    "unpaid": _l("Unpaid after the period"),
    "waived": _l("Waived"),
}


@bp.app_context_processor
def _helpers() -> dict:
    def may_see_arrears() -> bool:
        return current_user.is_authenticated and dues.may_see_arrears(current_user)

    return {"may_see_arrears": may_see_arrears, "dues_state_label": _state_label}


def _state_label(state: str) -> str:
    return str(STATE_LABELS.get(state, state))


def _filter() -> tuple[dues.ArrearsFilter, dict]:
    """The filter the query string asks for; a value that is not one is ignored, and said."""
    args, problems = request.args, {}
    year = None
    if args.get("year"):
        try:
            year = int(args["year"][:6])
        except ValueError:
            year = None
        if year is None or not 1900 <= year <= 2200:
            problems["year"], year = _("Enter a year such as 2027."), None
    state = args.get("state") or None
    if state is not None and state not in OWING:
        problems["state"] = _("Choose one of the listed states.")
        state = None
    q = (args.get("q") or "").strip()[:100]
    return dues.ArrearsFilter(
        year=year, state=state, overdue=bool(args.get("overdue")), q=q
    ), problems


def _query_args(flt: dues.ArrearsFilter) -> dict:
    found = {"year": flt.year, "state": flt.state, "overdue": "1" if flt.overdue else None}
    found["q"] = flt.q or None
    return {k: v for k, v in found.items() if v is not None}


def _check() -> None:
    if not dues.may_see_arrears(current_user):
        abort(403)


def _headers() -> list[str]:
    return [
        _("Member number"),
        _("Name"),
        _("Member type"),
        _("Dues year"),
        _("Amount due"),
        _("Currency"),
        _("Due date"),
        _("Dues state"),
        _("Declared amount"),
        _("Payment reference"),
    ]


@bp.get("/dues/arrears")
@login_required
def arrears():
    """The entries that owe, a page at a time, filtered by year, state and name or number."""
    _check()
    flt, problems = _filter()
    try:
        page = min(max(1, int(request.args.get("page", "1")[:7])), MAX_PAGE)
    except ValueError:
        page = 1
    rows, has_next = dues.arrears(current_user, flt, page)
    return render_template(
        "dues/arrears.html",
        rows=rows,
        has_next=has_next,
        page=page,
        flt=flt,
        problems=problems,
        years=dues.years(),
        states=OWING,
        query_args=_query_args(flt),
        type_labels=member_types.labels(),
    )


@bp.get("/dues/arrears.csv")
@login_required
def arrears_csv():
    """What the filter shows, every page, as CSV (streamed)."""
    _check()
    flt, _problems = _filter()
    # Written whole before answering: the rows are read in this request's own transaction.
    lines = "".join(dues.export_csv(current_user, flt, _headers(), _state_label))
    return Response(
        lines,
        mimetype="text/csv",
        headers={
            "Content-Disposition": "attachment; filename=arrears.csv",
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/dues/arrears.xlsx")
@login_required
def arrears_xlsx():
    """What the filter shows, every page, as an XLSX workbook."""
    _check()
    flt, _problems = _filter()
    book = dues.export_xlsx(current_user, flt, _headers(), _state_label)
    response = send_file(
        book,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name="arrears.xlsx",
        conditional=False,
        etag=False,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
