"""The public notice: who is on the board, objections filed by anyone during the period, and the
secretariat's answers to them."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from webapp.engine import EngineError
from webapp.extensions import db
from webapp.models import Case, HumanTask, Objection, User, parse_iso, utcnow
from webapp.services import audit, notify, steps
from webapp.services.errors import NotFound, NoticeClosed, ProcessError
from webapp.services.workflow import engine, lock_instance, source_for

MAX_REASON = 4000
MAX_CONTACT = 200


@dataclass(frozen=True)
class BoardEntry:
    """What may be published of an applicant: nothing beyond these fields."""

    case_id: int
    name: str | None
    member_type: str | None
    region: str | None
    industry: str | None
    closes_at: datetime | None


def on_notice(now: datetime | None = None, limit: int = 500) -> list[BoardEntry]:
    """Applicants whose notice period is running, the soonest to close first."""
    now = now or utcnow()
    rows = db.session.execute(
        select(
            Case.id,
            Case.name,
            Case.member_type,
            Case.region,
            Case.industry,
            Case.notice_closes_at,
        )
        .where(Case.notice_closes_at > now, Case.status == "in_progress")
        .order_by(Case.notice_closes_at, Case.id)
        .limit(limit)
    ).all()
    return [BoardEntry(*row) for row in rows]


def recently_admitted(limit: int = 50) -> list[Case]:
    """The admission announcements: newest members first."""
    return list(
        db.session.scalars(
            select(Case)
            .where(Case.admitted_at.is_not(None))
            .order_by(Case.admitted_at.desc())
            .limit(limit)
        )
    )


def entry(case_id: int, now: datetime | None = None) -> BoardEntry:
    """One applicant of the board, or NotFound if it is not (or no longer) on notice."""
    for item in on_notice(now):
        if item.case_id == case_id:
            return item
    raise NotFound("notice")


def _source_hash(source: str | None) -> str | None:
    if not source:
        return None
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, source.encode("utf-8"), hashlib.sha256).hexdigest()


def file_objection(
    case_id: int, reason: str, contact: str | None, source: str | None = None
) -> Objection:
    """Record an objection while the notice runs and hand it to the process; one transaction."""
    reason = (reason or "").strip()[:MAX_REASON]
    contact = (contact or "").strip()[:MAX_CONTACT] or None
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("notice")
    try:
        instance = lock_instance(case.instance_id)
        db.session.refresh(case)
        now = utcnow()
        closes = case.notice_closes_at
        if case.status != "in_progress" or closes is None or closes <= now:
            raise NoticeClosed(closes or closed_at(case.id))
        objection = Objection(
            case_id=case.id,
            reason=reason,
            contact=contact,
            source_hash=_source_hash(source),
            filed_at=now,
        )
        db.session.add(objection)
        db.session.flush()
        filed = db.session.scalars(
            select(Objection).where(Objection.case_id == case.id).order_by(Objection.id)
        )
        # The process sees what it needs to route and answer them, never who filed them.
        listed = [{"kind": "objection", "id": o.id, "reason": o.reason} for o in filed]
        try:
            result = engine.merge_data(
                source_for(instance.version_id), instance.state, {"objections": listed}
            )
        except EngineError as err:
            raise ProcessError.of(err) from err
        steps.store(instance, result, case)
        audit.record("objection_filed", None, instance.id, data={"objection_id": objection.id})
        _announce_objection(case, result)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return objection


def _announce_objection(case: Case, result) -> None:
    """Tell whom the notice's timer names (`notifyOnObjection`, to the group of
    `notifyOnObjectionRole`) that an objection arrived; the diagram may name nobody."""
    for timer in result.timers:
        props = timer.properties
        name, role = props.get("notifyOnObjection"), props.get("notifyOnObjectionRole")
        if props.get("publicNotice") == "true" and name and role:
            notify.notify_role(name, role, case, exclude=[case.applicant_id])
            return


def closed_at(case_id: int) -> datetime | None:
    """When the notice of an application closed, if it was ever on notice."""
    case = db.session.get(Case, case_id)
    if case is None:
        return None
    return parse_iso((case.facts or {}).get("notice_closes_at"))


def objections_of(case: Case) -> list[Objection]:
    """Every objection to an application with its answer (committee pages only)."""
    return list(
        db.session.scalars(
            select(Objection).where(Objection.case_id == case.id).order_by(Objection.id)
        )
    )


def record_answer(task: HumanTask, data: dict, user: User) -> None:
    """Keep the secretariat's answer with the objection it answers (inside the transition)."""
    item = task.item or {}
    if item.get("kind") != "objection":
        return
    objection = db.session.get(Objection, item.get("id"))
    if objection is None:
        return
    objection.decision = data.get("objection_decision")
    objection.answer = data.get("objection_reply")
    objection.answered_by_id = user.id
    objection.answered_at = utcnow()
