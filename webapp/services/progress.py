"""An application's progress drawn on the diagram of its own version, and told as stages.

The secretariat and the council see the diagram as drawn. The applicant sees its own lane as
drawn and every other lane only by stage: names become stage labels, element ids become opaque,
and scripts, conditions, documentation and extension properties are removed on the server, so
nothing of the committee's working reaches the browser.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime

from lxml import etree
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Case, HumanTask, ProcessInstance, User, parse_iso
from webapp.roles import APPLICANT
from webapp.services import cases
from webapp.services.groups import lane_group, lane_label
from webapp.services.stages import order_of, stage_label
from webapp.services.workflow import engine, source_for, version_content

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
STANDARD_NAMESPACES = (
    BPMN,
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
)
# Element kinds whose content is the committee's working: removed for the applicant.
HIDDEN_CONTENT = ("extensionElements", "script", "documentation", "conditionExpression")
# Children of these keep their element (so the shape still shows what it is) but lose content.
EMPTIED = (
    "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics",
    "ioSpecification",
    "timeDate",
    "timeDuration",
    "timeCycle",
    "text",
)
# Ids that stay as they are: the frame of the drawing, not its steps.
KEPT_KINDS = ("definitions", "collaboration", "participant", "process", "laneSet", "lane")
REF_ATTRIBUTES = (
    "sourceRef",
    "targetRef",
    "attachedToRef",
    "default",
    "bpmnElement",
    "processRef",
    "messageRef",
    "signalRef",
    "errorRef",
    "escalationRef",
    "dataObjectRef",
    "dataStoreRef",
)
REF_TEXTS = ("flowNodeRef", "incoming", "outgoing", "sourceRef", "targetRef")
ACTIVITIES = ("task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask",
              "receiveTask", "businessRuleTask", "subProcess", "callActivity")  # fmt: skip
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass(frozen=True)
class DiagramView:
    """What the viewer draws: the BPMN text and element id → completed | current | cancelled."""

    xml: str
    states: dict[str, str]
    sanitized: bool


def diagram_of(user: User, case_id: int) -> DiagramView:
    """The diagram of an application's own version with its progress; raises NotFound."""
    case, _with_data = cases.visible_progress(user, case_id)
    instance = db.session.get(ProcessInstance, case.instance_id)
    source = source_for(instance.version_id)
    states = engine.element_states(source, instance.state)
    xml = version_content(instance.version_id).source.bpmn
    if case.applicant_id != user.id:
        return DiagramView(xml.decode("utf-8"), states, sanitized=False)
    text, ids = for_applicant(xml)
    return DiagramView(text, {ids.get(k, k): v for k, v in states.items()}, sanitized=True)


def _local(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _stage_property(element) -> str | None:
    path = f"{{{BPMN}}}extensionElements/{{{SPIFF}}}properties/{{{SPIFF}}}property"
    for prop in element.iterfind(path):
        if prop.get("name") == "stage":
            return prop.get("value")
    return None


def _stages(process) -> dict[str, str]:
    """Each flow node's stage: its own `stage` property, else that of the nearest step before it."""
    own, upstream = {}, {}
    for element in process.iter():
        element_id = element.get("id")
        if element_id is None:
            continue
        if _local(element) == "sequenceFlow":
            upstream.setdefault(element.get("targetRef"), []).append(element.get("sourceRef"))
        elif element.get("attachedToRef"):
            upstream.setdefault(element_id, []).append(element.get("attachedToRef"))
        stage = _stage_property(element)
        if stage:
            own[element_id] = stage
    found = {}
    for element_id in {e.get("id") for e in process.iter() if e.get("id")}:
        queue, seen = deque([element_id]), {element_id}
        while queue:
            current = queue.popleft()
            if current in own:
                found[element_id] = own[current]
                break
            for before in upstream.get(current, []):
                if before not in seen:
                    seen.add(before)
                    queue.append(before)
    return found


def for_applicant(bpmn: bytes) -> tuple[str, dict[str, str]]:
    """The diagram as the applicant may see it, and the old → opaque id mapping of its steps."""
    root = etree.fromstring(bpmn, SAFE_PARSER)
    lane_of = {}
    for lane in root.iter(f"{{{BPMN}}}lane"):
        for ref in lane.iter(f"{{{BPMN}}}flowNodeRef"):
            lane_of[(ref.text or "").strip()] = lane.get("name")
    stages = {}
    for process in root.iter(f"{{{BPMN}}}process"):
        stages.update(_stages(process))

    def lane(element) -> str | None:
        return lane_of.get(element.get("id")) or lane_of.get(element.get("attachedToRef") or "")

    kept = set()
    for element in list(root.iter()):
        kind = _local(element)
        if not kind or kind in HIDDEN_CONTENT or _namespace(element) not in STANDARD_NAMESPACES:
            # comments, scripts, conditions, documentation, extension properties and forms
            if element.getparent() is not None:
                element.getparent().remove(element)
            continue
        for attribute in list(element.attrib):
            if etree.QName(attribute).namespace not in (None, *STANDARD_NAMESPACES):
                del element.attrib[attribute]  # spiffworkflow:…, camunda:… and the like
        if kind in EMPTIED:
            element.text = None
            for child in list(element):
                element.remove(child)
        own = lane_group(lane(element)) == APPLICANT
        if kind in KEPT_KINDS or own:
            kept.add(element.get("id"))
        if element.get("name") is not None and not own:
            _rename(element, kind, stages.get(element.get("id")), lane(element))
    ids = _opaque_ids(root, kept)
    etree.cleanup_namespaces(root)
    return etree.tostring(root, encoding="unicode"), ids


def _namespace(element) -> str | None:
    return etree.QName(element).namespace


def _rename(element, kind: str, stage: str | None, lane: str | None) -> None:
    """Another lane's element says no more than its stage (its lane's role for a task)."""
    if kind in ("participant", "process", "collaboration"):
        return
    label = ""
    if kind == "lane":
        label = lane_label(element.get("name"))
    elif kind in ACTIVITIES:
        label = stage_label(stage) or lane_label(lane)
    elif kind.endswith("Event"):
        label = stage_label(stage)
    if label:
        element.set("name", label)
    else:
        del element.attrib["name"]  # gateways, flows, data and messages say nothing


def _opaque_ids(root, kept: set[str]) -> dict[str, str]:
    """Replace every id outside the applicant's own lane by a sequence number, references too."""
    mapping, counter = {}, 0
    for element in root.iter():
        element_id = element.get("id")
        if element_id and element_id not in kept and element.get("bpmnElement") not in kept:
            counter += 1
            mapping[element_id] = f"step_{counter}"
    for element in root.iter():
        for attribute in ("id", *REF_ATTRIBUTES):
            value = element.get(attribute)
            if value in mapping:
                element.set(attribute, mapping[value])
        if _local(element) in REF_TEXTS and (element.text or "").strip() in mapping:
            element.text = mapping[element.text.strip()]
    return mapping


@dataclass(frozen=True)
class StageEvent:
    """One line of the applicant's timeline: a stage reached or a step of its own done."""

    at: datetime
    stage: str | None
    title: str  # the applicant's own step, or the stage label for the committee's steps
    state: str  # completed | cancelled | ready
    own: bool
    until: datetime | None = None  # the end of a period (the public notice)


def stage_timeline(case: Case) -> list[StageEvent]:
    """What happened to an application, in stages: the applicant's own steps by name, the
    committee's only by stage, each stage's steps merged into one line, oldest first."""
    rows = db.session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id == case.instance_id)
        .order_by(HumanTask.created_at, HumanTask.id)
    )
    events: list[StageEvent] = []
    for row in rows:
        own = lane_group(row.lane) == APPLICANT
        title = row.title if own else stage_label(row.stage)
        at = row.completed_at or row.created_at
        previous = events[-1] if events else None
        if previous and not own and not previous.own and previous.stage == row.stage:
            # The council's votes, or a review and its objections, are one step to the applicant.
            state = "ready" if "ready" in (row.state, previous.state) else row.state
            events[-1] = StageEvent(max(previous.at, at), row.stage, title, state, own)
            continue
        events.append(StageEvent(at, row.stage, title, row.state, own))
    return _with_notice(case, events)


def _with_notice(case: Case, events: list[StageEvent]) -> list[StageEvent]:
    """The public notice has no task unless someone objects: its period comes from the facts,
    placed after the review that opened it."""
    facts = case.facts or {}
    closes, stage = parse_iso(facts.get("notice_closes_at")), facts.get("notice_stage")
    if closes is None or not stage:
        return events
    # Running while its timer waits (the case's column, cleared when it fires), not "until the
    # planned date": a period ended early (demo time) is over, whatever the date said.
    running = case.status == "in_progress" and case.notice_closes_at is not None
    for i, event in enumerate(events):
        if event.stage == stage:  # objections were answered: that line carries the period
            events[i] = replace(event, until=closes)
            return events
    # Placed after the last step of the stages the flow reaches before the notice's.
    order = order_of(case.instance.version_id)
    rank = order.index(stage) if stage in order else len(order)
    earlier = set(order[:rank])
    after = max((i for i, e in enumerate(events) if e.stage in earlier), default=-1)
    opened = events[after].at if after >= 0 else case.created_at
    notice = StageEvent(
        opened, stage, stage_label(stage), "ready" if running else "completed", False, closes
    )
    return [*events[: after + 1], notice, *events[after + 1 :]]
