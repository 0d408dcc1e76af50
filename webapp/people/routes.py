"""The administrator's pages: accounts (activate, deactivate, reset a password) and groups
(create, rename, members with their terms)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import GroupMembership, User
from webapp.models.users import association_today
from webapp.roles import ADMINISTRATOR
from webapp.services import accounts, groups, users
from webapp.services.errors import InvalidFormData

bp = Blueprint("people", __name__, url_prefix="/admin")


@bp.before_request
def _only_administrators():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.has_role(ADMINISTRATOR):
        abort(403)
    return None


@bp.route("/groups", methods=["GET", "POST"])
def group_list():
    """Every group with its current members; a form to create one."""
    errors, values = {}, {}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("key", "name_zh", "name_en")}
        try:
            group = groups.create(values["key"], values["name_zh"], values["name_en"], current_user)
        except InvalidFormData as err:
            errors = err.errors
        else:
            flash(_("Group %(name)s created.", name=group.name_zh), "success")
            return redirect(url_for("people.group_detail", group_id=group.id))
    rows = [(g, len(groups.members(g.key))) for g in groups.all_groups(include_inactive=True)]
    status = 400 if errors else 200
    return render_template("people/groups.html", rows=rows, errors=errors, values=values), status


@bp.route("/groups/<id:group_id>", methods=["GET", "POST"])
def group_detail(group_id: int):
    """A group's names and members, past, present and future."""
    group = groups.get(group_id)
    errors, values = {}, {}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("name_zh", "name_en")}
        try:
            groups.rename(
                group,
                values["name_zh"],
                values["name_en"],
                "active" in request.form,
                current_user,
                keeps_register="keeps_register" in request.form,
                sees_dashboard="sees_dashboard" in request.form,
            )
        except InvalidFormData as err:
            errors = err.errors
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("people.group_detail", group_id=group.id))
    return _group_page(group, errors, values, 400 if errors else 200)


@bp.post("/groups/<id:group_id>/members")
def add_member(group_id: int):
    """Put an account in the group for a term."""
    group = groups.get(group_id)
    form = {k: request.form.get(k, "").strip() for k in ("username", "starts_on", "ends_on")}
    errors: dict[str, list[str]] = {}
    user = users.by_username(form["username"]) if form["username"] else None
    if user is None:
        errors["username"] = [_("There is no account of this username.")]
    starts_on, ends_on = _date(form, "starts_on", errors), _date(form, "ends_on", errors)
    errors.update(groups.term_problems(starts_on, ends_on))
    if not errors:
        try:
            groups.add_member(group, user, starts_on, ends_on, current_user)
        except InvalidFormData as err:
            errors = err.errors
        else:
            flash(_("%(name)s added.", name=user.display_name), "success")
            return redirect(url_for("people.group_detail", group_id=group.id))
    return _group_page(group, errors, form, 400)


@bp.post("/groups/<id:group_id>/members/<id:membership_id>/end")
def end_member(group_id: int, membership_id: int):
    """Take someone out of the group from today."""
    membership = db.session.get(GroupMembership, membership_id)
    if membership is None or membership.group_id != group_id:
        abort(404)
    groups.end_membership(membership, current_user)
    flash(_("The membership ends today."), "success")
    return redirect(url_for("people.group_detail", group_id=group_id))


def _group_page(group, errors: dict, values: dict, status: int):
    rows = db.session.scalars(
        select(GroupMembership)
        .where(GroupMembership.group_id == group.id)
        .order_by(GroupMembership.id)
    ).all()
    ids = [m.user_id for m in rows]
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    today = association_today()
    return render_template(
        "people/group.html",
        group=group,
        rows=[(m, people[m.user_id], m.current(today)) for m in rows],
        errors=errors,
        values=values,
    ), status


def _date(form: dict, name: str, errors: dict) -> date | None:
    if not form[name]:
        return None
    try:
        return date.fromisoformat(form[name])
    except ValueError:
        errors[name] = [_("Give a date as YYYY-MM-DD.")]
        return None


@bp.get("/accounts")
def account_list():
    """Accounts, searched by username or name, with their roles and groups."""
    search = request.args.get("q", "")[:100]
    return render_template(
        "people/accounts.html", accounts=accounts.directory(search), search=search
    )


@bp.post("/accounts/<id:user_id>/active")
def set_active(user_id: int):
    """Let an account log in again, or stop it."""
    user = db.session.get(User, user_id) or abort(404)
    active = request.form.get("active") == "1"
    try:
        accounts.set_active(user, active, current_user)
    except accounts.AccountError:
        flash(_("You cannot deactivate your own account."), "danger")
        return redirect(url_for("people.account_list"))
    message = _("%(name)s may log in.") if active else _("%(name)s can no longer log in.")
    flash(message % {"name": user.display_name}, "success")
    return redirect(url_for("people.account_list"))


@bp.post("/accounts/<id:user_id>/password")
def reset_password(user_id: int):
    """A new random password, shown once to hand to the account's holder."""
    user = db.session.get(User, user_id) or abort(404)
    password = accounts.reset_password(user, current_user)
    flash(
        _("New password for %(username)s: %(password)s — hand it over in person; it is not "
          "shown again.", username=user.username, password=password),
        "warning",
    )  # fmt: skip
    return redirect(url_for("people.account_list"))
