"""Run instances: start, complete a human task, fire due timers; serialized state in, new state out.

The adapter is stateless apart from two caches. An instance's stored state omits its spec
(which is the same for every instance of a model version); the spec is put back from the spec
cache when the state is read, so a serialized instance holds only what is its own. A step keeps
the workflow it leaves behind (restored.py), so that the instance's next step in this process,
given exactly that state, skips restoring it.
"""

from __future__ import annotations

import json
import threading
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask, MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from webapp.engine import migration
from webapp.engine.errors import EngineError, TaskNotReady, describe, limit_reached
from webapp.engine.migration import MigrationPlan
from webapp.engine.progress import element_states
from webapp.engine.restored import RestoredWorkflows, differences
from webapp.engine.sandbox import SandboxScriptEngine
from webapp.engine.sandbox_process import IsolatedEnvironment, SandboxLimits
from webapp.engine.specs import (
    CompiledModel,
    ModelSource,
    SpecCache,
    _properties,
    _user_task_info,
    compile_model,
)
from webapp.engine.stepping import run_automatic_steps, skip_missed_cycles, timer_due
from webapp.engine.timer_starts import CANNOT_EVALUATE, TimerStart, begin_past, check_value
from webapp.engine.timer_starts import timer_starts as timer_starts_of
from webapp.engine.types import (
    N_,
    EngineLimits,
    EngineResult,
    EngineTask,
    InstanceView,
    PassedEvent,
    WaitingTimer,
)

# Properties a diagram may put on any element so that the application hears of it passing.
REPORTED_PROPERTIES = ("notify", "record")
RULE_FAILED = N_("The rule %(rule)s cannot be evaluated: %(reason)s")


class _SharedSpecConverter(BpmnWorkflowConverter):
    """Restores a workflow around an already-parsed spec instead of one inside the state."""

    def from_dict(self, dct):
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow

    def to_dict(self, workflow):
        # Without the spec (and the subprocesses' specs): a stored state never carries them,
        # and converting them for nothing was 3 % of a task completion.
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SharedSpecConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


class WorkflowEngine:
    """The only door to SpiffWorkflow. Every method takes and returns plain values."""

    def __init__(
        self,
        functions: dict[str, Any] | None = None,
        limits: EngineLimits | None = None,
        sandbox: SandboxLimits | None = None,
        restored: int = 0,
        check_restored: bool = False,
    ):
        """`restored`: how many workflows to keep for their instances' next steps (0: none).
        `check_restored`: compare each kept workflow taken with the same state restored afresh,
        raising AssertionError on any difference (slow; for tests)."""
        self.limits = limits or EngineLimits()
        self._specs = SpecCache()
        self.restored = RestoredWorkflows(restored)
        self.check_restored = check_restored
        self.restored_hits = 0  # steps that took the workflow an earlier step left behind
        self.restored_ahead_hits = 0  # steps that took one restored ahead (`restore_ahead`)
        self._ahead = threading.local()  # (spec, state, workflow) restored ahead by this thread
        self._serializer = _make_serializer()
        environment = IsolatedEnvironment(functions, sandbox or SandboxLimits())
        self._script_engine = SandboxScriptEngine(environment=environment)

    # --- models -------------------------------------------------------------------------

    def describe(self, source: ModelSource):
        """The process and its user tasks as drawn; raises InvalidDiagram."""
        return self._specs.get(source).info

    # --- instances ----------------------------------------------------------------------

    def start(
        self,
        source: ModelSource,
        data: dict[str, Any] | None = None,
        timer_start: str | None = None,
        occurrence: datetime | None = None,
    ) -> EngineResult:
        """A new instance of the model, run until it waits for a person or a timer.

        With `timer_start` (the id of a timer start event, which the caller found due at
        `occurrence`), the instance begins past that event, once, and not at any other start.
        """
        model = self._specs.get(source)
        _connect_multi_instance_merges(model)
        workflow = BpmnWorkflow(
            model.spec, model.subprocess_specs, script_engine=self._script_engine
        )
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(deepcopy(data or {}))
        if timer_start is not None:
            self._guard(lambda: begin_past(workflow, timer_start, occurrence or _now()))
        return self._advance(workflow, model)

    def restore_ahead(self, source: ModelSource, state: str) -> None:
        """Restore a state for the step about to be asked of it, unless a workflow is kept for
        it already: the caller does this before it takes the instance's lock, so that the
        lock is not held while the state is parsed. The step takes the workflow only if the
        state it is given under the lock is still exactly this one. A state that cannot be
        restored is left to that step, which says what is wrong. One workflow per thread: the
        step that follows in the same thread takes it (or drops it, when the state changed)."""
        self._ahead.entry = None
        if not state:
            return
        try:
            model = self._specs.get(source)
            if self.restored.holds(model.spec, state):
                return
            workflow = self._restore(model, state)
        except Exception:  # noqa: BLE001 - the step itself restores it again and reports
            return
        self._ahead.entry = (model.spec, state, workflow)

    def timer_starts(self, source: ModelSource) -> list[TimerStart]:
        """The timer start events of the process that runs, as drawn; a source without a key
        (a diagram being checked, not deployed) is parsed without being cached."""
        model = self._specs.get(source) if source.key else compile_model(source.bpmn)
        return timer_starts_of(model.spec)

    def timer_value(self, timer: TimerStart, data: dict[str, Any]) -> str:
        """A timer start's expression evaluated over `data` (the model's data files): the ISO
        8601 value its schedule is computed from; raises EngineError saying what is wrong."""
        try:
            value = self._script_engine.environment.evaluate(timer.expression, dict(data))
        except Exception as err:  # the diagram's own mistake, said in one line
            reached = limit_reached(err)
            if reached is not None:
                raise reached from err
            raise EngineError.of(CANNOT_EVALUATE, reason=describe(err)) from err
        return check_value(timer.kind, value)

    def evaluate(self, expression: str, data: dict[str, Any]) -> Any:
        """A diagram's expression (e.g. a process property's rule) evaluated over `data` in the
        sandbox; raises EngineError saying what is wrong."""
        try:
            return self._script_engine.environment.evaluate(expression, dict(data))
        except Exception as err:  # the diagram's own mistake, said in one line
            reached = limit_reached(err)
            if reached is not None:
                raise reached from err
            raise EngineError.of(RULE_FAILED, rule=expression[:200], reason=describe(err)) from err

    def complete(
        self,
        source: ModelSource,
        state: str,
        task_id: str,
        data: dict[str, Any],
        actor: Any = None,
    ) -> EngineResult:
        """Complete a ready human task with validated form data; raises TaskNotReady.

        `actor` (who completed it) is given to the diagram as `completed_by`, so that its rules
        can refer to people (e.g. the preliminary reviewer may not vote).
        """
        model = self._specs.get(source)
        workflow = self._take(model, state)
        task = self._find_task(workflow, task_id)
        # Task.run() happily "runs" a completed task again, so the state check is ours.
        if (
            task is None
            or task.state != TaskState.READY
            or not isinstance(task.task_spec, UserTask)
        ):
            raise TaskNotReady(task_id)
        task.data.update(deepcopy(data))
        if actor is not None:
            task.data["completed_by"] = actor
        self._guard(task.run)
        return self._advance(workflow, model, completed=[task_id])

    def fire_timers(self, source: ModelSource, state: str) -> EngineResult:
        """Fire every timer that is due now and run on from there."""
        model = self._specs.get(source)
        workflow = self._take(model, state)
        self._guard(workflow.refresh_timers)
        self._guard(lambda: skip_missed_cycles(workflow, self.limits))
        _keep_outputs_of_interrupted_multi_instances(workflow)
        return self._advance(workflow, model)

    def cancel(self, source: ModelSource, state: str) -> EngineResult:
        """End the instance where it stands: every step it waits on or offers is cancelled and
        nothing runs on (a case its applicant withdrew). Finished, with no outcome of its own."""
        workflow = self._take(self._specs.get(source), state)
        self._guard(workflow.cancel)
        return EngineResult(
            state=self._dump(workflow),
            finished=True,
            ready_tasks=[],
            next_timer_at=None,
            data={},
            completed_task_ids=[],
            timers=[],
            events=[],
        )

    def reopen(
        self, source: ModelSource, state: str, element_id: str, data: dict[str, Any] | None = None
    ) -> EngineResult:
        """Take a finished instance up again at `element_id`, with `data` added (e.g. an appeal
        overturned the decision it ended with, and it resumes at fee payment): a new path from
        the last end event it reached, run on until it waits. Raises EngineError when it has
        not finished, was cancelled, or the element is not one of its steps."""
        model = self._specs.get(source)
        workflow = self._restore(model, state)
        if not workflow.is_completed():
            raise EngineError("the instance has not finished: there is nothing to reopen")
        target = next(
            (
                spec
                for spec in model.spec.task_specs.values()
                if getattr(spec, "bpmn_id", None) == element_id
            ),
            None,
        )
        if target is None:
            raise EngineError(f"no step {element_id} in the process")
        ends = [
            task
            for task in workflow.get_tasks(state=TaskState.COMPLETED)
            if task.workflow is workflow and isinstance(task.task_spec, EndEvent)
        ]
        if not ends:
            raise EngineError("the instance ended without reaching an end event")
        last = max(ends, key=lambda task: task.last_state_change)
        resumed = last._add_child(target, TaskState.FUTURE)
        resumed.data = DeepMerge.merge(dict(last.data), deepcopy(data or {}))
        workflow.completed = False
        # As a step the process reached itself: its path ahead predicted, then made ready.
        self._guard(lambda: resumed.task_spec._predict(resumed, mask=TaskState.NOT_FINISHED_MASK))
        self._guard(lambda: resumed._ready())
        return self._advance(workflow, model)

    def waiting_timers(self, source: ModelSource, state: str) -> list[WaitingTimer]:
        """The timers the instance waits on, each with its element's name and when it is due."""
        return _waiting_timers(self._restore(self._specs.get(source), state))

    def bring_forward(
        self, source: ModelSource, state: str, by: timedelta, only: str | None = None
    ) -> tuple[str, datetime | None]:
        """The state with waiting timers (only the element `only`, else every one, and then the
        due dates of ready tasks too) falling due `by` earlier, and its next timer; nothing is
        fired here: firing is the ticker's step (fire_timers), so a demo's shortcut takes the
        very path the real clock would."""
        model = self._specs.get(source)
        workflow = self._take(model, state)
        for task in workflow.get_tasks(state=TaskState.WAITING):
            spec = task.task_spec
            if not isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
                continue
            if only is not None and spec.bpmn_id != only:
                continue
            value = task.internal_data.get("event_value")
            if isinstance(value, dict) and isinstance(value.get("next"), str):
                value = {**value, "next": _earlier(value["next"], by)}
            elif isinstance(value, str):
                value = _earlier(value, by)
            task.internal_data["event_value"] = value
        if only is None:
            for task in workflow.get_tasks(state=TaskState.READY):
                if isinstance(task.internal_data.get("due_at"), str):
                    task.internal_data["due_at"] = _earlier(task.internal_data["due_at"], by)
        state = self._dump(workflow)
        self.restored.keep(state, workflow)
        return state, _next_due(_waiting_timers(workflow))

    def merge_data(self, source: ModelSource, state: str, data: dict[str, Any]) -> EngineResult:
        """Give a waiting instance new facts (e.g. an objection filed while it waits on a timer).

        The values go into every token that is waiting or ready, so whichever path the process
        takes next sees them. A waiting task refreshes its data from its parent's each time the
        engine looks at it, so the parent carries the new values too.
        """
        model = self._specs.get(source)
        workflow = self._take(model, state)
        data = deepcopy(data)
        for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
            task.data.update(data)
            if task.parent is not None and task.parent.has_state(TaskState.COMPLETED):
                task.parent.data.update(data)
        return self._advance(workflow, model)

    def inspect(self, source: ModelSource, state: str) -> InstanceView:
        """What an instance waits for, read from its state (for consistency checks)."""
        workflow = self._restore(self._specs.get(source), state)
        timers, events = [], []
        for task in workflow.get_tasks(state=TaskState.WAITING):
            spec = task.task_spec
            if isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
                timers.append((spec.bpmn_id, timer_due(task.internal_data.get("event_value"))))
            elif isinstance(spec, CatchingEvent):
                events.append(spec.bpmn_id)
        return InstanceView(
            complete=workflow.is_completed(),
            ready_tasks=self._ready(workflow),
            ready_steps=[
                t.task_spec.bpmn_id or t.task_spec.name
                for t in workflow.get_tasks(state=TaskState.READY, manual=False)
            ],
            timers=timers,
            events=events,
        )

    def element_states(self, source: ModelSource, state: str) -> dict[str, str]:
        """BPMN element id → completed | current | cancelled, for one instance's diagram."""
        return element_states(self._restore(self._specs.get(source), state))

    # --- migration between versions -----------------------------------------------------

    def preview_migration(
        self, old: ModelSource, new: ModelSource, states: dict[int, str]
    ) -> dict[int, MigrationPlan]:
        """What moving each stored instance (key → state) from `old` to `new` would do.

        The diagrams are compared once; each instance's current steps are read from its stored
        state without restoring the workflow, so a page can preview many instances.
        """
        old_model, new_model = self._specs.get(old), self._specs.get(new)
        spec_diff = migration.compare(self._serializer.registry, old_model.spec, new_model.spec)
        return {
            key: migration.plan(
                spec_diff, migration.current_of_state(old_model.spec, json.loads(state))
            )
            for key, state in states.items()
        }

    def migrate(
        self, old: ModelSource, new: ModelSource, state: str
    ) -> tuple[MigrationPlan, EngineResult]:
        """Move an instance onto the new version and run on; raises MigrationRefused."""
        workflow = self._take(self._specs.get(old), state)
        new_model = self._specs.get(new)
        _connect_multi_instance_merges(new_model)
        plan = migration.migrate(
            self._serializer.registry, workflow, new_model.spec, new_model.subprocess_specs
        )
        return plan, self._advance(workflow, new_model)

    # --- internals ----------------------------------------------------------------------

    def _take(self, model: CompiledModel, state: str) -> BpmnWorkflow:
        """The workflow of `state` for a step to change: the one the instance's last step in
        this process kept, if it left exactly this state, or the one restored ahead from it,
        else restored from it now."""
        ahead = getattr(self._ahead, "entry", None)
        if ahead is not None:
            self._ahead.entry = None  # taken or stale: either way this thread's step is here
            spec, ahead_state, workflow = ahead
            if spec is model.spec and ahead_state == state:
                self.restored_ahead_hits += 1
                if self.check_restored:
                    _check_same(workflow, self._restore(model, state))
                return workflow
        workflow = self.restored.take(model.spec, state)
        if workflow is None:
            return self._restore(model, state)
        self.restored_hits += 1
        if self.check_restored:
            _check_same(workflow, self._restore(model, state))
        return workflow

    def _restore(self, model: CompiledModel, state: str) -> BpmnWorkflow:
        _connect_multi_instance_merges(model)
        dct = json.loads(state)
        self._serializer.migrate(dct)
        dct["spec"], dct["subprocess_specs"] = model.spec, model.subprocess_specs
        workflow = self._serializer.from_dict(dct)
        workflow.script_engine = self._script_engine
        return workflow

    def _dump(self, workflow: BpmnWorkflow) -> str:
        serializer = self._serializer
        serializer.registry._encoder_mode = True  # as serialize_json does, for data values
        try:
            dct = serializer.to_dict(workflow)
        finally:
            serializer.registry._encoder_mode = False
        dct[serializer.VERSION_KEY] = serializer.VERSION
        return json.dumps(
            dct, separators=(",", ":"), ensure_ascii=False, cls=serializer._encoder_cls
        )

    @staticmethod
    def _find_task(workflow: BpmnWorkflow, task_id: str):
        try:
            return workflow.get_task_from_id(UUID(task_id))
        except (ValueError, TypeError, KeyError, SpiffWorkflowException):
            return None

    def _guard(self, step):
        try:
            return step()
        except EngineError:
            raise
        except Exception as err:  # a diagram's own error, met at run time
            reached = limit_reached(err)
            if reached is not None:
                raise reached from err
            raise EngineError(describe(err)) from err

    def _advance(
        self,
        workflow: BpmnWorkflow,
        model: CompiledModel,
        completed: list[str] | None = None,
        events: list[PassedEvent] | None = None,
    ) -> EngineResult:
        events = events if events is not None else []

        def report(task):
            props = _properties(task.task_spec)
            if any(key in props for key in REPORTED_PROPERTIES):
                spec = task.task_spec
                events.append(PassedEvent(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, props))

        self._guard(lambda: run_automatic_steps(workflow, self.limits, report))
        # Complete in the engine's own words, and nothing left ready: never an instance closed
        # while a step of it still waits to run.
        finished = workflow.is_completed() and workflow.get_next_task(state=TaskState.READY) is None
        ready = self._ready(workflow)  # before dumping: it records each task's due date
        timers = _waiting_timers(workflow)
        result = EngineResult(
            state=self._dump(workflow),
            finished=finished,
            ready_tasks=ready,
            next_timer_at=_next_due(timers),
            # Copies in and out: a kept workflow must not change when the caller changes what
            # it gave the step or got from it.
            data=deepcopy(_current_data(workflow, finished)),
            completed_task_ids=completed or [],
            timers=timers,
            events=events,
        )
        if not finished:  # a finished instance rarely takes another step
            self.restored.keep(result.state, workflow)
        return result

    def _ready(self, workflow: BpmnWorkflow) -> list[EngineTask]:
        return [
            self._engine_task(t) for t in workflow.get_tasks(state=TaskState.READY, manual=True)
        ]

    def _engine_task(self, task) -> EngineTask:
        info = _user_task_info(task.task_spec)
        item = None
        parent_spec = task.parent.task_spec if task.parent is not None else None
        if isinstance(parent_spec, MultiInstanceTask) and parent_spec.input_item is not None:
            item = deepcopy(task.data.get(parent_spec.input_item.bpmn_id))
        assignee = None
        if info.properties.get("assignee"):
            assignee = task.data.get(info.properties["assignee"])
        due_at = None
        if info.properties.get("dueDate"):
            # Evaluated once, when the task is first offered, and kept with the task.
            if "due_at" not in task.internal_data:
                value = self._guard(
                    lambda: self._script_engine.evaluate(task, info.properties["dueDate"])
                )
                task.internal_data["due_at"] = value if isinstance(value, str) else None
            due_at = timer_due(task.internal_data["due_at"])
        return EngineTask(id=str(task.id), info=info, due_at=due_at, item=item, assignee=assignee)


def _check_same(taken: BpmnWorkflow, restored: BpmnWorkflow) -> None:
    found = differences(taken, restored)
    if found:
        raise AssertionError(f"a kept workflow differs from its state restored: {found}")


def _connect_multi_instance_merges(model: CompiledModel) -> None:
    """Let each multi-instance activity hear its instances complete, as the serializer would.

    SpiffWorkflow wires an instance's completion to its activity only when it creates the first
    instance, on the spec object of that moment. A spec parsed in another process (a restarted
    or second worker) or a newer version an instance was migrated to never saw that, and its
    open votes would complete without the activity ever finishing.
    """
    specs = (model.spec, *[s for s in model.subprocess_specs.values() if s is not None])
    with _MERGE_WIRING:  # the specs are shared by every thread of the process
        for wf_spec in specs:
            for spec in wf_spec.task_specs.values():
                if not isinstance(spec, LoopTask):
                    continue
                child = wf_spec.task_specs.get(spec.task_spec)
                if child is not None and not child.completed_event.is_connected(spec.merge_child):
                    child.completed_event.connect(spec.merge_child)


_MERGE_WIRING = threading.Lock()


def _keep_outputs_of_interrupted_multi_instances(workflow: BpmnWorkflow) -> None:
    """Let an interrupting boundary event carry on what a multi-instance activity collected.

    SpiffWorkflow gathers each finished instance's output (e.g. each council member's vote) in
    the activity's own data, which an interrupting timer would otherwise throw away: a vote that
    closes at its deadline must count the votes cast before it.
    """
    for event in workflow.get_tasks(state=TaskState.READY):
        spec = event.task_spec
        if not (isinstance(spec, BoundaryEvent) and spec.cancel_activity):
            continue
        for sibling in event.parent.children:
            if isinstance(sibling.task_spec, LoopTask) and not sibling.has_state(
                TaskState.FINISHED_MASK
            ):
                DeepMerge.merge(event.data, sibling.data)


def _earlier(value: str, by: timedelta) -> str:
    due = timer_due(value)
    return value if due is None else (due - by).isoformat()


def _now() -> datetime:
    return datetime.now(UTC)


def _current_data(workflow: BpmnWorkflow, finished: bool) -> dict[str, Any]:
    if finished:
        return dict(workflow.last_task.data) if workflow.last_task is not None else {}
    data: dict[str, Any] = {}
    for task in workflow.get_tasks(state=TaskState.WAITING | TaskState.READY):
        data.update(task.data)
    return data


def _next_due(timers: list[WaitingTimer]) -> datetime | None:
    return min((timer.due_at for timer in timers), default=None)


def _waiting_timers(workflow: BpmnWorkflow) -> list[WaitingTimer]:
    timers = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        spec = task.task_spec
        if not isinstance(spec, CatchingEvent):
            continue
        if not isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
            continue
        due = timer_due(task.internal_data.get("event_value"))
        if due is not None:
            timers.append(
                WaitingTimer(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, due, _properties(spec))
            )
    return timers
