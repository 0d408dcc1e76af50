"""The inbox: open tasks of the lanes the user works, with counts per lane."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from webapp.models import utcnow
from webapp.roles import COMMITTEE_ROLES, lanes_for_roles
from webapp.services import tasks

bp = Blueprint("inbox", __name__)


@bp.get("/inbox")
@login_required
def index():
    """Open tasks for the user's roles, oldest (or most overdue) first."""
    if not current_user.role_set & COMMITTEE_ROLES:
        abort(403)
    sort = "waiting" if request.args.get("sort") == "waiting" else "due"
    everything = tasks.inbox(current_user, sort=sort)
    counts = Counter(task.lane for task, _ in everything)
    lane = request.args.get("lane")
    rows = [r for r in everything if r[0].lane == lane] if lane else everything
    lanes = [name for name in lanes_for_roles(current_user.role_set) if counts.get(name)]
    now = utcnow()
    overdue = sum(1 for task, _ in everything if task.due_at is not None and task.due_at < now)
    return render_template(
        "inbox/index.html",
        rows=rows,
        counts=counts,
        lanes=lanes,
        lane=lane,
        total=len(everything),
        overdue=overdue,
        sort=sort,
    )
