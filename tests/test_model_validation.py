"""Validating a diagram before it is deployed: every problem at once, each naming its element and
saying what to change; the engine refuses what it cannot run here, and no input makes it crash."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT
from webapp.engine import InvalidDiagram, ModelSource, Problem, WorkflowEngine
from webapp.engine.calls import CALL_CYCLE
from webapp.engine.checks import NOT_EXECUTABLE
from webapp.engine.expressions import CYCLE_TOO_OFTEN, EMPTY_TIMER, FOREIGN
from webapp.engine.validation import CANNOT_CHECK
from webapp.services import process_models

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'id="defs" targetNamespace="http://example.org/bpmn">'
)
FORMS = {"review.schema.json": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}


def diagram(body: str, lanes: dict[str, str] | None = None, process_attrs: str = "", after=""):
    """One process around `body`; `lanes` puts element ids into named lanes."""
    by_lane: dict[str, list[str]] = {}
    for node, lane in (lanes or {}).items():
        by_lane.setdefault(lane, []).append(node)
    lane_set = ""
    if by_lane:
        lane_set = (
            '<bpmn:laneSet id="ls">'
            + "".join(
                f'<bpmn:lane id="lane{i}" name="{name}">'
                + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
                + "</bpmn:lane>"
                for i, (name, nodes) in enumerate(by_lane.items())
            )
            + "</bpmn:laneSet>"
        )
    attrs = process_attrs or 'isExecutable="true"'
    return (
        f'{HEAD}<bpmn:process id="p" name="Sample" {attrs}>{lane_set}{body}</bpmn:process>'
        f"{after}</bpmn:definitions>"
    )


def user_task(task_id: str, form: str | None = "review.schema.json", ui: str | None = None):
    props = ""
    if form:
        props += f'<spiffworkflow:property name="formJsonSchemaFilename" value="{form}"/>'
    if ui:
        props += f'<spiffworkflow:property name="formUiSchemaFilename" value="{ui}"/>'
    return (
        f'<bpmn:userTask id="{task_id}" name="Task {task_id}"><bpmn:extensionElements>'
        f"<spiffworkflow:properties>{props}</spiffworkflow:properties>"
        "</bpmn:extensionElements></bpmn:userTask>"
    )


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>'
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )


def between(*middle: tuple[str, str], lane: str = "secretariat", **kwargs) -> str:
    """start → each (id, xml) in turn → end, every node in one lane."""
    ids = ["s", *[node_id for node_id, _ in middle], "e"]
    body = '<bpmn:startEvent id="s"/>' + "".join(xml for _, xml in middle)
    body += '<bpmn:endEvent id="e"/>'
    body += "".join(flow(f"f{i}", a, b) for i, (a, b) in enumerate(itertools.pairwise(ids)))
    return diagram(body, {node: lane for node in ids}, **kwargs)


def problems_of(bpmn: str | bytes, forms=None) -> list[Problem]:
    return process_models.validate(bpmn, FORMS if forms is None else forms)


def at(problems: list[Problem], element_id: str) -> list[str]:
    """The messages about one element."""
    return [p.message for p in problems if p.element_id == element_id]


def test_a_runnable_diagram_with_its_forms_is_accepted():
    info = process_models.check_model(between(("review", user_task("review"))), FORMS)
    assert info.process_id == "p" and [t.spec_id for t in info.user_tasks] == ["review"]


def test_the_admission_procedure_passes():
    forms = process_models.read_forms(ROOT / "forms" / "admission")
    info = process_models.check_model((ROOT / "workflows" / "admission.bpmn").read_text(), forms)
    assert len(info.user_tasks) == 8


def test_a_gateway_without_default_or_conditions_is_named_with_its_flows():
    body = (
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw" name="Pass?"/>'
        '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>'
        + flow("f0", "s", "gw")
        + flow("to_yes", "gw", "yes", "ok")
        + flow("to_no", "gw", "no")
        + flow("to_no_too", "gw", "no", "  ")
    )
    [message] = at(problems_of(diagram(body)), "gw")
    assert "to_no" in message and "to_no_too" in message and "to_yes" not in message
    assert "default" in message


def test_a_gateway_may_leave_one_flow_to_its_default_but_no_more():
    body = (
        '<bpmn:startEvent id="s"/><bpmn:inclusiveGateway id="gw" default="to_a"/>'
        '<bpmn:endEvent id="a"/><bpmn:endEvent id="b"/><bpmn:endEvent id="c"/>'
        + flow("f0", "s", "gw")
        + flow("to_a", "gw", "a")
        + flow("to_b", "gw", "b", "x == 1")
        + flow("to_c", "gw", "c")
    )
    [message] = at(problems_of(diagram(body)), "gw")
    assert "to_c" in message and "to_a" in message
    fixed = diagram(body.replace(flow("to_c", "gw", "c"), flow("to_c", "gw", "c", "x == 2")))
    assert problems_of(fixed) == []


def test_a_default_flow_that_does_not_leave_the_gateway_is_named():
    body = (
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw" default="f0"/>'
        '<bpmn:endEvent id="a"/><bpmn:endEvent id="b"/>'
        + flow("f0", "s", "gw")
        + flow("to_a", "gw", "a", "x")
        + flow("to_b", "gw", "b", "not x")
    )
    assert any("f0" in m and "default" in m for m in at(problems_of(diagram(body)), "gw"))


def test_user_task_without_form_or_with_a_missing_form_is_named():
    bpmn = between(
        ("bare", user_task("bare", form=None)),
        ("lost", user_task("lost", form="lost.schema.json", ui="lost.uischema.json")),
    )
    problems = problems_of(bpmn)
    assert any("formJsonSchemaFilename" in m for m in at(problems, "bare"))
    lost = at(problems, "lost")
    assert any("lost.schema.json" in m and "does not exist" in m for m in lost)
    assert any("lost.uischema.json" in m for m in lost)


def test_a_form_that_is_not_valid_json_schema_is_named():
    bpmn = between(("review", user_task("review")))
    [message] = at(problems_of(bpmn, {"review.schema.json": {"type": "objekt"}}), "review")
    assert "review.schema.json" in message and "not valid JSON Schema" in message
    [message] = at(problems_of(bpmn, {"review.schema.json": ["not", "an", "object"]}), "review")
    assert "JSON object" in message


def test_user_tasks_must_sit_in_a_lane_some_role_works():
    problems = problems_of(between(("review", user_task("review")), lane="Boss"))
    [message] = at(problems, "review")
    assert "Boss" in message and "secretariat" in message
    body = '<bpmn:startEvent id="s"/>' + user_task("review") + '<bpmn:endEvent id="e"/>'
    body += flow("f0", "s", "review") + flow("f1", "review", "e")
    [message] = at(problems_of(diagram(body)), "review")
    assert "no lane" in message
    assert problems_of(between(("review", user_task("review")), lane="理事会")) == []


@pytest.mark.parametrize(
    "element, expected",
    [
        ('<bpmn:complexGateway id="x" name="Complex"/>', "Complex gateways"),
        ('<bpmn:serviceTask id="x" name="Call SAP"/>', "Service tasks"),
        (
            '<bpmn:serviceTask id="x" camunda:class="org.acme.Invoice"/>',
            "Java class org.acme.Invoice",
        ),
        (
            '<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="billing"/>',
            "external worker (billing)",
        ),
        (
            '<bpmn:serviceTask id="x"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator'
            ' id="http/GetRequest"/></bpmn:extensionElements></bpmn:serviceTask>',
            "service http/GetRequest",
        ),
        ('<bpmn:businessRuleTask id="x" name="Decide"/>', "DMN"),
        ('<bpmn:manualTask id="x" name="Sign"/>', "Manual tasks"),
        ('<bpmn:task id="x" name="Something"/>', "without a type"),
        ('<bpmn:sendTask id="x" name="Mail"/>', None),  # sends nothing: harmless
        ('<bpmn:receiveTask id="x" name="Wait"/>', "names no message"),
        (
            '<bpmn:scriptTask id="x" scriptFormat="javascript"><bpmn:script>1</bpmn:script>'
            "</bpmn:scriptTask>",
            "javascript",
        ),
        (
            '<bpmn:scriptTask id="x"><bpmn:extensionElements><camunda:executionListener '
            'class="org.acme.Log" event="start"/></bpmn:extensionElements><bpmn:script>y = 1'
            "</bpmn:script></bpmn:scriptTask>",
            "Camunda listener",
        ),
    ],
)
def test_elements_the_engine_cannot_run_are_named(element, expected):
    messages = at(problems_of(between(("x", element))), "x")
    if expected is None:
        assert messages == []
    else:
        assert any(expected in m for m in messages), messages


def test_a_data_store_is_named_on_the_canvas_and_in_the_definitions():
    body = (
        '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
        '<bpmn:dataStoreReference id="store_ref" name="Ledger" dataStoreRef="store"/>'
        + flow("f0", "s", "e")
    )
    problems = problems_of(diagram(body, after='<bpmn:dataStore id="store" name="Ledger"/>'))
    assert any("Data stores" in m for m in at(problems, "store_ref"))
    assert at(problems, "store") == []  # named once, where the owner sees it
    lone = diagram(
        flow("f0", "s", "e") + '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>',
        after='<bpmn:dataStore id="store" name="Ledger"/>',
    )
    assert any("Data stores" in m for m in at(problems_of(lone), "store"))


def timer(kind: str, value: str) -> tuple[str, str]:
    inner = f'<bpmn:{kind} xsi:type="bpmn:tFormalExpression">{value}</bpmn:{kind}>' if kind else ""
    return (
        "t",
        f'<bpmn:intermediateCatchEvent id="t" name="Wait"><bpmn:timerEventDefinition>{inner}'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
    )


@pytest.mark.parametrize(
    "kind, value, expected",
    [
        ("", "", "has no time"),
        ("timeDuration", "  ", "has no time"),
        ("timeDuration", "P5D", 'in quotes, as a Python string: "P5D"'),
        ("timeCycle", "R3/PT1H", "in quotes"),
        ("timeDuration", '"P5X"', "not an ISO 8601 duration"),
        ("timeDate", '"next tuesday"', "not an ISO 8601 date"),
        ("timeDuration", "__import__('os')", "cannot be used"),
        ("timeDuration", '"P5D"', None),
        ("timeDate", "working_days_later(5)", None),
        ("timeCycle", '"R2/PT1H"', None),
        ("timeCycle", '"R/PT1M"', None),
        (
            "timeCycle",
            '"R3/PT1S"',
            "repeats every 1 seconds; the shortest interval allowed here is 60",
        ),
        ("timeCycle", '"R/PT0.001S"', "repeats every 0.001 seconds"),
    ],
)
def test_timers_need_a_time_the_engine_can_read(kind, value, expected):
    messages = at(problems_of(between(timer(kind, value))), "t")
    if expected is None:
        assert messages == []
    else:
        assert len(messages) == 1 and expected in messages[0], messages
    if expected == "has no time":
        assert [p.template for p in problems_of(between(timer(kind, value)))] == [EMPTY_TIMER]
    if "repeats every" in (expected or ""):
        assert [p.template for p in problems_of(between(timer(kind, value)))] == [CYCLE_TOO_OFTEN]


def test_a_process_not_marked_executable_is_named():
    bpmn = between(("review", user_task("review")), process_attrs='isExecutable="false"')
    problems = problems_of(bpmn)
    assert [p.template for p in problems if p.element_id == "p"] == [NOT_EXECUTABLE]
    assert "mark it executable" in at(problems, "p")[0]


def test_a_file_with_two_processes_nothing_calls_is_refused_naming_both():
    second = (
        '<bpmn:process id="other" isExecutable="true"><bpmn:startEvent id="s2"/></bpmn:process>'
    )
    problems = problems_of(between(("review", user_task("review")), after=second))
    assert at(problems, "p") and at(problems, "other")


def test_a_called_process_is_not_a_second_process_but_must_exist():
    called = (
        '<bpmn:process id="helper" isExecutable="true"><bpmn:startEvent id="hs"/>'
        '<bpmn:endEvent id="he"/><bpmn:sequenceFlow id="hf" sourceRef="hs" targetRef="he"/>'
        "</bpmn:process>"
    )
    call = '<bpmn:callActivity id="call" name="Help" calledElement="helper"/>'
    info = process_models.check_model(between(("call", call), after=called), FORMS)
    assert info.process_id == "p"
    missing = at(problems_of(between(("call", call))), "call")
    assert any("helper" in m and "not in this file" in m for m in missing)
    # The runtime picks the same process, so such a model also starts.
    engine = WorkflowEngine()
    source = ModelSource("k", between(("call", call), after=called).encode())
    assert engine.describe(source).process_id == "p"


def helper_process(pid: str, calls: str | None = None) -> str:
    """A second process: start → (a call of the process `calls`) → end."""
    ids = [f"{pid}_s", *([f"{pid}_call"] if calls else []), f"{pid}_e"]
    call = f'<bpmn:callActivity id="{pid}_call" calledElement="{calls}"/>' if calls else ""
    return (
        f'<bpmn:process id="{pid}" isExecutable="true"><bpmn:startEvent id="{pid}_s"/>{call}'
        f'<bpmn:endEvent id="{pid}_e"/>'
        + "".join(flow(f"{pid}_f{i}", a, b) for i, (a, b) in enumerate(itertools.pairwise(ids)))
        + "</bpmn:process>"
    )


@pytest.mark.parametrize(
    "call_in_p, helpers, cycles",
    [
        ("p", "", {"call": "p → p"}),
        ("helper", helper_process("helper", "helper"), {"helper_call": "helper → helper"}),
        (
            "helper",
            helper_process("helper", "other") + helper_process("other", "p"),
            {
                "call": "p → helper → other → p",
                "helper_call": "helper → other → p → helper",
                "other_call": "other → p → helper → other",
            },
        ),
    ],
    ids=["itself", "a called process calls itself", "through two others"],
)
def test_a_process_that_calls_itself_is_refused_naming_each_call(call_in_p, helpers, cycles):
    """SpiffWorkflow would spin at full CPU, deaf to SIGTERM, when such a process starts."""
    call = f'<bpmn:callActivity id="call" name="Call" calledElement="{call_in_p}"/>'
    bpmn = between(("call", call), after=helpers)
    problems = [p for p in problems_of(bpmn) if p.template == CALL_CYCLE]
    assert {p.element_id: p.params["cycle"] for p in problems} == cycles
    assert "cannot call itself, directly or through others" in problems[0].message
    with pytest.raises(InvalidDiagram):  # and the runtime refuses to parse it, never hangs
        WorkflowEngine().describe(ModelSource(f"cycle-{call_in_p}-{len(helpers)}", bpmn.encode()))


def test_a_call_of_a_process_that_calls_another_without_coming_back_is_fine():
    call = '<bpmn:callActivity id="call" name="Call" calledElement="helper"/>'
    bpmn = between(
        ("call", call), after=helper_process("helper", "other") + helper_process("other")
    )
    assert [p for p in problems_of(bpmn) if p.template == CALL_CYCLE] == []


@pytest.mark.parametrize(
    "condition, expected",
    [
        ("__import__('os').system('true')", "cannot be used"),
        ("open('/etc/passwd')", "'open' is not allowed"),
        ("${approved}", "JUEL"),
        ("= not(approved)", "FEEL"),
        ("x ==", "syntax"),
    ],
)
def test_bad_conditions_are_named_on_their_gateway_with_the_flow(condition, expected):
    body = (
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw" default="to_b"/>'
        '<bpmn:endEvent id="a"/><bpmn:endEvent id="b"/>'
        + flow("f0", "s", "gw")
        + flow("to_a", "gw", "a", condition)
        + flow("to_b", "gw", "b")
    )
    [problem] = [p for p in problems_of(diagram(body)) if p.element_id == "gw"]
    assert expected in problem.message and problem.params["flow"] == "to_a"
    if expected in ("JUEL", "FEEL"):
        assert problem.template == FOREIGN


@pytest.mark.parametrize(
    "element, expected",
    [
        (
            '<bpmn:scriptTask id="x"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>',
            "imports",
        ),
        ('<bpmn:scriptTask id="x"><bpmn:script> </bpmn:script></bpmn:scriptTask>', "no script"),
        (
            '<bpmn:userTask id="x"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="formJsonSchemaFilename" value="review.schema.json"/>'
            '<spiffworkflow:property name="dueDate" value="working_days_later("/>'
            "</spiffworkflow:properties><spiffworkflow:postScript>eval('1')"
            "</spiffworkflow:postScript></bpmn:extensionElements></bpmn:userTask>",
            "dueDate",
        ),
        (
            '<bpmn:userTask id="x"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="formJsonSchemaFilename" value="review.schema.json"/>'
            "</spiffworkflow:properties></bpmn:extensionElements>"
            "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>council.members"
            "</bpmn:loopDataInputRef></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>",
            "council.members",
        ),
        (
            '<bpmn:userTask id="x"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="formJsonSchemaFilename" value="review.schema.json"/>'
            "</spiffworkflow:properties></bpmn:extensionElements>"
            "<bpmn:multiInstanceLoopCharacteristics/></bpmn:userTask>",
            "cardinality or an input collection",
        ),
    ],
)
def test_bad_scripts_and_task_expressions_are_named(element, expected):
    messages = at(problems_of(between(("x", element))), "x")
    assert any(expected in m for m in messages), messages


def test_a_post_script_is_checked_too():
    element = (
        '<bpmn:userTask id="x"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="formJsonSchemaFilename" value="review.schema.json"/>'
        "</spiffworkflow:properties><spiffworkflow:postScript>eval('1')"
        "</spiffworkflow:postScript></bpmn:extensionElements></bpmn:userTask>"
    )
    assert any("post-script" in m for m in at(problems_of(between(("x", element))), "x"))


def test_messages_work_only_between_elements_of_the_same_diagram():
    throw = (
        '<bpmn:intermediateThrowEvent id="tell"><bpmn:messageEventDefinition messageRef="m"/>'
        "</bpmn:intermediateThrowEvent>"
    )
    wait = (
        '<bpmn:intermediateCatchEvent id="hear"><bpmn:messageEventDefinition messageRef="m"/>'
        "</bpmn:intermediateCatchEvent>"
    )
    message = '<bpmn:message id="m" name="decision"/>'
    only_wait = at(problems_of(between(("hear", wait), after=message)), "hear")
    assert any("decision" in m and "nothing in this process sends it" in m for m in only_wait)
    only_tell = at(problems_of(between(("tell", throw), after=message)), "tell")
    assert any("nothing in this process waits for it" in m for m in only_tell)
    signal = wait.replace("messageEventDefinition messageRef", "signalEventDefinition signalRef")
    assert any("signal" in m for m in at(problems_of(between(("hear", signal))), "hear"))


@pytest.mark.parametrize(
    "definition, expected",
    [
        ("<bpmn:linkEventDefinition name='to_b'/>", "Link events"),
        ("<bpmn:compensateEventDefinition/>", "Compensation"),
    ],
)
def test_link_and_compensation_events_are_named(definition, expected):
    event = f'<bpmn:intermediateThrowEvent id="x">{definition}</bpmn:intermediateThrowEvent>'
    assert any(expected in m for m in at(problems_of(between(("x", event))), "x"))


def test_every_problem_is_reported_at_once_not_just_the_first():
    bpmn = between(
        ("cg", '<bpmn:complexGateway id="cg"/>'),
        ("svc", '<bpmn:serviceTask id="svc" camunda:class="org.acme.X"/>'),
        ("bare", user_task("bare", form=None)),
        ("run", '<bpmn:scriptTask id="run"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>'),
        timer("timeDuration", "P5D"),
    )
    with pytest.raises(InvalidDiagram) as caught:
        process_models.check_model(bpmn, FORMS)
    named = {p.element_id for p in caught.value.problems}
    assert {"cg", "svc", "bare", "run", "t"} <= named


def test_the_engines_own_parse_errors_keep_their_element():
    # Only SpiffWorkflow's parse notices a user task with two outgoing flows.
    body = (
        '<bpmn:startEvent id="s"/>' + user_task("review") + '<bpmn:endEvent id="a"/>'
        '<bpmn:endEvent id="b"/>'
        + flow("f0", "s", "review")
        + flow("f1", "review", "a")
        + flow("f2", "review", "b")
    )
    bpmn = diagram(body, {n: "secretariat" for n in ("s", "review", "a", "b")})
    [message] = at(problems_of(bpmn), "review")
    assert "Multiple outgoing flows" in message and "line" in message


def test_schema_errors_give_the_line_and_element():
    bpmn = between(("review", user_task("review").replace('name="Task review"', 'nme="x"')))
    [problem] = [p for p in problems_of(bpmn) if "schema" in p.message]
    assert problem.element_id == "review" and problem.params["line"] == 1


def test_a_file_that_is_not_xml_gives_the_line():
    [problem] = problems_of(HEAD + "\n<bpmn:process id='p'>\n<oops</bpmn:definitions>")
    assert problem.params["line"] == 3 and "well-formed" in problem.message


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\xff\xfe",
        b"<root/>",
        b"not xml at all",
        HEAD.encode() + b"</bpmn:definitions>",
        HEAD.encode() + b'<bpmn:process id="p"/></bpmn:definitions>',
        (HEAD + "<bpmn:process id='p'>" + "<bpmn:subProcess id='x'>" * 300).encode(),
        HEAD.encode() + b'<bpmn:process id="p"><bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" '
        b'sourceRef="s" targetRef="nowhere"/></bpmn:process></bpmn:definitions>',
        "<?xml version='1.0'?>\n<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><d>&x;</d>",
        between(("x", '<bpmn:boundaryEvent id="x" attachedToRef="nothing"/>')),
        "<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'>"
        "<bpmn:process id='p'><bpmn:sequenceFlow id='f' sourceRef='p' targetRef='p'/>"
        "</bpmn:process></bpmn:definitions>",
    ],
)
def test_no_input_makes_validation_crash(content):
    with pytest.raises(InvalidDiagram) as caught:
        process_models.check_model(content, FORMS)
    for problem in caught.value.problems:
        assert problem.message.strip() and "Traceback" not in problem.message
        assert problem.template != CANNOT_CHECK, problem.message  # our own code did not fail
        assert "root:" not in problem.message  # the entity was not read


def test_an_unresolvable_data_object_in_a_subprocess_does_not_hang_the_parser():
    # SpiffWorkflow loops forever on this one; the check names it and leaves the parser out.
    sub = (
        '<bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/>'
        '<bpmn:task id="use"><bpmn:dataInputAssociation id="di"><bpmn:sourceRef>ref'
        "</bpmn:sourceRef></bpmn:dataInputAssociation></bpmn:task>"
        '<bpmn:endEvent id="se"/><bpmn:dataObjectReference id="ref" dataObjectRef="nowhere"/>'
        + flow("sf0", "ss", "use")
        + flow("sf1", "use", "se")
        + "</bpmn:subProcess>"
    )
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(problems_of(between(("sub", sub)))))
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive() and outcome
    assert any("ref" in m and "data object" in m for m in at(outcome[0], "use"))
    with pytest.raises(InvalidDiagram):
        WorkflowEngine().describe(ModelSource("hang", between(("sub", sub)).encode()))


def test_old_style_problems_still_read_as_their_sentence():
    assert Problem("t", "Task", "100% of it is wrong").message == "100% of it is wrong"
    assert Problem("t", "Task", "Form %(form)s", {"form": "a.json"}).message == "Form a.json"


def test_problem_text_translates_the_template_and_keeps_the_params(app):
    problem = Problem("gw", "Pass?", "The value must be greater than %(n)s.", {"n": 5})
    with app.test_request_context():
        from flask import session

        assert process_models.problem_text(problem) == "该值必须大于5。"
        session["lang"] = "en"
        from flask_babel import refresh

        refresh()
        assert process_models.problem_text(problem) == "The value must be greater than 5."


def test_every_template_is_marked_for_translation():
    """Each sentence the checks produce is an N_() literal, so babel extracts it."""
    import ast

    engine_dir = ROOT / "webapp" / "engine"
    marked = set()
    for path in [*engine_dir.glob("*.py"), ROOT / "webapp" / "services" / "process_models.py"]:
        for node in ast.walk(ast.parse(Path(path).read_text("utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "N_":
                marked.add(node.args[0].value)
    bpmn = between(
        ("cg", '<bpmn:complexGateway id="cg"/>'),
        ("bare", user_task("bare", form=None)),
        timer("timeDuration", "P5D"),
    )
    for problem in problems_of(bpmn):
        assert problem.template in marked


def test_entities_in_an_uploaded_file_are_never_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", "utf-8")
    doctype = (
        f"<!DOCTYPE bpmn:definitions [<!ENTITY leak SYSTEM '{secret.as_uri()}'>"
        "<!ENTITY word 'EXPANDED'>]>"
    )
    # A foreign expression is quoted back in its message, so an expanded entity would show
    # if a check ever read the file with a parser that expands entities.
    body = (
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw" name="&word;" default="b"/>'
        '<bpmn:endEvent id="e"/>'
        + flow("f0", "s", "gw")
        + flow("a", "gw", "e", "${&leak;}")
        + flow("b", "gw", "e")
    )
    bpmn = diagram(body).replace("<bpmn:definitions", doctype + "<bpmn:definitions", 1)
    problems = problems_of(bpmn)
    assert [p.message for p in problems] == [
        "The file declares a DOCTYPE, which BPMN files do not use: remove it."
    ]
    for problem in problems:
        assert "TOPSECRET" not in problem.message + problem.element_name
        assert "EXPANDED" not in problem.message + problem.element_name


def test_the_diagram_parser_never_expands_entities(tmp_path):
    from webapp.engine.bpmn_xml import parse

    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", "utf-8")
    document = (
        f"<!DOCTYPE d [<!ENTITY leak SYSTEM '{secret.as_uri()}'><!ENTITY word 'EXPANDED'>]>"
        "<d>&word; &leak;</d>"
    )
    text = "".join(parse(document.encode()).itertext())  # what the checks read
    assert "EXPANDED" not in text and "TOPSECRET" not in text


def script(source: str) -> str:
    return f'<bpmn:scriptTask id="x"><bpmn:script>{source}</bpmn:script></bpmn:scriptTask>'


@pytest.mark.parametrize(
    "source, expected",
    [
        ("x = send_mail(applicant_id)", "it calls send_mail(), which is no function"),
        ("d = working_days_later()", "working_days_later(n"),
        ("d = working_days_later(1, today(), 3, 4)", "too many positional arguments"),
        ('v = vote_outcome([], 3, quorum="2/3", colour="red")', "unexpected keyword argument"),
        ("m = role_members()", "role_members(key_or_name"),
    ],
)
def test_a_call_of_an_unknown_function_or_with_wrong_arguments_is_named(source, expected):
    messages = at(problems_of(between(("x", script(source)))), "x")
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    "source",
    [
        "d = working_days_later(5)",
        "d = working_days_later(n=5)",
        "m = role_members('理事会')",
        "f = len\nn = f([1, 2])",
        "n = max(len([1]), int('2'))",
        "args = [5]\nd = working_days_later(*args)",
    ],
)
def test_calls_a_diagram_may_make_are_accepted(source):
    assert at(problems_of(between(("x", script(source)))), "x") == []


def told(group: str) -> str:
    return (
        '<bpmn:scriptTask id="tell" name="Tell"><bpmn:extensionElements>'
        '<spiffworkflow:properties><spiffworkflow:property name="notifyRole" '
        f'value="{group}" /></spiffworkflow:properties></bpmn:extensionElements>'
        "<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>"
    )


def test_a_message_to_a_group_that_does_not_exist_is_named():
    [message] = at(problems_of(between(("tell", told("Board")))), "tell")
    assert "notifyRole" in message and "Board" in message and "secretariat" in message
    for known in ("secretariat", "理事会", "Finance", "applicant"):
        assert problems_of(between(("tell", told(known)))) == [], known
