"""Applicants under public notice, showing only what may be published."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Application

bp = Blueprint("board", __name__)


@bp.get("/board")
def notices():
    """Name, member type, region and industry of each applicant in its notice period."""
    rows = db.session.execute(
        select(Application.name, Application.member_type, Application.region,
               Application.industry, Application.updated_at)
        .where(Application.stage == "notice", Application.status == "in_progress")
        .order_by(Application.updated_at.desc())).all()
    return render_template("board/notices.html", rows=rows)
