"""Human tasks: the inbox of a committee member, who may open which task, and completing a
task as one transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from webapp import formschema
from webapp.engine import EngineError, TaskNotReady
from webapp.extensions import db
from webapp.models import Application, HumanTask, User
from webapp.roles import APPLICANT, lanes_for_roles, role_for_lane
from webapp.services import applications, audit
from webapp.services.errors import Forbidden, InvalidFormData, NotFound, ProcessError, TaskNotOpen
from webapp.services.workflow import (
    engine,
    lock_instance,
    save_result,
    source_for,
    version_content,
)


def inbox(
    user: User, lane: str | None = None, limit: int = 200
) -> list[tuple[HumanTask, Application]]:
    """Open tasks of the user's committee lanes, oldest first, never on its own application."""
    lanes = lanes_for_roles(user.role_set)
    if lane is not None:
        lanes = [name for name in lanes if name == lane]
    if not lanes:
        return []
    rows = db.session.execute(
        select(HumanTask, Application)
        .join(Application, Application.instance_id == HumanTask.instance_id)
        .where(
            HumanTask.state == "ready",
            HumanTask.lane.in_(lanes),
            Application.applicant_id != user.id,
        )
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id)
        .limit(limit)
    )
    return [(task, application) for task, application in rows]


def authorize(user: User, task: HumanTask, application: Application) -> None:
    """Raise unless the user may work this task: its lane's role, and never its own case."""
    role = role_for_lane(task.lane)
    if role == APPLICANT:
        if application.applicant_id != user.id:
            raise NotFound("task")  # another applicant's task: do not confirm it exists
        return
    if role is None or not user.has_role(role):
        raise Forbidden("not_your_lane")
    if application.applicant_id == user.id:
        raise Forbidden("own_application")


def find(user: User, task_guid: str) -> tuple[HumanTask, Application]:
    """A task the user may see, with its application; raises NotFound, Forbidden, TaskNotOpen."""
    task = db.session.scalars(select(HumanTask).where(HumanTask.task_guid == task_guid)).first()
    if task is None:
        raise NotFound("task")
    application = db.session.scalars(
        select(Application).where(Application.instance_id == task.instance_id)
    ).one()
    authorize(user, task, application)
    if task.state != "ready":
        raise _not_open(task)
    return task, application


def form_of(task: HumanTask) -> tuple[dict, dict]:
    """The JSON Schema and UI schema of a task, from the version its instance runs on."""
    forms = version_content(task.instance.version_id).forms
    return forms.get(task.form or "", {"type": "object"}), forms.get(task.ui_form or "", {})


def application_form(progress: applications.Progress) -> tuple[dict, dict]:
    """The schema and UI schema the application's own data was entered with."""
    for task in progress.history:
        if task.stage == "application" and task.form:
            return form_of(task)
    return {"properties": {}}, {}


def complete(user: User, task_guid: str, form) -> tuple[HumanTask, Application]:
    """Validate the submitted form and move the instance on, all in one transaction."""
    task, application = find(user, task_guid)
    schema, _ui = form_of(task)
    data = formschema.read_submission(schema, form)
    errors = formschema.validate(schema, data)
    if errors:
        raise InvalidFormData(errors, data)
    try:
        instance = lock_instance(task.instance_id)
        task = db.session.scalars(
            select(HumanTask)
            .where(HumanTask.task_guid == task_guid)
            .execution_options(populate_existing=True)
        ).one()
        if task.state != "ready":
            raise _not_open(task)  # someone completed it while we waited for the lock
        application = db.session.scalars(
            select(Application)
            .where(Application.instance_id == instance.id)
            .execution_options(populate_existing=True)
        ).one()
        try:
            result = engine.complete(
                source_for(instance.version_id), instance.state, task_guid, data
            )
        except TaskNotReady:
            raise TaskNotOpen("completed") from None
        except EngineError as err:
            raise ProcessError(str(err)) from err
        save_result(instance, result, actor_id=user.id, submitted=data)
        applications.sync(application, result, completed=task, submitted=data)
        audit.record(
            "task_completed", user.id, instance.id, task_guid, {"task": task.bpmn_id, "data": data}
        )
        db.session.commit()
    except StaleDataError:
        # Only reachable if a writer bypassed the lock; the version column still refuses it.
        db.session.rollback()
        raise _not_open(
            db.session.scalars(select(HumanTask).where(HumanTask.task_guid == task_guid)).one()
        ) from None
    except BaseException:
        db.session.rollback()
        raise
    return task, application


def _not_open(task: HumanTask) -> TaskNotOpen:
    by = task.completed_by.display_name if task.completed_by is not None else None
    return TaskNotOpen(task.state, by=by, at=task.completed_at)
