"""Applicants under public notice, showing only what may be published."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import get_locale
from sqlalchemy import select

from webapp import formschema
from webapp.extensions import db
from webapp.models import Application
from webapp.services.applications import ADMISSION
from webapp.services.errors import NoLiveModel
from webapp.services.process_models import live_version
from webapp.services.workflow import version_content

bp = Blueprint("board", __name__)


@bp.get("/board")
def notices():
    """Name, member type, region and industry of each applicant in its notice period."""
    rows = db.session.execute(
        select(
            Application.name,
            Application.member_type,
            Application.region,
            Application.industry,
            Application.updated_at,
        )
        .where(Application.stage == "notice", Application.status == "in_progress")
        .order_by(Application.updated_at.desc())
    ).all()
    try:
        forms = version_content(live_version(ADMISSION).id).forms
        labels = formschema.option_labels(
            forms.get("application.schema.json", {}),
            forms.get("application.uischema.json"),
            str(get_locale()),
        )
    except NoLiveModel:
        labels = {}
    return render_template("board/notices.html", rows=rows, labels=labels)
