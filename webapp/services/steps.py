"""What every step the engine takes leaves behind, whatever moved it (a timer, an objection, a
migration): the human-task projection, the application's stage and status, and the
announcements of what the step offered. A completed task adds more (webapp.services.tasks)."""

from __future__ import annotations

from sqlalchemy import select

from webapp.engine import EngineResult
from webapp.extensions import db
from webapp.models import Case, HumanTask, ProcessInstance
from webapp.services import announcements, cases
from webapp.services.workflow import save_result


def store(
    instance: ProcessInstance,
    result: EngineResult,
    case: Case | None = None,
    ready: dict[str, HumanTask] | None = None,
) -> list[HumanTask]:
    """Write the step into the current transaction (no commit); the tasks it offered.
    `case` and `ready`: the instance's case and ready tasks if the caller read them under the
    lock (webapp.services.workflow.lock_case); a case not given is looked up."""
    offered = save_result(instance, result, ready=ready)
    if case is None:
        case = db.session.scalars(select(Case).where(Case.instance_id == instance.id)).first()
    if case is not None:
        cases.sync(case, result)
        announcements.after_step(case, result, offered)
    return offered
