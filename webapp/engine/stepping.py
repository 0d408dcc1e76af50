"""Running an instance's automatic steps: bounded in number, blind to how deep the task tree has
grown, and with each cycle timer firing at most once per step.

SpiffWorkflow keeps every task an instance ever ran, each a child of the one before, so a loop
drawn in a diagram (rounds of "more material") makes the tree one level deeper per task run.
Its task iterator stops descending at depth 1000 by default: beyond that it sees no ready task,
no waiting timer, and calls the instance complete. The walk is a loop over a list, not a
recursion, so the limit protects nothing here; it is lifted below, once, for the process. What a
step costs still grows with the tree (every search walks all of it), which is why a step that
runs away is stopped by counting its automatic steps, not by the depth it reaches.
"""

from __future__ import annotations

import inspect
import math
import sys
from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator, TaskState

from webapp.engine.types import N_, EngineError, EngineLimits

SPIFF_MAX_DEPTH = 1000
STEP_LIMIT = N_(
    "More than %(limit)s automatic steps in a row without waiting for a person or a timer "
    "(the last at %(element)s): the diagram loops by itself. Let the loop wait for a person or "
    "a timer, or give it a way out."
)
CYCLE_TOO_SHORT = N_(
    "The timer %(element)s repeats every %(interval)s seconds; the shortest interval allowed "
    "here is %(minimum)s seconds."
)


def _lift_depth_limit(iterator) -> None:
    init = iterator.__init__
    with_defaults = [
        p.name
        for p in inspect.signature(init).parameters.values()
        if p.default is not inspect.Parameter.empty and p.kind == p.POSITIONAL_OR_KEYWORD
    ]
    defaults = list(init.__defaults__)
    at = with_defaults.index("max_depth")
    # Checked, so that a SpiffWorkflow upgrade that changes the iterator is noticed here.
    assert defaults[at] in (SPIFF_MAX_DEPTH, sys.maxsize), defaults
    defaults[at] = sys.maxsize
    init.__defaults__ = tuple(defaults)


for _iterator in (TaskIterator, BpmnTaskIterator):
    _lift_depth_limit(_iterator)


def run_automatic_steps(workflow, limits: EngineLimits, did_complete_task=None) -> None:
    """Run every ready automatic step (scripts, gateways, events), timers due by now included;
    raises EngineError, leaving the caller to discard the workflow, if it takes more than
    `limits.max_steps` of them."""
    steps = 0

    def count(task):
        nonlocal steps
        steps += 1
        if steps > limits.max_steps:
            raise EngineError.of(STEP_LIMIT, limit=limits.max_steps, element=_name(task))

    while True:
        before = steps
        workflow.do_engine_steps(will_complete_task=count, did_complete_task=did_complete_task)
        skip_missed_cycles(workflow, limits)
        # do_engine_steps looks at timers last and leaves those that just came due ready but
        # not run: run them now, or the instance would wait on nothing. A ready step it will
        # not run at all is left to `flask check` rather than tried for ever.
        ready = workflow.get_next_task(state=TaskState.READY, manual=False)
        if ready is None or steps == before:
            return


def skip_missed_cycles(workflow, limits: EngineLimits, now: datetime | None = None) -> None:
    """Move each cycle timer's next occurrence past now.

    SpiffWorkflow fires a cycle once each time it looks at it while its next occurrence is
    past, so a ticker that was away would fire the missed occurrences in a burst, several in
    one step. Here a missed occurrence fires once, and the next is the first one still to come.
    """
    now = now or datetime.now(UTC)
    for task in workflow.get_tasks(state=TaskState.WAITING):
        value = task.internal_data.get("event_value")
        if not isinstance(value, dict) or not value.get("cycles"):
            continue
        interval = float(value.get("duration") or 0)
        if interval < limits.min_timer_cycle.total_seconds():
            raise EngineError.of(
                CYCLE_TOO_SHORT,
                element=_name(task),
                interval=f"{interval:g}",
                minimum=f"{limits.min_timer_cycle.total_seconds():g}",
            )
        due = timer_due(value)
        if due is not None and due < now:  # as SpiffWorkflow: a cycle fires once past due
            missed = math.floor((now - due).total_seconds() / interval) + 1
            value["next"] = (due + timedelta(seconds=missed * interval)).isoformat()


def timer_due(value) -> datetime | None:
    """When a waiting timer falls due, from what SpiffWorkflow stores for it: a date for a date
    or duration, {"cycles", "next", "duration"} for a cycle (None once its cycles are done)."""
    if isinstance(value, dict):
        value = value.get("next") if value.get("cycles") else None
    if not isinstance(value, str):
        return None
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        return None
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def _name(task) -> str:
    spec = task.task_spec
    return f"'{getattr(spec, 'bpmn_name', None) or getattr(spec, 'bpmn_id', None) or spec.name}'"
