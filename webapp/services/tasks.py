"""Human tasks: the inbox of a committee member, who may open which task, and completing a
task as one transaction."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm.exc import StaleDataError

from webapp import formschema
from webapp.engine import EngineError, TaskNotReady
from webapp.extensions import db
from webapp.models import Application, HumanTask, User, utcnow
from webapp.roles import APPLICANT, lanes_for_roles, role_for_lane
from webapp.services import announcements, applications, audit, documents, notice
from webapp.services.errors import Forbidden, InvalidFormData, NotFound, ProcessError, TaskNotOpen
from webapp.services.workflow import (
    engine,
    lock_instance,
    save_result,
    source_for,
    version_content,
)


def inbox(
    user: User, lane: str | None = None, limit: int = 200, sort: str = "due"
) -> list[tuple[HumanTask, Application]]:
    """Open tasks of the user's committee lanes, never on its own application: by due date
    (overdue first, tasks without a deadline last) or, with sort="waiting", oldest first."""
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
            or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id == user.id),
            Application.applicant_id != user.id,
        )
        .order_by(
            *(
                (HumanTask.created_at, HumanTask.id)
                if sort == "waiting"
                else (
                    HumanTask.due_at.is_(None),
                    HumanTask.due_at,
                    HumanTask.created_at,
                    HumanTask.id,
                )
            )
        )
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
    if task.assignee_id is not None and task.assignee_id != user.id:
        raise Forbidden("not_assignee")  # e.g. another council member's vote


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


def save_draft(user: User, task_guid: str, form, files=None) -> tuple[HumanTask, Application]:
    """Keep what the user entered so far (and its uploads) without validating or moving on."""
    task, application = find(user, task_guid)
    schema, _ui = form_of(task)
    data = formschema.read_submission(schema, form)
    try:
        data = documents.accept_uploads(user, application, schema, files or {}, data)
        saved = db.session.execute(
            update(HumanTask)
            .where(HumanTask.id == task.id, HumanTask.state == "ready")
            .values(draft=data, draft_saved_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if saved.rowcount != 1:
            raise _not_open(db.session.get(HumanTask, task.id))
        audit.record("draft_saved", user.id, task.instance_id, task_guid, {"task": task.bpmn_id})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return task, application


def complete(user: User, task_guid: str, form, files=None) -> tuple[HumanTask, Application]:
    """Validate the submitted form and move the instance on, all in one transaction."""
    task, application = find(user, task_guid)
    schema, _ui = form_of(task)
    data = formschema.read_submission(schema, form)
    try:
        data = documents.accept_uploads(user, application, schema, files or {}, data)
    except InvalidFormData:
        db.session.rollback()
        raise
    errors = formschema.validate(schema, data)
    for name, messages in documents.check_tokens(application, schema, data).items():
        errors.setdefault(name, []).extend(messages)
    if errors:
        # The files that passed their checks are kept with the application, so the form shown
        # again offers them and the user fixes only what is wrong.
        db.session.commit()
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
                source_for(instance.version_id), instance.state, task_guid, data, actor=user.id
            )
        except TaskNotReady:
            raise TaskNotOpen("completed") from None
        except EngineError as err:
            raise ProcessError(str(err)) from err
        first_submission = task.stage == "application" and application.submitted_at is None
        offered = save_result(instance, result, actor_id=user.id, submitted=data)
        applications.sync(application, result, completed=task, submitted=data, actor_id=user.id)
        notice.record_answer(task, data, user)
        announcements.after_step(application, result, offered, received=first_submission)
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
