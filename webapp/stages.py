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
    "lapsed": _l("Lapsed"),
    "closed": _l("Closed"),
}

# Why an application ended, as the applicant reads it; the diagram sets `outcome_code`.
OUTCOME_LABELS = {
    "review_rejected": _l("The application did not pass the preliminary review."),
    "objection_upheld": _l("An objection raised during the public notice was upheld."),
    "council_rejected": _l("The council did not approve the application."),
    "no_quorum": _l(
        "The council vote did not reach its quorum, so the application was not approved."
    ),
    "lapsed": _l("The membership fee was not paid by the deadline, so the application lapsed."),
}


def outcome_label(code: str | None) -> str:
    """The translated sentence for why an application ended ('' if the code is unknown)."""
    return str(OUTCOME_LABELS.get(code or "", ""))


def stage_label(stage: str | None) -> str:
    """The translated name of a stage; an unknown stage is shown as written in the diagram."""
    return str(STAGE_LABELS.get(stage or "", stage or ""))


def status_label(status: str) -> str:
    """The translated name of an application's status."""
    return str(STATUS_LABELS.get(status, status))
