"""Appeals (申诉): a decided case that publishes `appeal_closes_at` among its facts may be
appealed by the account it is about until then. A procedure whose `startableBy` names
`appellant` is offered to such accounts; its first form names the case appealed, checked by
`case_may_be_appealed` (a submission check), and its diagram reads that case with
`appealed_case` and acts on its member through the register's functions."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Case, User, parse_iso, utcnow
from webapp.services import case_step

APPELLANT = "appellant"
_LINK = "appeal_of"  # the fact an appeal keeps: the id of the case it appeals
# The largest id a case can have: PostgreSQL's integer. A larger number (the form takes 20
# digits) made the lookup itself fail, with a server error, on SQLite and PostgreSQL alike.
LARGEST_ID = 2**31 - 1


def _closes(case: Case) -> datetime | None:
    raw = (case.facts or {}).get("appeal_closes_at")
    try:
        return parse_iso(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        return None


def _appealed_ids(applicant_id: int | None) -> set[int]:
    """The cases the account's appeals already name (in progress or decided)."""
    rows = db.session.scalars(select(Case.facts).where(Case.applicant_id == applicant_id))
    return {f[_LINK] for f in rows if isinstance(f, dict) and isinstance(f.get(_LINK), int)}


def open_for(user: User) -> list[Case]:
    """The user's decided cases still open to appeal, oldest first."""
    now = utcnow()
    own = db.session.scalars(
        select(Case)
        .where(Case.applicant_id == user.id, Case.status != "in_progress")
        .order_by(Case.id)
    ).all()
    return [c for c in own if (closes := _closes(c)) is not None and now < closes]


# --- what diagrams call ---------------------------------------------------------------------


def case_may_be_appealed(case_number) -> str:
    """A submission check: '' when the case named is the appellant's own, decided, open to
    appeal and not appealed yet (the appeal then links to it and to its member); else why not."""
    appeal, _actor = case_step.current()
    try:
        appealed_id = int(str(case_number or "").strip().lstrip("#"))
    except ValueError:
        return _("Give the number of the decided case you appeal.")
    appealed = db.session.get(Case, appealed_id) if 0 < appealed_id <= LARGEST_ID else None
    if appealed is None or appealed.applicant_id != appeal.applicant_id:
        return _("You have no decided case with this number.")
    closes = _closes(appealed)
    if appealed.status == "in_progress" or closes is None:
        return _("This case cannot be appealed.")
    if utcnow() >= closes:
        return _(
            "The period to appeal this decision ended on %(date)s.", date=closes.date().isoformat()
        )
    if appealed.id in _appealed_ids(appeal.applicant_id):
        return _("This decision has already been appealed.")
    appeal.facts = {**(appeal.facts or {}), _LINK: appealed.id}
    appeal.name = appeal.name or appealed.name  # whom the appeal is for, in lists and titles
    if appealed.subject_member_id is not None:
        appeal.subject_member_id = appealed.subject_member_id
    return ""


def appealed_case() -> dict:
    """The case this appeal is about: its id, title, outcome and reasons."""
    appeal, _actor = case_step.current()
    appealed = db.session.get(Case, (appeal.facts or {}).get(_LINK) or 0)
    if appealed is None:
        raise ValueError("the appeal names no case yet: its first form must be checked")
    return {
        "id": appealed.id,
        "title": appealed.title or "",
        "outcome_code": appealed.outcome_code or "",
        "outcome_reason": appealed.outcome_reason or "",
        "status": appealed.status,
    }


def reopen_appealed_case(element_id: str, reason: str = "") -> dict:
    """The appealed case, decided and finished, taken up again at the step `element_id` of its
    own diagram (an overturned rejection of an application resumes at fee payment, as the
    appeal's model data says): in progress again, its outcome cleared, its next tasks offered
    and their people told, in this step's transaction. Returns its id and stage."""
    # Imported here: the engine (in workflow) is made with the diagram functions, these too.
    from webapp.services import announcements, audit, cases
    from webapp.services.workflow import engine, lock_case, save_result, source_for

    if not isinstance(element_id, str) or not element_id:
        raise ValueError("element_id must name a step of the appealed case's diagram")
    appeal, actor_id = case_step.current()
    appealed = db.session.get(Case, (appeal.facts or {}).get(_LINK) or 0)
    if appealed is None:
        raise ValueError("the appeal names no case yet: its first form must be checked")
    with case_step.aside():
        locked = lock_case(appealed.instance_id)
        instance, case = locked.instance, locked.case
        if case.status == "in_progress" or instance.status != "finished":
            raise ValueError("the appealed case is not decided: there is nothing to reopen")
        result = engine.reopen(
            source_for(instance.version_id),
            instance.state,
            element_id,
            {"outcome": "", "outcome_code": "", "outcome_reason": "", "reopened_by": appeal.id},
        )
        offered = save_result(instance, result, actor_id=actor_id, ready=locked.ready)
        case.status, case.outcome_code, case.outcome_reason = "in_progress", None, None
        cases.sync(case, result, actor_id=actor_id)
        facts = dict(case.facts or {})
        facts.pop("appeal_closes_at", None)  # its decision is gone, and with it the appeal
        facts["reopened_by"] = appeal.id
        case.facts = facts
        announcements.after_step(case, result, offered)
        audit.record(
            "case_reopened",
            actor_id,
            instance.id,
            data={"appeal": appeal.id, "at": element_id, "reason": (reason or "")[:2000]},
        )
    return {"id": case.id, "stage": case.stage or ""}


DIAGRAM_FUNCTIONS = {
    "case_may_be_appealed": case_may_be_appealed,
    "appealed_case": appealed_case,
    "reopen_appealed_case": reopen_appealed_case,
}
