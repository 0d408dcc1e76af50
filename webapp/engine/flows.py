"""Sequence flows and the gateways that choose between them, as SpiffWorkflow will run them.

Only exclusive and inclusive gateways evaluate conditions, and each of their outgoing flows
but the default needs one: with none true and no default the instance would stop with an error.
"""

from __future__ import annotations

from webapp.engine.bpmn_xml import local, problem, text, xpath
from webapp.engine.expressions import CONDITIONAL_GATEWAYS
from webapp.engine.types import N_, Problem


def gateway_problems(gateway) -> list[Problem]:
    """A gateway that cannot always choose: every flow but the default needs a condition."""
    container = gateway.getparent()
    outgoing = [
        f
        for f in xpath(container, "./bpmn:sequenceFlow")
        if f.get("sourceRef") == gateway.get("id")
    ]
    if len(outgoing) < 2:
        return []  # a single flow needs no choice: the engine takes it
    default = gateway.get("default")
    problems = []
    if default and default not in {f.get("id") for f in outgoing}:
        template = N_(
            "The default flow %(flow)s does not leave this gateway: choose one of its outgoing "
            "flows as the default."
        )
        problems.append(problem(gateway, template, flow=default))
        default = None
    bare = [
        f.get("id") or ""
        for f in outgoing
        if f.get("id") != default
        and not text(next(iter(xpath(f, "./bpmn:conditionExpression")), None))
    ]
    if bare and default:
        template = N_(
            "Only the default flow %(flow)s may leave the gateway without a condition: give a "
            "condition to %(flows)s."
        )
        problems.append(problem(gateway, template, flows=", ".join(bare), flow=default))
    elif bare:
        template = N_(
            "The gateway has %(count)s outgoing flows, and these have no condition: %(flows)s. "
            "Give each a condition, or make one of them the gateway's default flow."
        )
        problems.append(problem(gateway, template, count=len(outgoing), flows=", ".join(bare)))
    return problems


def flow_problems(flow, ids, members: dict) -> list[Problem]:
    """A flow that leads out of its process, or whose condition nothing evaluates."""
    container = flow.getparent()
    if container not in members:
        members[container] = {e.get("id") for e in container.iter() if isinstance(e.tag, str)}
    inside = members[container]
    problems = []
    for end in ("sourceRef", "targetRef"):
        if flow.get(end) not in inside:
            template = N_(
                "The flow connects to %(ref)s, which is not an element of the same process: "
                "reconnect it."
            )
            problems.append(problem(flow, template, ref=flow.get(end) or ""))
    source = ids.get(flow.get("sourceRef"))
    if (
        source is not None
        and local(source) not in CONDITIONAL_GATEWAYS
        and xpath(flow, "./bpmn:conditionExpression")
    ):
        template = N_(
            "The flow has a condition, but only flows leaving an exclusive or inclusive gateway "
            "are chosen by condition here: put a gateway before it, or remove the condition."
        )
        problems.append(problem(flow, template))
    return problems
