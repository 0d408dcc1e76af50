"""Firing due BPMN timers: found by the indexed `next_timer_at`, one transaction each.

Several tickers may run against one database. On PostgreSQL each claims the next due instance
with SELECT … FOR UPDATE SKIP LOCKED, so tickers share the due instances without waiting on one
another and none fires a timer another has claimed. SQLite has one writer at a time: there a
ticker takes the write lock per instance and looks again whether its timer is still due.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from webapp.engine import EngineError
from webapp.extensions import db
from webapp.models import ProcessInstance, utcnow
from webapp.services import audit, steps
from webapp.services.workflow import engine, lock_instance, source_for


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
        instance = db.session.scalars(
            query.order_by(ProcessInstance.next_timer_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).first()
        if instance is None:
            db.session.rollback()
            return fired
        if _fire(instance, now):
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
        instance = lock_instance(instance_id)
        # Another ticker may have fired it while we waited for the write lock.
        if not _still_due(instance, now):
            db.session.rollback()
            continue
        fired += _fire(instance, now)
    return fired


def _fire(instance: ProcessInstance, now: datetime) -> bool:
    """Fire the locked instance's due timers and commit; False if the diagram failed."""
    try:
        result = engine.fire_timers(source_for(instance.version_id), instance.state)
    except EngineError as err:
        instance_id = instance.id
        db.session.rollback()
        audit.record("timer_failed", None, instance_id, data={"error": str(err)})
        db.session.commit()
        return False
    steps.store(instance, result)
    audit.record(
        "timer_fired",
        None,
        instance.id,
        data={"due": now.isoformat(), "events": [e.spec_id for e in result.events]},
    )
    db.session.commit()
    return True
