"""The catalogue through the API: what the caller may start, and starting a case of it."""

from __future__ import annotations

from flask import jsonify, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.api import bp
from webapp.api.access import api_login_required
from webapp.api.applications import detail
from webapp.api.tasks import json_object
from webapp.services import applications, catalogue
from webapp.services.errors import InvalidFormData


@bp.get("/catalogue")
@api_login_required
def list_catalogue():
    """The procedures the caller may start."""
    return jsonify(
        items=[
            {"process": p.key, "title": p.title_zh, "title_en": p.title_en, "subject": p.subject}
            for p in catalogue.startable(current_user)
        ]
    )


@bp.post("/cases")
@api_login_required
def start_case():
    """Start a case: `{"process": key}`, with `"member_number"` when it is about a member."""
    body = json_object()
    key, number = body.get("process"), body.get("member_number")
    errors = {}
    if not isinstance(key, str) or not 0 < len(key) <= 80:
        errors["process"] = [_("Name the procedure by its key, as the catalogue lists it.")]
    if number is not None and (not isinstance(number, str) or len(number) > 40):
        errors["member_number"] = [_("There is no active member with this member number.")]
    if errors:
        raise InvalidFormData(errors, {})
    application = applications.start(current_user, key, number)
    response = jsonify(detail(application))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_application", application_id=application.id)
    return response
