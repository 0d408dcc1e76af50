"""The roles the platform itself gives: applying, owning the process models, administering
accounts and groups. Who works a lane of a diagram is a group (webapp.services.groups), and
groups are data."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

APPLICANT = "applicant"
PROCESS_OWNER = "process_owner"
ADMINISTRATOR = "administrator"

PLATFORM_ROLES = (APPLICANT, PROCESS_OWNER, ADMINISTRATOR)

# The lane of the person a case is about: drawn in English or Chinese.
APPLICANT_LANES = frozenset({"applicant", "申请人", "member", "会员"})

ROLE_LABELS = {
    APPLICANT: _l("Applicant"),
    PROCESS_OWNER: _l("Process owner"),
    ADMINISTRATOR: _l("Administrator"),
}


def role_label(role: str | None) -> str:
    """The translated name of a platform role (a group's name for a group key)."""
    return str(ROLE_LABELS.get(role or "", role or ""))
