"""Parse BPMN into executable specs, cache them per model version, and say what is wrong.

A model version is identified by its content hash, so a spec is parsed once per process and
version and shared by every instance of that version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from webapp.engine.bpmn_xml import BPMN, SPIFF, by_id, parse, problem, processes, xpath
from webapp.engine.calls import call_cycle_problems
from webapp.engine.checks import data_reference_problems, runnable_scope
from webapp.engine.expressions import expression_problems
from webapp.engine.types import N_, Problem, ProcessInfo, UserTaskInfo


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


def compile_model(bpmn: bytes, process_id: str | None = None) -> CompiledModel:
    """Parse a diagram to run it; raises InvalidDiagram when it cannot be parsed or an
    expression does not compile. The full checks of `check_diagram` ran when it was deployed."""
    try:
        root = parse(bpmn)
    except etree.XMLSyntaxError as err:
        raise InvalidDiagram([xml_syntax_problem(err)]) from None
    except Exception as err:  # not bytes at all, or text declaring its own encoding
        raise InvalidDiagram([unreadable(err)]) from None
    problems = data_reference_problems(root, processes(root)) + call_cycle_problems(root)
    if problems:  # SpiffWorkflow would loop forever on these
        raise InvalidDiagram(problems)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(parse(bpmn))
        if process_id is None:
            process_id = _only_main_process(root)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except InvalidDiagram:
        raise
    except ValidationException as err:
        raise InvalidDiagram([engine_problem(err, by_id(root))]) from None
    except Exception as err:  # SpiffWorkflow raises all sorts on odd input
        raise InvalidDiagram([unreadable(err)]) from None
    problems = expression_problems(root, processes(root))
    if problems:
        raise InvalidDiagram(problems)
    return CompiledModel(spec, subprocess_specs, process_info(spec, subprocess_specs, process_id))


def _only_main_process(root) -> str:
    scope, problems = runnable_scope(root)
    if problems:
        raise InvalidDiagram(problems)
    called = {c.get("calledElement") for c in xpath(root, ".//bpmn:callActivity")}
    return next(p.get("id") for p in scope if p.get("id") not in called)


def process_info(spec, subprocess_specs, process_id: str) -> ProcessInfo:
    """The process and its user tasks (those of its subprocesses included) as parsed."""
    user_tasks = [
        _user_task_info(task_spec)
        for task_spec in _all_task_specs(spec, subprocess_specs)
        if isinstance(task_spec, UserTask)
    ]
    name = getattr(spec, "description", None) or process_id
    return ProcessInfo(process_id=process_id, name=name, user_tasks=user_tasks)


def xml_syntax_problem(err: etree.XMLSyntaxError) -> Problem:
    """The first place the file stops being XML."""
    line = err.lineno or (err.position[0] if err.position else 0)
    template = N_("The file is not well-formed XML (line %(line)s): %(detail)s")
    return Problem("", "", template, {"line": line, "detail": one_line(err.msg or str(err))})


def engine_problem(err: ValidationException, ids: dict) -> Problem:
    """SpiffWorkflow's complaint, on its element (and line) when it names one."""
    element = ids.get(getattr(err, "id", "") or "")
    detail = one_line(str(err))
    line = getattr(element, "sourceline", None) or getattr(err, "line_number", None)
    if line:
        detail = f"{detail} (line {line})"
    if element is None:
        return Problem(
            "", "", N_("The engine cannot read the diagram: %(detail)s"), {"detail": detail}
        )
    return problem(element, N_("The engine cannot read this element: %(detail)s"), detail=detail)


def unreadable(err: Exception) -> Problem:
    """Any other failure to parse, told in one line."""
    detail = one_line(str(err)) or type(err).__name__
    return Problem("", "", N_("The engine cannot read the diagram: %(detail)s"), {"detail": detail})


def one_line(message: str) -> str:
    """A parser's message on one line, namespaces shortened, never a traceback."""
    first = next((line.strip() for line in str(message).splitlines() if line.strip()), "")
    for uri, prefix in ((BPMN, "bpmn:"), (SPIFF, "spiffworkflow:")):
        first = first.replace(f"{{{uri}}}", prefix)
    return first[:300]


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
