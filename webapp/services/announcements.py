"""Who is told what after a step of a case's process.

The diagram decides everything: an element with a `notify` property that the step passed (a
script, a throw event, an end event) sends the message of that name to the case's subject, or
to the group named by `notifyRole`; every task the step offers is announced to the people who
must act, with the task's own `notify` message if it has one, else the platform's.
"""

from __future__ import annotations

from webapp.engine import EngineResult
from webapp.extensions import db
from webapp.models import Case, HumanTask, User
from webapp.roles import APPLICANT
from webapp.services import notify, row_writes
from webapp.services.groups import lane_group

# The platform's messages for an offered task that names none of its own.
TASK_FOR_SUBJECT = "applicant_action"
TASK_FOR_GROUP = "task_waiting"


def after_step(case: Case, result: EngineResult, offered: list[HumanTask]) -> None:
    """Queue the notifications of one transition, in the transition's own transaction."""
    # It reads only people and groups, which a step does not write: no flush of the step's
    # rows before each read (the commit flushes them all at once, in fewer statements).
    # Its messages are written together, in one statement, when it has queued them all.
    with db.session.no_autoflush, row_writes.gathered():
        _queue(case, result, offered)


def _queue(case: Case, result: EngineResult, offered: list[HumanTask]) -> None:
    # A case about no one (a timer's) has nobody to tell but its groups.
    applicant = db.session.get(User, case.applicant_id) if case.applicant_id else None
    version_id = notify.version_of(case)
    told_applicant = False
    for event in result.events:
        name = event.properties.get("notify")
        if not name:
            continue
        role = event.properties.get("notifyRole", APPLICANT)
        if role == APPLICANT:
            notify.notify(name, applicant, case, version_id)
            told_applicant = True
        else:
            notify.notify_role(name, role, case, exclude=[case.applicant_id], version_id=version_id)
    properties = {t.id: t.info.properties for t in result.ready_tasks}
    for task in offered:
        # One message per step: an applicant told of the event (e.g. the payment notice) is
        # not told again that a task waits for it.
        if told_applicant and lane_group(task.lane) == APPLICANT:
            continue
        own = (properties.get(task.task_guid) or {}).get("notify")
        _announce_task(case, applicant, task, own, version_id)


def _announce_task(case, applicant, task: HumanTask, own: str | None, version_id) -> None:
    params = {"task_title": task.title, "due_at": task.due_at, "path": f"/tasks/{task.task_guid}"}
    role = lane_group(task.lane)
    if role == APPLICANT:
        notify.notify(own or TASK_FOR_SUBJECT, applicant, case, version_id, **params)
    elif task.assignee_id is not None:
        assignee = db.session.get(User, task.assignee_id)
        notify.notify(own or TASK_FOR_GROUP, assignee, case, version_id, **params)
    elif role is not None:
        notify.notify_role(
            own or TASK_FOR_GROUP,
            role,
            case,
            exclude=[case.applicant_id],
            version_id=version_id,
            **params,
        )
