"""Show a task's form and submit it; the schema comes from the diagram's version."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp import formschema
from webapp.errors import message_for
from webapp.limits import body_limit
from webapp.services import cases, notice, reapplication, tasks
from webapp.services.errors import InvalidFormData, TaskClaimed

bp = Blueprint("tasks", __name__)


@bp.get("/tasks/<task_guid>")
@login_required
def show(task_guid: str):
    """The task's form, empty or with what the user entered last time."""
    task, case = tasks.find(current_user, task_guid)
    return render_task(task, case)


@bp.post("/tasks/<task_guid>")
@login_required
@body_limit("MAX_CONTENT_LENGTH")  # the form's documents come with it
def submit(task_guid: str):
    """Validate and complete the task, or keep it as a draft; on errors show the form again
    with the user's values."""
    if request.form.get("action") == "draft":
        try:
            task, case = tasks.save_draft(current_user, task_guid, request.form, request.files)
        except InvalidFormData as err:
            task, case = tasks.find(current_user, task_guid)
            return render_task(task, case, values=err.values, errors=err.errors), 400
        flash(_("Draft saved. You can come back and finish it later."), "success")
        return redirect(url_for("tasks.show", task_guid=task_guid))
    try:
        task, case = tasks.complete(current_user, task_guid, request.form, request.files)
    except InvalidFormData as err:
        task, case = tasks.find(current_user, task_guid)
        return render_task(task, case, values=err.values, errors=err.errors), 400
    flash(_("Done: “%(task)s” has been submitted.", task=task.title), "success")
    if case.applicant_id == current_user.id:
        return redirect(url_for("portal.detail", case_id=case.id))
    return redirect(url_for("inbox.index"))


@bp.post("/tasks/<task_guid>/claim")
@login_required
def claim(task_guid: str):
    """Take the task on; the others of the lane see who has it."""
    try:
        tasks.claim(current_user, task_guid)
    except TaskClaimed as err:
        flash(message_for(err), "warning")
    else:
        flash(_("You have claimed this task."), "success")
    return redirect(url_for("tasks.show", task_guid=task_guid))


@bp.post("/tasks/<task_guid>/unclaim")
@login_required
def unclaim(task_guid: str):
    """Give one's claim on the task up, so that anyone of the lane may take it."""
    try:
        tasks.unclaim(current_user, task_guid)
    except TaskClaimed as err:
        flash(message_for(err), "warning")
    else:
        flash(_("You have released this task."), "success")
    return redirect(url_for("tasks.show", task_guid=task_guid))


def render_task(task, case, values=None, errors=None):
    locale = str(get_locale())
    schema, ui = tasks.form_of(task)
    if values is None and task.draft:
        values = task.draft
    elif values is None and case.data and tasks.is_case_form(task):
        values = case.data  # the applicant revises what it entered before
    first = formschema.foreground(ui, locale, case.facts)
    if values is None and first.prefill:
        values = first.prefill  # e.g. the amount due, which the payer rarely changes
    form = formschema.build_form(schema, ui, locale, values=values, errors=errors)
    progress = cases.progress(case)
    summary = None
    if case.data and not tasks.is_case_form(task):
        summary = formschema.build_form(*tasks.application_form(progress), locale, values=case.data)
    # What earlier steps decided, labelled with their own forms (committee members only).
    # Peers of a multi-instance task (the other council members' votes) stay hidden until
    # one's own is cast, so that nobody votes by looking at the others.
    earlier = [
        (done, formschema.build_form(*tasks.form_of(done), locale, values=done.submitted_data))
        for done in progress.history
        if done.submitted_data
        and not tasks.is_case_form(done)
        and not (task.item is not None and done.bpmn_id == task.bpmn_id)
    ]
    # The latest submission of each step the UI schema puts first, shown open above the form.
    latest = {done.bpmn_id: done for done in progress.history if done.submitted_data}
    first_steps = [
        (
            latest[step],
            formschema.build_form(
                *tasks.form_of(latest[step]), locale, values=latest[step].submitted_data
            ),
        )
        for step in first.steps
        if step in latest
    ]
    shown = {done.task_guid for done, _form in first_steps}
    earlier = [(done, f) for done, f in earlier if done.task_guid not in shown]
    is_owner = case.applicant_id == current_user.id
    return render_template(
        "tasks/form.html",
        task=task,
        case=case,
        form=form,
        progress=progress,
        summary=summary,
        earlier=earlier,
        is_owner=is_owner,
        claimable=not is_owner and tasks.claimable(task),
        holder=tasks.holder(task),
        principal=None if is_owner else tasks.acting_for(current_user, task.task_guid),
        objections=[] if is_owner else notice.objections_of(case),
        # The register's past under the same credit code or ID number, for those who judge it.
        identity_history=None if is_owner else reapplication.history_of(case),
        first=first,
        first_steps=first_steps,
        peers=_peers(task, progress),
    )


def _peers(task, progress) -> tuple[int, int] | None:
    """For one instance of a multi-instance task (each council member's vote): how many of
    its round are done, and of how many; None for a task of one."""
    if task.item is None:
        return None
    round_open = [t for t in progress.open_tasks if t.bpmn_id == task.bpmn_id]
    since = min(t.created_at for t in round_open) if round_open else task.created_at
    done = [
        t
        for t in progress.history
        if t.bpmn_id == task.bpmn_id and t.state == "completed" and t.created_at >= since
    ]
    return len(done), len(done) + len(round_open)
