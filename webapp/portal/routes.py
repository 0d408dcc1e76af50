"""My cases, starting one, and a case's page with stage, next step and history."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user, login_required

from webapp import formschema
from webapp.routing import page_arg
from webapp.services import audit, cases, members, notice, progress, tasks, users

bp = Blueprint("portal", __name__)


@bp.get("/cases", endpoint="cases")
@login_required
def cases_list():
    """The user's own applications with their stage and what they wait for, a page at a time."""
    page = page_arg()
    own, has_next = cases.for_applicant(current_user, page)
    waiting = cases.waiting_on(own)
    rows = [(a, waiting[a.id]) for a in own]
    return render_template("portal/cases.html", rows=rows, page=page, has_next=has_next)


@bp.post("/cases")
@login_required
def start():
    """Start a new application and open its form."""
    case = cases.start(current_user)
    waiting = cases.progress(case).for_applicant
    if waiting:
        return redirect(url_for("tasks.show", task_guid=waiting[0].task_guid))
    return redirect(url_for("portal.detail", case_id=case.id))


@bp.get("/cases/<id:case_id>")
@login_required
def detail(case_id: int):
    """One application: stage bar, outcome, who it waits on, and its timeline."""
    case = cases.visible(current_user, case_id)
    progress = cases.progress(case)
    is_owner = case.applicant_id == current_user.id
    committee_view = current_user.is_committee and not is_owner
    summary = None
    if case.data:
        schema, ui = tasks.application_form(progress)
        summary = formschema.build_form(schema, ui, str(get_locale()), values=case.data)
    return render_template(
        "portal/detail.html",
        case=case,
        progress=progress,
        is_owner=is_owner,
        committee_view=committee_view,
        summary=summary,
        applicant_tasks=progress.for_applicant if is_owner else [],
        certificate=members.certificate_of(case.id),
        objections=notice.objections_of(case) if committee_view else [],
        can_audit=committee_view and current_user.keeps_register,
    )


@bp.get("/cases/<id:case_id>/diagram")
@login_required
def diagram(case_id: int):
    """The diagram of the application's own version and where it stands on it, as JSON for the
    viewer: drawn in full for the committee, by stage only for the applicant."""
    view = progress.diagram_of(current_user, case_id)
    response = jsonify(xml=view.xml, states=view.states, sanitized=view.sanitized)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.context_processor
def _progress_helpers() -> dict:
    return {"stage_timeline_of": progress.stage_timeline}


def _audit_events(case_id: int):
    case = cases.visible(current_user, case_id)
    if not current_user.keeps_register or case.applicant_id == current_user.id:
        abort(403)
    events = audit.trail(case.instance_id)
    # A substitute's act names the person it was done for: "B for A".
    people = {e.actor_id for e in events} | {(e.data or {}).get("on_behalf_of") for e in events}
    return case, events, users.display_names(people)


@bp.get("/cases/<id:case_id>/audit")
@login_required
def audit_trail(case_id: int):
    """Every recorded action on an application, for the secretariat."""
    case, events, names = _audit_events(case_id)
    return render_template(
        "portal/audit.html",
        case=case,
        events=events,
        names=names,
        action_label=audit.action_label,
    )


@bp.get("/cases/<id:case_id>/audit.csv")
@login_required
def audit_csv(case_id: int):
    """The audit trail of an application as a CSV download."""
    case, events, names = _audit_events(case_id)
    return Response(
        audit.as_csv(events, names),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename=audit-{case.id}.csv",
            "Cache-Control": "private, no-store",
        },
    )
