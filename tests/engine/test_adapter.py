"""The engine adapter on its own: start, complete, refuse, fire timers, keep the spec out of
the stored state, and run every expression inside the sandbox."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from tests.engine import bpmn_samples as samples
from webapp.engine import EngineError, InvalidDiagram, ModelSource, TaskNotReady, WorkflowEngine

ADMISSION = (Path(__file__).resolve().parents[2] / "workflows" / "admission.bpmn").read_bytes()


def source(bpmn: bytes, key: str | None = None) -> ModelSource:
    return ModelSource(key=key or str(hash(bpmn)), bpmn=bpmn)


# What the application gives diagrams (calendar, people); fixed values keep these tests about
# the adapter alone.
DIAGRAM_FUNCTIONS = {
    "working_days_later": lambda n, start=None: "2030-01-07T23:59:59+08:00",
    "working_days_before": lambda deadline, n: "2030-01-02T09:00:00+08:00",
    "role_members": lambda role: [11, 12, 13],
}


@pytest.fixture
def engine():
    return WorkflowEngine(functions=DIAGRAM_FUNCTIONS)


def test_admission_starts_waiting_for_the_application_form(engine):
    result = engine.start(source(ADMISSION), {"applicant_id": 7})
    [task] = result.ready_tasks
    assert task.info.spec_id == "submit_application" and task.info.lane == "applicant"
    assert task.info.form == "application.schema.json" and task.info.stage == "application"
    assert not result.finished and result.next_timer_at is None


def test_stored_state_leaves_out_the_spec(engine):
    result = engine.start(source(ADMISSION))
    state = json.loads(result.state)
    assert "spec" not in state and "subprocess_specs" not in state
    assert len(result.state) < 6000


def test_complete_moves_on_and_a_completed_task_is_refused(engine):
    src = source(ADMISSION)
    first = engine.start(src)
    guid = first.ready_tasks[0].id
    second = engine.complete(src, first.state, guid, {"member_type": "unit"})
    assert [t.info.spec_id for t in second.ready_tasks] == ["preliminary_review"]
    assert second.completed_task_ids == [guid]
    with pytest.raises(TaskNotReady):
        engine.complete(src, second.state, guid, {"member_type": "unit"})
    with pytest.raises(TaskNotReady):
        engine.complete(src, second.state, "00000000-0000-0000-0000-000000000000", {})
    with pytest.raises(TaskNotReady):
        engine.complete(src, second.state, "not-a-uuid", {})


def test_review_rejection_finishes_with_outcome_and_reason(engine):
    src = source(ADMISSION)
    r = engine.start(src)
    r = engine.complete(src, r.state, r.ready_tasks[0].id, {"member_type": "unit"})
    r = engine.complete(
        src,
        r.state,
        r.ready_tasks[0].id,
        {"review_decision": "reject", "review_reasons": "材料不全"},
        actor=5,
    )
    assert r.finished and r.ready_tasks == []
    assert r.data["outcome"] == "rejected" and r.data["outcome_reason"] == "材料不全"


def test_due_timer_fires_only_when_its_time_has_come(engine):
    src = source(samples.timer_then_task('"PT2H"'))
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        waiting = engine.start(src)
        assert waiting.ready_tasks == []
        assert waiting.next_timer_at == start + timedelta(hours=2)
        still = engine.fire_timers(src, waiting.state)
        assert still.ready_tasks == []
    with time_machine.travel(start + timedelta(hours=2, seconds=1), tick=False):
        fired = engine.fire_timers(src, waiting.state)
    assert [t.info.spec_id for t in fired.ready_tasks] == ["after"]
    assert fired.next_timer_at is None


def test_timer_expression_may_call_allowed_functions(engine):
    result = engine.start(source(samples.timer_then_task("duration_days(5)")))
    assert result.next_timer_at is not None


def test_script_tasks_run_sandboxed_and_keep_their_variables(engine):
    src = source(samples.script_between_tasks("total = sum([1, 2, 3])\nlabel = 'n=%d' % total"))
    r = engine.start(src)
    r = engine.complete(src, r.state, r.ready_tasks[0].id, {})
    r = engine.complete(src, r.state, r.ready_tasks[0].id, {})
    assert r.finished and r.data["total"] == 6 and r.data["label"] == "n=6"


@pytest.mark.parametrize(
    "script",
    [
        "import os",
        "x = __import__('os')",
        "x = open('/etc/passwd').read()",
        "x = ().__class__.__bases__[0].__subclasses__()",
        "x = eval('1+1')",
        "exec('y = 1')",
    ],
)
def test_scripts_that_escape_the_sandbox_are_refused_when_loaded(engine, script):
    with pytest.raises(InvalidDiagram) as caught:
        engine.describe(source(samples.script_between_tasks(script)))
    assert caught.value.problems[0].element_id == "run"


def test_unknown_name_in_a_condition_fails_the_step_not_the_process(engine):
    src = source(samples.gateway("undefined_variable == 1"))
    r = engine.start(src)
    with pytest.raises(EngineError) as caught:
        engine.complete(src, r.state, r.ready_tasks[0].id, {})
    assert "Decide" in str(caught.value) or "gw" in str(caught.value)


def test_gateway_condition_chooses_the_path(engine):
    src = source(samples.gateway("answer == 'yes'"))
    r = engine.start(src)
    yes = engine.complete(src, r.state, r.ready_tasks[0].id, {"answer": "yes"})
    no = engine.complete(src, r.state, r.ready_tasks[0].id, {"answer": "maybe"})
    assert [t.info.spec_id for t in yes.ready_tasks] == ["y"]
    assert [t.info.spec_id for t in no.ready_tasks] == ["n"]


def test_a_file_that_is_not_bpmn_is_refused_with_a_message(engine):
    for bad in (b"not xml at all", b"<root/>", samples.HEAD.encode() + b"</bpmn:definitions>"):
        with pytest.raises(InvalidDiagram) as caught:
            engine.describe(source(bad))
        assert caught.value.problems and caught.value.problems[0].message
