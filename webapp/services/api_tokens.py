"""Personal API tokens: created and revoked by their owner; only a hash is stored, so a copy
of the database does not let anyone in."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import ApiToken, User, utcnow
from webapp.services import audit
from webapp.services.errors import NotFound

# Recognisable in logs and by secret scanners; the rest is 256 random bits.
TOKEN_PREFIX = "ma_"


def _hash(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def create(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for the user, and its plain text (shown once, never stored). Commits."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name.strip()[:100], token_hash=_hash(plain), prefix=plain[:10]
    )
    db.session.add(token)
    db.session.flush()
    audit.record("api_token_created", actor_id=user.id, data={"token_id": token.id})
    db.session.commit()
    return token, plain


def of_user(user: User) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def revoke(user: User, token_id: int) -> ApiToken:
    """End one of the user's own tokens; another's is NotFound. Commits."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("api_token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("api_token_revoked", actor_id=user.id, data={"token_id": token.id})
        db.session.commit()
    return token


def token_for(plain: str) -> ApiToken | None:
    """The valid, unrevoked token with this text whose owner is active; None otherwise."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    token = db.session.scalars(select(ApiToken).where(ApiToken.token_hash == _hash(plain))).first()
    if token is None or token.revoked_at is not None:
        return None
    user = db.session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    return token


def user_for(plain: str) -> User | None:
    """The active owner of a valid, unrevoked token; None otherwise."""
    token = token_for(plain)
    return token.user if token is not None else None


# Marking every request would make each API read a write; a minute is exact enough to tell
# a token in use from a forgotten one.
LAST_USED_PRECISION = timedelta(minutes=1)


def mark_used(token: ApiToken) -> None:
    """Note that the token was used now, at most once a minute. Commits when it writes."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return
    token.last_used_at = now
    db.session.commit()
