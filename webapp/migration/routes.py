"""Process owners move chosen running instances to a newer version of their model."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField
from wtforms.validators import InputRequired

from webapp.roles import PROCESS_OWNER
from webapp.routing import id_arg
from webapp.services import migration

bp = Blueprint("migration", __name__)


class MigrateForm(FlaskForm):
    """The chosen instances, each as "instance id:version id it was seen on"."""

    target = IntegerField(validators=[InputRequired()])
    # The page's list may be stale by the time it is posted: an instance another owner moved
    # meanwhile is reported as such, not refused as an invalid choice.
    instances = SelectMultipleField(validate_choice=False)


def _require_owner() -> None:
    if not current_user.has_role(PROCESS_OWNER):
        abort(403)


def _chosen(values: list[str]) -> list[tuple[int, int]] | None:
    chosen = []
    for value in values:
        instance_id, _sep, version_id = value.partition(":")
        if not (instance_id.isdigit() and version_id.isdigit()):
            return None
        chosen.append((int(instance_id), int(version_id)))
    return chosen


@bp.get("/models/<model_key>/migrate")
@login_required
def index(model_key: str):
    """The running instances on older versions, what the diff says of each, and checkboxes."""
    _require_owner()
    target = id_arg("target")
    overview = migration.overview(current_user, model_key, target)
    form = MigrateForm(target=overview.target.id)
    return render_template("migration/index.html", overview=overview, form=form, verdicts=VERDICTS)


@bp.post("/models/<model_key>/migrate")
@login_required
def migrate(model_key: str):
    """Migrate the chosen instances and report, per instance, migrated or refused and why."""
    _require_owner()
    form = MigrateForm()
    chosen = _chosen(form.instances.data or []) if form.validate_on_submit() else None
    if chosen is None:
        return render_template(
            "errors/error.html", status=400, message=_("The request could not be processed.")
        ), 400
    if not chosen:
        flash(_("Choose at least one case to migrate."), "warning")
        return redirect(url_for("migration.index", model_key=model_key, target=form.target.data))
    outcomes = migration.migrate_chosen(current_user, model_key, form.target.data, chosen)
    status = 409 if any(o.status == migration.CONFLICT for o in outcomes) else 200
    overview = migration.overview(current_user, model_key, form.target.data)
    return render_template(
        "migration/result.html",
        outcomes=outcomes,
        overview=overview,
        form=MigrateForm(target=overview.target.id),
        verdicts=VERDICTS,
    ), status


VERDICTS = {
    "kept": _l("unchanged"),
    "updated": _l("changed: continues as drawn in the new version"),
    "removed": _l("removed in the new version"),
    "type_changed": _l("becomes another kind of element in the new version"),
    "loop_changed": _l("its multi-instance collection changes while its instances are open"),
}
