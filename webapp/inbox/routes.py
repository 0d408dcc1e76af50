"""The inbox: open tasks of the lanes the user works, a page at a time, with counts per lane."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from webapp.routing import page_arg
from webapp.services import inbox

bp = Blueprint("inbox", __name__)


@bp.get("/inbox")
@login_required
def index():
    """Open tasks for the user's roles, oldest (or most overdue) first."""
    standing_in = inbox.standing_in(current_user)
    if not current_user.is_committee and not standing_in:
        abort(403)
    sort = "waiting" if request.args.get("sort") == "waiting" else "due"
    lane = request.args.get("lane") or None
    page = inbox.page_of(current_user, lane=lane, sort=sort, page=page_arg())
    return render_template(
        "inbox/index.html",
        inbox=page,
        rows=page.rows,
        counts=page.counts,
        lanes=[name for name, count in page.counts.items() if count],
        lane=lane,
        total=page.total,
        overdue=page.overdue,
        sort=sort,
        standing_in=standing_in,
    )
