"""Automatic steps: a loop that never waits is refused, a long history of rounds does not end
an instance by itself, and cycle timers fire once per occurrence with their next one known."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.engine import bpmn_samples as samples
from tests.engine.test_adapter import DIAGRAM_FUNCTIONS, source
from webapp.engine import EngineError, EngineLimits, WorkflowEngine
from webapp.engine.stepping import CYCLE_TOO_SHORT, STEP_LIMIT

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def counting_loop(condition: str) -> bytes:
    """start → merge → script (n += 1) → gateway: back to merge while `condition`, else a
    user task 'after' → end."""
    return samples.process(
        '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="merge"/>'
        '<bpmn:exclusiveGateway id="merge"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="merge" targetRef="count"/>'
        '<bpmn:scriptTask id="count" name="Count"><bpmn:script>n = n + 1</bpmn:script>'
        "</bpmn:scriptTask>"
        '<bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="again"/>'
        '<bpmn:exclusiveGateway id="again" name="Again?" default="out"/>'
        '<bpmn:sequenceFlow id="back" sourceRef="again" targetRef="merge">'
        f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="out" sourceRef="again" targetRef="after"/>'
        '<bpmn:userTask id="after" name="After the loop"/>'
        '<bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="e"/><bpmn:endEvent id="e"/>'
    )


def test_a_loop_that_never_waits_is_refused_naming_the_limit():
    engine = WorkflowEngine(DIAGRAM_FUNCTIONS, EngineLimits(max_steps=60))
    with pytest.raises(EngineError) as caught:
        engine.start(source(counting_loop("True")), {"n": 0})
    assert caught.value.template == STEP_LIMIT and caught.value.params["limit"] == 60
    assert "More than 60 automatic steps" in str(caught.value)


def test_a_loop_deeper_than_a_thousand_steps_runs_to_its_end():
    """SpiffWorkflow's task iterator stops 1000 levels down the task tree: a loop of 400 rounds
    (1,200 steps, each a level deeper) used to close the instance half-way with a step ready."""
    engine = WorkflowEngine(DIAGRAM_FUNCTIONS, EngineLimits(max_steps=2000))
    src = source(counting_loop("n &lt; 400"))
    started = engine.start(src, {"n": 0})
    assert not started.finished
    assert [t.info.spec_id for t in started.ready_tasks] == ["after"]
    assert started.data["n"] == 400
    done = engine.complete(src, started.state, started.ready_tasks[0].id, {})
    assert done.finished and done.data["n"] == 400


def reminder_every(cycle: str) -> bytes:
    """A user task with a non-interrupting boundary timer (`cycle`) whose path notifies."""
    return samples.process(
        '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work"/>'
        '<bpmn:userTask id="work" name="Work"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="e"/><bpmn:endEvent id="e"/>'
        '<bpmn:boundaryEvent id="remind" name="Remind" attachedToRef="work" '
        'cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>'
        f"{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        '<bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="sent"/>'
        '<bpmn:intermediateThrowEvent id="sent" name="Sent"><bpmn:extensionElements>'
        '<spiffworkflow:properties><spiffworkflow:property name="notify" value="reminder"/>'
        "</spiffworkflow:properties></bpmn:extensionElements></bpmn:intermediateThrowEvent>"
        '<bpmn:sequenceFlow id="f4" sourceRef="sent" targetRef="e2"/><bpmn:endEvent id="e2"/>'
    )


def fire_at(engine, src, state, moment):
    with time_machine.travel(moment, tick=False):
        return engine.fire_timers(src, state)


def test_a_cycle_timer_is_due_at_its_next_occurrence_and_fires_once_per_step():
    engine = WorkflowEngine(DIAGRAM_FUNCTIONS)
    src = source(reminder_every('"R3/PT1M"'))
    with time_machine.travel(T0, tick=False):
        result = engine.start(src)
    assert result.next_timer_at == T0 + timedelta(minutes=1)
    [timer] = result.timers
    assert timer.spec_id == "remind" and timer.due_at == T0 + timedelta(minutes=1)

    early = fire_at(engine, src, result.state, T0 + timedelta(seconds=59))
    assert early.events == [] and early.next_timer_at == T0 + timedelta(minutes=1)

    first = fire_at(engine, src, result.state, T0 + timedelta(minutes=1, seconds=5))
    assert [e.spec_id for e in first.events] == ["sent"]
    assert first.next_timer_at == T0 + timedelta(minutes=2)
    assert [t.info.spec_id for t in first.ready_tasks] == ["work"]

    # The ticker was away for ten minutes: the missed occurrences fire once, not in a burst,
    # and the next is the first still to come.
    late = fire_at(engine, src, first.state, T0 + timedelta(minutes=11, seconds=30))
    assert [e.spec_id for e in late.events] == ["sent"]
    assert late.next_timer_at == T0 + timedelta(minutes=12)

    last = fire_at(engine, src, late.state, T0 + timedelta(minutes=12, seconds=1))
    assert [e.spec_id for e in last.events] == ["sent"]
    assert last.next_timer_at is None and not last.finished
    assert fire_at(engine, src, last.state, T0 + timedelta(hours=1)).events == []


def test_a_cycle_shorter_than_the_minimum_fails_at_run_time_too():
    """A cycle computed by an expression escapes the check at validation."""
    engine = WorkflowEngine(DIAGRAM_FUNCTIONS)
    with time_machine.travel(T0, tick=False), pytest.raises(EngineError) as caught:
        engine.start(source(reminder_every("'R/PT' + '0.001S'")))
    assert caught.value.template == CYCLE_TOO_SHORT
    assert caught.value.params == {"element": "'Remind'", "interval": "0.001", "minimum": "60"}
