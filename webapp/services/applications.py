"""Applications for membership: start one, keep its row in step with its instance, and tell
the applicant where it stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from webapp.engine import EngineError, EngineResult
from webapp.extensions import db
from webapp.models import Application, HumanTask, MemberNumberCounter, User, utcnow
from webapp.roles import APPLICANT, COMMITTEE_ROLES, role_for_lane
from webapp.services import audit, members
from webapp.services.errors import Forbidden, NotFound, ProcessError
from webapp.services.process_models import live_version
from webapp.services.workflow import create_instance, engine, version_content

ADMISSION = "admission"
# Fields of the application form that lists and the public board show without opening data.
SUMMARY_FIELDS = ("member_type", "name", "region", "industry")
MEMBER_TYPE_CODES = {"unit": "U", "individual": "I"}
# Process variables the pages show when the diagram has set them: the contract between the
# diagram's scripts and the templates (README, "Published variables").
FACT_KEYS = (
    "review_rounds",
    "review_request",
    "notice_closes_at",
    "vote_closes_at",
    "vote_result",
    "fee_amount",
    "fee_currency",
    "fee_payment_method",
    "payment_deadline",
    "payment_check_reason",
)
OUTCOME_STATUS = {"admitted": "admitted", "rejected": "rejected", "lapsed": "lapsed"}
MODEL_DATA_SUFFIX = ".data.json"


def model_data(forms: dict) -> dict:
    """The model's data files (e.g. fee_schedule.data.json) as variables a diagram can read."""
    return {
        name.removesuffix(MODEL_DATA_SUFFIX): content
        for name, content in forms.items()
        if name.endswith(MODEL_DATA_SUFFIX)
    }


def start(user: User) -> Application:
    """A new application on the live admission model, waiting for its form."""
    if not user.has_role(APPLICANT):
        raise Forbidden("not_applicant")
    version = live_version(ADMISSION)
    content = version_content(version.id)
    try:
        result = engine.start(
            content.source, {"applicant_id": user.id, **model_data(content.forms)}
        )
    except EngineError as err:
        raise ProcessError.of(err) from err
    instance, _offered = create_instance(version, result)
    application = Application(instance_id=instance.id, applicant_id=user.id, data={}, facts={})
    db.session.add(application)
    db.session.flush()
    sync(application, result)  # the applicant is at the form already: nothing to announce
    audit.record("application_started", user.id, instance.id, data={"version": version.number})
    db.session.commit()
    return application


def sync(
    application: Application,
    result: EngineResult,
    completed: HumanTask | None = None,
    submitted: dict | None = None,
    actor_id: int | None = None,
) -> None:
    """Bring the application row in line with a transition of its instance."""
    now = utcnow()
    if completed is not None and completed.stage == "application" and submitted is not None:
        application.data = dict(submitted)
        for name in SUMMARY_FIELDS:
            setattr(application, name, submitted.get(name))
        application.submitted_at = application.submitted_at or now
    stages = [t.info.stage for t in result.ready_tasks if t.info.stage]
    stages += [t.properties["stage"] for t in result.timers if t.properties.get("stage")]
    if stages:
        application.stage = stages[0]
    facts = dict(application.facts or {})
    facts.update({k: result.data[k] for k in FACT_KEYS if k in result.data})
    application.facts = facts
    notice = [t.due_at for t in result.timers if t.properties.get("publicNotice") == "true"]
    application.notice_closes_at = min(notice) if notice else None
    if result.finished:
        outcome = result.data.get("outcome")
        application.status = OUTCOME_STATUS.get(outcome, "closed")
        application.outcome_code = str(result.data.get("outcome_code") or "") or None
        reason = result.data.get("outcome_reason")
        application.outcome_reason = str(reason) if reason else None
        if application.status == "admitted":
            members.admit(application, now, actor_id=actor_id)
    application.updated_at = now


def next_member_number(member_type: str | None, now: datetime) -> str:
    """The next number of the year's series for this member type; numbers are never reused."""
    type_code = MEMBER_TYPE_CODES.get(member_type or "", "X")
    series = f"{now.year}-{type_code}"
    for _attempt in range(3):
        bumped = db.session.execute(
            update(MemberNumberCounter)
            .where(MemberNumberCounter.series == series)
            .values(last=MemberNumberCounter.last + 1)
            .execution_options(synchronize_session=False)
        )
        if bumped.rowcount == 1:
            break
        try:
            with db.session.begin_nested():
                db.session.execute(insert(MemberNumberCounter).values(series=series, last=1))
            break
        except IntegrityError:
            continue  # another issuance created the series first; bump it instead
    seq = db.session.scalar(
        select(MemberNumberCounter.last).where(MemberNumberCounter.series == series)
    )
    fmt = current_app.config["MEMBER_NUMBER_FORMAT"]
    return fmt.format(year=now.year, type=type_code, seq=seq)


PAGE_SIZE = 20


def for_applicant(user: User, page: int = 1) -> tuple[list[Application], bool]:
    """A page of the user's own applications, newest first, and whether more follow."""
    page = max(1, page)
    rows = list(
        db.session.scalars(
            select(Application)
            .where(Application.applicant_id == user.id)
            .order_by(Application.created_at.desc(), Application.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def waiting_on(rows: list[Application]) -> dict[int, Progress]:
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


def visible(user: User, application_id: int) -> Application:
    """An application the user may see: its own, or any for a committee member."""
    application = db.session.get(Application, application_id)
    if application is None:
        raise NotFound("application")
    if application.applicant_id != user.id and not (user.role_set & COMMITTEE_ROLES):
        raise NotFound("application")  # not "forbidden": do not confirm it exists
    return application


@dataclass
class Progress:
    """Where an application stands: open tasks (who it waits on) and what has happened."""

    open_tasks: list[HumanTask]
    history: list[HumanTask]

    @property
    def for_applicant(self) -> list[HumanTask]:
        """The open tasks waiting on the applicant itself."""
        return [t for t in self.open_tasks if role_for_lane(t.lane) == APPLICANT]


def progress(application: Application) -> Progress:
    """Open and finished human tasks of the application, from the projection."""
    rows = list(
        db.session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id == application.instance_id)
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
