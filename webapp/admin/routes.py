"""The process owners' pages: process models with their versions and instances, and the
working-day calendar."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from webapp.admin import editor, transfer
from webapp.admin.forms import CalendarDayForm
from webapp.roles import PROCESS_OWNER
from webapp.routing import MAX_ID
from webapp.services import heatmap as heatmap_service
from webapp.services import model_editor, workdays

bp = Blueprint("admin", __name__)
# The editor and import/export live in their own modules, under this blueprint's guard.
bp.register_blueprint(editor.bp)
bp.register_blueprint(transfer.bp)


@bp.before_request
def _only_process_owners():
    # One guard for every page and endpoint of the blueprint and those mounted in it.
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.has_role(PROCESS_OWNER):
        abort(403)
    return None


@bp.context_processor
def _links() -> dict:
    return {"migrate_url": _migrate_url}


def _migrate_url(key: str) -> str:
    # The migration pages come from their own blueprint, which may not offer the page yet.
    try:
        return url_for("migration.index", model_key=key)
    except BuildError:
        return f"/models/{key}/migrate"


@bp.get("/models")
@login_required
def models():
    """Every process model: its versions, the live one, instances per version and stage."""
    _require_owner()
    models = model_editor.model_list()
    return render_template(
        "admin/models.html",
        models=models,
        copies=transfer.copies_of(models),
        import_form=transfer.import_form(models),
    )


@bp.get("/models/<key>/heatmap")
@login_required
def heatmap(key: str):
    """A deployed version's diagram with, per element, the cases there now and the median time
    spent there; the live version unless `?version=N`."""
    _require_owner()
    number = request.args.get("version", type=int)
    if "version" in request.args and (number is None or not 1 <= number <= MAX_ID):
        abort(404)
    version = model_editor.find_version(key, number)
    versions = model_editor.find_model(key)
    return render_template(
        "admin/heatmap.html",
        model=versions,
        version=version,
        numbers=model_editor.version_numbers(versions),
        elements=heatmap_service.of_version(version),
        sample=heatmap_service.DURATION_SAMPLE,
    )


def _require_owner() -> None:
    if not current_user.has_role(PROCESS_OWNER):
        abort(403)


@bp.route("/admin/calendar", methods=["GET", "POST"])
@login_required
def calendar():
    """Holidays and make-up working days the association enters, and years counted Mon–Fri."""
    _require_owner()
    form = CalendarDayForm()
    if form.validate_on_submit():
        workdays.set_day(form.day.data, form.kind.data, form.note.data, current_user)
        flash(_("Saved: %(day)s.", day=format_date(form.day.data, "full")), "success")
        return redirect(url_for("admin.calendar"))
    this_year = workdays.local_today().year
    return render_template(
        "admin/calendar.html",
        form=form,
        coverage=workdays.year_coverage(range(this_year, this_year + 3)),
        days=workdays.days_from(date(this_year, 1, 1)),
    )


@bp.post("/admin/calendar/<day>/delete")
@login_required
def delete_calendar_day(day: str):
    """Remove an entered day: the official calendar (or Mon–Fri) applies to it again."""
    _require_owner()
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        abort(404)
    workdays.delete_day(parsed, current_user)
    flash(_("Removed: %(day)s.", day=format_date(parsed, "full")), "success")
    return redirect(url_for("admin.calendar"))
