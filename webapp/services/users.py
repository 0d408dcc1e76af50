"""Accounts: registration, login checks, and the demo users of every role."""

from __future__ import annotations

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import User
from webapp.roles import APPLICANT
from webapp.services import audit, passwords
from webapp.text import visible

DEMO_PASSWORD = "demo1234"
# (username, display name, roles): one login per role, two applicants to show separation.
DEMO_USERS = (
    ("applicant", "华夏示例科技有限公司", "applicant"),
    ("applicant2", "李四", "applicant"),
    ("secretary", "王秘书（秘书处）", "secretariat"),
    ("council", "赵理事（理事会）", "council"),
    ("council2", "钱理事（理事会）", "council"),
    ("council3", "李理事（理事会）", "council"),
    ("finance", "孙会计（财务）", "finance"),
    ("owner", "周管理员（流程管理员）", "process_owner"),
)


class UsernameTaken(Exception):
    """Registration with a username that exists already."""


class WeakPassword(ValueError):
    """A password too short or too common to protect an account; `reason` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def role_members(role: str) -> list[int]:
    """Ids of the active users holding a role, in a stable order (diagrams pick voters by it)."""
    role = str(role)
    # `contains` (a LIKE) keeps the read to the role's holders rather than every account; the
    # exact check keeps "council" from matching "council_x".
    rows = db.session.execute(
        select(User.id, User.roles)
        .where(User.active.is_(True), User.roles.contains(role))
        .order_by(User.id)
    )
    return [user_id for user_id, roles in rows if role in roles.split(",")]


def display_names(ids) -> dict[int, str]:
    """Display names by user id, for lists that name who did what."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    return {u.id: u.display_name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def by_username(username: str) -> User | None:
    """The account of that username, case-insensitively."""
    return db.session.scalars(
        select(User).where(func.lower(User.username) == username.strip().lower())
    ).first()


def authenticate(username: str, password: str) -> User | None:
    """The user if the password is right and the account active; failures are audited."""
    user = by_username(username)
    # A password is hashed whether or not the account exists: refusing an unknown username
    # without hashing took 7 ms against 105 ms, which told which usernames exist.
    right = passwords.check(user.password_hash if user is not None else None, password)
    if user is None or not user.active or not right:
        audit.record("login_failed", data={"username": username[:80]})
        db.session.commit()
        return None
    return user


def register(username: str, display_name: str, email: str, password: str) -> User:
    """A new applicant account."""
    if by_username(username) is not None:
        raise UsernameTaken(username)
    reason = passwords.weakness(password, username, display_name, email)
    if reason is not None:
        raise WeakPassword(reason)
    user = User(
        username=username.strip(),
        display_name=visible(display_name),
        email=email.strip(),
        roles=APPLICANT,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("user_registered", user.id)
    db.session.commit()
    return user


def ensure_demo_users() -> list[tuple[str, str, str]]:
    """Create the demo accounts that are missing; returns every (username, password, roles)."""
    for username, display_name, roles in DEMO_USERS:
        if by_username(username) is None:
            user = User(
                username=username,
                display_name=display_name,
                roles=roles,
                email=f"{username}@example.org",
            )
            user.set_password(DEMO_PASSWORD)
            db.session.add(user)
    db.session.commit()
    return [(u, DEMO_PASSWORD, r) for u, _, r in DEMO_USERS]
