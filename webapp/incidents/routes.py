"""Incidents: the failed automatic steps, seen by process owners and the secretariat, and the
process owner's "retry now"."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.roles import PROCESS_OWNER
from webapp.services import incidents, timers

bp = Blueprint("incidents", __name__)


@bp.get("/incidents")
@login_required
def index():
    """Open incidents (latest failure first) and the ones resolved lately."""
    if not incidents.may_view(current_user):
        abort(403)
    open_rows, resolved = incidents.listing(current_user)
    return render_template(
        "incidents/index.html",
        open_rows=open_rows,
        resolved=resolved,
        may_retry=current_user.has_role(PROCESS_OWNER),
    )


@bp.post("/incidents/<id:incident_id>/retry")
@login_required
def retry(incident_id: int):
    """Run the failed step again now; say whether it succeeded."""
    if not current_user.has_role(PROCESS_OWNER):
        abort(403)
    incident, moved = timers.retry_incident(current_user, incident_id)
    if moved:
        flash(_("The step succeeded; the incident is resolved."), "success")
    else:
        flash(_("The step failed again: %(error)s", error=incident.message), "danger")
    return redirect(url_for("incidents.index", _anchor=f"incident-{incident.id}"))
