"""The committee's desk: all cases its groups may see, what each person has done, and the
dashboard of figures with their downloads."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required

from webapp.routing import MAX_ID, page_arg
from webapp.services import dashboard as dashboard_service
from webapp.services import desk, spreadsheet

bp = Blueprint("desk", __name__, url_prefix="/desk")


def _committee() -> None:
    if not desk.may_use(current_user):
        abort(403)


def _dashboard_reader() -> None:
    if not desk.sees_dashboard(current_user):
        abort(403)


def _id(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value is not None and 1 <= value <= MAX_ID else None


def filters_from_request() -> desk.Filters:
    """The desk's search and filters from the query string; what cannot be one is ignored."""
    args = request.args
    sort = args.get("sort", "-created")
    claimed = args.get("claimed_by")
    return desk.Filters(
        q=(args.get("q") or "").strip()[:100],
        model=_id("model"),
        stage=(args.get("stage") or None),
        status=(args.get("status") or None),
        outcome=(args.get("outcome") or None),
        overdue=bool(args.get("overdue")),
        mine=bool(args.get("mine")),
        claimed_by=(
            current_user.id
            if claimed == "me"
            else desk.NOBODY
            if claimed == "nobody"
            else _id("claimed_by")
        ),
        sort=sort if sort in desk.SORTS else "-created",
    )


@bp.get("/cases")
@login_required
def cases():
    """Every case the user's groups may see, searched, filtered, counted, newest first."""
    _committee()
    filters = filters_from_request()
    page = desk.all_cases(current_user, filters, request.args.get("after"))
    return render_template("desk/cases.html", page=page, filters=filters)


@bp.get("/done")
@login_required
def done():
    """What the user has done, newest first, each with its case."""
    _committee()
    return render_template("desk/done.html", done=desk.done(current_user, page_arg()))


@bp.get("/dashboard")
@login_required
def dashboard():
    """Figures on the cases the user's groups see and on the register, each a chart and a table."""
    _dashboard_reader()
    return render_template("desk/dashboard.html", figures=dashboard_service.figures(current_user))


@bp.get("/dashboard/<key>.<any(csv, xlsx):kind>")
@login_required
def dashboard_download(key: str, kind: str):
    """One figure's table as CSV or XLSX."""
    _dashboard_reader()
    figure = dashboard_service.figure(current_user, key)
    if figure is None:
        abort(404)
    if kind == "csv":
        body = spreadsheet.as_csv(figure.columns, figure.rows)
        mimetype = "text/csv"
    else:
        body = spreadsheet.as_xlsx(figure.title, figure.columns, figure.rows)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename={key}.{kind}"},
    )
