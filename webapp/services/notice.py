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
from webapp.models import Application, HumanTask, Objection, User, parse_iso, utcnow
from webapp.services import audit, notify, steps
from webapp.services.errors import NotFound, NoticeClosed, ProcessError
from webapp.services.workflow import engine, lock_instance, source_for

MAX_REASON = 4000
MAX_CONTACT = 200


@dataclass(frozen=True)
class BoardEntry:
    """What may be published of an applicant: nothing beyond these fields."""

    application_id: int
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
            Application.id,
            Application.name,
            Application.member_type,
            Application.region,
            Application.industry,
            Application.notice_closes_at,
        )
        .where(Application.notice_closes_at > now, Application.status == "in_progress")
        .order_by(Application.notice_closes_at, Application.id)
        .limit(limit)
    ).all()
    return [BoardEntry(*row) for row in rows]


def recently_admitted(limit: int = 50) -> list[Application]:
    """The admission announcements: newest members first."""
    return list(
        db.session.scalars(
            select(Application)
            .where(Application.admitted_at.is_not(None))
            .order_by(Application.admitted_at.desc())
            .limit(limit)
        )
    )


def entry(application_id: int, now: datetime | None = None) -> BoardEntry:
    """One applicant of the board, or NotFound if it is not (or no longer) on notice."""
    for item in on_notice(now):
        if item.application_id == application_id:
            return item
    raise NotFound("notice")


def _source_hash(source: str | None) -> str | None:
    if not source:
        return None
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, source.encode("utf-8"), hashlib.sha256).hexdigest()


def file_objection(
    application_id: int, reason: str, contact: str | None, source: str | None = None
) -> Objection:
    """Record an objection while the notice runs and hand it to the process; one transaction."""
    reason = (reason or "").strip()[:MAX_REASON]
    contact = (contact or "").strip()[:MAX_CONTACT] or None
    application = db.session.get(Application, application_id)
    if application is None:
        raise NotFound("notice")
    try:
        instance = lock_instance(application.instance_id)
        db.session.refresh(application)
        now = utcnow()
        closes = application.notice_closes_at
        if application.status != "in_progress" or closes is None or closes <= now:
            raise NoticeClosed(closes or closed_at(application.id))
        objection = Objection(
            application_id=application.id,
            reason=reason,
            contact=contact,
            source_hash=_source_hash(source),
            filed_at=now,
        )
        db.session.add(objection)
        db.session.flush()
        filed = db.session.scalars(
            select(Objection)
            .where(Objection.application_id == application.id)
            .order_by(Objection.id)
        )
        # The process sees what it needs to route and answer them, never who filed them.
        listed = [{"kind": "objection", "id": o.id, "reason": o.reason} for o in filed]
        try:
            result = engine.merge_data(
                source_for(instance.version_id), instance.state, {"objections": listed}
            )
        except EngineError as err:
            raise ProcessError.of(err) from err
        steps.store(instance, result, application)
        audit.record("objection_filed", None, instance.id, data={"objection_id": objection.id})
        _announce_objection(application, result)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return objection


def _announce_objection(application: Application, result) -> None:
    """Tell whom the notice's timer names (`notifyOnObjection`, to the group of
    `notifyOnObjectionRole`) that an objection arrived; the diagram may name nobody."""
    for timer in result.timers:
        props = timer.properties
        name, role = props.get("notifyOnObjection"), props.get("notifyOnObjectionRole")
        if props.get("publicNotice") == "true" and name and role:
            notify.notify_role(name, role, application, exclude=[application.applicant_id])
            return


def closed_at(application_id: int) -> datetime | None:
    """When the notice of an application closed, if it was ever on notice."""
    application = db.session.get(Application, application_id)
    if application is None:
        return None
    return parse_iso((application.facts or {}).get("notice_closes_at"))


def objections_of(application: Application) -> list[Objection]:
    """Every objection to an application with its answer (committee pages only)."""
    return list(
        db.session.scalars(
            select(Objection)
            .where(Objection.application_id == application.id)
            .order_by(Objection.id)
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
