"""Staff accounts created by an administrator (production has no demo users): each holds
platform roles (process owner, administrator) and sits on groups (secretariat, council, …)."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.models import Group, LoginSession, User, utcnow
from webapp.roles import PLATFORM_ROLES
from webapp.services import audit, groups, passwords
from webapp.services.transactions import committed
from webapp.services.users import by_username
from webapp.text import visible

PASSWORD_PROBLEMS = {
    "too_short": f"the password must have at least {passwords.MIN_LENGTH} characters",
    "common": "the password is too common or too easy to guess (like 12345678 or the username)",
}


class AccountError(ValueError):
    """An account that cannot be created as asked; the message says why."""


def create(
    username: str, display_name: str, email: str, password: str, roles: tuple[str, ...]
) -> User:
    """A new active account holding the given platform roles and sitting on the given groups
    (by key) from today without an end, audited."""
    # Control and bidi characters (U+202E) would let a name show other than it reads.
    username, display_name = username.strip(), visible(display_name)
    if not username or len(username) > 80:
        raise AccountError("the username must have 1 to 80 characters")
    if by_username(username) is not None:
        raise AccountError(f"the username {username} is taken")
    if not display_name:
        raise AccountError("a display name is needed")
    known = {g.key: g for g in db.session.scalars(select(Group).where(Group.active.is_(True)))}
    unknown = [r for r in roles if r not in PLATFORM_ROLES and r not in known]
    if not roles or unknown:
        raise AccountError(
            f"unknown role(s) or group(s): {', '.join(unknown)}; "
            f"known: {', '.join([*PLATFORM_ROLES, *known])}"
        )
    reason = passwords.weakness(password, username, display_name, email)
    if reason is not None:
        raise AccountError(PASSWORD_PROBLEMS[reason])
    platform = [r for r in roles if r in PLATFORM_ROLES]
    user = User(
        username=username, display_name=display_name, email=email.strip(), roles=",".join(platform)
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    for key in roles:
        if key in known:
            groups.add_member(known[key], user, None, None, None)
    audit.record("user_created", data={"user_id": user.id, "roles": list(roles)})
    db.session.commit()
    return user


def directory(search: str = "", limit: int = 200) -> list[User]:
    """Accounts for the administrator's list, matched on username or name, newest last."""
    query = select(User).order_by(User.id).limit(limit)
    search = search.strip()
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            func.lower(User.username).like(pattern) | func.lower(User.display_name).like(pattern)
        )
    return list(db.session.scalars(query))


@committed
def set_active(user: User, active: bool, by: User) -> None:
    """Let an account log in again, or stop it: its open logins and API tokens stop counting
    at once. Nobody deactivates their own account (there would be no one to undo it)."""
    if user.id == by.id and not active:
        raise AccountError("you cannot deactivate your own account")
    user.active = active
    if not active:
        _end_logins(user)
    audit.record("account_activated" if active else "account_deactivated", by.id,
                 data={"user_id": user.id})  # fmt: skip


@committed
def reset_password(user: User, by: User) -> str:
    """A new random password for the account, to hand to its holder once; its logins end."""
    password = secrets.token_urlsafe(9)
    user.set_password(password)
    _end_logins(user)
    audit.record("password_reset", by.id, data={"user_id": user.id})
    return password


def _end_logins(user: User) -> None:
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
