"""A diagram whose script would hold a worker or fill its memory fails that one step, within the
sandbox's limits, with a message naming the limit and the element; the application stays as
it was and its row lock is released (the next step on it goes through)."""

from __future__ import annotations

import time

from sqlalchemy import select

from tests.test_migration import ADMISSION_BPMN, deploy, instance_of
from webapp.extensions import db
from webapp.models import AuditEvent, HumanTask, Incident
from webapp.services.workflow import engine, lock_instance

# Work inside C built-ins, which the step counter never sees (found by a hostile probe).
FILLS_MEMORY = "l = [1]\nx = any(map(l.append, l))\n"
HOLDS_A_CORE = "s = 'a ' * 400000\nx = sum(map(len, map(str.split, [s] * 999999)))\n"
LIMITS = engine._script_engine.environment.limits
SAYS = ("已被终止", "was stopped")  # whichever limit the machine's load lets it reach first


def with_script_before(bpmn: str, task_id: str, hostile: str) -> str:
    """The diagram with `hostile` run at the start of script task `task_id`."""
    start = bpmn.index(f'<bpmn:scriptTask id="{task_id}"')
    at = bpmn.index("<bpmn:script>", start) + len("<bpmn:script>")
    return bpmn[:at] + hostile + bpmn[at:]


def _snapshot(app, app_id: int):
    instance = instance_of(app, app_id)
    with app.app_context():
        tasks = db.session.scalars(
            select(HumanTask.bpmn_id, HumanTask.state).where(HumanTask.instance_id == instance.id)
        ).all()
    return instance.state, instance.lock_version, instance.next_timer_at, sorted(tasks)


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_script_filling_memory_fails_the_completion_and_changes_nothing(app, actors, procedure):
    deploy(app, with_script_before(ADMISSION_BPMN, "open_notice", FILLS_MEMORY))
    app_id = procedure.submit()
    before = _snapshot(app, app_id)
    completed_before = len(_audit(app, "task_completed"))

    started = time.monotonic()
    response = procedure.do(
        "secretary", app_id, "preliminary_review", {"review_decision": "pass"}, expect=422
    )
    took = time.monotonic() - started

    page = response.get_data(as_text=True)
    assert "发布公示" in page and "open_notice" in page  # the element
    assert any(s in page for s in SAYS), page[:2000]
    assert took < LIMITS.wall + 2, took
    assert _snapshot(app, app_id) == before
    assert len(_audit(app, "task_completed")) == completed_before
    # The row lock went with the failed transaction: the task can still be completed.
    assert procedure.task(app_id, "preliminary_review").state == "ready"


def test_script_holding_a_core_at_a_timer_fails_that_tick_within_the_limit(app, actors, procedure):
    deploy(app, with_script_before(ADMISSION_BPMN, "prepare_vote", HOLDS_A_CORE))
    app_id = procedure.submit()
    procedure.review(app_id)
    closes = procedure.case(app_id).notice_closes_at
    before = _snapshot(app, app_id)

    started = time.monotonic()
    fired = procedure.after(closes)
    took = time.monotonic() - started

    assert fired == 0
    assert took < LIMITS.wall + 2, took
    after = _snapshot(app, app_id)
    # The state and its tasks are as they were; the timer waits for its retry (an incident).
    assert (after[0], after[3]) == (before[0], before[3])
    assert after[2] > before[2]
    with app.app_context():
        opened = db.session.scalars(select(Incident)).all()
        assert [i.element_id for i in opened] == ["prepare_vote"], opened
    failed = _audit(app, "timer_failed")
    assert len(failed) == 1
    error = failed[0].data["error"]
    assert "prepare_vote" in error and "was stopped" in error, error
    # Nothing holds the instance's lock any more: the next transition takes it at once.
    started = time.monotonic()
    with app.app_context():
        lock_instance(instance_of(app, app_id).id)
        db.session.rollback()
    assert time.monotonic() - started < 2
