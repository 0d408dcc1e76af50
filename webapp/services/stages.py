"""Stages are the diagram's: each user task or waiting timer names its `stage`, the order is the
order of the flow, and the names a reader sees come from the model's `stages.data.json`
(`{"review": {"zh": "初审", "en": "Preliminary review"}, …}`); why a case ended from its
`outcomes.data.json` in the same form. Nothing here knows any procedure's stages."""

from __future__ import annotations

import threading
from collections import deque

from flask_babel import lazy_gettext as _l
from lxml import etree

from webapp.extensions import db
from webapp.models import ProcessModel
from webapp.services import model_data
from webapp.services.workflow import version_content

STAGES_FILE = "stages.data.json"
OUTCOMES_FILE = "outcomes.data.json"
_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

STATUSES_FILE = "statuses.data.json"
TONES = ("success", "danger", "warning")
# A case is in progress until its process ends; then it stands as the diagram's `outcome` says,
# named in the model's `statuses.data.json` (`{"admitted": {"zh": …, "en": …, "tone":
# "success"}}`), or simply closed.
STATUS_LABELS = {
    "in_progress": _l("In progress"),
    "closed": _l("Closed"),
    # Any case its applicant withdrew (webapp.services.own_cases), whatever its procedure.
    "retracted": _l("Withdrawn by the applicant"),
}

_order: dict[tuple[str, int], list[str]] = {}
_lock = threading.Lock()


def order_of(version_id: int) -> list[str]:
    """The stages of a version's diagram, in the order its flow reaches them."""
    key = (str(db.engine.url), version_id)
    if key not in _order:
        found = _flow_order(version_content(version_id).source.bpmn)
        with _lock:
            _order[key] = found
    return _order[key]


def order_in(bpmn: bytes) -> list[str]:
    """The stages of a diagram not yet deployed (its checks), in flow order; [] if unreadable."""
    try:
        return _flow_order(bpmn)
    except etree.XMLSyntaxError:
        return []


def _flow_order(bpmn: bytes) -> list[str]:
    root = etree.fromstring(bpmn, _PARSER)
    by_id = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    following: dict[str, list[str]] = {}
    for flow in root.iter(f"{{{_BPMN}}}sequenceFlow"):
        following.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    for boundary in root.iter(f"{{{_BPMN}}}boundaryEvent"):
        following.setdefault(boundary.get("attachedToRef"), []).append(boundary.get("id"))
    queue = deque(e.get("id") for e in root.iter(f"{{{_BPMN}}}startEvent"))
    seen, stages = set(queue), []
    visited = []
    while queue:
        element_id = queue.popleft()
        visited.append(element_id)
        for target in following.get(element_id, []):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    # Elements no flow reaches from a start (inside sub-processes) come last, as drawn.
    visited += [i for i in by_id if i not in seen]
    for element_id in visited:
        stage = _stage_of(by_id.get(element_id))
        if stage and stage not in stages:
            stages.append(stage)
    return stages


def _stage_of(element) -> str | None:
    if element is None:
        return None
    for prop in element.iterfind(f"./{{{_BPMN}}}extensionElements//{{{_SPIFF}}}property"):
        if prop.get("name") == "stage":
            return (prop.get("value") or "").strip() or None
    return None


def stage_label(stage: str | None, version_id: int | None = None, case=None) -> str:
    """A stage's name in the reader's language, from its model's data; as written otherwise.
    With a case, from its own procedure's live model: two procedures may name a stage alike
    (a withdrawal's and the dues' "confirmation") and call it differently."""
    if version_id is None and case is not None and case.model_id is not None:
        model = db.session.get(ProcessModel, case.model_id)  # once per session and model
        version_id = model.live_version_id if model is not None else None
    return model_data.localized(model_data.entry(STAGES_FILE, stage, version_id), stage or "")


def outcome_label(code: str | None, version_id: int | None = None) -> str:
    """Why a case ended, in the reader's language ('' when the model does not say)."""
    return model_data.localized(model_data.entry(OUTCOMES_FILE, code, version_id))


def status_label(status: str, version_id: int | None = None) -> str:
    """The name of a case's status in the reader's language."""
    if status in STATUS_LABELS:
        return str(STATUS_LABELS[status])
    return model_data.localized(model_data.entry(STATUSES_FILE, status, version_id), status)


def status_tone(status: str, version_id: int | None = None) -> str:
    """How a status is coloured: `success` (every stage done), `danger`, `warning`, or
    `secondary` for anything the model does not colour."""
    found = model_data.entry(STATUSES_FILE, status, version_id)
    tone = found.get("tone") if isinstance(found, dict) else None
    return tone if tone in TONES else "secondary"
