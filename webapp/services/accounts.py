"""Staff accounts created by an administrator from the command line (production has no demo
users): secretariat, council, finance and process owners."""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import User
from webapp.roles import ROLES
from webapp.services import audit, passwords
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
    """A new active account holding the given roles, audited."""
    # Control and bidi characters (U+202E) would let a name show other than it reads.
    username, display_name = username.strip(), visible(display_name)
    if not username or len(username) > 80:
        raise AccountError("the username must have 1 to 80 characters")
    if by_username(username) is not None:
        raise AccountError(f"the username {username} is taken")
    if not display_name:
        raise AccountError("a display name is needed")
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise AccountError(f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLES)}")
    reason = passwords.weakness(password, username, display_name, email)
    if reason is not None:
        raise AccountError(PASSWORD_PROBLEMS[reason])
    user = User(
        username=username, display_name=display_name, email=email.strip(), roles=",".join(roles)
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("user_created", data={"user_id": user.id, "roles": list(roles)})
    db.session.commit()
    return user
