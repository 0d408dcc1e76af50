"""The inbox: open tasks of the lanes the user works, a page at a time, with counts per lane,
the desk's search and filters, and claiming, releasing or assigning several tasks at once."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from webapp.desk.routes import filters_from_request
from webapp.errors import message_for
from webapp.routing import MAX_ID, page_arg
from webapp.services import desk, inbox

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
    filters = filters_from_request()
    page = inbox.page_of(
        current_user,
        lane=lane,
        sort=sort,
        page=page_arg(),
        where=desk.task_conditions(filters),
    )
    models = desk.visible_models(current_user)
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
        filters=filters,
        filter_args=filters.args(sort=None),
        models=models,
        stages=desk.stage_order(current_user, models),
        colleagues=desk.colleagues(current_user),
        claimable=inbox.tasks.claimable,
    )


@bp.post("/inbox/bulk")
@login_required
def bulk():
    """Claim, release or assign the chosen tasks, each on its own; say what was refused."""
    if not current_user.is_committee:
        abort(403)
    action = request.form.get("action", "")
    guids = request.form.getlist("task")
    to_id = request.form.get("to", type=int)
    problems = []
    if action not in inbox.BULK_ACTIONS:
        problems.append(_("Choose what to do with the tasks."))
    if not guids:
        problems.append(_("Choose at least one task."))
    if action == "assign" and not (to_id and 1 <= to_id <= MAX_ID):
        problems.append(_("Choose the colleague to give the tasks to."))
    if problems:
        for problem in problems:
            flash(problem, "warning")
        return redirect(url_for("inbox.index"), code=303)
    result = inbox.bulk(current_user, action, guids, to_id)
    if result.done:
        flash(
            ngettext("%(num)d task changed.", "%(num)d tasks changed.", len(result.done)), "success"
        )
    for _guid, refusal in result.refused:
        flash(message_for(refusal), "warning")
    return redirect(url_for("inbox.index"), code=303)
