"""The process owners' pages: process models with their versions and instances, and the
working-day calendar."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.admin.forms import CalendarDayForm
from webapp.roles import PROCESS_OWNER
from webapp.services import process_models, workdays

bp = Blueprint("admin", __name__)


@bp.get("/models")
@login_required
def models():
    """Every process model with its versions and how many instances run on each."""
    if not current_user.has_role(PROCESS_OWNER):
        abort(403)
    return render_template("admin/models.html", overview=process_models.overview())


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
