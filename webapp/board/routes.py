"""The public notice board: applicants on notice (only what may be published), the objection
form, and the announcements of new members."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from webapp import formschema
from webapp.board.forms import ObjectionForm
from webapp.extensions import limiter
from webapp.services import model_data, notice
from webapp.services.errors import NotFound, NoticeClosed
from webapp.services.workflow import version_content

bp = Blueprint("board", __name__)


def _labels() -> dict:
    # The option labels of every form of the live models: a notice shows the values its case's
    # form offered (member type, region, industry) by their names.
    labels: dict = {}
    locale = str(get_locale())
    for version_id in model_data.live_versions():
        forms = version_content(version_id).forms
        for name, schema in forms.items():
            if name.endswith(".schema.json") and isinstance(schema, dict):
                ui = forms.get(name.removesuffix(".schema.json") + ".uischema.json")
                for field, options in formschema.option_labels(schema, ui, locale).items():
                    labels.setdefault(field, options)
    return labels


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


@bp.route("/board/<id:case_id>/objection", methods=["GET", "POST"])
@limiter.limit(_objection_limit, methods=["POST"])
def objection(case_id: int):
    """File an objection to an applicant while its notice period runs."""
    try:
        entry = notice.entry(case_id)
    except NotFound:
        closed = notice.closed_at(case_id)
        if closed is None:
            raise
        raise NoticeClosed(closed) from None
    form = ObjectionForm()
    if form.validate_on_submit():
        notice.file_objection(
            case_id, form.reason.data, form.contact.data, source=request.remote_addr
        )
        flash(_("Your objection has been recorded. The secretariat will examine it."), "success")
        return redirect(url_for("board.notices"))
    status = 400 if request.method == "POST" else 200
    return render_template("board/objection.html", entry=entry, form=form, labels=_labels()), status
