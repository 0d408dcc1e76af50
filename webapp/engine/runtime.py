"""Run instances: start, complete a human task, fire due timers; serialized state in, new state out.

The adapter is stateless apart from the spec cache. An instance's stored state omits its spec
(which is the same for every instance of a model version); the spec is put back from the cache
when the state is read, so a serialized instance holds only what is its own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from webapp.engine.sandbox import SandboxScriptEngine
from webapp.engine.specs import CompiledModel, ModelSource, SpecCache, _user_task_info
from webapp.engine.types import EngineResult, EngineTask


class EngineError(Exception):
    """The engine could not take the step (a diagram error met at run time)."""


class TaskNotReady(EngineError):
    """The task is not open any more (or never was a human task of this instance)."""


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


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SharedSpecConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def _parse_due(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        return None
    return due if due.tzinfo else due.replace(tzinfo=UTC)


class WorkflowEngine:
    """The only door to SpiffWorkflow. Every method takes and returns plain values."""

    def __init__(self, functions: dict[str, Any] | None = None):
        self._specs = SpecCache()
        self._serializer = _make_serializer()
        self._script_engine = SandboxScriptEngine(functions)

    # --- models -------------------------------------------------------------------------

    def describe(self, source: ModelSource):
        """The process and its user tasks as drawn; raises InvalidDiagram."""
        return self._specs.get(source).info

    # --- instances ----------------------------------------------------------------------

    def start(self, source: ModelSource, data: dict[str, Any] | None = None) -> EngineResult:
        """A new instance of the model, run until it waits for a person or a timer."""
        model = self._specs.get(source)
        workflow = BpmnWorkflow(
            model.spec, model.subprocess_specs, script_engine=self._script_engine
        )
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data or {})
        return self._advance(workflow, model)

    def complete(
        self, source: ModelSource, state: str, task_id: str, data: dict[str, Any]
    ) -> EngineResult:
        """Complete a ready human task with validated form data; raises TaskNotReady."""
        model = self._specs.get(source)
        workflow = self._restore(model, state)
        task = self._find_task(workflow, task_id)
        # Task.run() happily "runs" a completed task again, so the state check is ours.
        if (
            task is None
            or task.state != TaskState.READY
            or not isinstance(task.task_spec, UserTask)
        ):
            raise TaskNotReady(task_id)
        task.data.update(data)
        self._guard(task.run)
        return self._advance(workflow, model, completed=[task_id])

    def fire_timers(self, source: ModelSource, state: str) -> EngineResult:
        """Fire every timer that is due now and run on from there."""
        model = self._specs.get(source)
        workflow = self._restore(model, state)
        self._guard(workflow.refresh_timers)
        return self._advance(workflow, model)

    def ready_tasks(self, source: ModelSource, state: str) -> list[EngineTask]:
        """The human tasks an instance waits for, read from its state (for consistency checks)."""
        model = self._specs.get(source)
        return self._ready(self._restore(model, state))

    # --- internals ----------------------------------------------------------------------

    def _restore(self, model: CompiledModel, state: str) -> BpmnWorkflow:
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
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
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
        except Exception as err:  # a diagram's own error, met at run time
            raise EngineError(_describe_engine_error(err)) from err

    def _advance(
        self, workflow: BpmnWorkflow, model: CompiledModel, completed: list[str] | None = None
    ) -> EngineResult:
        self._guard(workflow.do_engine_steps)
        finished = workflow.is_completed()
        data = {}
        if finished and workflow.last_task is not None:
            data = dict(workflow.last_task.data)
        return EngineResult(
            state=self._dump(workflow),
            finished=finished,
            ready_tasks=self._ready(workflow),
            next_timer_at=self._next_timer(workflow),
            data=data,
            completed_task_ids=completed or [],
        )

    @staticmethod
    def _ready(workflow: BpmnWorkflow) -> list[EngineTask]:
        tasks = workflow.get_tasks(state=TaskState.READY, manual=True)
        return [EngineTask(id=str(t.id), info=_user_task_info(t.task_spec)) for t in tasks]

    @staticmethod
    def _next_timer(workflow: BpmnWorkflow) -> datetime | None:
        due = [
            _parse_due(e.value)
            for e in workflow.waiting_events()
            if e.event_type.endswith("TimerEventDefinition")
        ]
        due = [d for d in due if d is not None]
        return min(due) if due else None


def _describe_engine_error(err: Exception) -> str:
    """One line a process owner can act on, never a traceback."""
    task = getattr(err, "task", None)
    where = ""
    if task is not None and getattr(task, "task_spec", None) is not None:
        spec = task.task_spec
        where = f" at '{getattr(spec, 'bpmn_name', None) or getattr(spec, 'bpmn_id', '')}'"
    return f"{type(err).__name__}{where}: {str(err).splitlines()[0] if str(err) else ''}"
