"""The six stages of admission, as the regulations name them; user tasks say their stage."""

from flask_babel import lazy_gettext as _l

STAGES = ("application", "review", "notice", "approval", "payment", "certificate")

STAGE_LABELS = {
    "application": _l("Application"),
    "review": _l("Preliminary review"),
    "notice": _l("Public notice"),
    "approval": _l("Council approval"),
    "payment": _l("Fee payment"),
    "certificate": _l("Certificate"),
}

STATUS_LABELS = {
    "in_progress": _l("In progress"),
    "admitted": _l("Admitted"),
    "rejected": _l("Rejected"),
}


def stage_label(stage: str | None) -> str:
    """The translated name of a stage; an unknown stage is shown as written in the diagram."""
    return str(STAGE_LABELS.get(stage or "", stage or ""))


def status_label(status: str) -> str:
    """The translated name of an application's status."""
    return str(STATUS_LABELS.get(status, status))
