"""Firing due BPMN timers: found by the indexed `next_timer_at`, one transaction each.

Several tickers may run against one database. On PostgreSQL each claims the next due instance
with SELECT … FOR UPDATE SKIP LOCKED, so tickers share the due instances without waiting on one
another and none fires a timer another has claimed. SQLite has one writer at a time: there a
ticker takes the write lock per instance and looks again whether its timer is still due.
A step that fails becomes an incident (webapp.services.incidents) and the ticker goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, select

from webapp.engine import EngineError
from webapp.extensions import db
from webapp.models import Incident, ProcessInstance, User, utcnow
from webapp.models.incidents import OPEN
from webapp.roles import PROCESS_OWNER
from webapp.services import audit, incidents, steps
from webapp.services.errors import Forbidden, NotFound
from webapp.services.workflow import LockedCase, engine, lock_case, lock_instance, source_for


def _due(now: datetime):
    return (ProcessInstance.next_timer_at <= now, ProcessInstance.status == "running")


def due_instances(now: datetime, limit: int = 500) -> list[int]:
    """Ids of instances with a timer due by now; the cost follows the due count, not the total."""
    return list(
        db.session.scalars(
            select(ProcessInstance.id)
            .where(*_due(now))
            .order_by(ProcessInstance.next_timer_at)
            .limit(limit)
        )
    )


def _never() -> bool:
    return False


def fire_due(
    now: datetime | None = None, limit: int = 10_000, stopping: Callable[[], bool] = _never
) -> int:
    """Fire the timers due by now, at most `limit` instances; returns how many moved.

    `stopping` is asked between instances, so a ticker told to stop ends after the instance
    it is firing has committed, never in the middle of one.
    """
    now = now or utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        return _fire_claimed(now, limit, stopping)
    return _fire_one_writer(now, limit, stopping)


def _fire_claimed(now: datetime, limit: int, stopping: Callable[[], bool]) -> int:
    """Claim due instances one by one, skipping those another ticker (or a person) holds."""
    fired, passed = 0, set()  # passed: failed or not moved this round, so not claimed again
    while fired + len(passed) < limit and not stopping():
        query = select(ProcessInstance).where(*_due(now))
        if passed:
            query = query.where(ProcessInstance.id.notin_(passed))
        claimed = db.session.scalar(
            query.with_only_columns(ProcessInstance.id)
            .order_by(ProcessInstance.next_timer_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if claimed is None:
            db.session.rollback()
            return fired
        # The row lock is this transaction's: the instance, its case and its ready tasks are
        # read under it in one statement (the step needs all three).
        locked = lock_case(claimed, locked=True)
        instance = locked.instance
        if _fire(instance, now, None, locked):
            fired += 1
        if _still_due(instance, now):
            passed.add(instance.id)
    return fired


def _still_due(instance: ProcessInstance, now: datetime) -> bool:
    # True after firing if the engine did not move it (it failed, or its clock disagrees):
    # that is left to the next tick rather than claimed again at once.
    return instance.next_timer_at is not None and instance.next_timer_at <= now


def _fire_one_writer(now: datetime, limit: int, stopping: Callable[[], bool]) -> int:
    fired = 0
    for instance_id in due_instances(now, limit):
        if stopping():
            break
        # Parsed before the write lock, which the other tickers and people wait for meanwhile.
        row = db.session.execute(_STATE, {"instance_id": instance_id}).first()
        if row is not None:
            engine.restore_ahead(source_for(row.version_id), row.state)
        locked = lock_case(instance_id, promptly=False)
        instance = locked.instance
        # Another ticker may have fired it while we waited for the write lock.
        if not _still_due(instance, now):
            db.session.rollback()
            continue
        fired += _fire(instance, now, None, locked)
    return fired


_STATE = select(ProcessInstance.version_id, ProcessInstance.state).where(
    ProcessInstance.id == bindparam("instance_id")
)


def fire_locked(instance: ProcessInstance, now: datetime, actor_id: int | None = None) -> bool:
    """The ticker's step on an instance the caller has locked (demo time): fire and commit."""
    return _fire(instance, now, actor_id)


def _fire(
    instance: ProcessInstance,
    now: datetime,
    actor_id: int | None = None,
    locked: LockedCase | None = None,
) -> bool:
    """Fire the locked instance's due timers and commit; False if the step failed, which opens
    an incident (or counts another attempt on it) and holds the timer back until its retry.
    `locked`: what lock_case read, if it did."""
    try:
        result = engine.fire_timers(source_for(instance.version_id), instance.state)
    except EngineError as err:
        # The engine takes state in and gives state out: the failed step left nothing in the
        # session, so the failure is written under the lock still held, and the ticker goes on.
        incidents.record_failure(instance, str(err), now, actor_id)
        db.session.commit()
        return False
    case, ready = (locked.case, locked.ready) if locked is not None else (None, None)
    steps.store(instance, result, case, ready)
    audit.record(
        "timer_fired",
        actor_id,
        instance.id,
        data={"due": now.isoformat(), "events": [e.spec_id for e in result.events]},
    )
    if locked is None or locked.incident_open:
        incidents.resolve(instance.id, now, actor_id)
    db.session.commit()
    return True


def retry_incident(user: User, incident_id: int) -> tuple[Incident, bool]:
    """A process owner's "retry now": fire the instance's due timers at once, backoff or not
    (after fixing the diagram and migrating the instance); the incident as it now stands, and
    whether the step succeeded. An incident resolved meanwhile is returned as it is."""
    if not user.has_role(PROCESS_OWNER):
        raise Forbidden("not_process_owner")
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("incident")
    instance = lock_instance(incident.instance_id)
    db.session.refresh(incident)  # under the lock: a tick may have resolved it meanwhile
    if incident.state != OPEN:
        db.session.rollback()
        return incident, True
    moved = _fire(instance, utcnow(), actor_id=user.id)
    return db.session.get(Incident, incident_id), moved
