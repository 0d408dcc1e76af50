"""The workflows the adapter keeps for an instance's next step: taken for exactly the state
they left, equal to that state restored, bounded, and never kept by a step that failed."""

import pytest

from tests.engine import bpmn_samples as samples
from tests.engine.test_adapter import DIAGRAM_FUNCTIONS, source
from webapp.engine import EngineError, WorkflowEngine


def engines():
    """One engine keeping workflows (and checking each it takes), one restoring every state."""
    return (
        WorkflowEngine(functions=DIAGRAM_FUNCTIONS, restored=256, check_restored=True),
        WorkflowEngine(functions=DIAGRAM_FUNCTIONS),
    )


def run_both(script: str, first_data: dict):
    """The script diagram through both engines: start, first task, second task."""
    src = source(samples.script_between_tasks(script))
    results = []
    for engine in engines():
        r = engine.start(src)
        r = engine.complete(src, r.state, r.ready_tasks[0].id, first_data)
        r = engine.complete(src, r.state, r.ready_tasks[0].id, {})
        results.append((engine, r))
    return results


def test_each_step_takes_what_the_one_before_kept():
    (kept, r_kept), (plain, r_plain) = run_both("total = sum([1, 2, 3])", {"n": 1})
    assert kept.restored_hits == 2 and plain.restored_hits == 0
    assert r_kept.data == r_plain.data and r_kept.finished and r_plain.finished


def test_a_value_the_json_would_change_is_restored_not_taken():
    # A tuple comes back from the stored state as a list: the kept workflow is not used.
    (kept, r_kept), (_plain, r_plain) = run_both("pair = (1, 2)", {})
    assert kept.restored_hits == 1  # the first task's step; not the one after the script
    assert r_kept.data["pair"] == r_plain.data["pair"] == [1, 2]


def test_a_value_equal_to_its_parents_comes_back_as_restoring_gives_it():
    # SpiffWorkflow stores a task's data as its changes from its parent's: True equals 1, so a
    # restored workflow has the parent's 1 where the live one had True. The kept one must too.
    (kept, r_kept), (_plain, r_plain) = run_both("flag = True", {"flag": 1})
    assert kept.restored_hits == 2
    assert type(r_kept.data["flag"]) is type(r_plain.data["flag"])
    assert r_kept.data["flag"] == r_plain.data["flag"]


def test_another_state_of_the_instance_is_not_taken():
    engine = WorkflowEngine(functions=DIAGRAM_FUNCTIONS, restored=256, check_restored=True)
    src = source(samples.script_between_tasks("x = 1"))
    started = engine.start(src)
    first = engine.complete(src, started.state, started.ready_tasks[0].id, {})
    # The same step again on the state before it (another worker's view, a rolled-back step):
    # the kept workflow is the one after it, and is left alone.
    again = engine.complete(src, started.state, started.ready_tasks[0].id, {})
    assert engine.restored_hits == 1
    assert again.ready_tasks[0].info.spec_id == first.ready_tasks[0].info.spec_id == "second"


def test_a_failed_step_keeps_nothing():
    engine = WorkflowEngine(functions=DIAGRAM_FUNCTIONS, restored=256)
    src = source(samples.script_between_tasks("x = no_such_name + 1"))
    started = engine.start(src)
    assert len(engine.restored) == 1
    with pytest.raises(EngineError):
        engine.complete(src, started.state, started.ready_tasks[0].id, {})
    assert len(engine.restored) == 0


def test_the_workflows_kept_are_bounded():
    engine = WorkflowEngine(functions=DIAGRAM_FUNCTIONS, restored=2)
    src = source(samples.script_between_tasks("x = 1"))
    states = [engine.start(src).state for _ in range(3)]
    assert len(engine.restored) == 2
    assert engine.restored.take(engine._specs.get(src).spec, states[0]) is None
    assert WorkflowEngine(functions=DIAGRAM_FUNCTIONS).restored.size == 0  # off by default


def test_a_subprocess_is_kept_as_restoring_builds_it():
    src = source(
        samples.process(
            '<bpmn:startEvent id="s"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>'
            '<bpmn:subProcess id="sub" name="Inside">'
            '<bpmn:startEvent id="ss"/>'
            '<bpmn:sequenceFlow id="g1" sourceRef="ss" targetRef="inner"/>'
            '<bpmn:userTask id="inner" name="Inner"/>'
            '<bpmn:sequenceFlow id="g2" sourceRef="inner" targetRef="calc"/>'
            '<bpmn:scriptTask id="calc"><bpmn:script>doubled = [n * 2 for n in numbers]'
            "</bpmn:script></bpmn:scriptTask>"
            '<bpmn:sequenceFlow id="g3" sourceRef="calc" targetRef="se"/>'
            '<bpmn:endEvent id="se"/>'
            "</bpmn:subProcess>"
            '<bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="after"/>'
            '<bpmn:userTask id="after" name="After"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="e"/>'
            '<bpmn:endEvent id="e"/>'
        )
    )
    kept, plain = engines()
    results = []
    for engine in (kept, plain):
        r = engine.start(src, {"numbers": [1, 2]})
        assert [t.info.spec_id for t in r.ready_tasks] == ["inner"]
        r = engine.complete(src, r.state, r.ready_tasks[0].id, {"numbers": [1, 2, 3]})
        r = engine.complete(src, r.state, r.ready_tasks[0].id, {})
        results.append(r)
    assert kept.restored_hits == 2
    assert results[0].finished and results[0].data == results[1].data
    assert results[0].data["doubled"] == [2, 4, 6]


# --- restored ahead of the step (before the instance's lock) ------------------------------


def test_a_state_restored_ahead_is_taken_by_the_step_that_follows_and_equals_it_restored():
    engine = WorkflowEngine(functions=DIAGRAM_FUNCTIONS, check_restored=True)
    plain = WorkflowEngine(functions=DIAGRAM_FUNCTIONS)
    src = source(samples.script_between_tasks("total = sum([1, 2, 3])"))
    started = engine.start(src)
    engine.restore_ahead(src, started.state)
    ahead = engine.complete(src, started.state, started.ready_tasks[0].id, {"n": 1})
    fresh = plain.complete(src, started.state, started.ready_tasks[0].id, {"n": 1})
    assert engine.restored_ahead_hits == 1 and engine.restored_hits == 0
    assert ahead.data == fresh.data and ahead.ready_tasks[0].info.spec_id == "second"
    # Taken once: the next step restores its own state.
    engine.complete(src, ahead.state, ahead.ready_tasks[0].id, {})
    assert engine.restored_ahead_hits == 1


def test_a_state_that_changed_before_the_lock_is_not_taken():
    # Another worker's step committed between the read and the lock: the step is given the
    # new state, and the workflow restored from the old one is dropped.
    engine = WorkflowEngine(functions=DIAGRAM_FUNCTIONS, check_restored=True)
    src = source(samples.script_between_tasks("x = 1"))
    started = engine.start(src)
    moved = engine.complete(src, started.state, started.ready_tasks[0].id, {})
    engine.restore_ahead(src, started.state)
    last = engine.complete(src, moved.state, moved.ready_tasks[0].id, {})
    assert engine.restored_ahead_hits == 0 and last.finished
    assert getattr(engine._ahead, "entry", None) is None


def test_a_state_restored_ahead_belongs_to_its_thread():
    import threading

    engine = WorkflowEngine(functions=DIAGRAM_FUNCTIONS)
    src = source(samples.script_between_tasks("x = 1"))
    started = engine.start(src)
    engine.restore_ahead(src, started.state)
    answers = []

    def complete_elsewhere():
        answers.append(engine.complete(src, started.state, started.ready_tasks[0].id, {}))

    other = threading.Thread(target=complete_elsewhere)
    other.start()
    other.join()
    assert answers and answers[0].ready_tasks[0].info.spec_id == "second"  # it restored its own
    assert engine.restored_ahead_hits == 0
    engine.complete(src, started.state, started.ready_tasks[0].id, {})
    assert engine.restored_ahead_hits == 1


def test_a_state_that_cannot_be_restored_ahead_is_left_to_the_step():
    engine = WorkflowEngine(functions=DIAGRAM_FUNCTIONS)
    src = source(samples.script_between_tasks("x = 1"))
    engine.restore_ahead(src, "{not json")
    engine.restore_ahead(src, "")
    with pytest.raises(ValueError):
        engine.complete(src, "{not json", "0" * 32, {})
    assert engine.restored_ahead_hits == 0
