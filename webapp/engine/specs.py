"""Parse BPMN into executable specs, cache them per model version, and say what is wrong.

A model version is identified by its content hash, so a spec is parsed once per process and
version and shared by every instance of that version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.MultiChoice import MultiChoice
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from webapp.engine.sandbox import SandboxViolation, compile_expression, compile_script
from webapp.engine.types import Problem, ProcessInfo, UserTaskInfo


class InvalidDiagram(Exception):
    """The diagram cannot be run; `problems` names each element and what to change."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ModelSource:
    """What the adapter needs to run a model version: its content hash and its BPMN text."""

    key: str
    bpmn: bytes
    process_id: str | None = None


@dataclass
class CompiledModel:
    spec: object
    subprocess_specs: dict
    info: ProcessInfo
    problems: list[Problem] = field(default_factory=list)


def _properties(task_spec) -> dict[str, str]:
    return dict((getattr(task_spec, "extensions", None) or {}).get("properties") or {})


def _user_task_info(task_spec) -> UserTaskInfo:
    props = _properties(task_spec)
    return UserTaskInfo(
        spec_id=task_spec.bpmn_id,
        title=task_spec.bpmn_name or task_spec.bpmn_id,
        lane=task_spec.lane,
        form=props.get("formJsonSchemaFilename"),
        ui_form=props.get("formUiSchemaFilename"),
        stage=props.get("stage"),
        properties=props,
    )


def _expression_problems(task_spec) -> list[Problem]:
    """Every expression the engine will evaluate for this element, compiled under the sandbox."""
    checks: list[tuple[str, str, str]] = []  # (source, mode, what)
    if isinstance(task_spec, MultiChoice):
        for condition, target in task_spec.cond_task_specs:
            if condition is not None:
                source = condition.args[0] if getattr(condition, "args", None) else condition
                checks.append((source, "eval", f"condition of the flow to '{target}'"))
    if isinstance(task_spec, ScriptTask):
        checks.append((task_spec.script or "", "exec", "script"))
    if isinstance(task_spec, CatchingEvent):
        definition = getattr(task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            checks.append((definition.expression or "", "eval", "timer expression"))
    for attr, what in (("prescript", "pre-script"), ("postscript", "post-script")):
        source = getattr(task_spec, attr, None)
        if source:
            checks.append((source, "exec", what))
    due = _properties(task_spec).get("dueDate")
    if due is not None:
        checks.append((due, "eval", "due date expression (property dueDate)"))
    if isinstance(task_spec, LoopTask):
        for attr in ("cardinality", "condition"):
            source = getattr(task_spec, attr, None)
            if source:
                checks.append((source, "eval", attr))
    problems = []
    for source, mode, what in checks:
        if not isinstance(source, str) or not source.strip():
            problems.append(_problem(task_spec, f"The {what} is empty: write an expression."))
            continue
        try:
            (compile_expression if mode == "eval" else compile_script)(source)
        except SandboxViolation as err:
            problems.append(_problem(task_spec, f"The {what} is not allowed or not valid: {err}"))
    return problems


def _problem(task_spec, message: str) -> Problem:
    return Problem(task_spec.bpmn_id or task_spec.name, task_spec.bpmn_name or "", message)


def compile_model(bpmn: bytes, process_id: str | None = None) -> CompiledModel:
    """Parse and check a diagram; raises InvalidDiagram with element-level problems."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_str(bpmn)
        ids = parser.get_process_ids()
        if process_id is None:
            if len(ids) != 1:
                raise InvalidDiagram(
                    [
                        Problem(
                            "",
                            "",
                            (
                                "The file must contain exactly one executable process; it has "
                                f"{len(ids)}."
                            ),
                        )
                    ]
                )
            process_id = ids[0]
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except InvalidDiagram:
        raise
    except etree.XMLSyntaxError as err:
        raise InvalidDiagram([Problem("", "", f"The file is not well-formed XML: {err}")]) from None
    except ValidationException as err:
        raise InvalidDiagram(
            [Problem(err.id or "", err.name or "", str(err).split("\n")[0])]
        ) from None
    except (SpiffWorkflowException, ValueError, KeyError, TypeError, AttributeError) as err:
        raise InvalidDiagram([Problem("", "", f"The diagram cannot be read: {err}")]) from None

    user_tasks, problems = [], []
    for task_spec in _all_task_specs(spec, subprocess_specs):
        problems.extend(_expression_problems(task_spec))
        if isinstance(task_spec, UserTask):
            user_tasks.append(_user_task_info(task_spec))
    info = ProcessInfo(
        process_id=process_id,
        name=getattr(spec, "description", None) or process_id,
        user_tasks=user_tasks,
    )
    if problems:
        raise InvalidDiagram(problems)
    return CompiledModel(spec, subprocess_specs, info)


def _all_task_specs(spec, subprocess_specs):
    for wf_spec in [spec, *[s for s in subprocess_specs.values() if s is not None]]:
        for task_spec in wf_spec.task_specs.values():
            if getattr(task_spec, "bpmn_id", None):
                yield task_spec


class SpecCache:
    """Compiled models by content hash; parsing happens once per version and process."""

    def __init__(self):
        self._models: dict[str, CompiledModel] = {}
        self._lock = threading.Lock()

    def get(self, source: ModelSource) -> CompiledModel:
        """The compiled model of a version, parsing it on first use."""
        model = self._models.get(source.key)
        if model is None:
            compiled = compile_model(source.bpmn, source.process_id)
            with self._lock:
                model = self._models.setdefault(source.key, compiled)
        return model
