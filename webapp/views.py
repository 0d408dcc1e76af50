"""Blueprints, template helpers and the vendored front-end files, wired into the app."""

from __future__ import annotations

import re

from flask import (
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user
from markupsafe import Markup, escape

from webapp import routing
from webapp.admin.routes import bp as admin_bp
from webapp.api import bp as api_bp
from webapp.auth.routes import bp as auth_bp
from webapp.board.routes import bp as board_bp
from webapp.certificates.routes import bp as certificates_bp
from webapp.desk.routes import bp as desk_bp
from webapp.documents.routes import bp as documents_bp
from webapp.dues.routes import bp as dues_bp
from webapp.extensions import csrf
from webapp.health.routes import bp as health_bp
from webapp.inbox.routes import bp as inbox_bp
from webapp.incidents.routes import bp as incidents_bp
from webapp.messages.routes import bp as messages_bp
from webapp.migration.routes import bp as migration_bp
from webapp.models import parse_iso, utcnow
from webapp.people.routes import bp as people_bp
from webapp.portal.routes import bp as portal_bp
from webapp.portal.start import bp as start_bp
from webapp.register.routes import bp as register_bp
from webapp.roles import ADMINISTRATOR, APPLICANT, PROCESS_OWNER
from webapp.services import incidents, member_register, notify
from webapp.services.groups import holder_label, lane_label
from webapp.services.stages import (
    order_of,
    outcome_label,
    stage_label,
    status_label,
    status_tone,
)
from webapp.services.workflow import task_property
from webapp.settings.delegation import bp as delegation_bp
from webapp.settings.routes import bp as settings_bp
from webapp.tasks.routes import bp as tasks_bp

# Only these npm package folders are served; nothing else of node_modules is reachable.
VENDOR_PATHS = ("bootstrap/dist/", "bpmn-js/dist/", "echarts/dist/")


def register(app: Flask) -> None:
    """Attach blueprints, helpers and the home and vendor routes."""
    routing.register(app)  # first: the rules below use its converter
    for bp in (auth_bp, portal_bp, tasks_bp, inbox_bp, board_bp, admin_bp, certificates_bp):
        app.register_blueprint(bp)
    app.register_blueprint(documents_bp)
    app.register_blueprint(messages_bp)
    app.register_blueprint(migration_bp)
    app.register_blueprint(incidents_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(people_bp)
    app.register_blueprint(delegation_bp)
    app.register_blueprint(start_bp)
    app.register_blueprint(dues_bp)
    app.register_blueprint(register_bp)
    app.register_blueprint(desk_bp)
    app.add_url_rule("/", "home", home)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    app.add_url_rule("/vendor/<path:filename>", "vendor", vendor)
    # Links mailed before cases were called cases keep working.
    app.add_url_rule(OLD_CASES, "old_case_path", old_case_path)
    app.add_url_rule(f"{OLD_CASES}/<path:rest>", "old_case_path", old_case_path)
    app.add_url_rule(f"/api/v1{OLD_CASES}", "old_api_case_path", old_case_path, methods=_ANY)
    app.add_url_rule(
        f"/api/v1{OLD_CASES}/<path:rest>", "old_api_case_path", old_case_path, methods=_ANY
    )
    # The redirect changes nothing; the /cases address it leads to checks the token itself.
    csrf.exempt(old_case_path)
    app.context_processor(_template_helpers)
    app.add_template_filter(_linkify, "linkify")


def favicon():
    """Browsers ask for /favicon.ico whatever the page says: the same SVG as the page's link."""
    return send_from_directory(
        current_app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400
    )


def home():
    """Send each user to where its work is."""
    if not current_user.is_authenticated:
        # A newcomer first reads what the site is and how to apply; the board is one click on.
        return render_template("home.html")
    if current_user.is_committee:
        return redirect(url_for("inbox.index"))
    if current_user.has_role(PROCESS_OWNER) and not current_user.has_role(APPLICANT):
        return redirect(url_for("admin.models"))
    if current_user.has_role(ADMINISTRATOR) and not current_user.has_role(APPLICANT):
        return redirect(url_for("people.account_list"))
    return redirect(url_for("portal.cases"))


_ANY = ["GET", "POST"]
OLD_CASES = "/" + "applications"  # what cases were called at first


def old_case_path(rest: str = ""):
    """The same page under /cases; 308 keeps an API client's method and body."""
    path = request.path.replace(OLD_CASES, "/cases", 1)
    if request.query_string:
        path += "?" + request.query_string.decode("ascii", "replace")
    return redirect(path, 308 if request.path.startswith("/api/") else 301)


def vendor(filename: str):
    """Front-end packages installed by npm at set-up, never copied into the repository."""
    if not filename.startswith(VENDOR_PATHS) or ".." in filename:
        abort(404)
    return send_from_directory(current_app.config["NODE_MODULES_DIR"], filename, max_age=86400)


# One way to write a moment and one to write a day per language, on every page: pages used five
# (Babel's short and medium styles, ISO dates), which read as different kinds of data.
MOMENT_PATTERNS = {"zh": "yyyy-MM-dd HH:mm", "en": "d MMM yyyy, HH:mm"}
DAY_PATTERNS = {"zh": "yyyy-MM-dd", "en": "d MMM yyyy"}


def _lang() -> str:
    return "zh" if str(get_locale()).startswith("zh") else "en"


def _when(value, _style: str | None = None) -> str:
    """A moment in the association's time zone, written the one way of the reader's language
    (the style argument of older templates is ignored)."""
    return format_datetime(value, MOMENT_PATTERNS[_lang()]) if value is not None else ""


def _day(value) -> str:
    """A calendar day (a date, no time), written the one way of the reader's language."""
    return format_date(value, DAY_PATTERNS[_lang()]) if value is not None else ""


_URL = re.compile(r"https?://[^\s<>\"'）」】，。]+")


def _linkify(text) -> Markup:
    """Plain text (a message) with its web addresses as links; everything else escaped."""
    text = "" if text is None else str(text)
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")
        out.append(escape(text[last : match.start()]))
        out.append(Markup('<a href="{0}" rel="noopener">{0}</a>').format(url))
        last = match.start() + len(url)
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _is_overdue(task) -> bool:
    return task.state == "ready" and task.due_at is not None and task.due_at < utcnow()


def _stages_of(case) -> list[str]:
    return order_of(case.instance.version_id)


def _open_incidents() -> int | None:
    # Asked by the navbar only for those who see incidents: one indexed count per page.
    if not (current_user.is_authenticated and incidents.may_view(current_user)):
        return None
    return incidents.open_count()


def _holds_membership() -> bool:
    # Asked by the navbar: one indexed lookup per page, for signed-in accounts only.
    return current_user.is_authenticated and member_register.holds_membership(current_user)


def _task_title(task) -> str:
    """A task's name in the reader's language: the diagram's `titleEn` property in English
    (the element's own name, usually Chinese, otherwise)."""
    if _lang() == "en":
        return task_property(task, "titleEn") or task.title
    return task.title


def _timer_title(timer) -> str:
    """A waiting timer's name in the reader's language, as _task_title."""
    if _lang() == "en":
        return (timer.properties.get("titleEn") or "").strip() or timer.name
    return timer.name


def _unread_messages() -> int:
    return notify.unread_count(current_user.id) if current_user.is_authenticated else 0


def _template_helpers() -> dict:
    return {
        "holds_membership": _holds_membership,
        "unread_messages": _unread_messages,
        "task_title": _task_title,
        "timer_title": _timer_title,
        "open_incidents": _open_incidents,
        "stages_of": _stages_of,
        "stage_label": stage_label,
        "status_label": status_label,
        "status_tone": status_tone,
        "outcome_label": outcome_label,
        "role_label": holder_label,
        "lane_label": lane_label,
        "when": _when,
        "day": _day,
        "parse_iso": parse_iso,
        "is_overdue": _is_overdue,
        "current_locale": str(get_locale()),
        "association_name": current_app.config["ASSOCIATION_NAME"],
    }
