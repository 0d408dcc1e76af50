"""The start page: the procedures of the catalogue the user may start, and starting one.

A procedure whose first step is the starter's own form opens that form before any case
exists (/cases/new): the case is created by its first save or submit, so that a start clicked
twice, or abandoned, leaves no empty case behind."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp import formschema
from webapp.limits import body_limit
from webapp.services import cases, catalogue, tasks
from webapp.services.errors import Forbidden, InvalidFormData
from webapp.tasks.routes import render_task

bp = Blueprint("start", __name__)

# The new-case form's own fields, named apart from any form field of a diagram.
PROCESS_FIELD, MEMBER_FIELD = "_process", "_member_number"


@bp.get("/start")
@login_required
def index():
    """What the user may start, each with what it needs (a member number when it is about a
    member of the register)."""
    return render_template("start/index.html", procedures=catalogue.startable(current_user))


@bp.post("/start/<key>")
@login_required
def start(key: str):
    """Start a case and open its first step when it is the starter's, else the case's page."""
    member_number = request.form.get("member_number", "")[:40]
    try:
        case = cases.start(current_user, key[:80], member_number or None)
    except (InvalidFormData, Forbidden) as err:
        return _refused(key, err, member_number)
    first = tasks.first_for(current_user, case)
    if first is not None:
        return redirect(url_for("tasks.show", task_guid=first.task_guid))
    return redirect(url_for("portal.detail", case_id=case.id))


@bp.get("/cases/new")
@login_required
def new():
    """The first form of a new case of the procedure (`process`; the applicant's own
    application without it), from its live version; no case exists yet."""
    key = request.args.get("process", "")[:80] or None
    member_number = request.args.get("member_number", "")[:40]
    try:
        first = tasks.first_form(current_user, key, member_number or None)
    except (InvalidFormData, Forbidden) as err:
        return _refused(key or "", err, member_number)
    form, first_text = None, ""
    if first is not None:
        form = formschema.build_form(first.schema, first.ui, str(get_locale()))
        first_text = formschema.foreground(first.ui, str(get_locale()), first.facts).text
    return render_template(
        "start/new.html",
        first=first,
        form=form,
        first_text=first_text,
        key=key or "",
        member_number=member_number,
    )


@bp.post("/cases/new")
@login_required
@body_limit("MAX_CONTENT_LENGTH")  # the form's documents come with it
def create():
    """The first save or submit of a new case's form: the case is created now, and the form
    saved as its draft or submitted as its first step (refused input is kept as the draft and
    shown again with every error)."""
    key = request.form.get(PROCESS_FIELD, "")[:80] or None
    member_number = request.form.get(MEMBER_FIELD, "")[:40]
    try:
        case = cases.start(current_user, key, member_number or None)
    except (InvalidFormData, Forbidden) as err:
        return _refused(key or "", err, member_number)
    first = tasks.first_for(current_user, case)
    if first is None:
        return redirect(url_for("portal.detail", case_id=case.id))
    guid = first.task_guid
    if request.form.get("action") == "draft":
        try:
            tasks.save_draft(current_user, guid, request.form, request.files)
        except InvalidFormData as err:
            tasks.keep_draft(current_user, guid, err.values)
            return render_task(*tasks.find(current_user, guid), err.values, err.errors), 400
        flash(_("Draft saved. You can come back and finish it later."), "success")
        return redirect(url_for("tasks.show", task_guid=guid))
    try:
        task, case = tasks.complete(current_user, guid, request.form, request.files)
    except InvalidFormData as err:
        tasks.keep_draft(current_user, guid, err.values)
        return render_task(*tasks.find(current_user, guid), err.values, err.errors), 400
    flash(_("Done: “%(task)s” has been submitted.", task=task.title), "success")
    return redirect(url_for("portal.detail", case_id=case.id))


def _refused(key: str, err: Exception, member_number: str):
    if isinstance(err, InvalidFormData):
        return _with_errors(key, err.errors, member_number), 400
    if err.reason != "own_case":
        raise err
    # Said beside the number typed, where the error page would leave the starter guessing.
    own = _("This is your own membership: nobody starts a case about themselves. Ask a "
            "colleague to start it.")  # fmt: skip
    return _with_errors(key, {"member_number": [own]}, member_number), 403


def _with_errors(key: str, errors: dict, member_number: str) -> str:
    return render_template(
        "start/index.html",
        procedures=catalogue.startable(current_user),
        errors={key: errors},
        values={key: {"member_number": member_number}},
    )
