"""Firing due BPMN timers: found by the indexed `next_timer_at`, one transaction each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from webapp.engine import EngineError
from webapp.extensions import db
from webapp.models import Application, ProcessInstance, utcnow
from webapp.services import announcements, applications, audit
from webapp.services.workflow import engine, lock_instance, save_result, source_for


def due_instances(now: datetime, limit: int = 500) -> list[int]:
    """Ids of instances with a timer due by now; the cost follows the due count, not the total."""
    return list(
        db.session.scalars(
            select(ProcessInstance.id)
            .where(ProcessInstance.next_timer_at <= now, ProcessInstance.status == "running")
            .order_by(ProcessInstance.next_timer_at)
            .limit(limit)
        )
    )


def fire_due(now: datetime | None = None) -> int:
    """Fire every due timer once; returns how many instances moved."""
    now = now or utcnow()
    fired = 0
    for instance_id in due_instances(now):
        try:
            instance = lock_instance(instance_id)
            # Another ticker may have fired it while we waited for the lock.
            if instance.next_timer_at is None or instance.next_timer_at > now:
                db.session.rollback()
                continue
            result = engine.fire_timers(source_for(instance.version_id), instance.state)
            offered = save_result(instance, result)
            application = db.session.scalars(
                select(Application).where(Application.instance_id == instance.id)
            ).first()
            if application is not None:
                applications.sync(application, result)
                announcements.after_step(application, result, offered)
            audit.record(
                "timer_fired",
                None,
                instance.id,
                data={"due": now.isoformat(), "events": [e.spec_id for e in result.events]},
            )
            db.session.commit()
            fired += 1
        except EngineError as err:
            db.session.rollback()
            audit.record("timer_failed", None, instance_id, data={"error": str(err)})
            db.session.commit()
    return fired
