"""Incidents: automatic steps that failed at run time, as Camunda turns a failed job into one.

A failing timer opens an incident (or counts another attempt on the open one) in the ticker's
transaction and moves the instance's `next_timer_at` to the next retry, so the indexed due query
itself stops picking it: exponential backoff, and after the configured number of attempts no
automatic retry at all until a process owner retries (webapp.services.timers.retry_incident).
A step that then succeeds resolves the incident.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask import current_app
from lxml import etree
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Case, Incident, ModelVersion, ProcessInstance, User
from webapp.models.incidents import OPEN, RESOLVED
from webapp.roles import PROCESS_OWNER
from webapp.services import audit
from webapp.services.errors import Forbidden
from webapp.services.workflow import engine, source_for, version_content

# The engine names the step that failed as "… at '<name>': …" (engine/runtime.py).
_AT = re.compile(r" at '([^']+)'")
# … and a limit the sandbox stopped an expression at as "… of '<name>' (<id>) …".
_OF = re.compile(r"'[^']*' \(([^()\s]+)\)")
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
# Versions never change: their elements are read once per process.
_elements: dict[tuple[str, int], tuple[dict[str, str], list[str]]] = {}
RESOLVED_SHOWN = 20


def may_view(user: User) -> bool:
    """Process owners and the secretariat see incidents."""
    return user.has_role(PROCESS_OWNER) or user.keeps_register


def open_count() -> int:
    """How many incidents are open (the navbar's badge); read from the index alone."""
    return db.session.scalar(
        select(func.count()).select_from(Incident).where(Incident.state == OPEN)
    )


def listing(user: User) -> tuple[list[Incident], list[Incident]]:
    """The open incidents, latest failure first, and the most recently resolved ones."""
    if not may_view(user):
        raise Forbidden("not_incident_viewer")

    def rows(state: str, order, limit: int | None = None) -> list[Incident]:
        query = (
            select(Incident)
            .where(Incident.state == state)
            .order_by(order, Incident.id)
            .options(
                selectinload(Incident.case),
                selectinload(Incident.resolved_by),
                selectinload(Incident.instance)
                .selectinload(ProcessInstance.version)
                .selectinload(ModelVersion.model),
            )
        )
        return list(db.session.scalars(query.limit(limit)))

    return (
        rows(OPEN, Incident.last_at.desc()),
        rows(RESOLVED, Incident.resolved_at.desc(), RESOLVED_SHOWN),
    )


def open_of(instance_id: int) -> Incident | None:
    """The instance's open incident, if it has one."""
    for pending in db.session.new:
        if isinstance(pending, Incident) and pending.instance_id == instance_id:
            if pending.state == OPEN:
                return pending
    # Read without flushing the step's rows first (a step asks after every success): the
    # only row that matters and might not be written yet is an incident, looked for above.
    with db.session.no_autoflush:
        found = db.session.scalars(_OPEN, {"instance_id": instance_id}).first()
    return found if found is not None and found.state == OPEN else None


_OPEN = select(Incident).where(
    Incident.instance_id == bindparam("instance_id"), Incident.state == OPEN
)


def next_retry(attempts: int, now: datetime) -> datetime | None:
    """When the ticker tries again after `attempts` failures; None once they are used up."""
    config = current_app.config
    if attempts >= config["INCIDENT_MAX_ATTEMPTS"]:
        return None
    delay = config["INCIDENT_RETRY_SECONDS"] * 2 ** (attempts - 1)
    return now + timedelta(seconds=min(delay, config["INCIDENT_RETRY_MAX_SECONDS"]))


def record_failure(
    instance: ProcessInstance, error: str, now: datetime, actor_id: int | None = None
) -> Incident:
    """Count a failed attempt on the locked instance and hold its timer back until the next
    retry, in the current transaction (no commit)."""
    incident = open_of(instance.id)
    if incident is None:
        incident = Incident(
            instance_id=instance.id,
            case_id=db.session.scalar(select(Case.id).where(Case.instance_id == instance.id)),
            first_at=now,
            attempts=0,
        )
        db.session.add(incident)
    incident.element_id, incident.element_name = _failed_element(instance, error)
    incident.message, incident.last_at = error, now
    incident.attempts += 1
    incident.next_retry_at = next_retry(incident.attempts, now)
    # The due query reads next_timer_at alone (through its index): moving it is what stops the
    # ticker from picking the instance again before the retry, or at all after the last one.
    # Any later step of the instance (a migration, an objection) sets it from the engine again.
    instance.next_timer_at = incident.next_retry_at
    db.session.flush()
    audit.record(
        "timer_failed",
        actor_id,
        instance.id,
        data={
            "error": error,
            "incident": incident.id,
            "attempt": incident.attempts,
            "element": incident.element_id,
            "next_retry_at": incident.next_retry_at.isoformat() if incident.next_retry_at else None,
        },
    )
    return incident


def resolve(instance_id: int, now: datetime, actor_id: int | None = None) -> Incident | None:
    """Resolve the instance's open incident after a step succeeded (no commit)."""
    incident = open_of(instance_id)
    if incident is None:
        return None
    incident.state, incident.resolved_at = RESOLVED, now
    incident.resolved_by_id, incident.next_retry_at = actor_id, None
    audit.record(
        "incident_resolved",
        actor_id,
        instance_id,
        data={"incident": incident.id, "attempts": incident.attempts},
    )
    return incident


def after_migration(instance: ProcessInstance, now: datetime, actor_id: int | None = None) -> None:
    """A migration may have fixed what failed: the ticker tries the open incident's step on its
    next round, whatever the backoff said (no commit)."""
    incident = open_of(instance.id)
    if incident is not None:
        # Set here, not from the engine: a migrated instance whose timer is overdue comes back
        # without a next timer (SpiffWorkflow no longer counts it as waiting).
        incident.next_retry_at = instance.next_timer_at = now
        audit.record(
            "incident_retry_scheduled", actor_id, instance.id, data={"incident": incident.id}
        )


def _failed_element(instance: ProcessInstance, error: str) -> tuple[str, str]:
    """The element the error names if the diagram has it, else the timer the instance waits on
    (Camunda names the failed job's activity): (id, name), or blanks if neither is found."""
    names, timers = _diagram_elements(instance.version_id)
    named = _AT.search(error) or _OF.search(error)
    if named:
        for element_id, name in names.items():
            if named.group(1) in (element_id, name):
                return element_id, name
    try:
        states = engine.element_states(source_for(instance.version_id), instance.state)
    except Exception:  # the incident is recorded even when the state cannot be read
        states = {}
    for element_id in timers:
        if states.get(element_id) == "current":
            return element_id, names.get(element_id, element_id)
    return "", ""


def _diagram_elements(version_id: int) -> tuple[dict[str, str], list[str]]:
    """A version's element id → name (or id), and the ids of its timer events."""
    key = (str(db.engine.url), version_id)
    if key not in _elements:
        root = etree.fromstring(version_content(version_id).source.bpmn, _PARSER)
        names, timers = {}, []
        for element in root.iter(f"{{{BPMN}}}*"):  # the process, not the drawing's shapes
            element_id = element.get("id")
            if element_id is None:
                continue
            names[element_id] = element.get("name") or element_id
            if element.find(f"{{{BPMN}}}timerEventDefinition") is not None:
                timers.append(element_id)
        _elements[key] = (names, timers)
    return _elements[key]
