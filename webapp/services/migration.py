"""Moving chosen running instances of a model onto a newer version, one transaction each.

A process owner first sees what the diff says about each instance (read from its stored state,
without restoring it), then migrates the ones chosen: under the instance's row lock, with the
version it was seen on checked, the engine moves it and runs on, and its state, human-task
projection, application row and audit trail are written together.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from webapp.engine import EngineError
from webapp.engine.migration import MigrationPlan, MigrationRefused
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Case,
    HumanTask,
    ModelVersion,
    ProcessInstance,
    ProcessModel,
    TimerWait,
    User,
    utcnow,
)
from webapp.roles import PROCESS_OWNER
from webapp.services import audit, incidents, steps
from webapp.services.errors import Forbidden, NotFound
from webapp.services.workflow import engine, lock_instance, source_for

# The page previews at most this many instances at once (oldest first).
PREVIEW_LIMIT = 200
MIGRATED, REFUSED, CONFLICT, FAILED = "migrated", "refused", "conflict", "failed"


@dataclass(frozen=True)
class Candidate:
    """A running instance on an older version, and what migrating it would do."""

    instance: ProcessInstance
    case: Case | None
    version: ModelVersion
    plan: MigrationPlan


@dataclass(frozen=True)
class Overview:
    model: ProcessModel
    versions: list[ModelVersion]  # newest first
    target: ModelVersion
    candidates: list[Candidate]
    truncated: bool = False  # more instances wait than one page previews


@dataclass(frozen=True)
class Outcome:
    """What happened to one chosen instance."""

    instance_id: int
    status: str  # migrated | refused | conflict | failed
    from_number: int | None = None
    to_number: int | None = None
    plan: MigrationPlan | None = None
    by: str | None = None  # conflict: who moved it first
    detail: str = ""
    case: Case | None = None


def _require_owner(user: User) -> None:
    if not user.has_role(PROCESS_OWNER):
        raise Forbidden("not_process_owner")


def _model(key: str) -> ProcessModel:
    model = db.session.scalars(select(ProcessModel).where(ProcessModel.key == key)).first()
    if model is None:
        raise NotFound("model")
    return model


def _version(model: ProcessModel, version_id: int | None) -> ModelVersion:
    if version_id is None:
        if model.live_version is None:
            raise NotFound("version")
        return model.live_version
    version = db.session.get(ModelVersion, version_id)
    if version is None or version.model_id != model.id:
        raise NotFound("version")
    return version


def overview(user: User, model_key: str, target_id: int | None = None) -> Overview:
    """The model's versions, the target (default: live) and its running older instances."""
    _require_owner(user)
    model = _model(model_key)
    target = _version(model, target_id)
    versions = list(
        db.session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_id == model.id)
            .order_by(ModelVersion.number.desc())
        )
    )
    older = {v.id: v for v in versions if v.number < target.number}
    rows = db.session.execute(
        select(ProcessInstance, Case)
        .outerjoin(Case, Case.instance_id == ProcessInstance.id)
        .where(ProcessInstance.version_id.in_(older), ProcessInstance.status == "running")
        .order_by(ProcessInstance.id)
        .limit(PREVIEW_LIMIT + 1)
    ).all()
    truncated = len(rows) > PREVIEW_LIMIT
    rows = rows[:PREVIEW_LIMIT]
    candidates = []
    for version_id in sorted(older):
        group = [(i, a) for i, a in rows if i.version_id == version_id]
        if not group:
            continue
        plans = engine.preview_migration(
            source_for(version_id), source_for(target.id), {i.id: i.state for i, _a in group}
        )
        candidates += [Candidate(i, a, older[version_id], plans[i.id]) for i, a in group]
    candidates.sort(key=lambda c: c.instance.id)
    return Overview(model, versions, target, candidates, truncated)


def migrate_chosen(
    user: User, model_key: str, target_id: int, chosen: list[tuple[int, int]]
) -> list[Outcome]:
    """Migrate each chosen (instance id, version id it was seen on), one transaction each."""
    _require_owner(user)
    model = _model(model_key)
    target = _version(model, target_id)
    outcomes = [migrate_one(user, target, instance_id, seen) for instance_id, seen in chosen]
    found = {
        a.instance_id: a
        for a in db.session.scalars(
            select(Case).where(Case.instance_id.in_([o.instance_id for o in outcomes]))
        )
    }
    return [replace(o, case=found.get(o.instance_id)) for o in outcomes]


def migrate_one(user: User, target: ModelVersion, instance_id: int, seen_version: int) -> Outcome:
    """Move one instance onto `target` if it still stands where the owner saw it."""
    _require_owner(user)
    target_id, target_number = target.id, target.number
    try:
        instance = lock_instance(instance_id)
    except LookupError:
        db.session.rollback()
        return Outcome(instance_id, FAILED, detail="not_found")
    try:
        current = db.session.get(ModelVersion, instance.version_id)
        if current.model_id != target.model_id:
            db.session.rollback()
            return Outcome(instance_id, FAILED, detail="other_model")
        if instance.version_id != seen_version or instance.version_id == target_id:
            # Someone migrated it since the page was shown: say to which version, and who.
            by = _last_migrated_by(instance.id)
            db.session.rollback()
            return Outcome(instance_id, CONFLICT, to_number=current.number, by=by)
        if instance.status != "running":
            db.session.rollback()
            return Outcome(instance_id, FAILED, from_number=current.number, detail="finished")
        if current.number >= target_number:
            db.session.rollback()
            return Outcome(instance_id, FAILED, from_number=current.number, detail="not_older")
        from_number = current.number
        try:
            plan, result = engine.migrate(
                source_for(current.id), source_for(target_id), instance.state
            )
        except MigrationRefused as refused:
            db.session.rollback()
            return Outcome(instance_id, REFUSED, from_number, target_number, plan=refused.plan)
        instance.version_id = target_id
        steps.store(instance, result)
        _refresh_open_tasks(instance, result)
        incidents.after_migration(instance, utcnow(), user.id)
        audit.record(
            "instance_migrated",
            user.id,
            instance.id,
            data={
                "from_version": from_number,
                "to_version": target_number,
                "current": {s.element_id: s.verdict for s in plan.current},
            },
        )
        db.session.commit()
        return Outcome(instance_id, MIGRATED, from_number, target_number, plan=plan)
    except EngineError as err:
        db.session.rollback()
        return Outcome(instance_id, FAILED, detail=str(err))
    except StaleDataError:
        db.session.rollback()
        return Outcome(instance_id, CONFLICT, by=_last_migrated_by(instance_id))
    except BaseException:
        db.session.rollback()
        raise


def _refresh_open_tasks(instance: ProcessInstance, result) -> None:
    """Open tasks the migration kept (same id) now show the new version's title, form, stage
    and due date; save_result only creates rows for new tasks and closes withdrawn ones."""
    offered = {task.id: task for task in result.ready_tasks}
    for row in db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state == "ready")
    ):
        task = offered.get(row.task_guid)
        if task is None:
            continue
        info = task.info
        row.bpmn_id, row.title, row.lane = info.spec_id, info.title, info.lane
        row.stage, row.form, row.ui_form = info.stage, info.form, info.ui_form
        row.due_at = task.due_at
        row.version_id = instance.version_id
    # The waits it keeps now belong to the new version's diagram too (the heatmap's counts).
    db.session.execute(
        update(TimerWait)
        .where(TimerWait.instance_id == instance.id, TimerWait.state == "waiting")
        .values(version_id=instance.version_id)
    )


def _last_migrated_by(instance_id: int) -> str | None:
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.instance_id == instance_id, AuditEvent.action == "instance_migrated")
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    ).first()
    if event is None or event.actor_id is None:
        return None
    user = db.session.get(User, event.actor_id)
    return user.display_name if user is not None else None
