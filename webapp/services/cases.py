"""Applications for membership: start one, keep its row in step with its instance, and tell
the applicant where it stands."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from webapp.engine import EngineError, EngineResult
from webapp.extensions import db
from webapp.models import (
    Case,
    HumanTask,
    Member,
    ModelVersion,
    ProcessInstance,
    User,
    utcnow,
)
from webapp.roles import APPLICANT, PROCESS_OWNER
from webapp.services import (
    announcements,
    audit,
    case_step,
    catalogue,
    member_changes,
    row_writes,
    stage_counts,
)
from webapp.services.errors import Forbidden, InvalidFormData, NotFound, ProcessError
from webapp.services.groups import lane_group
from webapp.services.workflow import engine, is_case_form, save_result, version_content

# Fields of the application form that lists and the public board show without opening data.
SUMMARY_FIELDS = ("member_type", "name", "region", "industry")
MODEL_DATA_SUFFIX = ".data.json"


def model_data(forms: dict) -> dict:
    """The model's data files (e.g. fee_schedule.data.json) as variables a diagram can read."""
    return {
        name.removesuffix(MODEL_DATA_SUFFIX): content
        for name, content in forms.items()
        if name.endswith(MODEL_DATA_SUFFIX)
    }


def start(user: User, key: str | None = None, member_number: str | None = None) -> Case:
    """A new case of a procedure of the catalogue that the user may start. Without a key, the
    one an applicant starts about itself (membership admission), if exactly one says so."""
    procedure = procedure_for(user, key)
    member = subject_member(user, procedure, member_number)
    subject_id = member.user_id if member is not None else user.id
    try:
        case, result, offered = open_case(
            procedure.version_id, procedure.title_zh, subject_id, member, started_by=user.id
        )
    except ProcessError:
        db.session.rollback()  # the instance and case rows written before the engine ran
        raise
    # The starter is at its own first form already; anyone else the first steps wait on (a
    # member a group opened a case about, a committee) learns of them.
    own_form = procedure.subject == "starter" and all(
        lane_group(t.lane) == APPLICANT for t in offered
    )
    if offered and not own_form:
        announcements.after_step(case, result, offered)
    audit.record(
        "case_started",
        user.id,
        case.instance_id,
        data={
            "version": db.session.get(ModelVersion, procedure.version_id).number,
            "process": procedure.key,
            "member_id": case.subject_member_id,
        },
    )
    db.session.commit()
    return case


def open_case(
    version_id: int,
    title: str,
    subject_id: int,
    member: Member | None,
    started_by: int | None,
    extra: dict | None = None,
    timer_start: str | None = None,
    occurrence: datetime | None = None,
    started: Callable[[Case], object] | None = None,
) -> tuple[Case, EngineResult, list[HumanTask]]:
    """Start an instance of the version and its case about `subject_id` (and `member`), in the
    caller's transaction; the case, the engine's result and the tasks first offered. With
    `timer_start`, the instance begins past that timer start event, due at `occurrence`.
    `started`: a row recording the start, made for the case and written with it, before the
    engine runs (a unique key on it refuses a second start before any of its work is done)."""
    version = db.session.get(ModelVersion, version_id)
    content = version_content(version.id)
    data = {"applicant_id": subject_id, "started_by": started_by, **model_data(content.forms)}
    data.update(extra or {})
    if member is not None:
        data["member"] = {
            "member_number": member.member_number,
            "name": member.name,
            "member_type": member.member_type,
            "region": member.region,
            "industry": member.industry,
            "user_id": member.user_id,
            # Its current contact details, which a procedure's forms may show or change.
            **{field: getattr(member, field) for field in member_changes.CHANGEABLE},
        }
    # The instance and its case exist before the engine runs the first steps, so that a
    # diagram function called there (e.g. one that writes the register) finds its case.
    # Written by prebuilt statements, not a flush: a yearly start opens thousands of cases, and
    # each flush is a round of the unit of work. What the caller left pending is flushed first.
    db.session.flush()
    instance = ProcessInstance(version_id=version.id, state="")
    row_writes.insert_objects([instance])
    case = Case(
        instance_id=instance.id,
        applicant_id=subject_id,
        model_id=version.model_id,
        title=title[:200],
        subject_member_id=member.id if member is not None else None,
        data={},
        facts={},
    )
    if member is not None:
        for name in SUMMARY_FIELDS:
            setattr(case, name, getattr(member, name, None))
    stage_counts.insert(case)
    # Held by its case, as the relationship would (what the step tells looks it up).
    set_committed_value(case, "instance", instance)
    if started is not None:
        row_writes.insert_objects([started(case)])
    case_step.begin(instance.id, started_by, case)
    try:
        result = engine.start(content.source, data, timer_start, occurrence)
    except EngineError as err:
        raise ProcessError.of(err) from err  # the caller's (savepoint) rollback drops both rows
    offered = save_result(instance, result, new=True)
    sync(case, result)
    return case, result, offered


def procedure_for(user: User, key: str | None) -> catalogue.Procedure:
    if key is None:
        own = [
            p
            for p in catalogue.startable(user)
            if APPLICANT in p.starters and p.subject == "starter"
        ]
        if not user.has_role(APPLICANT) or not own:
            raise Forbidden("not_applicant")
        if len(own) > 1:
            names = ", ".join(p.key for p in own)
            raise InvalidFormData({"process": [_("Choose one of: %(names)s.", names=names)]}, {})
        return own[0]
    procedure = catalogue.find(user, key)
    if procedure is None:
        if key in {p.key for p in catalogue.procedures()}:
            raise Forbidden("not_startable")
        raise NotFound("process")
    return procedure


def subject_member(user: User, procedure, member_number: str | None) -> Member | None:
    if procedure.subject == catalogue.MEMBER:
        member = db.session.scalars(
            select(Member).where(
                Member.member_number == (member_number or "").strip(), Member.status == "active"
            )
        ).first()
        if member is None:
            message = _("There is no active member with this member number.")
            raise InvalidFormData({"member_number": [message]}, {"member_number": member_number})
        if member.user_id == user.id:
            raise Forbidden("own_case")  # nobody starts a case about themselves
        return member
    if catalogue.MEMBER in procedure.starters:
        # A member's case about its own membership (the one it chose, if it holds several).
        return catalogue.own_membership(user, member_number) or catalogue.own_membership(user)
    return None


def sync(
    case: Case,
    result: EngineResult,
    completed: HumanTask | None = None,
    submitted: dict | None = None,
    actor_id: int | None = None,
) -> None:
    """Bring the application row in line with a transition of its instance."""
    now = utcnow()
    if completed is not None and submitted is not None and is_case_form(completed):
        case.data = dict(submitted)
        for name in SUMMARY_FIELDS:
            setattr(case, name, submitted.get(name))
        case.submitted_at = case.submitted_at or now
    stages = [t.info.stage for t in result.ready_tasks if t.info.stage]
    stages += [t.properties["stage"] for t in result.timers if t.properties.get("stage")]
    if stages:
        case.stage = stages[0]
    facts = dict(case.facts or {})
    facts.update({k: result.data[k] for k in published(case) if k in result.data})
    notice = [t for t in result.timers if t.properties.get("publicNotice") == "true"]
    case.notice_closes_at = min(t.due_at for t in notice) if notice else None
    if notice:
        # Kept after the period ends: the timeline places the notice by its stage.
        facts["notice_stage"] = notice[0].properties.get("stage") or ""
    case.facts = facts
    if result.finished:
        outcome = result.data.get("outcome")
        # A finished case stands as its diagram's outcome says ("admitted", "withdrawn", …).
        case.status = _outcome_status(outcome)
        case.outcome_code = str(result.data.get("outcome_code") or "") or None
        reason = result.data.get("outcome_reason")
        case.outcome_reason = str(reason) if reason else None
    case.updated_at = now
    stage_counts.write(case)


def published(case: Case) -> tuple[str, ...]:
    """The process variables the case keeps as its facts for the pages and messages to show:
    the diagram names them in its process-level property `facts` (README, "Published
    variables")."""
    listed = catalogue.properties_of(case.instance.version_id).get("facts", "")
    return tuple(name.strip() for name in listed.split(",") if name.strip())


def _outcome_status(outcome) -> str:
    if isinstance(outcome, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,19}", outcome):
        return outcome
    return "closed"


PAGE_SIZE = 20


def for_applicant(user: User, page: int = 1) -> tuple[list[Case], bool]:
    """A page of the user's own applications, newest first, and whether more follow."""
    page = max(1, page)
    rows = list(
        db.session.scalars(
            select(Case)
            .where(Case.applicant_id == user.id)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def waiting_on(rows: list[Case]) -> dict[int, Progress]:
    """The open tasks of many applications in one query, by application id (for lists, which
    show what each waits on but not its history)."""
    by_instance: dict[int, list[HumanTask]] = {a.instance_id: [] for a in rows}
    if by_instance:
        for task in db.session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id.in_(by_instance), HumanTask.state == "ready")
            .order_by(HumanTask.created_at, HumanTask.id)
        ):
            by_instance[task.instance_id].append(task)
    return {a.id: Progress(open_tasks=by_instance[a.instance_id], history=[]) for a in rows}


def visible(user: User, case_id: int) -> Case:
    """An application the user may see: its own, or any for a committee member."""
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("application")
    if case.applicant_id != user.id and not user.is_committee:
        raise NotFound("application")  # not "forbidden": do not confirm it exists
    return case


def visible_progress(user: User, case_id: int) -> tuple[Case, bool]:
    """A case whose progress the user may follow, and whether with its data: a process owner
    follows any case of the procedures it owns on the diagram and by stage, never its data
    (names, documents, decisions)."""
    try:
        return visible(user, case_id), True
    except NotFound:
        case = db.session.get(Case, case_id)
        if case is None or not user.has_role(PROCESS_OWNER):
            raise
        return case, False


@dataclass
class Progress:
    """Where an application stands: open tasks (who it waits on) and what has happened."""

    open_tasks: list[HumanTask]
    history: list[HumanTask]

    @property
    def for_applicant(self) -> list[HumanTask]:
        """The open tasks waiting on the applicant itself."""
        return [t for t in self.open_tasks if lane_group(t.lane) == APPLICANT]


def progress(case: Case) -> Progress:
    """Open and finished human tasks of the application, from the projection."""
    rows = list(
        db.session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id == case.instance_id)
            .order_by(HumanTask.created_at, HumanTask.id)
        )
    )
    return Progress(
        open_tasks=[t for t in rows if t.state == "ready"],
        history=sorted(
            (t for t in rows if t.state != "ready"),
            key=lambda t: (t.completed_at or t.created_at, t.id),
        ),
    )
