"""Settings from environment variables; an embedded SQLite database by default.

The defaults serve the demo (`make run`: SQLite, a development secret key, demo logins shown).
A server database (DATABASE_URL=postgresql+psycopg://…) is taken as production: there the app
refuses to start without SECRET_KEY or PUBLIC_BASE_URL, and the login page lists no demo accounts.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-change-me"
# Where `make run` serves the demo; links in its mails and certificates point there.
DEV_BASE_URL = "http://127.0.0.1:5000"
# Always accepted as Host besides the public one: health checks and tools on the host itself.
LOCAL_HOSTS = ("localhost", "127.0.0.1")


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _list(name: str) -> list[str] | None:
    value = os.environ.get(name, "")
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None


def engine_options(url: str) -> dict:
    """Connection pool settings for a server database (per process: gunicorn workers and
    tickers each hold their own pool, so size it against the server's max_connections)."""
    if url.startswith("sqlite"):
        return {}
    return {
        "pool_size": int(os.environ.get("DB_POOL_SIZE", "5")),
        "max_overflow": int(os.environ.get("DB_MAX_OVERFLOW", "5")),
        "pool_timeout": float(os.environ.get("DB_POOL_TIMEOUT", "30")),
        # Connections dropped by the server or a proxy while idle are replaced, not failed on.
        "pool_recycle": int(os.environ.get("DB_POOL_RECYCLE", "1800")),
        "pool_pre_ping": True,
    }


# What one evaluation of a diagram's expression may cost (CPU seconds, megabytes), enforced by the
# kernel in the sandbox's helper processes. Per process, like the engine that uses them.
SANDBOX_CPU_SECONDS = float(os.environ.get("SANDBOX_CPU_SECONDS", "2"))
SANDBOX_MEMORY_MB = int(os.environ.get("SANDBOX_MEMORY_MB", "256"))


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'membership.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = engine_options(SQLALCHEMY_DATABASE_URI)
    # The demo accounts and their password on the login page: only for the embedded demo.
    SHOW_DEMO_LOGINS = _flag("SHOW_DEMO_LOGINS", SQLALCHEMY_DATABASE_URI.startswith("sqlite"))
    # Demo time: buttons that end a case's waiting period now, `flask demo advance 5d`, and the
    # seeded association of `flask setup`. Only the embedded demo; a server database refuses it.
    # Unset: on for SQLite (and tests), off for a server database (webapp.config.prepare).
    DEMO_MODE = _flag("DEMO_MODE") if os.environ.get("DEMO_MODE") is not None else None
    # Behind a reverse proxy (nginx, a load balancer): how many proxies set X-Forwarded-For and
    # X-Forwarded-Proto. Then client addresses (objection rate limit, audit) and https links
    # are the visitor's, not the proxy's. 0 when the app is reached directly.
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    # The session cookie: never readable by scripts, not sent with requests other sites start
    # (top-level links aside), and on a site served over HTTPS (PREFERRED_URL_SCHEME=https or
    # SESSION_COOKIE_SECURE=1) never sent over plain http, where it could be read on the way.
    SESSION_COOKIE_SECURE = _flag("SESSION_COOKIE_SECURE", PREFERRED_URL_SCHEME == "https")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WORKFLOWS_DIR = Path(os.environ.get("WORKFLOWS_DIR", ROOT / "workflows"))
    FORMS_DIR = Path(os.environ.get("FORMS_DIR", ROOT / "forms"))
    NODE_MODULES_DIR = Path(os.environ.get("NODE_MODULES_DIR", ROOT / "node_modules"))
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = os.environ.get("ASSOCIATION_TIMEZONE", "Asia/Shanghai")
    LANGUAGES = ("zh_CN", "en")
    ASSOCIATION_NAME = os.environ.get("ASSOCIATION_NAME", "示范行业协会")
    MEMBER_NUMBER_FORMAT = os.environ.get("MEMBER_NUMBER_FORMAT", "{year}-{type}-{seq:06d}")
    # A CJK TrueType font embedded in certificates (Debian: fonts-wqy-microhei); without it the
    # PDF falls back to a CID font that readers without Chinese fonts show as empty boxes.
    CERTIFICATE_FONT = os.environ.get(
        "CERTIFICATE_FONT", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
    )
    # Public address of the site (https://members.example.org): every link in a mail, a PDF or a
    # QR code is made from it, never from the request's Host header, which the sender chooses.
    # Required in production; empty on SQLite: DEV_BASE_URL.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    # Host names the app answers to (comma-separated; ".example.org" takes its subdomains); any
    # other Host gets 400. Unset: the host of PUBLIC_BASE_URL and LOCAL_HOSTS.
    TRUSTED_HOSTS = _list("TRUSTED_HOSTS")
    # Outgoing mail. No MAIL_SERVER: nothing is mailed, messages are only shown in the app.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = _flag("MAIL_USE_TLS")
    MAIL_USE_SSL = _flag("MAIL_USE_SSL")
    MAIL_FROM = os.environ.get("MAIL_FROM", "noreply@localhost")
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "30"))
    # A step that runs more automatic steps (scripts, gateways, events) than this without
    # waiting for a person or a timer is refused and changes nothing: the diagram loops.
    ENGINE_MAX_STEPS = int(os.environ.get("ENGINE_MAX_STEPS", "500"))
    # Workflows each worker keeps for their instances' next steps, so that a step on an
    # instance this worker moved last skips restoring its state. Off (0) by default: measured
    # over HTTP, the garbage collector's cost of workflows kept across requests outweighs the
    # restore a hit saves (bench/consecutive_steps.py --http; README).
    ENGINE_RESTORED = int(os.environ.get("ENGINE_RESTORED", "0"))
    # Compare every kept workflow a step takes with its state restored afresh (slow; tests).
    ENGINE_RESTORED_CHECK = _flag("ENGINE_RESTORED_CHECK")
    # Cycle timers (R3/PT1H) may repeat no more often than this: each firing is a ticker step.
    TIMER_CYCLE_MINIMUM_SECONDS = float(os.environ.get("TIMER_CYCLE_MINIMUM_SECONDS", "60"))
    WTF_CSRF_TIME_LIMIT = None
    # Uploaded documents live outside the web root; empty: "<instance folder>/uploads".
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", "")
    MAX_DOCUMENT_BYTES = int(os.environ.get("MAX_DOCUMENT_BYTES", 10 * 1024 * 1024))
    # Room for the four documents of an application at their limit plus the text fields, so an
    # oversized file is told apart by the form (per field) rather than refused as a whole (413).
    # Only the routes that take documents read this much (webapp/limits.py).
    MAX_CONTENT_LENGTH = 4 * MAX_DOCUMENT_BYTES + 2 * 1024 * 1024
    # Every other route: forms and JSON bodies are a few kilobytes; what is more is refused
    # with 413 as it is read, whether announced by Content-Length or sent chunked.
    MAX_REQUEST_BYTES = int(os.environ.get("MAX_REQUEST_BYTES", 1024 * 1024))
    # Fields of a form (multipart parts, urlencoded pairs) and keys of a JSON task's data: no
    # form has more than a few dozen, so thousands are refused before they are looked at.
    MAX_FORM_PARTS = int(os.environ.get("MAX_FORM_PARTS", "200"))
    # Set on every app, never left to Flask-Limiter: its one extension object would otherwise
    # carry RATELIMIT_ENABLED=False from one app (a test's) over to every app created after.
    RATELIMIT_ENABLED = _flag("RATELIMIT_ENABLED", True)
    # Where rate-limit counters live: memory:// for one process; redis://… when several serve.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Objections from one address: the public form is open to anyone, so it is throttled.
    OBJECTION_RATE_LIMIT = os.environ.get("OBJECTION_RATE_LIMIT", "5 per hour;20 per day")
    # Failed logins from one address (successful ones are not counted): against password guessing.
    # A login ends by itself after this many hours, whatever the browser does with its cookie;
    # ended logins are deleted by `flask tick` after LOGIN_KEEP_DAYS.
    LOGIN_LIFETIME_HOURS = float(os.environ.get("LOGIN_LIFETIME_HOURS", "12"))
    LOGIN_KEEP_DAYS = int(os.environ.get("LOGIN_KEEP_DAYS", "30"))
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
    # A timer whose step fails becomes an incident and is tried again after INCIDENT_RETRY_SECONDS,
    # doubling each time (at most INCIDENT_RETRY_MAX_SECONDS apart), until INCIDENT_MAX_ATTEMPTS
    # attempts have failed; then only a process owner's "retry now" tries it again.
    INCIDENT_MAX_ATTEMPTS = int(os.environ.get("INCIDENT_MAX_ATTEMPTS", "5"))
    INCIDENT_RETRY_SECONDS = float(os.environ.get("INCIDENT_RETRY_SECONDS", "300"))
    INCIDENT_RETRY_MAX_SECONDS = float(os.environ.get("INCIDENT_RETRY_MAX_SECONDS", "21600"))
    # Sign-ups from one address (every attempt counts): an association gains a few members a
    # week; a script making accounts by the hundred is stopped.
    REGISTER_RATE_LIMIT = os.environ.get("REGISTER_RATE_LIMIT", "10 per hour;30 per day")


class ConfigurationError(RuntimeError):
    """A setting production cannot run with; the message says which and what to do."""


def prepare(app: Flask) -> None:
    """Refuse unsafe production settings and trust the configured reverse proxies."""
    cfg = app.config
    server_db = not cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    insecure_key = cfg.get("SECRET_KEY") in (None, "", DEV_SECRET_KEY)
    if server_db and insecure_key and not cfg.get("TESTING"):
        # Sessions and CSRF tokens signed with a published key could be forged by anyone.
        raise ConfigurationError(
            "SECRET_KEY is not set: with a server database (DATABASE_URL) the app runs as in "
            "production and needs its own secret key, the same for every process, e.g. "
            "SECRET_KEY=\"$(python -c 'import secrets; print(secrets.token_hex(32))')\""
        )
    if cfg.get("DEMO_MODE") is None:
        cfg["DEMO_MODE"] = not server_db or bool(cfg.get("TESTING"))
    if server_db and cfg.get("DEMO_MODE") and not cfg.get("TESTING"):
        # Demo time moves deadlines that bind real applicants (notice periods, votes, fees).
        raise ConfigurationError(
            "DEMO_MODE is set: with a server database (DATABASE_URL) the app runs as in "
            "production, where nobody may end a notice period or a vote early. Unset DEMO_MODE."
        )
    _public_address(cfg, server_db)
    proxies = int(cfg.get("PROXY_COUNT") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


def _public_address(cfg, server_db: bool) -> None:
    """PUBLIC_BASE_URL checked (the demo's default on SQLite) and TRUSTED_HOSTS derived from it."""
    base = (cfg.get("PUBLIC_BASE_URL") or "").strip()
    if not base:
        if server_db and not cfg.get("TESTING"):
            # Links would otherwise have to come from the request's Host header, which anyone
            # sending a request chooses: mails and certificates would point to their site.
            raise ConfigurationError(
                "PUBLIC_BASE_URL is not set: with a server database (DATABASE_URL) the app runs "
                "as in production and makes the links in mails and certificates from it, e.g. "
                "PUBLIC_BASE_URL=https://members.example.org"
            )
        base = DEV_BASE_URL
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"PUBLIC_BASE_URL={base!r} is not an http(s) address such as "
            "https://members.example.org"
        )
    cfg["PUBLIC_BASE_URL"] = base
    if not cfg.get("TRUSTED_HOSTS"):
        cfg["TRUSTED_HOSTS"] = [parts.hostname, *LOCAL_HOSTS]
