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
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
