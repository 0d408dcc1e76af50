"""Who is told what after a step of an application's process.

The diagram decides the moments: every task it offers is announced to the people who must act,
elements with a `notify` property announce their event (to the applicant, or to the role named
by `notifyRole`), and the end of the process tells the applicant the outcome.
"""

from __future__ import annotations

from webapp.engine import EngineResult
from webapp.extensions import db
from webapp.models import Application, HumanTask, User, parse_iso
from webapp.roles import APPLICANT
from webapp.services import notify
from webapp.services.groups import lane_group

OUTCOME_EVENTS = {"rejected": "application_rejected", "lapsed": "application_lapsed"}


def after_step(
    application: Application,
    result: EngineResult,
    offered: list[HumanTask],
    received: bool = False,
) -> None:
    """Queue the notifications of one transition, in the transition's own transaction.

    `received`: this step was the application's first submission (the applicant gets a receipt).
    """
    applicant = db.session.get(User, application.applicant_id)
    facts = application.facts or {}
    told_applicant = received
    if received:
        notify.notify("application_received", applicant, application)
    for event in result.events:
        name = event.properties.get("notify")
        if not name or name not in notify.EVENTS:
            continue
        params = _event_params(name, application, result, facts)
        role = event.properties.get("notifyRole", APPLICANT)
        if role == APPLICANT:
            notify.notify(name, applicant, application, **params)
            told_applicant = True
        else:
            notify.notify_role(
                name, role, application, exclude=[application.applicant_id], **params
            )
    for task in offered:
        # One message per step: an applicant told of the event (e.g. the payment notice) is
        # not told again that a task waits for it.
        if told_applicant and lane_group(task.lane) == APPLICANT:
            continue
        _announce_task(application, applicant, task, facts)
    if result.finished:
        _announce_outcome(application, applicant)


def _announce_task(application, applicant, task: HumanTask, facts: dict) -> None:
    params = {"task_title": task.title, "due_at": task.due_at, "path": f"/tasks/{task.task_guid}"}
    role = lane_group(task.lane)
    if role == APPLICANT:
        event = "more_material_requested" if task.stage == "review" else "applicant_action"
        if event == "more_material_requested":
            params["request"] = facts.get("review_request") or ""
        notify.notify(event, applicant, application, **params)
    elif task.assignee_id is not None:
        notify.notify("task_waiting", db.session.get(User, task.assignee_id), application, **params)
    elif role is not None:
        notify.notify_role(
            "task_waiting", role, application, exclude=[application.applicant_id], **params
        )


def _event_params(name: str, application, result: EngineResult, facts: dict) -> dict:
    data = result.data
    if name == "notice_opened":
        return {
            "closes_at": application.notice_closes_at or parse_iso(data.get("notice_closes_at"))
        }
    if name == "application_approved":
        return {
            "fee_amount": data.get("fee_amount"),
            "fee_currency": data.get("fee_currency"),
            "payment_method": data.get("fee_payment_method"),
            "payment_deadline": parse_iso(data.get("payment_deadline")),
        }
    if name == "payment_reminder":
        return {"payment_deadline": parse_iso(facts.get("payment_deadline"))}
    if name == "payment_rejected":
        return {"reason": data.get("payment_check_reason") or ""}
    if name == "vote_result":
        tally = data.get("vote_result") or {}
        return {
            key: tally.get(key) for key in ("approve", "reject", "abstain", "eligible", "passed")
        }
    return {}


def _announce_outcome(application: Application, applicant: User) -> None:
    if application.status == "admitted":
        notify.notify(
            "certificate_issued",
            applicant,
            application,
            member_number=application.member_number,
            certificate_path=f"/applications/{application.id}/certificate.pdf",
        )
        return
    event = OUTCOME_EVENTS.get(application.status)
    if event == "application_rejected":
        notify.notify(
            event,
            applicant,
            application,
            outcome_code=application.outcome_code or "",
            reason=application.outcome_reason or "",
        )
    elif event:
        notify.notify(event, applicant, application)
