"""My cases, starting one, and a case's page with stage, next step and history."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp import formschema
from webapp.routing import page_arg
from webapp.services import (
    audit,
    cases,
    demo_clock,
    members,
    notice,
    own_cases,
    progress,
    tasks,
    users,
)
from webapp.services.errors import InvalidFormData

bp = Blueprint("portal", __name__)


@bp.get("/cases", endpoint="cases")
@login_required
def cases_list():
    """The user's own applications with their stage and what they wait for, a page at a time."""
    page = page_arg()
    own, has_next = cases.for_applicant(current_user, page)
    waiting = cases.waiting_on(own)
    rows = [(a, waiting[a.id]) for a in own]
    return render_template(
        "portal/cases.html",
        rows=rows,
        page=page,
        has_next=has_next,
        controls=own_cases.controls_of(current_user, own),
    )


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
def detail(case_id: int, withdraw_errors: dict | None = None):
    """One application: stage bar, outcome, who it waits on, and its timeline."""
    case, with_data = cases.visible_progress(current_user, case_id)
    if not with_data:
        # The process owner: where the case stands on its diagram and by stage, nothing more.
        return render_template("portal/progress.html", case=case)
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
        actionable=tasks.actionable(current_user, case, progress.open_tasks),
        asks=_asks(progress.for_applicant if is_owner else [], case),
        demo_timers=demo_clock.waiting_timers(case),
        controls=own_cases.controls(current_user, case),
        withdraw_errors=withdraw_errors or {},
    )


@bp.post("/cases/<id:case_id>/withdraw")
@login_required
def withdraw(case_id: int):
    """The applicant withdraws its own case in progress, saying why."""
    try:
        own_cases.withdraw(current_user, case_id, request.form.get("reason", "")[:4000])
    except InvalidFormData as err:
        return detail(case_id, withdraw_errors=err.errors), 400
    flash(_("The case is withdrawn. Its open steps are closed."), "success")
    return redirect(url_for("portal.detail", case_id=case_id))


@bp.post("/cases/<id:case_id>/delete")
@login_required
def delete_draft(case_id: int):
    """The applicant deletes its own empty draft."""
    own_cases.delete_draft(current_user, case_id)
    flash(_("The empty draft is deleted."), "success")
    return redirect(url_for("portal.cases"))


def _asks(applicant_tasks, case) -> dict[str, str]:
    """What each of the applicant's open tasks puts first (ui:firstText), for its own page."""
    locale = str(get_locale())
    return {
        t.task_guid: formschema.foreground(tasks.form_of(t)[1], locale, case.facts).text
        for t in applicant_tasks
    }


@bp.post("/cases/<id:case_id>/demo-timers/<element_id>")
@login_required
def demo_end_timer(case_id: int, element_id: str):
    """Demo mode only: end a waiting period now, through the ticker's own step."""
    if demo_clock.end_timer(current_user, case_id, element_id[:200]):
        flash(_("The period has ended: the case moved on as the ticker would have moved it."))
    else:
        flash(_("The step after the period failed: see the incidents."), "danger")
    return redirect(url_for("portal.detail", case_id=case_id))


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
