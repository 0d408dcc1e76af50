"""The adapter begins an instance past a timer start event, once, and counts a start timer's
occurrences on the calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.engine import bpmn_samples as samples
from webapp.engine import (
    EngineError,
    ModelSource,
    WorkflowEngine,
    first_occurrence,
    next_occurrence,
)

YEARLY = '"R/2027-01-10T09:00:00+08:00/P1Y"'


def diagram(expression: str = YEARLY, kind: str = "timeCycle") -> bytes:
    """A yearly timer start and a plain start, both leading to the user task 'confirm'."""
    return samples.process(
        '<bpmn:startEvent id="yearly" name="Yearly"><bpmn:timerEventDefinition>'
        f'<bpmn:{kind} xsi:type="bpmn:tFormalExpression">{expression}</bpmn:{kind}>'
        "</bpmn:timerEventDefinition></bpmn:startEvent>"
        '<bpmn:startEvent id="by_hand"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="yearly" targetRef="confirm"/>'
        '<bpmn:sequenceFlow id="f0" sourceRef="by_hand" targetRef="confirm"/>'
        '<bpmn:userTask id="confirm" name="Confirm"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="confirm" targetRef="e"/>'
        '<bpmn:endEvent id="e"/>'
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize("kind", ["timeCycle", "timeDate"])
def test_an_instance_begins_past_its_timer_start_once_and_ends(kind):
    engine = WorkflowEngine()
    expression = YEARLY if kind == "timeCycle" else '"2027-01-10T09:00:00+08:00"'
    source = ModelSource(f"timer-start-{kind}", diagram(expression, kind))
    (timer,) = engine.timer_starts(source)
    assert (timer.element_id, timer.kind) == ("yearly", kind)
    # Started on 1 June 2026, long before the timer's day: the caller decided it is due.
    result = engine.start(source, {"x": 1}, "yearly", at("2027-01-10T09:00:00+08:00"))
    assert [t.info.spec_id for t in result.ready_tasks] == ["confirm"]  # one path, not two
    assert result.next_timer_at is None and not result.timers  # nothing left waiting
    done = engine.complete(source, result.state, result.ready_tasks[0].id, {})
    assert done.finished


def test_a_start_timer_value_comes_from_model_data_and_is_checked():
    engine = WorkflowEngine()
    (timer,) = engine.timer_starts(ModelSource("", diagram('calendar["opens"]')))
    value = "R/2027-01-10T09:00:00+08:00/P1Y"
    assert engine.timer_value(timer, {"calendar": {"opens": value}}) == value
    with pytest.raises(EngineError, match="not an ISO 8601"):
        engine.timer_value(timer, {"calendar": {"opens": "each January"}})
    with pytest.raises(EngineError, match="cannot be evaluated"):
        engine.timer_value(timer, {})


def test_cycle_occurrences_fall_on_the_same_calendar_day():
    yearly = "R/2027-01-10T09:00:00+08:00/P1Y"
    now = at("2026-06-01T00:00:00+00:00")
    assert first_occurrence("timeCycle", yearly, now) == at("2027-01-10T09:00:00+08:00")
    # 2028 is a leap year: still 10 January, at 09:00 in Beijing.
    after = at("2028-01-10T09:00:00+08:00")
    assert next_occurrence("timeCycle", yearly, after, now) == at("2029-01-10T09:00:00+08:00")
    monthly = "R3/2028-01-31T09:00:00+08:00/P1M"
    first = at("2028-01-31T09:00:00+08:00")
    second = next_occurrence("timeCycle", monthly, first, now)
    assert second == at("2028-02-29T09:00:00+08:00")
    assert next_occurrence("timeCycle", monthly, second, now) == at("2028-03-31T09:00:00+08:00")
    assert next_occurrence("timeCycle", monthly, at("2028-03-31T09:00:00+08:00"), now) is None


def test_missed_occurrences_fire_once_and_a_past_date_once():
    yearly = "R/2020-01-10T09:00:00+08:00/P1Y"
    now = at("2026-06-01T00:00:00+00:00")
    assert first_occurrence("timeCycle", yearly, now) == at("2026-01-10T09:00:00+08:00")
    done = at("2026-01-10T09:00:00+08:00")
    assert first_occurrence("timeCycle", yearly, now, after=done) == at("2027-01-10T09:00:00+08:00")
    date = "2026-03-01T09:00:00+08:00"
    assert first_occurrence("timeDate", date, now) == at(date)
    assert first_occurrence("timeDate", date, now, after=at(date)) is None
