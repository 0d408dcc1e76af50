"""The public notice board: applicants on notice (only what may be published), the objection
form, and the announcements of new members."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from webapp import formschema
from webapp.board.forms import ObjectionForm
from webapp.extensions import limiter
from webapp.services import notice
from webapp.services.applications import ADMISSION
from webapp.services.errors import NoLiveModel, NotFound, NoticeClosed
from webapp.services.process_models import live_version
from webapp.services.workflow import version_content

bp = Blueprint("board", __name__)


def _labels() -> dict:
    try:
        forms = version_content(live_version(ADMISSION).id).forms
    except NoLiveModel:
        return {}
    return formschema.option_labels(
        forms.get("application.schema.json", {}),
        forms.get("application.uischema.json"),
        str(get_locale()),
    )


@bp.get("/board")
def notices():
    """Applicants in their notice period and the latest admissions."""
    return render_template(
        "board/notices.html",
        rows=notice.on_notice(),
        admitted=notice.recently_admitted(),
        labels=_labels(),
    )


def _objection_limit() -> str:
    return current_app.config["OBJECTION_RATE_LIMIT"]


@bp.route("/board/<id:application_id>/objection", methods=["GET", "POST"])
@limiter.limit(_objection_limit, methods=["POST"])
def objection(application_id: int):
    """File an objection to an applicant while its notice period runs."""
    try:
        entry = notice.entry(application_id)
    except NotFound:
        closed = notice.closed_at(application_id)
        if closed is None:
            raise
        raise NoticeClosed(closed) from None
    form = ObjectionForm()
    if form.validate_on_submit():
        notice.file_objection(
            application_id, form.reason.data, form.contact.data, source=request.remote_addr
        )
        flash(_("Your objection has been recorded. The secretariat will examine it."), "success")
        return redirect(url_for("board.notices"))
    status = 400 if request.method == "POST" else 200
    return render_template("board/objection.html", entry=entry, form=form, labels=_labels()), status
