"""The catalogue of procedures: each live process model says in its diagram (process-level
`spiffworkflow:properties`) who may start it and what a case of it is about.

- `startableBy`: comma-separated — `applicant` (any registered account that may apply),
  `member` (an active member of the register, about its own membership), `appellant` (an
  account with a decided case still open to appeal: webapp.services.appeals), or a group's key
  or name (its current members).
- `subject`: `starter` (default: the case is about whoever starts it) or `member` (the starter
  chooses a member of the register; for groups). A procedure a member starts about itself and a
  group on a member's behalf (`startableBy` "member, secretariat", `subject` member) is, for a
  member outside those groups, about its own membership.
- `titleEn`: the English title; the Chinese one is the process's name.

A model without `startableBy` is not in the catalogue: a timer start event starts it (see
webapp.services.scheduled_starts), or another procedure.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from lxml import etree
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Member, ModelVersion, ProcessModel, User
from webapp.roles import APPLICANT
from webapp.services import appeals, groups
from webapp.services.workflow import version_content

_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
MEMBER = "member"
SUBJECTS = ("starter", MEMBER)
_rights: dict[tuple[str, int], dict[str, str]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Procedure:
    """A live model someone may start."""

    key: str
    version_id: int
    title_zh: str
    title_en: str
    starters: tuple[str, ...]  # applicant | member | group keys or names
    subject: str  # starter | member

    def title(self, locale: str | None) -> str:
        return self.title_en if (locale or "").startswith("en") and self.title_en else self.title_zh


def properties_of(version_id: int) -> dict[str, str]:
    """The executable process's own properties, cached per version (versions never change)."""
    key = (str(db.engine.url), version_id)
    if key not in _rights:
        found = process_properties(version_content(version_id).source.bpmn)
        with _lock:
            _rights[key] = found
    return _rights[key]


def process_properties(bpmn: bytes) -> dict[str, str]:
    """The properties of a diagram's executable process, read from its XML."""
    try:
        root = etree.fromstring(bpmn, _PARSER)
    except etree.XMLSyntaxError:
        return {}  # said by the diagram's own checks
    found: dict[str, str] = {}
    for process in root.iter(f"{{{_BPMN}}}process"):
        if process.get("isExecutable") != "true":
            continue
        props = process.find(f"./{{{_BPMN}}}extensionElements/{{{_SPIFF}}}properties")
        for prop in props if props is not None else []:
            if prop.get("name"):
                found[prop.get("name")] = (prop.get("value") or "").strip()
    return found


def procedures() -> list[Procedure]:
    """Every live model that says who may start it, by key."""
    rows = db.session.execute(
        select(ProcessModel.key, ModelVersion.id, ProcessModel.name)
        .join(ModelVersion, ModelVersion.id == ProcessModel.live_version_id)
        .order_by(ProcessModel.key)
    )
    found = []
    for key, version_id, name in rows:
        props = properties_of(version_id)
        starters = tuple(s.strip() for s in props.get("startableBy", "").split(",") if s.strip())
        if not starters:
            continue  # started by the ticker or another procedure, never from the catalogue
        subject = props.get("subject", "starter")
        found.append(
            Procedure(
                key=key,
                version_id=version_id,
                title_zh=name or key,
                title_en=props.get("titleEn", ""),
                starters=starters,
                subject=subject if subject in SUBJECTS else "starter",
            )
        )
    return found


def may_start(user: User, procedure: Procedure) -> bool:
    """Whether the user is one of those the diagram lets start it."""
    for starter in procedure.starters:
        if starter == APPLICANT and user.has_role(APPLICANT):
            return True
        if starter == MEMBER and own_membership(user) is not None:
            return True
        if starter == appeals.APPELLANT and appeals.open_for(user):
            return True
        group = groups.lane_group(starter)
        if group not in (None, APPLICANT) and group in user.group_keys:
            return True
    return False


def _as_group(user: User, procedure: Procedure) -> bool:
    """Whether the user starts the procedure as one of the groups it names (not as a member)."""
    for starter in procedure.starters:
        if starter in (APPLICANT, MEMBER, appeals.APPELLANT):
            continue
        group = groups.lane_group(starter)
        if group not in (None, APPLICANT) and group in user.group_keys:
            return True
    return False


def as_seen_by(user: User, procedure: Procedure) -> Procedure:
    """The procedure as this user starts it: one about a chosen member is, for a member who
    may start it only as a member, about its own membership."""
    if (
        procedure.subject == MEMBER
        and MEMBER in procedure.starters
        and not _as_group(user, procedure)
    ):
        return replace(procedure, subject="starter")
    return procedure


def startable(user: User) -> list[Procedure]:
    """What the user may start, as the start page and the API list it."""
    return [as_seen_by(user, p) for p in procedures() if may_start(user, p)]


def find(user: User, key: str) -> Procedure | None:
    """The procedure of that key if the user may start it."""
    return next((p for p in startable(user) if p.key == key), None)


def own_membership(user: User, member_number: str | None = None) -> Member | None:
    """The user's active entry in the register (the one of that number, for an account that
    holds several), if it has one."""
    query = select(Member).where(Member.user_id == user.id, Member.status == "active")
    if member_number:
        query = query.where(Member.member_number == member_number.strip())
    return db.session.scalars(query.order_by(Member.id)).first()
