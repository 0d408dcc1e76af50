"""Where an instance stands on its diagram: each element it has passed, stands at, or had cancelled.

Read from one restored instance (a detail page may do that; lists must not).
"""

from __future__ import annotations

from SpiffWorkflow.util.task import TaskState

COMPLETED, CURRENT, CANCELLED = "completed", "current", "cancelled"

_CURRENT_MASK = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def element_states(workflow) -> dict[str, str]:
    """BPMN element id → completed | current | cancelled, for every element the instance reached.

    An element the instance stands at now is current, however often it ran before (a review
    sent back for more material). Otherwise the latest outcome counts: a payment declaration
    sent back and declared again is completed, one cancelled by the lapse of its deadline is
    cancelled. "Cancelled" means the engine withdrew a step that had been reached (a vote
    interrupted by its deadline, a timer whose task was done first), not a branch never taken:
    those the engine only ever predicted, and they are left unmarked.
    """
    latest: dict[str, tuple[float, str]] = {}
    current: set[str] = set()
    for task in workflow.get_tasks():
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        if task.has_state(_CURRENT_MASK):
            current.add(bpmn_id)
            continue
        if task.has_state(TaskState.COMPLETED):
            outcome = COMPLETED
        elif task.has_state(TaskState.CANCELLED) and _was_reached(task):
            outcome = CANCELLED
        else:
            continue
        when = task.last_state_change or 0.0
        if bpmn_id not in latest or latest[bpmn_id][0] <= when:
            latest[bpmn_id] = (when, outcome)
    states = {bpmn_id: outcome for bpmn_id, (_when, outcome) in latest.items()}
    states.update({bpmn_id: CURRENT for bpmn_id in current})
    return states


def _was_reached(task) -> bool:
    """Whether a cancelled task had been offered or awaited (not merely predicted).

    SpiffWorkflow keeps a task's earlier state in its log only implicitly, but a reached task's
    parent has finished, while a predicted one's parent had not run yet when it was cancelled.
    """
    parent = task.parent
    return parent is not None and parent.has_state(TaskState.COMPLETED | TaskState.STARTED)
