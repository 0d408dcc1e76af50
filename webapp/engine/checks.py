"""What the engine cannot run, found in the raw XML: which process runs, elements this
application has no way to perform, gateways that cannot choose, references that lead nowhere.

SpiffWorkflow's parser stops at the first error and skips what it does not know or never
reaches, so these checks read the XML themselves and name every element at once.
"""

from __future__ import annotations

from webapp.engine.bpmn_xml import (
    CAMUNDA,
    by_id,
    is_executable,
    label,
    local,
    problem,
    processes,
    text,
    xpath,
)
from webapp.engine.events import event_problems
from webapp.engine.expressions import CONDITIONAL_GATEWAYS
from webapp.engine.flows import flow_problems, gateway_problems
from webapp.engine.types import N_, ElementProperty, Problem, UserTaskInfo

NO_PROCESS = N_("The file contains no process: draw one, with a start event.")
NOT_EXECUTABLE = N_(
    "The process is not marked executable, so the engine ignores it: mark it executable "
    '(isExecutable="true"). Exactly one process per file runs here.'
)
SEVERAL_PROCESSES = N_(
    "The file has %(count)s executable processes (%(ids)s) and nothing calls them, but only "
    "one runs here: keep one, and move the others' steps into it or call them from it."
)
DATA_STORE = N_(
    "Data stores are not supported here: remove it and keep the data in process variables."
)
DATA_REFERENCE = N_(
    "The data association refers to %(ref)s, which is not a data object of this process or of "
    "the one around it: connect it to a data object reference, or remove it."
)
CALL_MISSING = N_(
    "The call activity calls the process %(called)s, which is not in this file: add that "
    "process to the file or correct calledElement."
)

# Activities SpiffWorkflow would offer as human tasks with no form or owner, or cannot run.
_UNRUNNABLE = {
    "complexGateway": N_(
        "Complex gateways cannot run here: use exclusive, inclusive or parallel gateways instead."
    ),
    "businessRuleTask": N_(
        "Business rule tasks (DMN decision tables) are not supported here: compute the decision "
        "in a script task or with gateway conditions."
    ),
    "manualTask": N_(
        "Manual tasks cannot be completed here, because no one is offered them: make it a user "
        "task, in a lane, with a form."
    ),
    "task": N_(
        "A task without a type cannot be completed here: make it a user task (a person does it, "
        "with a form) or a script task."
    ),
    "dataStoreReference": DATA_STORE,
}
_SERVICE = {
    "class": N_(
        "The service task calls the Java class %(impl)s (Camunda); no Java runs here: replace it "
        "with a script task or a user task."
    ),
    "expression": N_(
        "The service task evaluates the Camunda expression %(impl)s, which does not run here: "
        "replace it with a script task or a user task."
    ),
    "worker": N_(
        "The service task waits for an external worker (%(impl)s), and none works for this "
        "application: replace it with a script task or a user task."
    ),
    "operator": N_(
        "The service task calls the service %(impl)s, but this application connects to no "
        "outside services: replace it with a script task or a user task."
    ),
    "": N_(
        "Service tasks cannot run here, because this application calls no outside services: "
        "replace it with a script task or a user task."
    ),
}
_CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")
_DATA_REFS = (
    ".//bpmn:dataInputAssociation/bpmn:sourceRef | .//bpmn:dataOutputAssociation/bpmn:targetRef"
)
_LISTENERS = (
    "./bpmn:extensionElements/camunda:executionListener"
    " | ./bpmn:extensionElements/camunda:taskListener"
)


def runnable_scope(root) -> tuple[list, list[Problem]]:
    """The processes that would run, and what is wrong with the file's choice of process."""
    all_processes = processes(root)
    called = {c.get("calledElement") for c in xpath(root, ".//bpmn:callActivity")}
    executable = [p for p in all_processes if is_executable(p)]
    drawn = [p for p in all_processes if _has_flow_nodes(p)]
    if not drawn and not executable:
        return [], [problem(None, NO_PROCESS)]
    if not executable:
        return drawn, [problem(_shape_of(root, p), NOT_EXECUTABLE) for p in drawn]
    main = [p for p in executable if p.get("id") not in called] or executable
    problems = []
    if len(main) > 1:
        ids = ", ".join(p.get("id") or "" for p in main)
        for process in main:
            problems.append(
                problem(_shape_of(root, process), SEVERAL_PROCESSES, count=len(main), ids=ids)
            )
    for process in main:
        if not xpath(process, "./bpmn:startEvent"):
            template = N_("The process has no start event: add one where it begins.")
            problems.append(problem(_shape_of(root, process), template))
    return executable, problems


def element_problems(root, scope: list) -> list[Problem]:
    """Every element of the processes in `scope` the engine cannot run as drawn."""
    ids = by_id(root)
    members: dict = {}  # container → ids of what is drawn inside it, computed once each
    problems: list[Problem] = []
    for process in scope:
        for element in process.iter():
            kind = local(element)
            if kind in _UNRUNNABLE:
                problems.append(problem(element, _UNRUNNABLE[kind]))
            elif kind == "serviceTask":
                problems.append(_service_problem(element))
            elif kind == "callActivity":
                problems += _call_problems(element, ids)
            elif kind in ("subProcess", "transaction") and element is not process:
                problems += _subprocess_problems(element)
            elif kind in CONDITIONAL_GATEWAYS:
                problems += gateway_problems(element)
            elif kind == "sequenceFlow":
                problems += flow_problems(element, ids, members)
            if kind:
                problems += _listener_problems(element)
    problems += data_reference_problems(root, scope)
    problems += event_problems(root, scope)
    referenced = {r.get("dataStoreRef") for r in xpath(root, ".//bpmn:dataStoreReference")}
    for store in xpath(root, ".//bpmn:dataStore"):
        if store.get("id") not in referenced:
            problems.append(problem(store, DATA_STORE))
    return problems


def data_reference_problems(root, scope: list) -> list[Problem]:
    """Data associations SpiffWorkflow cannot resolve (it would loop forever on some)."""
    ids = by_id(root)
    problems = []
    for process in scope:
        for ref in xpath(process, _DATA_REFS):
            activity = ref.getparent().getparent()
            target = ids.get(text(ref))
            if target is not None and local(target) == "dataStoreReference":
                continue  # named as a data store already
            if (
                target is None
                or local(target) != "dataObjectReference"
                or not _resolves(activity, target.get("dataObjectRef"))
            ):
                problems.append(problem(activity, DATA_REFERENCE, ref=text(ref)))
    return problems


def user_tasks(root, scope: list) -> list[UserTaskInfo]:
    """The user tasks as drawn, for when SpiffWorkflow cannot parse the file."""
    lanes = {}
    for ref in xpath(root, ".//bpmn:flowNodeRef"):
        lanes[text(ref)] = ref.getparent().get("name")  # the innermost lane wins, as in Spiff

    def lane_of(element):
        outer = next((a for a in element.iterancestors() if local(a) in _CONTAINERS[1:]), None)
        inherited = lane_of(outer) if outer is not None else None
        return inherited if inherited is not None else lanes.get(element.get("id"))

    found = []
    for process in scope:
        for task in xpath(process, ".//bpmn:userTask"):
            path = "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"
            props = {p.get("name"): p.get("value") for p in xpath(task, path) if p.get("name")}
            found.append(
                UserTaskInfo(
                    spec_id=task.get("id") or "",
                    title=label(task) or task.get("id") or "",
                    lane=lane_of(task),
                    form=props.get("formJsonSchemaFilename"),
                    ui_form=props.get("formUiSchemaFilename"),
                    stage=props.get("stage"),
                    properties=props,
                )
            )
    return found


def element_properties(scope: list, name: str) -> list[ElementProperty]:
    """Every element of the processes in `scope` that sets the extension property `name`."""
    found = []
    for process in scope:
        path = f".//spiffworkflow:property[@name='{name}']"
        for prop in xpath(process, path):
            value = (prop.get("value") or "").strip()
            element = prop.getparent().getparent().getparent()  # properties, extensionElements
            if value and element is not None and element is not process:
                found.append(ElementProperty(element.get("id") or "", label(element), name, value))
    return found


def _has_flow_nodes(process) -> bool:
    return any(
        local(c) not in ("", "laneSet", "documentation", "extensionElements") for c in process
    )


def _shape_of(root, process):
    """The pool showing a process, which the modeler can highlight, else the process itself."""
    for participant in xpath(root, ".//bpmn:participant"):
        if participant.get("processRef") == process.get("id"):
            return participant if label(participant) else process
    return process


def _service_problem(task) -> Problem:
    camunda = {
        k: task.get(f"{{{CAMUNDA}}}{k}")
        for k in ("class", "expression", "delegateExpression", "topic", "type")
    }
    worker = xpath(task, "./bpmn:extensionElements/zeebe:taskDefinition/@type")
    operator = xpath(task, "./bpmn:extensionElements/spiffworkflow:serviceTaskOperator/@id")
    if camunda["class"]:
        return problem(task, _SERVICE["class"], impl=camunda["class"])
    if camunda["expression"] or camunda["delegateExpression"]:
        return problem(
            task,
            _SERVICE["expression"],
            impl=camunda["expression"] or camunda["delegateExpression"],
        )
    if camunda["type"] == "external" or worker:
        return problem(task, _SERVICE["worker"], impl=camunda["topic"] or (worker or [""])[0])
    if operator:
        return problem(task, _SERVICE["operator"], impl=operator[0])
    return problem(task, _SERVICE[""])


def _call_problems(activity, ids) -> list[Problem]:
    called = (activity.get("calledElement") or "").strip()
    target = ids.get(called)
    if not called:
        template = N_(
            "The call activity names no process to call: set calledElement to the id of a "
            "process in this file."
        )
        return [problem(activity, template)]
    if target is None or local(target) != "process":
        return [problem(activity, CALL_MISSING, called=called)]
    if not is_executable(target):
        template = N_(
            "The call activity calls the process %(called)s, which is not marked executable: "
            "mark it executable."
        )
        return [problem(activity, template, called=called)]
    return []


def _subprocess_problems(subprocess) -> list[Problem]:
    starts = len(xpath(subprocess, "./bpmn:startEvent"))
    problems = []
    if starts != 1:
        template = N_("The subprocess must begin with exactly one start event; it has %(count)s.")
        problems.append(problem(subprocess, template, count=starts))
    if not xpath(subprocess, "./bpmn:endEvent"):
        problems.append(problem(subprocess, N_("The subprocess has no end event: add one.")))
    return problems


def _listener_problems(element) -> list[Problem]:
    if not xpath(element, _LISTENERS):
        return []
    template = N_(
        "The element has a Camunda listener (Java or expression), which does not run here: "
        "remove it, and do the work in a script task."
    )
    return [problem(element, template)]


def _resolves(activity, object_id) -> bool:
    # SpiffWorkflow looks in the activity's own (sub)process and the one directly around it.
    containers = [a for a in activity.iterancestors() if local(a) in _CONTAINERS][:2]
    return any(
        c.get("id") == object_id
        for container in containers
        for c in xpath(container, "./bpmn:dataObject")
    )
