"""Every expression a diagram asks the engine to evaluate, read from the XML and compiled under
the sandbox, so that a bad one is refused when the diagram is loaded instead of when it runs.

Conditions, scripts, timers, due dates, loop settings and payloads are all Python here; a timer
value must be a Python string ("P5D" in quotes) or an expression giving one.
"""

from __future__ import annotations

import ast
import keyword
import re
from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from webapp.engine.bpmn_xml import CAMUNDA, local, problem, text, xpath
from webapp.engine.function_calls import call_problems
from webapp.engine.sandbox import BUILTINS, compile_expression, compile_script
from webapp.engine.types import N_, Problem

CONDITIONAL_GATEWAYS = ("exclusiveGateway", "inclusiveGateway")
_TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")  # SpiffWorkflow's order of preference
# What an ISO 8601 value written without quotes looks like (e.g. P5D, R3/PT1H, 2026-05-01).
_BARE_ISO = re.compile(r"^(R\d*/)?(P[0-9TYMWDHS.,]+|\d{4}-\d{2}-\d{2}\S*)(/\S+)?$", re.IGNORECASE)
CYCLE_TOO_OFTEN = N_(
    "The timer cycle %(value)s repeats every %(interval)s seconds; the shortest interval allowed "
    "here is %(minimum)s seconds, because each repetition is one step of the ticker: repeat "
    "less often."
)
_JUEL = re.compile(r"[$#]\{")
_PYTHON_SCRIPT = {"", "python", "python3", "text/x-python", "text/python"}

FOREIGN = N_(
    "The expression %(source)s is written in %(dialect)s, not Python: write it in Python, "
    "e.g. approved == True."
)
EMPTY_TIMER = N_(
    'The timer has no time: give it a date, a duration or a cycle, e.g. "P5D" (in quotes) or '
    "working_days_later(5)."
)
_NOT_ISO = {
    "timeDate": N_(
        "The timer date %(value)s is not an ISO 8601 date and time: write e.g. "
        '"2026-05-01T09:00:00+08:00", or an expression such as working_days_later(5).'
    ),
    "timeDuration": N_(
        'The timer duration %(value)s is not an ISO 8601 duration: write e.g. "P5D" or "PT4H".'
    ),
    "timeCycle": N_(
        'The timer cycle %(value)s is not an ISO 8601 repeating interval: write e.g. "R3/PT1H".'
    ),
}


def compile_reason(source: str, mode: str) -> str | None:
    """Why the sandbox refuses this source, or None when it compiles and calls only functions
    a diagram may call, with arguments they take."""
    try:
        (compile_expression if mode == "eval" else compile_script)(source)
    except Exception as err:  # SandboxViolation, and whatever else odd input provokes
        return str(err) or type(err).__name__
    calls = call_problems(source, mode, BUILTINS)
    return "; ".join(calls) if calls else None


def expression_problems(root, scope: list, min_cycle: timedelta | None = None) -> list[Problem]:
    """What is wrong with the expressions of the processes in `scope` and their payloads;
    with `min_cycle`, timer cycles written as constants must not repeat more often."""
    problems: list[Problem] = []
    for process in scope:
        ids = {e.get("id"): e for e in process.iter() if isinstance(e.tag, str) and e.get("id")}
        for element in process.iter():
            kind = local(element)
            if kind == "sequenceFlow":
                problems += _condition_problems(element, ids.get(element.get("sourceRef")))
            elif kind == "scriptTask":
                problems += _script_problems(element)
            elif kind == "timerEventDefinition":
                problems += _timer_problems(element.getparent(), element, min_cycle)
            elif kind == "conditionalEventDefinition":
                problems += _conditional_event_problems(element.getparent(), element)
            elif kind == "multiInstanceLoopCharacteristics":
                problems += _multi_instance_problems(element.getparent(), element)
            elif kind == "standardLoopCharacteristics":
                problems += _loop_problems(element.getparent(), element)
            if kind:
                problems += _extension_problems(element)
    payloads = ".//spiffworkflow:messagePayload | .//spiffworkflow:payloadExpression"
    for element in xpath(root, payloads):
        owner = next((a for a in element.iterancestors() if a.get("id")), None)
        template = N_("The payload expression cannot be used: %(reason)s.")
        problems += _compiled(owner, text(element), "eval", template)
    return problems


def _compiled(element, source: str, mode: str, template: str, **params) -> list[Problem]:
    reason = compile_reason(source, mode)
    if reason is None:
        return []
    dialect = _dialect(source)
    if dialect:
        return [problem(element, FOREIGN, source=source.strip(), dialect=dialect, **params)]
    return [problem(element, template, reason=reason, **params)]


def _dialect(source: str) -> str | None:
    """The expression language of another engine that this source is written in, if any."""
    if _JUEL.search(source):
        return "JUEL (Camunda 7)"
    if source.lstrip().startswith("="):
        return "FEEL (Camunda 8)"
    return None


def _condition_problems(flow, source) -> list[Problem]:
    condition = xpath(flow, "./bpmn:conditionExpression")
    # Only conditional gateways evaluate conditions, and never the one of their default flow;
    # a missing or empty condition is reported with the gateway (see checks.py).
    if not condition or source is None or local(source) not in CONDITIONAL_GATEWAYS:
        return []
    if flow.get("id") == source.get("default") or not text(condition[0]):
        return []
    template = N_("The condition of the flow %(flow)s cannot be used: %(reason)s.")
    return _compiled(source, text(condition[0]), "eval", template, flow=flow.get("id") or "")


def _script_problems(task) -> list[Problem]:
    language = (task.get("scriptFormat") or "").strip()
    if language.lower() not in _PYTHON_SCRIPT:
        template = N_("The script is written in %(language)s; scripts here are Python: rewrite it.")
        return [problem(task, template, language=language)]
    script = next((c for c in task if local(c) == "script"), None)
    if not text(script):
        return [problem(task, N_("The script task has no script: write the Python it runs."))]
    return _compiled(task, script.text, "exec", N_("The script cannot be used: %(reason)s."))


def _extension_problems(element) -> list[Problem]:
    problems = []
    for name, template in (
        ("preScript", N_("The pre-script cannot be used: %(reason)s.")),
        ("postScript", N_("The post-script cannot be used: %(reason)s.")),
    ):
        for script in xpath(element, f"./bpmn:extensionElements/spiffworkflow:{name}"):
            if text(script):
                problems += _compiled(element, script.text, "exec", template)
    path = "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"
    for prop in xpath(element, path):
        if prop.get("name") == "submissionCheck":
            template = N_(
                "The submission check (property submissionCheck) cannot be used: %(reason)s."
            )
            found = _compiled(element, prop.get("value") or "", "eval", template)
            if not found and not _is_call_of_names(prop.get("value") or ""):
                found = [problem(element, N_(
                    "The submission check (property submissionCheck) must call one function "
                    "with field names only, e.g. identity_may_apply(credit_code, id_number)."
                ))]  # fmt: skip
            problems += found
            continue
        if prop.get("name") != "dueDate":
            continue
        if not (prop.get("value") or "").strip():
            template = N_("The property dueDate is empty: write an expression giving the deadline.")
            problems.append(problem(element, template))
        else:
            template = N_("The due date (property dueDate) cannot be used: %(reason)s.")
            problems += _compiled(element, prop.get("value"), "eval", template)
    return problems


def _is_call_of_names(source: str) -> bool:
    """Whether the source is `function(field, …)`: what a submission check may be."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return False
    return (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and not tree.keywords
        and all(isinstance(a, ast.Name) for a in tree.args)
    )


def _timer_problems(event, definition, min_cycle: timedelta | None) -> list[Problem]:
    found = {local(c): c for c in definition.iter() if local(c) in _TIMER_KINDS}
    kind = next((k for k in _TIMER_KINDS if k in found), None)
    source = text(found.get(kind)) if kind else ""
    if not source:
        return [problem(event, EMPTY_TIMER)]
    if _BARE_ISO.match(source) and _is_iso(kind, source):
        template = N_(
            'The timer value %(value)s must be in quotes, as a Python string: "%(value)s".'
        )
        return [problem(event, template, value=source)]
    problems = _compiled(event, source, "eval", N_("The timer cannot be used: %(reason)s."))
    value = _string_constant(source)
    if not problems and value is not None and not _is_iso(kind, value):
        problems.append(problem(event, _NOT_ISO[kind], value=value))
    elif not problems and value is not None and kind == "timeCycle" and min_cycle is not None:
        interval = TimerEventDefinition.parse_iso_recurring_interval(value)[2]
        if interval < min_cycle:
            problems.append(
                problem(
                    event,
                    CYCLE_TOO_OFTEN,
                    value=value,
                    interval=f"{interval.total_seconds():g}",
                    minimum=f"{min_cycle.total_seconds():g}",
                )
            )
    return problems


def _is_iso(kind: str, value: str) -> bool:
    try:
        if kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            return isinstance(TimerEventDefinition.parse_time_or_duration(value), datetime)
    except Exception:  # SpiffWorkflow says "Invalid duration" and the like, in any type
        return False
    return True


def _string_constant(source: str) -> str | None:
    try:
        body = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return body.value if isinstance(body, ast.Constant) and isinstance(body.value, str) else None


def _conditional_event_problems(event, definition) -> list[Problem]:
    condition = next((c for c in definition if local(c) == "condition"), None)
    if not text(condition):
        template = N_("The conditional event has no condition: write a Python expression.")
        return [problem(event, template)]
    template = N_("The condition of this event cannot be used: %(reason)s.")
    return _compiled(event, condition.text, "eval", template)


def _multi_instance_problems(task, loop) -> list[Problem]:
    cardinality = xpath(loop, "./bpmn:loopCardinality")
    collection = xpath(loop, "./bpmn:loopDataInputRef")
    problems = []
    if bool(cardinality) == bool(collection):
        if loop.get(f"{{{CAMUNDA}}}collection"):
            template = N_(
                "The multi-instance task uses Camunda's collection %(collection)s: name the "
                "collection with loopDataInputRef and each item with inputDataItem instead."
            )
            collection_name = loop.get(f"{{{CAMUNDA}}}collection")
            return [problem(task, template, collection=collection_name)]
        template = N_(
            "The multi-instance task needs either a loop cardinality or an input collection "
            "(loopDataInputRef), not both and not neither."
        )
        problems.append(problem(task, template))
    if cardinality and not text(cardinality[0]):
        template = N_("The loop cardinality is empty: write how many instances to run.")
        problems.append(problem(task, template))
    elif cardinality:
        template = N_("The loop cardinality cannot be used: %(reason)s.")
        problems += _compiled(task, cardinality[0].text, "eval", template)
    condition = xpath(loop, "./bpmn:completionCondition")
    if condition and text(condition[0]):
        template = N_("The completion condition cannot be used: %(reason)s.")
        problems += _compiled(task, condition[0].text, "eval", template)
    if xpath(task, "./bpmn:ioSpecification"):
        return problems  # references then name the task's data inputs and outputs
    names = [text(r) for r in xpath(loop, "./bpmn:loopDataInputRef | ./bpmn:loopDataOutputRef")]
    names += [
        i.get("id") or "" for i in xpath(loop, "./bpmn:inputDataItem | ./bpmn:outputDataItem")
    ]
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name):
            template = N_(
                "The multi-instance loop refers to %(value)s, which is not a plain variable name: "
                "name a process variable (letters, digits and _) for the collection and each item."
            )
            problems.append(problem(task, template, value=name))
    return problems


def _loop_problems(task, loop) -> list[Problem]:
    condition = xpath(loop, "./bpmn:loopCondition")
    maximum = (loop.get("loopMaximum") or "").strip()
    if not (condition and text(condition[0])) and not maximum:
        template = N_("The loop needs a loop condition or a maximum number of loops (loopMaximum).")
        return [problem(task, template)]
    problems = []
    if maximum and not maximum.isdigit():
        template = N_("The loop maximum %(value)s is not a whole number.")
        problems.append(problem(task, template, value=maximum))
    if condition and text(condition[0]):
        template = N_("The loop condition cannot be used: %(reason)s.")
        problems += _compiled(task, condition[0].text, "eval", template)
    return problems
