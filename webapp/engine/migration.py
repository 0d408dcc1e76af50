"""Moving a running instance onto a newer version of its model, with SpiffWorkflow's diff.

The verdict on an instance depends only on the steps it stands at (ready, waiting or under way):
a step the new version removes, or changes into another kind of element, or a multi-instance
step whose collection changes while its instances are open, cannot be carried over. Completed
steps stay as they were; steps still ahead simply follow the new version.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.util.diff import SpecDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState

# Where an instance stands: the steps that hold a token now.
CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED
STATE_NAMES = {TaskState.READY: "ready", TaskState.WAITING: "waiting", TaskState.STARTED: "started"}
# What defines the instances of a multi-instance step: changing it under open instances would
# leave them answering a question the new version no longer asks.
LOOP_ATTRIBUTES = frozenset(
    {"cardinality", "condition", "data_input", "data_output", "input_item", "output_item"}
)
# Verdicts on a current step; the last three refuse the migration.
KEPT, UPDATED, REMOVED, TYPE_CHANGED, LOOP_CHANGED = (
    "kept",
    "updated",
    "removed",
    "type_changed",
    "loop_changed",
)
REFUSING = frozenset({REMOVED, TYPE_CHANGED, LOOP_CHANGED})


class MigrationRefused(Exception):
    """The instance cannot move to the new version; `plan` says which steps stand in the way."""

    def __init__(self, plan: MigrationPlan):
        super().__init__(", ".join(f"{s.element_id}: {s.verdict}" for s in plan.blockers))
        self.plan = plan


@dataclass(frozen=True)
class ElementChange:
    """An element of the diagram that the new version adds, removes or changes."""

    element_id: str
    name: str
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CurrentStep:
    """A step the instance stands at, and what the new version does to it."""

    element_id: str
    name: str
    state: str  # ready | waiting | started
    verdict: str  # kept | updated | removed | type_changed | loop_changed


@dataclass(frozen=True)
class MigrationPlan:
    """What moving one instance to a new version means: the diagram's changes and its steps."""

    added: tuple[ElementChange, ...]
    removed: tuple[ElementChange, ...]
    changed: tuple[ElementChange, ...]
    current: tuple[CurrentStep, ...] = field(default_factory=tuple)

    @property
    def blockers(self) -> list[CurrentStep]:
        """The current steps that cannot be carried over."""
        return [step for step in self.current if step.verdict in REFUSING]

    @property
    def can_migrate(self) -> bool:
        return not self.blockers


def compare(registry, old_spec, new_spec) -> SpecDiff:
    """SpiffWorkflow's alignment of two versions of a process."""
    return SpecDiff(registry, old_spec, new_spec)


def _ref(spec, attributes=()) -> ElementChange:
    return ElementChange(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, tuple(attributes))


def _elements(specs) -> tuple[ElementChange, ...]:
    """Specs as drawn elements: engine-internal specs left out, one entry per element."""
    seen: dict[str, ElementChange] = {}
    for spec, attributes in specs:
        if getattr(spec, "bpmn_id", None) and spec.bpmn_id not in seen:
            seen[spec.bpmn_id] = _ref(spec, attributes)
    return tuple(sorted(seen.values(), key=lambda e: e.element_id))


def verdict(spec_diff: SpecDiff, spec, state: int) -> str:
    """What the new version does to one current step."""
    if spec_diff.alignment.get(spec) is None:
        return REMOVED
    changes = set(spec_diff.changed.get(spec, ()))
    if "typename" in changes:
        return TYPE_CHANGED
    if state == TaskState.STARTED and isinstance(spec, LoopTask) and changes & LOOP_ATTRIBUTES:
        return LOOP_CHANGED
    return UPDATED if changes else KEPT


def plan(spec_diff: SpecDiff, current: list[tuple[object, int]]) -> MigrationPlan:
    """The plan for an instance standing at `current` (spec, task state) pairs."""
    steps = {}
    for spec, state in current:
        if not getattr(spec, "bpmn_id", None):
            continue  # engine-internal joins and splits: their element is judged on its own
        step = CurrentStep(
            spec.bpmn_id,
            spec.bpmn_name or spec.bpmn_id,
            STATE_NAMES.get(state, "ready"),
            verdict(spec_diff, spec, state),
        )
        # A multi-instance step appears once per instance; its worst verdict is the one.
        known = steps.get(step.element_id)
        if known is None or (step.verdict in REFUSING and known.verdict not in REFUSING):
            steps[step.element_id] = step
    return MigrationPlan(
        added=_elements((s, ()) for s in spec_diff.added),
        removed=_elements((s, ()) for s in spec_diff.removed),
        changed=_elements(spec_diff.changed.items()),
        current=tuple(steps.values()),
    )


def current_of_state(old_spec, dct: dict) -> list[tuple[object, int]]:
    """The current steps of a stored instance, read from its state without restoring it."""
    found = []
    for task in dct.get("tasks", {}).values():
        state = task.get("state", 0)
        if state & CURRENT:
            spec = old_spec.task_specs.get(task.get("task_spec"))
            if spec is not None:
                found.append((spec, state))
    return found


def current_of_workflow(workflow) -> list[tuple[object, int]]:
    """The current steps of a restored instance (its own process, not its subprocesses)."""
    return [
        (t.task_spec, t.state) for t in workflow.get_tasks(state=CURRENT, skip_subprocesses=True)
    ]


def migrate(registry, workflow, new_spec, new_subprocess_specs) -> MigrationPlan:
    """Move a restored workflow onto the new spec in place; raises MigrationRefused.

    SpiffWorkflow's migrate_workflow resets every ready and waiting task by default, which would
    restart deadlines that did not change and strip each instance of a multi-instance step of
    the item it is about (a council member's vote would forget its voter). So the specs are
    swapped with migrate_workflow resetting nothing, and only current steps whose own element
    changed are reset afterwards: a changed timer is set again from its new expression, a
    changed task is offered again as drawn now.
    """
    spec_diff = compare(registry, workflow.spec, new_spec)
    result = plan(spec_diff, current_of_workflow(workflow))
    top_diff, sub_diffs = diff_workflow(registry, workflow, new_spec, new_subprocess_specs)
    missing = tuple(
        CurrentStep(sub.spec.name, sub.spec.description or sub.spec.name, "started", REMOVED)
        for sp_id, sub in workflow.subprocesses.items()
        if sub_diffs.get(sp_id) is None
    )
    if missing:  # a called process under way that the new version no longer has
        result = replace(result, current=result.current + missing)
    if result.blockers:
        raise MigrationRefused(result)
    to_reset = [
        task
        for task in workflow.get_tasks(
            state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True
        )
        if task.task_spec in spec_diff.changed and not _is_instance_of_multi(task)
    ]
    migrate_workflow(top_diff, workflow, new_spec, reset_mask=_NOTHING)
    for sp_id, sub_diff in sub_diffs.items():
        sub = workflow.subprocesses[sp_id]
        migrate_workflow(sub_diff, sub, new_subprocess_specs[sub.spec.name], reset_mask=_NOTHING)
    workflow.subprocess_specs = new_subprocess_specs
    for task in to_reset:
        if task.id in workflow.tasks and task.has_state(TaskState.READY | TaskState.WAITING):
            task.reset_branch(None)
    return result


# A mask no stored task is in (a task in ERROR is never saved: its step is rolled back), so
# migrate_workflow swaps specs without resetting anything.
_NOTHING = TaskState.ERROR


def _is_instance_of_multi(task) -> bool:
    parent = task.parent
    return parent is not None and isinstance(parent.task_spec, LoopTask)
