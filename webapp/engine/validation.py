"""Everything wrong with a diagram, found at once, before it may be deployed.

Four passes, each run even when an earlier one found problems, so the owner fixes all in one go:
the XML itself, SpiffWorkflow's BPMN 2.0 schema, our checks of the raw XML (elements the engine
cannot run, gateways, events, every expression under the sandbox), and SpiffWorkflow's parse.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from webapp.engine.bpmn_xml import by_id, local, parse, problem, xpath
from webapp.engine.calls import CALL_CYCLE, call_cycle_problems
from webapp.engine.checks import (
    CALL_MISSING,
    DATA_REFERENCE,
    DATA_STORE,
    element_problems,
    element_properties,
    runnable_scope,
    user_tasks,
)
from webapp.engine.expressions import expression_problems
from webapp.engine.specs import (
    engine_problem,
    one_line,
    process_info,
    unreadable,
    xml_syntax_problem,
)
from webapp.engine.types import (
    N_,
    ElementProperty,
    EngineLimits,
    Problem,
    ProcessInfo,
    UserTaskInfo,
)

CANNOT_CHECK = N_("The diagram cannot be checked: %(detail)s")
_MAX_SCHEMA_ERRORS = 10
_schema_lock = threading.Lock()  # the schema object keeps its error log between calls


@dataclass(frozen=True)
class DiagramReport:
    """The outcome of checking a diagram: its process (when the engine could read it), its user
    tasks as drawn (for the form and lane checks, which need to know the roles) and problems."""

    info: ProcessInfo | None
    user_tasks: list[UserTaskInfo] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Elements that name a message (`notify`, `notifyOnObjection`), for the check that the
    # model has it.
    notifications: list[ElementProperty] = field(default_factory=list)
    # Elements that name a group to tell (`notifyRole`, `notifyOnObjectionRole`), for the check
    # that the group exists.
    recipients: list[ElementProperty] = field(default_factory=list)


def check_diagram(bpmn: bytes, limits: EngineLimits | None = None) -> DiagramReport:
    """Check a diagram from any source; never raises, whatever the bytes are."""
    try:
        return _check(bpmn, limits or EngineLimits())
    except Exception as err:  # the boundary: an upload must never become a traceback
        detail = f"{type(err).__name__}: {one_line(str(err))}"
        return DiagramReport(None, [], [Problem("", "", CANNOT_CHECK, {"detail": detail})])


def _check(bpmn: bytes, limits: EngineLimits) -> DiagramReport:
    try:
        root = parse(bpmn)
    except etree.XMLSyntaxError as err:
        return DiagramReport(None, [], [xml_syntax_problem(err)])
    if root.getroottree().docinfo.doctype:
        # Entities are never expanded (uploads are untrusted), and the schema check cannot
        # read a tree that still holds them; a modeler never writes a DOCTYPE anyway.
        template = N_("The file declares a DOCTYPE, which BPMN files do not use: remove it.")
        return DiagramReport(None, [], [Problem("", "", template)])
    if local(root) != "definitions":
        template = N_("The file is not a BPMN 2.0 diagram: it has no bpmn:definitions element.")
        return DiagramReport(None, [], [Problem("", "", template)])
    problems = _schema_problems(bpmn, root)
    scope, scope_problems = runnable_scope(root)
    problems += scope_problems
    problems += element_problems(root, scope)
    problems += expression_problems(root, scope, limits.min_timer_cycle)
    problems += call_cycle_problems(root)
    info, tasks = None, None
    # SpiffWorkflow could loop forever on these.
    if not any(p.template in (DATA_REFERENCE, CALL_CYCLE) for p in problems):
        info, tasks, engine_problems = _engine_pass(bpmn, root)
        problems += [p for p in engine_problems if not _already_said(p, problems)]
    if tasks is None:
        tasks = user_tasks(root, scope)
    named = element_properties(scope, "notify") + element_properties(scope, "notifyOnObjection")
    told = element_properties(scope, "notifyRole") + element_properties(
        scope, "notifyOnObjectionRole"
    )
    return DiagramReport(info, tasks, problems, named, told)


def _schema_problems(bpmn: bytes, root) -> list[Problem]:
    """SpiffWorkflow's BPMN 2.0 schema, every error with its line and element."""
    tree = parse(bpmn)
    VALIDATOR.preprocess(tree)
    with _schema_lock:
        valid = VALIDATOR.validator.validate(tree)
        errors = [] if valid else list(VALIDATOR.validator.error_log)
    at_line: dict[int, list] = {}
    for element in root.iter():
        if isinstance(element.tag, str):
            at_line.setdefault(element.sourceline, []).append(element)
    problems = []
    template = N_("The file does not follow the BPMN 2.0 schema at line %(line)s: %(detail)s")
    for error in errors[:_MAX_SCHEMA_ERRORS]:
        element = _element_of(error, at_line.get(error.line, []))
        while element is not None and not element.get("id"):
            element = element.getparent()
        problems.append(problem(element, template, line=error.line, detail=one_line(error.message)))
    if len(errors) > _MAX_SCHEMA_ERRORS:
        template = N_("The file has %(count)s more schema errors.")
        problems.append(Problem("", "", template, {"count": len(errors) - _MAX_SCHEMA_ERRORS}))
    return problems


def _element_of(error, candidates: list):
    """The element a schema error is about: libxml2 names its tag and, often, an attribute."""
    found = re.search(r"Element '([^']+)'(?:, attribute '([^']+)')?", error.message)
    if found:
        tag, attribute = found.groups()
        same = [e for e in candidates if e.tag == tag and (not attribute or attribute in e.attrib)]
        candidates = same or candidates
    return candidates[0] if candidates else None


def _engine_pass(bpmn: bytes, root):
    """SpiffWorkflow's own parse of the process that runs (of each, if the file has several)."""
    ids = by_id(root)
    called = {c.get("calledElement") for c in xpath(root, ".//bpmn:callActivity")}
    parser = SpiffBpmnParser()  # the schema was checked above, with every error reported
    try:
        parser.add_bpmn_xml(parse(bpmn))
    except ValidationException as err:
        return None, None, [engine_problem(err, ids)]
    except Exception as err:
        return None, None, [unreadable(err)]
    main = [pid for pid in parser.get_process_ids() if pid not in called]
    if not main:
        return None, None, []  # nothing executable: said by runnable_scope
    problems, info, tasks = [], None, []
    for process_id in main:
        try:
            spec = parser.get_spec(process_id)
            subprocess_specs = parser.get_subprocess_specs(process_id)
        except ValidationException as err:
            problems.append(engine_problem(err, ids))
            continue
        except Exception as err:
            problems.append(unreadable(err))
            continue
        info = process_info(spec, subprocess_specs, process_id)
        tasks += info.user_tasks
    if problems or len(main) != 1:
        return None, (tasks if not problems else None), problems
    return info, tasks, problems


def _already_said(engine_problem: Problem, problems: list[Problem]) -> bool:
    """Whether SpiffWorkflow's complaint repeats one of ours (it stops at the first it meets)."""
    said = {p.element_id for p in problems if p.element_id}
    for p in problems:
        said.update(str(p.params.get("flow", "")).split(", "))
        said.update(str(p.params.get("flows", "")).split(", "))
    if engine_problem.element_id:
        return engine_problem.element_id in said
    detail = str(engine_problem.params.get("detail", ""))
    templates = {p.template for p in problems}
    return (detail.startswith("Data Store") and DATA_STORE in templates) or (
        "was not found" in detail and CALL_MISSING in templates
    )
