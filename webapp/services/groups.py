"""Groups and their members: which group a lane works for, who is in it today, and the
administrator's changes to both (each audited)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import bindparam, event, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import Group, GroupMembership, User
from webapp.models.users import association_today
from webapp.roles import APPLICANT, APPLICANT_LANES, ROLE_LABELS, role_label
from webapp.services import audit, reference_data
from webapp.services.errors import InvalidFormData, NotFound
from webapp.services.transactions import committed
from webapp.text import visible

GROUPS_FILE = Path(__file__).resolve().parents[2] / "workflows" / "groups.json"
GROUP_KEY = re.compile(r"[a-z][a-z0-9_]{1,59}")
_CACHE = "groups.by_name"


@dataclass(frozen=True)
class GroupName:
    key: str
    name_zh: str
    name_en: str

    def name(self, locale: str | None) -> str:
        return self.name_en if (locale or "").startswith("en") else self.name_zh


def _by_name() -> dict[str, GroupName]:
    """Every active group under its key and both names: the process's copy while the groups do
    not change (reference_data), looked up once per transaction, since a page asks for the
    lanes of dozens of elements. Shared: callers must not change it."""
    cached = db.session.info.get(_CACHE)
    if cached is None:
        cached = reference_data.kept("groups", _read_names)
        db.session.info[_CACHE] = cached
    return cached


def _read_names() -> dict[str, GroupName]:
    names = {}
    for row in db.session.execute(_ACTIVE_NAMES):
        entry = GroupName(*row)
        for name in (entry.name_en, entry.name_zh, entry.key):  # the key wins a clash
            names[name.strip()] = entry
    return names


_ACTIVE_NAMES = select(Group.key, Group.name_zh, Group.name_en).where(Group.active.is_(True))


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CACHE, None)


def lane_map() -> dict[str, str]:
    """Each name a lane may carry (a group's key or either name) → the group's key."""
    return {name: entry.key for name, entry in _by_name().items()}


def known_lanes(groups_file: Path | None = None) -> dict[str, str]:
    """The lane map of the database, or of a groups file when one is given or there is no
    database (validating from the shell before set-up)."""
    try:
        if groups_file is None:
            return lane_map()
    except (RuntimeError, SQLAlchemyError):  # no app context, or no migrated database
        try:
            db.session.rollback()
        except RuntimeError:
            pass
    entries = json.loads((groups_file or GROUPS_FILE).read_text("utf-8"))["groups"]
    return {name: item["key"] for item in entries for name in (item["en"], item["zh"], item["key"])}


def is_applicant_lane(lane: str | None) -> bool:
    """The lane of the person the case is about (the applicant, the member)."""
    return (lane or "").strip().lower() in APPLICANT_LANES


def lane_group(lane: str | None) -> str | None:
    """Who works a lane: `applicant` for the applicant's lane, a group's key, or None."""
    lane = (lane or "").strip()
    if is_applicant_lane(lane):
        return APPLICANT
    entry = _by_name().get(lane)
    return entry.key if entry else None


def lane_names(keys) -> list[str]:
    """Every name a lane of these groups may carry (key, Chinese and English names)."""
    keys = set(keys)
    return sorted({name for name, entry in _by_name().items() if entry.key in keys})


def label(key_or_lane: str | None, locale: str | None) -> str | None:
    """The group's name in that language, or None for something that is no group."""
    entry = _by_name().get((key_or_lane or "").strip())
    return entry.name(locale) if entry else None


def lane_label(lane: str | None) -> str:
    """A lane's name for the reader: its group's name in the UI language, the applicant's role,
    or the lane as drawn when no group works it."""
    if lane_group(lane) == APPLICANT:
        return role_label(APPLICANT)
    locale = get_locale()
    return label(lane, str(locale) if locale else None) or (lane or "")


def holder_label(key: str | None) -> str:
    """The name of a platform role or of a group, for lists of who holds what."""
    if key in ROLE_LABELS:
        return role_label(key)
    locale = get_locale()
    return label(key, str(locale) if locale else None) or (key or "")


def all_groups(include_inactive: bool = False) -> list[Group]:
    """The groups, in the order they were created."""
    query = select(Group).order_by(Group.id)
    if not include_inactive:
        query = query.where(Group.active.is_(True))
    return list(db.session.scalars(query))


def members(key_or_name: str, today: date | None = None) -> list[int]:
    """Ids of the active users in a group today, in a stable order (diagrams pick voters by
    it); the group may be named by its key or either name."""
    name = str(key_or_name).strip()
    today = today or association_today()
    rows = db.session.execute(_MEMBERS, {"name": name})
    ids = [
        user_id
        for user_id, starts, ends in rows
        if (starts is None or starts <= today) and (ends is None or today <= ends)
    ]
    return list(dict.fromkeys(ids))


# Built once: diagrams ask for a group's members at every vote and every message to a group.
_MEMBERS = (
    select(User.id, GroupMembership.starts_on, GroupMembership.ends_on)
    .join(GroupMembership, GroupMembership.user_id == User.id)
    .join(Group, Group.id == GroupMembership.group_id)
    .where(
        User.active.is_(True),
        Group.active.is_(True),
        or_(
            Group.key == bindparam("name"),
            Group.name_zh == bindparam("name"),
            Group.name_en == bindparam("name"),
        ),
    )
    .order_by(User.id)
)


def by_key(key: str) -> Group:
    """The group of that key, or NotFound."""
    group = db.session.scalars(select(Group).where(Group.key == key)).first()
    if group is None:
        raise NotFound("group")
    return group


def get(group_id: int) -> Group:
    """The group of that id, or NotFound."""
    group = db.session.get(Group, group_id)
    if group is None:
        raise NotFound("group")
    return group


@committed
def create(
    key: str,
    name_zh: str,
    name_en: str,
    by: User | None,
    keeps_register: bool = False,
    sees_dashboard: bool = False,
) -> Group:
    """A new group; its key is what a diagram's lane may carry."""
    # Control and bidi characters would let a name show other than it reads.
    key, name_zh, name_en = key.strip(), visible(name_zh), visible(name_en)
    errors: dict[str, list[str]] = {}
    if not GROUP_KEY.fullmatch(key):
        errors["key"] = [
            _("2 to 60 lower-case letters, digits or _, starting with a letter (e.g. board).")
        ]
    elif key == APPLICANT or db.session.scalar(select(Group.id).where(Group.key == key)):
        errors["key"] = [_("This key is taken.")]
    for field, value in (("name_zh", name_zh), ("name_en", name_en)):
        if not value or len(value) > 120:
            errors[field] = [_("Give a name of 1 to 120 characters.")]
        elif value.lower() in APPLICANT_LANES or value in _by_name():
            errors[field] = [_("Another group has this name.")]
    if errors:
        raise InvalidFormData(errors, {"key": key, "name_zh": name_zh, "name_en": name_en})
    group = Group(
        key=key,
        name_zh=name_zh,
        name_en=name_en,
        keeps_register=keeps_register,
        sees_dashboard=sees_dashboard,
    )
    db.session.add(group)
    db.session.flush()
    audit.record("group_created", by.id if by else None, data={"group": key})
    db.session.info.pop(_CACHE, None)
    return group


@committed
def rename(
    group: Group,
    name_zh: str,
    name_en: str,
    active: bool,
    by: User,
    keeps_register: bool | None = None,
    sees_dashboard: bool | None = None,
) -> None:
    """New names for a group, (de)activate it, say whether it keeps the register and whether
    it sees the dashboard; its key stays, as diagrams name it."""
    name_zh, name_en = visible(name_zh), visible(name_en)
    errors = {
        f: [_("Give a name of 1 to 120 characters.")]
        for f, v in (("name_zh", name_zh), ("name_en", name_en))
        if not v
    }
    if errors:
        raise InvalidFormData(errors, {"name_zh": name_zh, "name_en": name_en})
    group.name_zh, group.name_en, group.active = name_zh[:120], name_en[:120], active
    if keeps_register is not None:
        group.keeps_register = keeps_register
    if sees_dashboard is not None:
        group.sees_dashboard = sees_dashboard
    audit.record(
        "group_changed",
        by.id,
        data={
            "group": group.key,
            "active": active,
            "keeps_register": group.keeps_register,
            "sees_dashboard": group.sees_dashboard,
        },
    )
    db.session.info.pop(_CACHE, None)


def term_problems(starts_on: date | None, ends_on: date | None) -> dict[str, list[str]]:
    """What is wrong with a term, by field: the page asks before it has an account to add, so
    that a wrong username and a wrong term are both said at once."""
    if starts_on and ends_on and ends_on < starts_on:
        return {"ends_on": [_("The term cannot end before it begins.")]}
    return {}


@committed
def add_member(
    group: Group, user: User, starts_on: date | None, ends_on: date | None, by: User | None
) -> GroupMembership:
    """Put someone in a group for a term (open-ended without an end)."""
    if errors := term_problems(starts_on, ends_on):
        raise InvalidFormData(errors, {"starts_on": starts_on, "ends_on": ends_on})
    membership = GroupMembership(
        group_id=group.id, user_id=user.id, starts_on=starts_on, ends_on=ends_on
    )
    db.session.add(membership)
    db.session.flush()
    audit.record(
        "group_member_added",
        by.id if by else None,
        data={
            "group": group.key,
            "user_id": user.id,
            "starts_on": starts_on.isoformat() if starts_on else None,
            "ends_on": ends_on.isoformat() if ends_on else None,
        },
    )
    return membership


@committed
def end_membership(membership: GroupMembership, by: User) -> None:
    """Take someone out of a group from today: the term ends yesterday, so the history stays;
    a term that had not begun is removed."""
    today = association_today()
    if membership.starts_on is not None and membership.starts_on >= today:
        db.session.delete(membership)
    else:
        membership.ends_on = today - timedelta(days=1)
    audit.record(
        "group_member_removed",
        by.id,
        data={"group": membership.group.key, "user_id": membership.user_id},
    )


def ensure(definitions) -> list[Group]:
    """Create the groups of a data file that are missing (key, zh and en names); existing
    groups are the administrator's and are left as they are."""
    made = []
    for item in definitions:
        if db.session.scalar(select(Group.id).where(Group.key == item["key"])) is None:
            keeps = bool(item.get("keeps_register"))
            sees = bool(item.get("sees_dashboard"))
            made.append(create(item["key"], item["zh"], item["en"], None, keeps, sees))
    return made
