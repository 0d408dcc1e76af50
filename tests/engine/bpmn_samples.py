"""Small diagrams for the adapter's own tests, written inline so each test shows what it runs."""

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="defs" targetNamespace="http://example.org/bpmn">'
)


def process(body: str, pid: str = "p") -> bytes:
    """A one-process definitions document around the given flow elements."""
    return (
        HEAD
        + f'<bpmn:process id="{pid}" name="Sample" isExecutable="true">'
        + body
        + "</bpmn:process></bpmn:definitions>"
    ).encode()


def timer_then_task(expression: str) -> bytes:
    """start → timer (expression) → user task 'after' → end."""
    return process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>'
        '<bpmn:intermediateCatchEvent id="wait" name="Wait">'
        '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
        f"{expression}</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
        '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>'
        '<bpmn:userTask id="after" name="After the wait"/>'
        '<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="e"/>'
        '<bpmn:endEvent id="e"/>'
    )


def script_between_tasks(script: str) -> bytes:
    """start → user task 'first' → script → user task 'second' → end."""
    return process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="first"/>'
        '<bpmn:userTask id="first" name="First"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="run"/>'
        f'<bpmn:scriptTask id="run" name="Compute"><bpmn:script>{script}</bpmn:script>'
        "</bpmn:scriptTask>"
        '<bpmn:sequenceFlow id="f3" sourceRef="run" targetRef="second"/>'
        '<bpmn:userTask id="second" name="Second"/>'
        '<bpmn:sequenceFlow id="f4" sourceRef="second" targetRef="e"/>'
        '<bpmn:endEvent id="e"/>'
    )


def gateway(condition: str) -> bytes:
    """start → user task → exclusive gateway (condition → yes, default → no)."""
    return process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="ask"/>'
        '<bpmn:userTask id="ask" name="Ask"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="gw"/>'
        '<bpmn:exclusiveGateway id="gw" name="Decide" default="no"/>'
        f'<bpmn:sequenceFlow id="yes" sourceRef="gw" targetRef="y"><bpmn:conditionExpression>'
        f"{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="no" sourceRef="gw" targetRef="n"/>'
        '<bpmn:userTask id="y" name="Yes"/><bpmn:userTask id="n" name="No"/>'
        '<bpmn:sequenceFlow id="f5" sourceRef="y" targetRef="e"/>'
        '<bpmn:sequenceFlow id="f6" sourceRef="n" targetRef="e"/>'
        '<bpmn:endEvent id="e"/>'
    )
