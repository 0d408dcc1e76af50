"""The process model list: versions, which one is live, and instances per version."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from webapp.roles import PROCESS_OWNER
from webapp.services import process_models

bp = Blueprint("admin", __name__)


@bp.get("/models")
@login_required
def models():
    """Every process model with its versions and how many instances run on each."""
    if not current_user.has_role(PROCESS_OWNER):
        abort(403)
    return render_template("admin/models.html", overview=process_models.overview())
