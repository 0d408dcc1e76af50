"""Settings from environment variables; an embedded SQLite database by default."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'membership.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
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
    # Public address of the site (https://members.example.org) for links made outside a request,
    # such as the verification QR code on a certificate drawn by a CLI job. Empty: the request's.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    # Outgoing mail. No MAIL_SERVER: nothing is mailed, messages are only shown in the app.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "").lower() in ("1", "true", "yes", "on")
    MAIL_USE_SSL = os.environ.get("MAIL_USE_SSL", "").lower() in ("1", "true", "yes", "on")
    MAIL_FROM = os.environ.get("MAIL_FROM", "noreply@localhost")
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "30"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # Uploaded documents live outside the web root; empty: "<instance folder>/uploads".
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", "")
    MAX_DOCUMENT_BYTES = int(os.environ.get("MAX_DOCUMENT_BYTES", 10 * 1024 * 1024))
    # Room for the four documents of an application at their limit plus the text fields, so an
    # oversized file is told apart by the form (per field) rather than refused as a whole (413).
    MAX_CONTENT_LENGTH = 4 * MAX_DOCUMENT_BYTES + 2 * 1024 * 1024
    # Where rate-limit counters live: memory:// for one process; redis://… when several serve.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Objections from one address: the public form is open to anyone, so it is throttled.
    OBJECTION_RATE_LIMIT = os.environ.get("OBJECTION_RATE_LIMIT", "5 per hour;20 per day")
