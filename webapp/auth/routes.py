"""Login, logout, registration and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth.forms import PASSWORD_PROBLEMS, LoginForm, RegisterForm
from webapp.extensions import db, limiter, login_manager
from webapp.models import User
from webapp.services import login_sessions, users

bp = Blueprint("auth", __name__)
# Where the session keeps the id of its server-side login record.
SID_KEY = "sid"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The logged-in user of a session cookie, while its login has not been ended. (API
    tokens are judged by the request loader in webapp.api.access, not here.)"""
    return login_sessions.user_of(user_id, session.get(SID_KEY))


def _start_session(user: User) -> None:
    # A fresh session at login (no fixation): nothing of the previous one survives (a login
    # made over it is ended), and the new id is known to the server, so logging out can end
    # it for every copy of the cookie.
    login_sessions.end(session.get(SID_KEY))
    session.clear()
    session[SID_KEY] = login_sessions.begin(user)
    login_user(user)


def _demo_logins() -> list[tuple[str, str, str]]:
    """(username, name, roles and groups) of each demo account, for the login page."""
    return [
        (a["username"], a["name"], ",".join([*a.get("roles", []), *a.get("groups", [])]))
        for a in users.demo_accounts()
    ]


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an absolute URL in ?next= would make us an open redirect.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("home")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
# Password guessing is throttled per address (the 429 page says why); a successful login
# costs nothing, so an office behind one address is not locked out when everyone arrives.
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda r: r.status_code != 302)
def login():
    """Log in with username and password."""
    form = LoginForm()
    if form.validate_on_submit():
        user = users.authenticate(form.username.data, form.password.data)
        if user is not None:
            _start_session(user)
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong username or password."), "danger")
    return render_template(
        "auth/login.html",
        form=form,
        show_demo=current_app.config.get("SHOW_DEMO_LOGINS", True),
        demo_users=_demo_logins() if current_app.config.get("SHOW_DEMO_LOGINS", True) else [],
        demo_password=users.DEMO_PASSWORD,
    )


@bp.post("/logout")
@login_required
def logout():
    """Log out: end the login on the server too, so a copy of the cookie is worthless."""
    lang = session.get("lang")
    login_sessions.end(session.get(SID_KEY))
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


def _register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


@bp.route("/register", methods=["GET", "POST"])
# Every sign-up attempt counts: accounts made by the hundred are for spam, not membership.
@limiter.limit(_register_limit, methods=["POST"])
def register():
    """Create an applicant account."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = users.register(
                form.username.data, form.display_name.data, form.email.data, form.password.data
            )
        except users.UsernameTaken:
            form.username.errors.append(_("This username is taken."))
        except users.WeakPassword as err:  # the form checks first; this is the service's word
            form.password.errors.append(str(PASSWORD_PROBLEMS[err.reason]()))
        else:
            _start_session(user)
            flash(_("Welcome! You can now start an application."), "success")
            return redirect(url_for("portal.cases"))
    return render_template("auth/register.html", form=form)


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the interface language for this session."""
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    return redirect(_safe_next(request.args.get("next")))
