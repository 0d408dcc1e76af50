"""The server's record of browser logins. The signed session cookie alone cannot be taken
back: anyone holding a copy stays logged in until the key changes. So each login gets a random
id, the database keeps its hash, and a cookie counts only while its id's row is open."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import LoginSession, User, utcnow


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def begin(user: User) -> str:
    """Open a login for the user; the id to keep in its session cookie. Commits."""
    sid = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, sid_hash=_hash(sid)))
    db.session.commit()
    return sid


def user_of(user_id: str, sid: object) -> User | None:
    """The user of an open login with this id, if it is that user's; None otherwise."""
    if not isinstance(sid, str) or not sid or len(sid) > 100 or not user_id.isdigit():
        return None
    params = {"sid_hash": _hash(sid), "since": utcnow() - _lifetime(), "user_id": int(user_id)}
    return db.session.scalars(_OPEN_LOGIN, params).unique().first()


# Built once, as every request with a session cookie runs it. The user's groups come with it:
# nearly every page checks them (the navbar, the lanes), which would otherwise be a second query.
_OPEN_LOGIN = (
    select(User)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(
        LoginSession.sid_hash == bindparam("sid_hash"),
        LoginSession.ended_at.is_(None),
        LoginSession.created_at > bindparam("since"),
        User.id == bindparam("user_id"),
    )
    .options(joinedload(User.memberships))
)


def end(sid: object) -> None:
    """Close the login with this id, so a copy of its cookie no longer counts. Commits."""
    if not isinstance(sid, str) or not sid:
        return
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.sid_hash == _hash(sid), LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    db.session.commit()


def purge() -> int:
    """Delete logins ended (or run out) more than LOGIN_KEEP_DAYS ago; how many. Commits."""
    keep = timedelta(days=current_app.config["LOGIN_KEEP_DAYS"])
    now = utcnow()
    result = db.session.execute(
        delete(LoginSession).where(
            or_(
                LoginSession.ended_at < now - keep,
                LoginSession.created_at < now - keep - _lifetime(),
            )
        )
    )
    db.session.commit()
    return result.rowcount or 0


def _lifetime() -> timedelta:
    return timedelta(hours=current_app.config["LOGIN_LIFETIME_HOURS"])
