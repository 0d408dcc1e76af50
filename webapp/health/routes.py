"""The health endpoint load balancers and process supervisors poll: is the database there, and
is its schema the one this code expects? No login, two short queries, JSON either way."""

from __future__ import annotations

from functools import cache

from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db

bp = Blueprint("health", __name__)


@cache
def expected_revisions(directory: str) -> frozenset[str]:
    """The migration heads this code was written for; read from disk once per process."""
    return frozenset(ScriptDirectory(directory).get_heads())


@bp.get("/health")
def health():
    """200 {"status": "ok", "database": "ok"}, or 503 with a short reason; never a traceback."""
    # Its own connection, not the request's session: nothing to roll back, nothing left open.
    try:
        connection = db.engine.connect()
    except SQLAlchemyError as err:
        return _unhealthy("unreachable", err)
    try:
        with connection:
            connection.execute(text("SELECT 1"))
            stored = frozenset(
                connection.scalars(text("SELECT version_num FROM alembic_version")).all()
            )
    except SQLAlchemyError as err:
        return _unhealthy("query failed", err)
    if stored != expected_revisions(current_app.extensions["migrate"].directory):
        return _unhealthy("schema not migrated (run flask db upgrade)")
    return jsonify(status="ok", database="ok"), 200


def _unhealthy(reason: str, err: Exception | None = None):
    if err is not None:
        # The details (host, driver message) go to the log, not to whoever polls.
        current_app.logger.warning("health check: %s: %s", reason, err)
    return jsonify(status="error", database=reason), 503
