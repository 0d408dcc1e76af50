"""Human tasks: who may open which task, claiming a committee task, and completing a task (from
an HTML form or from JSON data) as one transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.exc import StaleDataError

from webapp import formschema
from webapp.engine import EngineError, TaskNotReady
from webapp.extensions import db
from webapp.models import Case, HumanTask, ProcessInstance, User, utcnow
from webapp.roles import APPLICANT
from webapp.services import (
    announcements,
    audit,
    case_step,
    cases,
    catalogue,
    delegations,
    documents,
    json_data,
    notice,
    submission_checks,
)
from webapp.services.errors import (
    Forbidden,
    InvalidFormData,
    NotFound,
    ProcessError,
    TaskClaimed,
    TaskNotOpen,
)
from webapp.services.groups import lane_group
from webapp.services.workflow import (
    engine,
    is_case_form,
    lock_case,
    one_writer,
    save_result,
    source_for,
    version_content,
)

# The engine names tasks by UUID; anything else cannot be one and is not looked up (a NUL in a
# parameter is an error on PostgreSQL, not a miss).
TASK_GUID = re.compile(r"[0-9a-fA-F-]{1,36}")


def authorize(user: User, task: HumanTask, case: Case) -> User | None:
    """Raise unless the user may work this task: its lane's group, and never its own case.
    Returns the person the user stands in for, when only a delegation lets the user in."""
    try:
        _may_work(user, task, case)
    except Forbidden as refusal:
        for principal in delegations.principals(user):
            try:
                _may_work(principal, task, case)
            except (Forbidden, NotFound):
                continue
            if case.applicant_id == user.id:
                raise Forbidden("own_case") from None  # four eyes bind both of them
            if not delegations.delegable(task):
                raise Forbidden("not_delegable") from None
            return principal
        raise refusal from None
    return None


def _may_work(user: User, task: HumanTask, case: Case) -> None:
    role = lane_group(task.lane)
    if role == APPLICANT:
        if case.applicant_id != user.id:
            raise NotFound("task")  # another applicant's task: do not confirm it exists
        return
    if role is None or not user.has_role(role):
        raise Forbidden("not_your_lane")
    if case.applicant_id == user.id:
        raise Forbidden("own_case")
    if task.assignee_id is not None and task.assignee_id != user.id:
        raise Forbidden("not_assignee")  # e.g. another council member's vote


def find(user: User, task_guid: str) -> tuple[HumanTask, Case]:
    """A task the user may see, with its application; raises NotFound, Forbidden, TaskNotOpen."""
    found = _lookup(user, task_guid)
    return found.task, found.case


def acting_for(user: User, task_guid: str) -> User | None:
    """Whom the user would stand in for on this task (None: it is the user's own)."""
    return _lookup(user, task_guid).principal


@dataclass
class _Found:
    task: HumanTask
    case: Case
    version_id: int
    # Held so that the session (whose identity map keeps only weak references) still has the
    # applicant when the step's notifications look for it: one query fewer per transition.
    applicant: User | None
    # The instance's state as read here, before its lock (on one writer's database): restored
    # ahead of the step, which takes that workflow only if the state it reads under the lock
    # is still this one.
    state: str = ""
    principal: User | None = None  # whom the user stands in for, if a delegation let it in


def _lookup(user: User, task_guid: str, with_state: bool = False) -> _Found:
    """find(), with the version the instance runs on and the applicant (and the instance's
    state: `with_state`), in one query."""
    if not TASK_GUID.fullmatch(task_guid):
        raise NotFound("task")
    statement = _TASK_IN_CASE_WITH_STATE if with_state else _TASK_IN_CASE
    row = db.session.execute(statement, {"task_guid": task_guid}).first()
    if row is None:
        raise NotFound("task")
    found = _Found(*row)
    found.principal = authorize(user, found.task, found.case)
    if found.task.state != "ready":
        raise _not_open(found.task)
    return found


# Built once, as every task page and transition runs it.
_TASK_IN_CASE = (
    select(HumanTask, Case, ProcessInstance.version_id, User)
    .join(Case, Case.instance_id == HumanTask.instance_id)
    .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
    .outerjoin(User, User.id == Case.applicant_id)  # a case about no one has none
    .where(HumanTask.task_guid == bindparam("task_guid"))
)
_TASK_IN_CASE_WITH_STATE = _TASK_IN_CASE.add_columns(ProcessInstance.state)


def form_of(task: HumanTask, version_id: int | None = None) -> tuple[dict, dict]:
    """The JSON Schema and UI schema of a task, from the version its instance runs on."""
    if version_id is None:
        version_id = task.instance.version_id
    forms = version_content(version_id).forms
    return forms.get(task.form or "", {"type": "object"}), forms.get(task.ui_form or "", {})


def application_form(progress: cases.Progress) -> tuple[dict, dict]:
    """The schema and UI schema the application's own data was entered with."""
    for task in progress.history:
        if task.form and is_case_form(task):
            return form_of(task)
    return {"properties": {}}, {}


def save_draft(user: User, task_guid: str, form, files=None) -> tuple[HumanTask, Case]:
    """Keep what the user entered so far (and its uploads) without validating or moving on."""
    found = _lookup(user, task_guid)
    task, case = found.task, found.case
    _refuse_if_claimed(task, user, found.principal)
    schema, _ui = form_of(task, found.version_id)
    data = formschema.read_submission(schema, form)
    try:
        data = documents.accept_uploads(user, case, schema, files or {}, data)
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
    return task, case


def keep_draft(user: User, task_guid: str, data: dict) -> None:
    """Keep what a refused first submission held (its accepted uploads among it) as the task's
    draft, so that the case just created for it is not an empty one. Commits."""
    found = _lookup(user, task_guid)
    db.session.execute(
        update(HumanTask)
        .where(HumanTask.id == found.task.id, HumanTask.state == "ready")
        .values(draft=data, draft_saved_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    audit.record("draft_saved", user.id, found.task.instance_id, task_guid,
                 {"task": found.task.bpmn_id})  # fmt: skip
    db.session.commit()


def complete(user: User, task_guid: str, form, files=None) -> tuple[HumanTask, Case]:
    """Validate the submitted form and move the instance on, all in one transaction."""
    found = _lookup(user, task_guid, with_state=one_writer())
    task, case = found.task, found.case
    _refuse_if_claimed(task, user, found.principal)
    schema, ui = form_of(task, found.version_id)
    data = formschema.read_submission(schema, form)
    refused: dict[str, list[str]] = {}
    try:
        data = documents.accept_uploads(user, case, schema, files or {}, data)
    except InvalidFormData as err:
        # Every error at once: a refused file does not hide what is wrong with the fields.
        data, refused = err.values, err.errors
    errors = formschema.validate(schema, data, ui)
    for name, messages in documents.check_tokens(case, schema, data).items():
        errors.setdefault(name, []).extend(messages)
    errors.update(refused)  # a refused file's own reason, rather than "required"
    if errors:
        # The files that passed their checks are kept with the application, so the form shown
        # again offers them and the user fixes only what is wrong.
        db.session.commit()
        raise InvalidFormData(errors, data)
    return _move_on(user, task_guid, found, data)


def complete_with(user: User, task_guid: str, payload) -> tuple[HumanTask, Case]:
    """Complete the task with typed data (the JSON API): the same schema and checks as the
    form, document fields naming documents already uploaded to the application."""
    found = _lookup(user, task_guid, with_state=one_writer())
    task, case = found.task, found.case
    _refuse_if_claimed(task, user, found.principal)
    schema, ui = form_of(task, found.version_id)
    data, errors = json_data.read(schema, payload)
    if not errors:
        errors = formschema.validate(schema, data, ui)
        for name, messages in documents.check_tokens(case, schema, data).items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        db.session.rollback()
        raise InvalidFormData(errors, data)
    return _move_on(user, task_guid, found, data)


def _move_on(user: User, task_guid: str, found: _Found, data: dict) -> tuple[HumanTask, Case]:
    """The transition itself, under the instance lock, with valid data. `found` stays
    referenced until the commit, so its applicant is still in the session for the step's
    notifications."""
    try:
        # Parsed before the lock where the lock is the whole database's, so that another
        # instance's transition need not wait for it.
        engine.restore_ahead(source_for(found.version_id), found.state)
        # Everything the step reads is read again under the lock, in one statement: whatever
        # was seen above may have changed while we waited for it (completed, claimed).
        locked = lock_case(found.task.instance_id)
        case_step.act_as(user.id)
        instance, case = locked.instance, locked.case
        task = _ready_under_lock(locked.ready, task_guid)
        _refuse_if_claimed(task, user, found.principal)
        # The diagram's own check of the submission, against what holds under the lock.
        refused = submission_checks.problems(task, instance.version_id, data)
        if refused:
            raise InvalidFormData(refused, data)
        try:
            result = engine.complete(
                source_for(instance.version_id), instance.state, task_guid, data, actor=user.id
            )
        except TaskNotReady:
            raise TaskNotOpen("completed") from None
        except EngineError as err:
            raise ProcessError.of(err) from err
        offered = save_result(
            instance, result, actor_id=user.id, submitted=data, ready=locked.ready
        )
        cases.sync(case, result, completed=task, submitted=data, actor_id=user.id)
        notice.record_answer(task, data, user)
        announcements.after_step(case, result, offered)
        done = {"task": task.bpmn_id, "data": data}
        if found.principal is not None:
            done["on_behalf_of"] = found.principal.id  # "B for A" in the trail and history
        audit.record("task_completed", user.id, instance.id, task_guid, done)
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
    return task, case


def claim(user: User, task_guid: str) -> tuple[HumanTask, Case]:
    """Take a committee task on, so that the others of the lane leave it; claiming one's own
    claim again changes nothing. One transaction under the instance lock."""
    return _change_claim(user, task_guid, take=True)


def unclaim(user: User, task_guid: str) -> tuple[HumanTask, Case]:
    """Give one's claim on a task up; a task nobody holds stays as it is. Someone else's claim
    is theirs to release. One transaction under the instance lock."""
    return _change_claim(user, task_guid, take=False)


def _change_claim(user: User, task_guid: str, take: bool) -> tuple[HumanTask, Case]:
    found = _lookup(user, task_guid)
    _claimable(found.task)
    try:
        locked = lock_case(found.task.instance_id)
        task = _ready_under_lock(locked.ready, task_guid)
        _refuse_if_claimed(task, user)
        if (task.claimed_by_id is None) == take:
            task.claimed_by_id, task.claimed_at = (user.id, utcnow()) if take else (None, None)
            action = "task_claimed" if take else "task_unclaimed"
            audit.record(action, user.id, task.instance_id, task_guid, {"task": task.bpmn_id})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return task, locked.case


def assign(user: User, task_guid: str, to_id: int) -> tuple[HumanTask, Case]:
    """Hand a shared task of the user's lane to a colleague of that lane, as if the colleague had
    claimed it: never a task given to one person (a vote), never to the person the case is about.
    A task someone else holds is theirs to release first. One transaction under the instance
    lock, audited as `task_assigned`."""
    found = _lookup(user, task_guid)
    _claimable(found.task)
    colleague = db.session.get(User, to_id)
    if (
        colleague is None
        or not colleague.active
        or not colleague.has_role(lane_group(found.task.lane) or "")
        or colleague.id == found.case.applicant_id
    ):
        raise Forbidden("not_a_colleague")
    try:
        locked = lock_case(found.task.instance_id)
        task = _ready_under_lock(locked.ready, task_guid)
        _refuse_if_claimed(task, user)
        if task.claimed_by_id != colleague.id:
            task.claimed_by_id, task.claimed_at = colleague.id, utcnow()
            audit.record(
                "task_assigned",
                user.id,
                task.instance_id,
                task_guid,
                {"task": task.bpmn_id, "to": colleague.id},
            )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return task, locked.case


def claimable(task: HumanTask) -> bool:
    """Whether the task may be claimed: an open task of a committee lane, not given to one
    person already (a council member's own vote)."""
    return (
        task.state == "ready"
        and task.assignee_id is None
        and lane_group(task.lane) not in (None, APPLICANT)
    )


def _claimable(task: HumanTask) -> None:
    # An applicant's task has one possible worker; a vote is given to one member already.
    if task.assignee_id is not None:
        raise Forbidden("assigned")
    if not claimable(task):
        raise Forbidden("not_claimable")


def _ready_under_lock(ready: dict[str, HumanTask], task_guid: str) -> HumanTask:
    task = ready.get(task_guid)
    if task is None:
        # Someone completed it while we waited for the lock.
        raise _not_open(
            db.session.scalars(
                select(HumanTask)
                .where(HumanTask.task_guid == task_guid)
                .execution_options(populate_existing=True)
            ).one()
        )
    return task


def holder(task: HumanTask) -> User | None:
    """Who has claimed the task, if anyone."""
    # By primary key: the session's identity map answers without a query when it can.
    return db.session.get(User, task.claimed_by_id) if task.claimed_by_id is not None else None


def _refuse_if_claimed(task: HumanTask, user: User, principal: User | None = None) -> None:
    """Raise TaskClaimed if someone other than the user (or whom it stands in for) holds it."""
    mine = {user.id} | ({principal.id} if principal else set())
    if task.claimed_by_id is not None and task.claimed_by_id not in mine:
        by = holder(task)
        raise TaskClaimed(by.display_name if by else "?", task.claimed_at)


def _not_open(task: HumanTask) -> TaskNotOpen:
    by = task.completed_by.display_name if task.completed_by is not None else None
    return TaskNotOpen(task.state, by=by, at=task.completed_at)


@dataclass
class FirstForm:
    """The form a new case would open with for its starter, before any case exists."""

    procedure: catalogue.Procedure
    member_number: str
    task_title: str
    stage: str | None
    schema: dict
    ui: dict
    # What the dry run's first steps published (e.g. the member's current type), for the
    # form's ui:firstText.
    facts: dict = field(default_factory=dict)


def first_form(user: User, key: str | None, member_number: str | None = None) -> FirstForm | None:
    """What starting the procedure would put before the user first, from its live version;
    nothing is kept. None when its first step is not the starter's to do (the case is then
    started at once). A start page shows this form and creates the case on the first save or submit,
    so that opening it twice leaves no empty cases behind."""
    procedure = cases.procedure_for(user, key)
    member = cases.subject_member(user, procedure, member_number)
    subject_id = member.user_id if member is not None else user.id
    try:
        # A dry run of the start in a transaction rolled back: the first steps are the
        # diagram's to decide (its scripts, its gateways), not a guess from its drawing.
        case, _result, _offered = cases.open_case(
            procedure.version_id, procedure.title_zh, subject_id, member, started_by=user.id
        )
        # The starter's own first step, as starting would open it (a secretary's first form
        # of a case about a member too; never a step about oneself).
        task = first_for(user, case)
        if task is None:
            return None
        forms = version_content(procedure.version_id).forms
        return FirstForm(
            procedure=procedure,
            member_number=member.member_number if member is not None else "",
            task_title=task.title or "",
            stage=task.stage,
            schema=forms.get(task.form or "", {"type": "object"}),
            ui=forms.get(task.ui_form or "", {}),
            facts=dict(case.facts or {}),
        )
    finally:
        db.session.rollback()


def first_for(user: User, case: Case) -> HumanTask | None:
    """The first open task of the case that the user may do now (after starting it)."""
    for task in cases.progress(case).open_tasks:
        try:
            authorize(user, task, case)
        except (Forbidden, NotFound):
            continue
        return task
    return None


def actionable(user: User, case: Case, open_tasks) -> set[str]:
    """The open tasks (guids) the user may do now: only these get a button on the case's page,
    so nobody is sent to a task that would refuse it (another's vote, the applicant's form)."""
    mine = set()
    for task in open_tasks:
        try:
            authorize(user, task, case)
        except (Forbidden, NotFound):
            continue
        mine.add(task.task_guid)
    return mine
