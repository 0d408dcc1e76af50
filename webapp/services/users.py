"""Accounts: registration, login checks, and the demo users of every role."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import bindparam, func, select

from webapp.extensions import db
from webapp.models import Group, User
from webapp.roles import APPLICANT
from webapp.services import audit, groups, passwords
from webapp.text import visible

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "accounts.json"
DEMO_PASSWORD = "demo1234"  # as demo/accounts.json says; the login page shows it


class UsernameTaken(Exception):
    """Registration with a username that exists already."""


class WeakPassword(ValueError):
    """A password too short or too common to protect an account; `reason` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def display_names(ids) -> dict[int, str]:
    """Display names by user id, for lists that name who did what."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    return {u.id: u.display_name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def by_ids(ids) -> list[User]:
    """The accounts of these ids, in one query (none asked, none read)."""
    ids = list(ids)
    return db.session.scalars(_BY_IDS, {"ids": ids}).all() if ids else []


# Built once: steps ask for the people they tell or offer tasks to.
_BY_IDS = select(User).where(User.id.in_(bindparam("ids", expanding=True)))


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


def demo_accounts(path: Path = DEMO_FILE) -> list[dict]:
    """The demo's accounts as its data file lists them."""
    return json.loads(path.read_text("utf-8"))["accounts"]


def ensure_demo_users(path: Path = DEMO_FILE) -> list[tuple[str, str, str]]:
    """Create the demo accounts that are missing, with their group memberships (the groups of
    workflows/groups.json must exist); returns every (username, password, roles and groups)."""
    data = json.loads(path.read_text("utf-8"))
    password = data.get("password", DEMO_PASSWORD)
    made = []
    for item in data["accounts"]:
        username = item["username"]
        holds = [*item.get("roles", []), *item.get("groups", [])]
        made.append((username, password, ",".join(holds)))
        if by_username(username) is not None:
            continue
        user = User(
            username=username,
            display_name=item["name"],
            roles=",".join(item.get("roles", [])),
            email=f"{username}@example.org",
        )
        user.set_password(password)
        db.session.add(user)
        db.session.flush()
        for key in item.get("groups", []):
            group = db.session.scalars(select(Group).where(Group.key == key)).first()
            if group is None:
                raise LookupError(f"demo/accounts.json: {username} sits on {key}, no such group")
            groups.add_member(group, user, None, None, None)
    db.session.commit()
    return made
