"""Applications brought to a stage through the services themselves (start, complete, fire
timers) without HTTP in between: a tenth of the time per case, so tests and benchmarks can
make hundreds. Call inside `app.test_request_context()`; the clock is the caller's."""

from __future__ import annotations

import io

from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict

from tests.conftest import VALID_APPLICATION, fresh_credit_code
from tests.procedure import PAYMENT
from webapp.extensions import db
from webapp.models import Case, HumanTask
from webapp.services import cases, tasks, timers, users

FORM = {k: v for k, v in VALID_APPLICATION.items() if not isinstance(v, tuple)}
UPLOADS = {k: v for k, v in VALID_APPLICATION.items() if isinstance(v, tuple)}
COUNCIL = ("council", "council2", "council3")  # the demo council: the voters of every vote


def open_tasks(case_id: int, bpmn_id: str | None = None) -> list[HumanTask]:
    """The application's ready tasks (of one BPMN id), oldest first."""
    query = (
        select(HumanTask)
        .join(Case, Case.instance_id == HumanTask.instance_id)
        .where(Case.id == case_id, HumanTask.state == "ready")
        .order_by(HumanTask.id)
    )
    if bpmn_id is not None:
        query = query.where(HumanTask.bpmn_id == bpmn_id)
    return list(db.session.scalars(query))


def complete(username: str, case_id: int, bpmn_id: str, data: dict) -> None:
    """Complete the user's open task of that id (their own vote, for a vote)."""
    user = users.by_username(username)
    candidates = open_tasks(case_id, bpmn_id)
    task = next(t for t in candidates if t.assignee_id in (None, user.id))
    tasks.complete(user, task.task_guid, MultiDict(data))


def submitted(count: int, applicant: str = "applicant") -> list[int]:
    """Applications filled in and submitted: each waits for the preliminary review."""
    user = users.by_username(applicant)
    ids = []
    for _ in range(count):
        case = cases.start(user)
        guid = open_tasks(case.id)[0].task_guid
        files = {k: FileStorage(io.BytesIO(data), name) for k, (data, name) in UPLOADS.items()}
        form = {**FORM, "credit_code": fresh_credit_code()}  # one code per applicant
        tasks.complete(user, guid, MultiDict(form), files)
        ids.append(case.id)
    return ids


def on_notice(count: int) -> list[int]:
    """Applications passed in review: each waits for its notice period to end."""
    ids = submitted(count)
    for case_id in ids:
        complete("secretary", case_id, "preliminary_review", {"review_decision": "pass"})
    return ids


def in_vote(count: int, traveller) -> list[int]:
    """Applications whose notice ended: each waits for the council's votes. Moves the
    caller's clock (`traveller`, a time-machine traveller) past the notice periods."""
    ids = on_notice(count)
    closes = max(db.session.get(Case, i).notice_closes_at for i in ids)
    traveller.move_to(closes.replace(microsecond=0).timestamp() + 60)
    timers.fire_due()
    return ids


def awaiting_certificate(count: int, traveller) -> list[int]:
    """Applications approved by the council and paid: each waits for its certificate."""
    ids = in_vote(count, traveller)
    for case_id in ids:
        for member in COUNCIL:
            complete(member, case_id, "council_vote", {"vote": "approve"})
        complete("applicant", case_id, "declare_payment", PAYMENT)
        complete("finance", case_id, "confirm_payment", {"payment_check": "received"})
    return ids
