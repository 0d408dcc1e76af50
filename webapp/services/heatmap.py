"""The heatmap of a deployed version (as Camunda Cockpit's): per element where people work or
cases wait, how many cases are there now and the median time spent there.

The elements and their names come from the version's diagram; the figures from the projection
alone: the cases at each element now from the running counts every step keeps
(webapp.services.heat_counts; one case however many ballots it has open), the times through
the heatmap indexes from completed human tasks (offered → completed) and the timer waits the
projection records with every step (began → ended). Never from
deserialized workflows. Boundary timers are left out: a case waiting on one is at the activity
it is attached to, counted there.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from flask_babel import get_locale
from flask_babel import gettext as _
from lxml import etree
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import HumanTask, ModelVersion, TimerWait
from webapp.services import heat_counts

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
TASKS = ("userTask", "manualTask", "task")
# The median reads an element's latest ended visits: the same cost however long the
# association has been at work.
DURATION_SAMPLE = 1000
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass
class Element:
    bpmn_id: str
    kind: str  # task | timer
    name_zh: str
    name_en: str
    now: int = 0
    median_hours: float | None = None
    ended: int = 0  # visits the median was taken over

    @property
    def name(self) -> str:
        english = str(get_locale() or "").startswith("en")
        return (self.name_en or self.name_zh) if english else (self.name_zh or self.name_en)

    @property
    def median_text(self) -> str:
        return duration_text(self.median_hours)


def duration_text(hours: float | None) -> str:
    """A median as people say it: hours under two days, days beyond."""
    if hours is None:
        return "—"
    if hours < 48:
        return _("%(n)s h", n=f"{hours:.1f}")
    return _("%(n)s d", n=f"{hours / 24:.1f}")


def elements_of(bpmn: str) -> list[Element]:
    """The version's human tasks and timer catch events, in the order the diagram lists them."""
    root = etree.fromstring(bpmn.encode("utf-8"), SAFE_PARSER)
    out = []
    for node in root.iter(*(f"{{{BPMN}}}{kind}" for kind in (*TASKS, "intermediateCatchEvent"))):
        local = etree.QName(node).localname
        if local == "intermediateCatchEvent":
            if node.find(f"{{{BPMN}}}timerEventDefinition") is None:
                continue
            kind = "timer"
        else:
            kind = "task"
        english = ""
        for prop in node.iter(f"{{{SPIFF}}}property"):
            if prop.get("name") == "titleEn":
                english = (prop.get("value") or "").strip()
        bpmn_id = node.get("id")
        if bpmn_id:
            out.append(Element(bpmn_id, kind, (node.get("name") or "").strip(), english))
    return out


def _hours(start, end) -> float:
    return (end - start).total_seconds() / 3600


def _times(table, done: str, begun, ended, version_id: int, bpmn_id: str) -> list[float]:
    """Hours spent by the latest passages through one element: human tasks (offered →
    completed) and timer waits (begun → ended) alike, through their heatmap indexes."""
    return [
        _hours(start, end)
        for start, end in db.session.execute(
            select(begun, ended)
            .where(
                table.version_id == version_id,
                table.state == done,
                table.bpmn_id == bpmn_id,
            )
            .order_by(ended.desc())
            .limit(DURATION_SAMPLE)
        )
        if end is not None
    ]


def _task_times(version_id: int, bpmn_id: str) -> list[float]:
    return _times(
        HumanTask, "completed", HumanTask.created_at, HumanTask.completed_at, version_id, bpmn_id
    )


def _timer_times(version_id: int, bpmn_id: str) -> list[float]:
    return _times(TimerWait, "ended", TimerWait.started_at, TimerWait.ended_at, version_id, bpmn_id)


def of_version(version: ModelVersion) -> list[Element]:
    """Every counted element of the version with its figures."""
    elements = elements_of(version.bpmn)
    # Running counts kept by the steps: counting open tasks grew with the cases (bench/desk.py).
    counts = heat_counts.now(version.id)
    for element in elements:
        element.now = counts.get(element.bpmn_id, 0)
        times = (_task_times if element.kind == "task" else _timer_times)(
            version.id, element.bpmn_id
        )
        element.ended = len(times)
        element.median_hours = round(statistics.median(times), 1) if times else None
    return elements
