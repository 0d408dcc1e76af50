"""Demo time: a waiting period ended now from the case's page, or the clock moved on for every
case (`flask demo advance 5d`), so a newcomer sees a whole procedure in minutes.

Nothing here fires a timer itself: it makes the timers fall due earlier in the instance's state
and leaves the firing to the ticker's own step (webapp.services.timers), exactly as the real
clock would. Only with DEMO_MODE, which a production configuration refuses (webapp.config).
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from webapp.engine import WaitingTimer
from webapp.extensions import db
from webapp.models import Case, HumanTask, ProcessInstance, User, utcnow
from webapp.services import audit, cases, timers
from webapp.services.errors import NotFound
from webapp.services.workflow import engine, lock_instance, source_for

_PERIOD = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class DemoTimeRefused(RuntimeError):
    """Demo time asked of an app that is not the demo."""


def enabled() -> bool:
    return bool(current_app.config.get("DEMO_MODE"))


def parse_period(text: str) -> timedelta:
    """ "5d", "12h", "30m" as a timedelta; ValueError otherwise."""
    match = _PERIOD.match(text or "")
    if not match:
        raise ValueError(text)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def waiting_timers(case: Case) -> list[WaitingTimer]:
    """The case's waiting timers, for its page's buttons; none outside demo mode."""
    if not enabled() or case.instance_id is None:
        return []
    instance = db.session.get(ProcessInstance, case.instance_id)
    if instance is None or instance.status != "running" or instance.next_timer_at is None:
        return []
    return engine.waiting_timers(source_for(instance.version_id), instance.state)


def end_timer(user: User, case_id: int, element_id: str) -> bool:
    """Bring one waiting timer of a case the user sees to now and let the ticker's step fire
    it; whether the step succeeded (a failure is an incident, as with the real clock)."""
    if not enabled():
        raise NotFound("demo")  # outside the demo this does not exist
    case = cases.visible(user, case_id)
    instance = lock_instance(case.instance_id)
    now = utcnow()
    chosen = [
        t
        for t in engine.waiting_timers(source_for(instance.version_id), instance.state)
        if t.spec_id == element_id
    ]
    if instance.status != "running" or not chosen:
        db.session.rollback()
        raise NotFound("timer")
    ahead = max(t.due_at for t in chosen) - now + timedelta(seconds=1)
    if ahead > timedelta(0):
        shift(instance, ahead, element_id, user.id)
    return timers.fire_locked(instance, now, actor_id=user.id)


def advance(by: timedelta) -> int:
    """Move every running case's timers and task due dates `by` earlier, as if that much time
    had passed, then run the ticker's step; how many instances it moved."""
    if not enabled():
        raise DemoTimeRefused("DEMO_MODE is off: demo time is for the embedded demo only")
    with_due_tasks = select(HumanTask.instance_id).where(
        HumanTask.state == "ready", HumanTask.due_at.is_not(None)
    )
    ids = list(
        db.session.scalars(
            select(ProcessInstance.id)
            .where(
                ProcessInstance.status == "running",
                or_(
                    ProcessInstance.next_timer_at.is_not(None),
                    ProcessInstance.id.in_(with_due_tasks),
                ),
            )
            .order_by(ProcessInstance.id)
        )
    )
    for instance_id in ids:
        instance = lock_instance(instance_id)
        shift(instance, by)
        db.session.commit()
    return timers.fire_due()


def shift(instance: ProcessInstance, by: timedelta, only: str | None = None, actor_id=None) -> None:
    """The instance's timers (one element's, or all and its tasks' due dates) `by` earlier,
    in its state and in the indexed columns the ticker and the lists read."""
    state, next_timer_at = engine.bring_forward(
        source_for(instance.version_id), instance.state, by, only
    )
    instance.state, instance.next_timer_at = state, next_timer_at
    if only is None:
        for task in db.session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == instance.id,
                HumanTask.state == "ready",
                HumanTask.due_at.is_not(None),
            )
        ):
            task.due_at = task.due_at - by
    audit.record(
        "demo_time_moved",
        actor_id,
        instance.id,
        data={"by_seconds": int(by.total_seconds()), "element": only},
    )
