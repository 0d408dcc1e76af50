"""Roles, and which BPMN lanes each may work: the one place that maps lanes to people."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

APPLICANT = "applicant"
SECRETARIAT = "secretariat"
COUNCIL = "council"
FINANCE = "finance"
PROCESS_OWNER = "process_owner"

ROLES = (APPLICANT, SECRETARIAT, COUNCIL, FINANCE, PROCESS_OWNER)
COMMITTEE_ROLES = frozenset({SECRETARIAT, COUNCIL, FINANCE})

# A lane is named after the role that works it; the Chinese names are accepted too, so a
# process owner may draw lanes in either language.
LANE_ROLES = {
    "applicant": APPLICANT,
    "申请人": APPLICANT,
    "secretariat": SECRETARIAT,
    "秘书处": SECRETARIAT,
    "council": COUNCIL,
    "理事会": COUNCIL,
    "finance": FINANCE,
    "财务": FINANCE,
}

ROLE_LABELS = {
    APPLICANT: _l("Applicant"),
    SECRETARIAT: _l("Secretariat"),
    COUNCIL: _l("Council"),
    FINANCE: _l("Finance"),
    PROCESS_OWNER: _l("Process owner"),
}


def role_for_lane(lane: str | None) -> str | None:
    """The role that works a lane, or None for a lane nobody may work."""
    return LANE_ROLES.get((lane or "").strip())


def lanes_for_roles(roles: frozenset[str]) -> list[str]:
    """Every lane name a holder of these roles works, committee lanes only."""
    return [lane for lane, role in LANE_ROLES.items() if role in roles and role in COMMITTEE_ROLES]


def role_label(role: str | None) -> str:
    """The translated name of a role."""
    return str(ROLE_LABELS.get(role or "", role or ""))


def lane_label(lane: str | None) -> str:
    """The translated name of the role behind a lane."""
    return role_label(role_for_lane(lane))
