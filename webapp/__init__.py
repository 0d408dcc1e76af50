"""The membership approval web application."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel import Locale
from flask import Flask, session
from flask_login import current_user
from sqlalchemy import event

from webapp import cli, errors, limits, security, views
from webapp.config import ROOT, Config, prepare
from webapp.extensions import babel, csrf, db, limiter, login_manager, migrate
from webapp.services import stage_counts  # noqa: F401  (its listener keeps the funnel's counts)


def create_app(config: dict | None = None) -> Flask:
    """Build the app: extensions, blueprints, error pages and CLI commands."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    prepare(app)  # refuses unsafe production settings; trusts the configured proxies
    limits.register(app)  # bodies read up to each route's limit, however they are sent
    app.json.ensure_ascii = False  # JSON in UTF-8: Chinese names readable, not \uXXXX
    is_sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    if is_sqlite:
        _prepare_sqlite(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    _limits_in_routes_only(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    babel.init_app(app, locale_selector=lambda: _locale(app))
    if is_sqlite:
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)

    views.register(app)
    errors.register(app)
    security.register(app)
    cli.register(app)
    return app


def _limits_in_routes_only(app: Flask) -> None:
    """A limited route checks its limits in its own decorator. The limiter's hook before every
    request looks only for limits on the whole app or a blueprint, which there are none of
    unless the settings add some (RATELIMIT_DEFAULT, RATELIMIT_APPLICATION): without them it
    is dropped, and every other request skips it."""
    manager = limiter.limit_manager
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks and not (
        manager.default_limits or manager.application_limits
    ):
        hooks.remove(limiter._check_request_limit)


def _locale(app: Flask) -> Locale:
    languages = app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return _parsed(chosen)
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in languages:
        return _parsed(user_locale)
    return _parsed(languages[0])  # Simplified Chinese unless the user chose otherwise


@cache
def _parsed(code: str) -> Locale:
    # Parsed once per process: Babel looks "zh_CN" up on disk at every parse (its data file is
    # named zh_Hans_CN), which cost every request a directory listing.
    return Locale.parse(code)


def _prepare_sqlite(app: Flask) -> None:
    """Wait for the write lock rather than fail at once; create the database's folder."""
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("connect_args", {}).setdefault("timeout", 30)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and ":memory:" not in uri:
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets pages read while a transition writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # In WAL mode NORMAL survives a killed process; only a power cut may lose the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
