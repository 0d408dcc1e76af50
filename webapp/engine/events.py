"""Events that cannot happen here: messages and signals nothing delivers, and event kinds the
engine reads as plain events.

An instance of this application hears nothing from outside (no endpoint delivers messages or
signals to it) and sends nothing out, so a message or signal only works when the same diagram
both throws and catches it; a catch nothing throws would wait forever, a throw nothing catches
is lost. Timers, conditions, errors and escalations need no outside party and are fine.
"""

from __future__ import annotations

from webapp.engine.bpmn_xml import by_id, event_definitions, label, local, problem
from webapp.engine.types import N_, Problem

_CATCHES = ("startEvent", "intermediateCatchEvent", "boundaryEvent", "receiveTask")
_THROWS = ("endEvent", "intermediateThrowEvent", "sendTask")

_NEVER_ARRIVES = {
    "message": N_(
        "The event waits for the message %(name)s, but nothing in this process sends it and "
        "nothing outside can deliver messages here: remove it, or use a user task or a timer."
    ),
    "signal": N_(
        "The event waits for the signal %(name)s, but nothing in this process sends it and "
        "nothing outside can deliver signals here: remove it, or use a user task or a timer."
    ),
}
_GOES_NOWHERE = {
    "message": N_(
        "The message %(name)s is sent, but nothing in this process waits for it and nothing "
        "outside receives messages from here: remove it, or use the property notify to tell "
        "people."
    ),
    "signal": N_(
        "The signal %(name)s is sent, but nothing in this process waits for it and nothing "
        "outside receives signals from here: remove it, or use the property notify to tell "
        "people."
    ),
}
_PLAIN = {
    "linkEventDefinition": N_(
        "Link events are not supported here (the engine treats them as plain events): connect "
        "the flows directly."
    ),
    "compensateEventDefinition": N_(
        "Compensation is not supported here: model the steps that undo the work with ordinary "
        "tasks and flows."
    ),
}


def event_problems(root, scope: list) -> list[Problem]:
    """Messages and signals that never arrive or go nowhere, and unsupported event kinds."""
    ids = by_id(root)
    problems: list[Problem] = []
    uses = []  # (element, "message" | "signal", name shown, name matched, catching?)
    for process in scope:
        for element in process.iter():
            kind = local(element)
            if kind not in _CATCHES + _THROWS:
                continue
            definitions = event_definitions(element)
            for definition in definitions:
                what = local(definition).removesuffix("EventDefinition")
                if local(definition) in _PLAIN:
                    problems.append(problem(element, _PLAIN[local(definition)]))
                elif what in ("message", "signal"):
                    uses.append((element, what, *_name(definition, what, ids), kind in _CATCHES))
            has_message = any(local(d) == "messageEventDefinition" for d in definitions)
            if kind in ("sendTask", "receiveTask") and not has_message:
                if element.get("messageRef"):
                    uses.append(
                        (element, "message", *_name(element, "message", ids), kind in _CATCHES)
                    )
                elif kind == "receiveTask":
                    template = N_(
                        "The receive task names no message, so it would wait forever: use a "
                        "user task or a timer instead."
                    )
                    problems.append(problem(element, template))
            if kind == "boundaryEvent" and not definitions:
                template = N_(
                    "The boundary event has no trigger: give it a timer, a condition, an error or "
                    "an escalation, or remove it."
                )
                problems.append(problem(element, template))
    thrown = {(what, key) for _, what, _, key, catching in uses if not catching}
    caught = {(what, key) for _, what, _, key, catching in uses if catching}
    for element, what, shown, key, catching in uses:
        if catching and (what, key) not in thrown:
            problems.append(problem(element, _NEVER_ARRIVES[what], name=shown))
        elif not catching and (what, key) not in caught:
            problems.append(problem(element, _GOES_NOWHERE[what], name=shown))
    return problems


def _name(node, what: str, ids) -> tuple[str, str]:
    """The name shown to the owner and the name the engine matches events by."""
    ref = node.get(f"{what}Ref")
    if ref:
        target = ids.get(ref)
        name = (target.get("name") if target is not None else None) or ""
        return name or ref, name
    # Without a reference SpiffWorkflow matches by the name of the event itself.
    owner = node if local(node) in ("sendTask", "receiveTask") else node.getparent()
    return label(owner) or owner.get("id") or "", owner.get("name") or ""
