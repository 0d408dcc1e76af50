"""The demo's association: cases in every stage and outcome, from demo/cases/*.json.

Each file names a procedure and lists cases, each an applicant and the steps taken on it. The
steps go through the same services as people and the ticker do (cases.start, tasks.complete, the
public board's objection, demo_clock for waiting periods, the ticker's timer start), so the demo
shows only what the procedure itself can produce, and nothing here knows which procedure it
drives. Files are seeded in their "order" (a procedure about members needs the members the
admissions made; an appeal needs the decision it appeals). A case may be started by someone
else about the applicant's membership ("start": {"as": ...}); a file whose procedure starts by a
timer ("start": {"timer": ...}) opens that timer's occurrence now for every active member, and
its cases are the ones the timer opened. A form value {"case_of": username, "process": key}
stands for the number of that account's case of that procedure. Idempotent: a case whose
applicant account exists was seeded before and is left alone (for an existing account, one
whose case of the procedure exists).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from webapp.extensions import db
from webapp.models import Case, HumanTask, Member, ProcessModel, ScheduledStart, User, utcnow
from webapp.roles import APPLICANT
from webapp.services import cases, demo_clock, notice, scheduled_starts, tasks, users
from webapp.services.workflow import lock_instance

DEMO_CASES_DIR = Path(__file__).resolve().parents[2] / "demo" / "cases"
# A one-page PDF as the placeholder for every document the demo's applicants upload.
PLACEHOLDER_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


class DemoStepFailed(RuntimeError):
    """A step of the demo data that the procedure refused: the file and case are named."""


def seed(directory: Path = DEMO_CASES_DIR) -> int:
    """Seed every case of every file that is not there yet; how many were made."""
    made = 0
    files = [(path, json.loads(path.read_text("utf-8"))) for path in directory.glob("*.json")]
    files.sort(key=lambda f: (f[1].get("order", 0), f[0].name))
    for path, content in files:
        process = content["process"]
        password_hash = None
        pending = [
            (n, item) for n, item in enumerate(content["cases"], 1) if not _seeded(process, item)
        ]
        timer = content.get("start", {}).get("timer")
        if pending and timer:
            try:
                _open_occurrence(process, timer)
            except Exception as err:
                db.session.rollback()
                raise DemoStepFailed(f"{path.name}, timer start {timer}: {err!r}") from err
        for number, item in pending:
            if password_hash is None:  # hashed once: each hash costs a tenth of a second
                password_hash = _demo_password_hash()
            try:
                _seed_case(process, item, password_hash, by_timer=bool(timer))
            except Exception as err:
                db.session.rollback()
                raise DemoStepFailed(f"{path.name}, case {number}: {err!r}") from err
            made += 1
    return made


def _seeded(process: str, item: dict) -> bool:
    """Made before: its applicant's account exists; for an existing account (a demo account of
    demo/accounts.json, or one an earlier file made), a case of its of the procedure (with the
    name the case's submission gives, if it gives one)."""
    who = item["applicant"]
    user = users.by_username(who["username"])
    if user is None:
        return False
    if not who.get("existing"):
        return True
    query = (
        select(Case.id)
        .join(ProcessModel, ProcessModel.id == Case.model_id)
        .where(Case.applicant_id == user.id, ProcessModel.key == process)
    )
    names = [s["data"].get("name") for s in item.get("steps", []) if "data" in s]
    name = next((n for n in names if isinstance(n, str) and n), None)
    if name is not None and not item.get("start"):
        query = query.where(Case.name == name)
    return db.session.scalar(query.limit(1)) is not None


def _open_occurrence(process: str, element_id: str) -> None:
    """The procedure's timer start falls due now, and the ticker's own step starts its cases
    (one per active member); afterwards the schedule goes on to its next real occurrence."""
    row = db.session.scalars(
        select(ScheduledStart)
        .join(ProcessModel, ProcessModel.id == ScheduledStart.model_id)
        .where(ProcessModel.key == process, ScheduledStart.element_id == element_id)
    ).one()
    now = utcnow()
    row.occurrence_at = row.next_at = now
    db.session.commit()
    scheduled_starts.start_due(now)


def _demo_password_hash() -> str:
    probe = User(username="-")
    probe.set_password(users.DEMO_PASSWORD)
    return probe.password_hash


def _seed_case(process: str, item: dict, password_hash: str, by_timer: bool = False) -> None:
    who = item["applicant"]
    applicant = users.by_username(who["username"])
    if applicant is None:
        applicant = _new_applicant(who, password_hash)
    if by_timer:
        case = _opened_by_timer(process, applicant)
    elif "as" in item.get("start", {}):
        # A group's case about the applicant's membership (a committee opens it).
        starter = users.by_username(item["start"]["as"])
        case = cases.start(starter, process, _member_number(applicant))
    else:
        case = cases.start(applicant, process)
    for step in item.get("steps", []):
        if "task" in step:
            actor = applicant if step["as"] == "applicant" else users.by_username(step["as"])
            task = _open_task(actor, case, step["task"])
            form = {k: _form_value(v) for k, v in step.get("data", {}).items()}
            files = {
                name: FileStorage(io.BytesIO(PLACEHOLDER_PDF), f"{name}.pdf", name)
                for name in step.get("files", [])
            }
            tasks.complete(actor, task.task_guid, form, files)
        elif "timer" in step:
            demo_clock.end_timer(applicant, case.id, step["timer"])
        elif "objection" in step:
            notice.file_objection(case.id, step["objection"], None)
        elif "late" in step:
            instance = lock_instance(case.instance_id)
            demo_clock.shift(instance, demo_clock.parse_period(step["late"]))
            db.session.commit()
        else:
            raise ValueError(f"unknown step {step!r}")


def _member_number(user: User) -> str:
    return db.session.scalars(
        select(Member.member_number)
        .where(Member.user_id == user.id, Member.status == "active")
        .order_by(Member.id)
    ).first()


def _opened_by_timer(process: str, applicant: User) -> Case:
    """The applicant's newest case of the procedure (the one its timer start just opened)."""
    case = db.session.scalars(
        select(Case)
        .join(ProcessModel, ProcessModel.id == Case.model_id)
        .where(Case.applicant_id == applicant.id, ProcessModel.key == process)
        .order_by(Case.id.desc())
    ).first()
    if case is None:
        raise LookupError(f"the timer opened no case for {applicant.username}")
    return case


def _new_applicant(who: dict, password_hash: str) -> User:
    applicant = User(
        username=who["username"],
        display_name=who["name"],
        roles=APPLICANT,
        email=f"{who['username']}@example.org",
        password_hash=password_hash,
    )
    db.session.add(applicant)
    db.session.commit()
    return applicant


def _open_task(actor: User, case, bpmn_id: str) -> HumanTask:
    ready = db.session.scalars(
        select(HumanTask)
        .where(
            HumanTask.instance_id == case.instance_id,
            HumanTask.state == "ready",
            HumanTask.bpmn_id == bpmn_id,
        )
        .order_by(HumanTask.id)
    ).all()
    mine = tasks.actionable(actor, case, ready)
    for task in ready:
        if task.task_guid in mine:
            return task
    raise LookupError(f"no open {bpmn_id} that {actor.username} may do")


def _form_value(value) -> str:
    """A value as the browser's form would send it."""
    if isinstance(value, dict) and "case_of" in value:
        return str(_case_of(value["case_of"], value["process"]).id)
    if value is True:
        return "on"
    if value is False:
        return ""
    return str(value)


def _case_of(username: str, process: str) -> Case:
    """That account's newest case of the procedure (a decision an appeal names)."""
    user = users.by_username(username)
    return db.session.scalars(
        select(Case)
        .join(ProcessModel, ProcessModel.id == Case.model_id)
        .where(Case.applicant_id == user.id, ProcessModel.key == process)
        .order_by(Case.id.desc())
    ).first() or _missing(username, process)


def _missing(username: str, process: str):
    raise LookupError(f"{username} has no case of {process}")
