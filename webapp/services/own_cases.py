"""What an applicant may do with a case it started about itself, whatever the procedure:
withdraw it while it runs (until the stage its diagram names), or delete it while it is still
an empty draft.

Only cases the user both is the subject of and started: a case the secretariat opened about a
member (discipline) or the ticker opened (a dues notice) is not the member's to withdraw.
How far withdrawal goes is the diagram's: its process-level property `withdrawableUntil` names
the stage after which the case can no longer be withdrawn (admission: once the council has
decided); without it, any time before the end.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import delete, exists, select, update

from webapp.engine import N_, Problem
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Case,
    Document,
    HumanTask,
    Incident,
    OutboxMessage,
    utcnow,
)
from webapp.services import audit, catalogue, stages
from webapp.services.errors import Forbidden, InvalidFormData, NotFound
from webapp.services.workflow import engine, lock_case, save_result, source_for

# The outcome a withdrawn case stands under; its words are the platform's (a model may name
# it in its outcomes.data.json too).
WITHDRAWN_OUTCOME = "withdrawn_by_applicant"
WITHDRAWN_STATUS = "retracted"
REASON_MIN, REASON_MAX = 2, 2000


UNKNOWN_STAGE = N_(
    "The property withdrawableUntil names the stage %(stage)s, which no step of this diagram "
    "has: name one of %(stages)s, or leave it out to allow withdrawal until the end."
)


def problems(bpmn: bytes) -> list[Problem]:
    """A withdrawal limit naming no stage of the diagram would silently allow withdrawal to
    the end: said when the diagram is checked."""
    until = catalogue.process_properties(bpmn).get("withdrawableUntil", "")
    order = stages.order_in(bpmn) if until else []
    if not until or until in order:
        return []
    return [Problem("", "", UNKNOWN_STAGE, {"stage": until, "stages": ", ".join(order) or "—"})]


def started_by_subject(case: Case, user) -> bool:
    """Whether the user is the case's subject and started it itself."""
    if case.applicant_id != user.id:
        return False
    starter = db.session.scalar(
        select(AuditEvent.actor_id).where(
            AuditEvent.instance_id == case.instance_id, AuditEvent.action == "case_started"
        )
    )
    return starter == user.id


def is_empty(case: Case) -> bool:
    """A draft nobody has put anything in: its first form never saved nor submitted, no
    document uploaded, no step done."""
    if case.status != "in_progress" or case.submitted_at is not None or case.data:
        return False
    touched = db.session.scalar(
        select(
            exists().where(
                HumanTask.instance_id == case.instance_id,
                (HumanTask.state != "ready") | HumanTask.draft_saved_at.is_not(None),
            )
        )
    )
    uploaded = db.session.scalar(select(exists().where(Document.case_id == case.id)))
    return not touched and not uploaded


def past_withdrawal(case: Case) -> bool:
    """Whether the case has gone beyond the stage its diagram allows withdrawal until."""
    until = catalogue.properties_of(case.instance.version_id).get("withdrawableUntil", "")
    until = until.strip()
    if not until:
        return False
    order = stages.order_of(case.instance.version_id)
    if until not in order or case.stage not in order:
        return False
    return order.index(case.stage) > order.index(until)


def controls(user, case: Case) -> dict[str, bool]:
    """Which of the controls the user has on this case now: `delete` (an empty draft) or
    `withdraw` (a case in progress), never both."""
    if case.status != "in_progress" or not started_by_subject(case, user):
        return {"delete": False, "withdraw": False}
    if is_empty(case):
        return {"delete": True, "withdraw": False}
    return {"delete": False, "withdraw": not past_withdrawal(case)}


def controls_of(user, rows: list[Case]) -> dict[int, dict[str, bool]]:
    """controls() for a page of the user's own cases."""
    return {case.id: controls(user, case) for case in rows}


def withdraw(user, case_id: int, reason: str) -> Case:
    """The applicant withdraws its case: the reason in the audit trail and as the case's
    outcome, the instance cancelled and its open tasks closed, in one transaction under the
    instance lock. Refused once the case is past the stage withdrawal is allowed until."""
    case = _own(user, case_id)
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        message = _("Say why you withdraw (%(min)s to %(max)s characters).",
                    min=REASON_MIN, max=REASON_MAX)  # fmt: skip
        raise InvalidFormData({"reason": [message]}, {"reason": reason[:REASON_MAX]})
    try:
        locked = lock_case(case.instance_id)
        instance, case = locked.instance, locked.case
        if case is None:
            raise NotFound("application")  # deleted meanwhile (an empty draft)
        # Read again under the lock: a decision may have been taken meanwhile.
        if case.status != "in_progress" or instance.status != "running":
            raise Forbidden("case_closed")
        if past_withdrawal(case):
            raise Forbidden("decision_final")
        result = engine.cancel(source_for(instance.version_id), instance.state)
        save_result(instance, result, ready=locked.ready)  # its open tasks: cancelled
        now = utcnow()
        case.status, case.outcome_code, case.outcome_reason = (
            WITHDRAWN_STATUS,
            WITHDRAWN_OUTCOME,
            reason,
        )
        case.notice_closes_at, case.updated_at = None, now
        audit.record(
            "case_withdrawn",
            user.id,
            instance.id,
            data={"reason": reason, "stage": case.stage, "closed_tasks": sorted(locked.ready)},
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return case


def delete_draft(user, case_id: int) -> None:
    """The applicant deletes an empty draft: the case and its tasks are gone. The instance row
    stays, cancelled, because the audit trail (append-only) names it: case_started, and the
    case_deleted row written here."""
    case = _own(user, case_id)
    try:
        locked = lock_case(case.instance_id)
        instance, case = locked.instance, locked.case
        if case is None:
            raise NotFound("application")  # a second click: already gone
        if not is_empty(case):
            raise Forbidden("not_empty")
        result = engine.cancel(source_for(instance.version_id), instance.state)
        save_result(instance, result, ready=locked.ready)
        audit.record(
            "case_deleted",
            user.id,
            instance.id,
            data={"case_id": case.id, "title": case.title, "process": _process_key(case)},
        )
        db.session.execute(delete(HumanTask).where(HumanTask.instance_id == instance.id))
        # A message or incident about it keeps its row; it no longer points at a case.
        for model in (OutboxMessage, Incident):
            db.session.execute(
                update(model)
                .where(model.case_id == case.id)
                .values(case_id=None)
                .execution_options(synchronize_session=False)
            )
        db.session.delete(case)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _own(user, case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None or case.applicant_id != user.id:
        raise NotFound("application")  # not "forbidden": do not confirm it exists
    if not started_by_subject(case, user):
        raise Forbidden("not_started_by_subject")
    return case


def _process_key(case: Case) -> str:
    return case.instance.version.model.key if case.instance is not None else ""
