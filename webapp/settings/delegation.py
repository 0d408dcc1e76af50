"""The user's substitute while away: named for a period, withdrawn at any time."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.services import delegations, users
from webapp.services.errors import InvalidFormData

bp = Blueprint("delegation", __name__)
FIELDS = ("substitute", "starts_on", "ends_on")


@bp.get("/settings/delegation")
@login_required
def page():
    """Who stands in for the user and for whom the user stands in, now and to come."""
    return _page({}, {})


@bp.post("/settings/delegation")
@login_required
def create():
    """Name a substitute for a period."""
    values = {name: request.form.get(name, "").strip()[:100] for name in FIELDS}
    substitute = users.by_username(values["substitute"]) if values["substitute"] else None
    try:
        delegations.create(
            current_user, substitute, _date(values["starts_on"]), _date(values["ends_on"])
        )
    except InvalidFormData as err:
        return _page(values, err.errors), 400
    flash(_("%(name)s will stand in for you.", name=substitute.display_name), "success")
    return redirect(url_for("delegation.page"))


@bp.post("/settings/delegation/<id:delegation_id>/withdraw")
@login_required
def withdraw(delegation_id: int):
    """End one of the user's delegations now; another's is not found."""
    delegations.withdraw(current_user, delegation_id)
    flash(_("The delegation has ended."), "success")
    return redirect(url_for("delegation.page"))


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _page(values: dict, errors: dict) -> str:
    return render_template(
        "settings/delegation.html",
        delegations=delegations.of_user(current_user),
        values=values,
        errors=errors,
    )
