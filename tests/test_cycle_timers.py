"""A cycle timer through the ticker: its next occurrence is in `next_timer_at`, and each tick
that finds it due fires it once, in one transaction with its audit row."""

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from tests.test_model_validation import FORMS, diagram, flow, user_task
from webapp.extensions import db
from webapp.models import AuditEvent, ProcessInstance
from webapp.services import process_models, timers
from webapp.services.workflow import create_instance, engine, source_for

T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
REMINDERS = diagram(
    '<bpmn:startEvent id="s"/>'
    + user_task("work")
    + '<bpmn:endEvent id="e"/>'
    + '<bpmn:boundaryEvent id="remind" name="Remind" attachedToRef="work" cancelActivity="false">'
    '<bpmn:timerEventDefinition><bpmn:timeCycle xsi:type="bpmn:tFormalExpression">"R3/PT1H"'
    "</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>"
    '<bpmn:intermediateThrowEvent id="sent" name="Sent"/><bpmn:endEvent id="e2"/>'
    + flow("f1", "s", "work")
    + flow("f2", "work", "e")
    + flow("f3", "remind", "sent")
    + flow("f4", "sent", "e2"),
    {"s": "secretariat", "work": "secretariat"},
)


def tick_at(app, moment) -> tuple[int, datetime | None, int]:
    """Run the ticker at `moment`: instances moved, next_timer_at, timer_fired rows so far."""
    with time_machine.travel(moment, tick=False), app.app_context():
        moved = timers.fire_due()
        instance = db.session.scalars(select(ProcessInstance)).one()
        fired = len(
            db.session.scalars(select(AuditEvent).where(AuditEvent.action == "timer_fired")).all()
        )
        return moved, instance.next_timer_at, fired


def test_a_cycle_timer_fires_once_per_due_tick_until_its_cycles_are_done(app):
    with time_machine.travel(T0, tick=False), app.app_context():
        version, _created = process_models.deploy("reminders", REMINDERS, FORMS)
        create_instance(version, engine.start(source_for(version.id)))
        db.session.commit()
        assert db.session.scalars(select(ProcessInstance)).one().next_timer_at == T0 + timedelta(
            hours=1
        )

    assert tick_at(app, T0 + timedelta(minutes=59)) == (0, T0 + timedelta(hours=1), 0)
    assert tick_at(app, T0 + timedelta(hours=1, minutes=1)) == (1, T0 + timedelta(hours=2), 1)
    # Five hours without a ticker: one firing, and the next occurrence still to come.
    assert tick_at(app, T0 + timedelta(hours=6, minutes=30)) == (1, T0 + timedelta(hours=7), 2)
    assert tick_at(app, T0 + timedelta(hours=6, minutes=31)) == (0, T0 + timedelta(hours=7), 2)
    assert tick_at(app, T0 + timedelta(hours=7, minutes=1)) == (1, None, 3)
    assert tick_at(app, T0 + timedelta(days=1)) == (0, None, 3)


def test_a_cycle_timers_wait_moves_with_each_firing_and_ends_with_the_last(app):
    from webapp.models import TimerWait

    def waits():
        with app.app_context():
            return [
                (w.state, w.due_at, w.ended_at)
                for w in db.session.scalars(select(TimerWait).order_by(TimerWait.id))
            ]

    with time_machine.travel(T0, tick=False), app.app_context():
        version, _created = process_models.deploy("reminders", REMINDERS, FORMS)
        create_instance(version, engine.start(source_for(version.id)))
        db.session.commit()
    assert waits() == [("waiting", T0 + timedelta(hours=1), None)]
    # The same wait, due at the next occurrence: a cycle is one wait, not one per firing.
    tick_at(app, T0 + timedelta(hours=1, minutes=1))
    assert waits() == [("waiting", T0 + timedelta(hours=2), None)]
    tick_at(app, T0 + timedelta(hours=2, minutes=1))
    last = T0 + timedelta(hours=3, minutes=1)
    tick_at(app, last)
    assert waits() == [("ended", T0 + timedelta(hours=3), last)]
