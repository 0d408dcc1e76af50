"""Show a task's form and submit it; the schema comes from the diagram's version."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp import formschema
from webapp.services import applications, tasks
from webapp.services.errors import InvalidFormData

bp = Blueprint("tasks", __name__)


@bp.get("/tasks/<task_guid>")
@login_required
def show(task_guid: str):
    """The task's form, empty or with what the user entered last time."""
    task, application = tasks.find(current_user, task_guid)
    return _render(task, application)


@bp.post("/tasks/<task_guid>")
@login_required
def submit(task_guid: str):
    """Validate and complete the task; on errors show the form again with the user's values."""
    try:
        task, application = tasks.complete(current_user, task_guid, request.form)
    except InvalidFormData as err:
        task, application = tasks.find(current_user, task_guid)
        return _render(task, application, values=err.values, errors=err.errors), 400
    flash(_("Done: “%(task)s” has been submitted.", task=task.title), "success")
    if application.applicant_id == current_user.id:
        return redirect(url_for("portal.detail", application_id=application.id))
    return redirect(url_for("inbox.index"))


def _render(task, application, values=None, errors=None):
    locale = str(get_locale())
    schema, ui = tasks.form_of(task)
    if values is None and task.stage == "application" and application.data:
        values = application.data  # the applicant revises what it entered before
    form = formschema.build_form(schema, ui, locale, values=values, errors=errors)
    progress = applications.progress(application)
    summary = None
    if application.data and task.stage != "application":
        summary = formschema.build_form(
            *tasks.application_form(progress), locale, values=application.data
        )
    # What earlier steps decided, labelled with their own forms (committee members only).
    earlier = [
        (done, formschema.build_form(*tasks.form_of(done), locale, values=done.submitted_data))
        for done in progress.history
        if done.submitted_data and done.stage != "application"
    ]
    return render_template(
        "tasks/form.html",
        task=task,
        application=application,
        form=form,
        progress=progress,
        summary=summary,
        earlier=earlier,
        is_owner=application.applicant_id == current_user.id,
    )
