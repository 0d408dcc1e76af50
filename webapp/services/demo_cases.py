"""The demo's association: cases in every stage and outcome, from demo/cases/*.json.

Each file names a procedure and lists cases, each an applicant and the steps taken on it. The
steps go through the same services as people and the ticker do (tasks.complete, the public
board's objection, demo_clock for waiting periods), so the demo shows only what the procedure
itself can produce, and nothing here knows which procedure it drives. Idempotent: a case whose
applicant account exists was seeded before and is left alone.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from webapp.extensions import db
from webapp.models import Case, HumanTask, User
from webapp.roles import APPLICANT
from webapp.services import cases, demo_clock, notice, tasks, users
from webapp.services.workflow import lock_instance

DEMO_CASES_DIR = Path(__file__).resolve().parents[2] / "demo" / "cases"
# A one-page PDF as the placeholder for every document the demo's applicants upload.
PLACEHOLDER_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


class DemoStepFailed(RuntimeError):
    """A step of the demo data that the procedure refused: the file and case are named."""


def seed(directory: Path = DEMO_CASES_DIR) -> int:
    """Seed every case of every file that is not there yet; how many were made."""
    made = 0
    for path in sorted(directory.glob("*.json")):
        content = json.loads(path.read_text("utf-8"))
        password_hash = None
        for number, item in enumerate(content["cases"], 1):
            if _seeded(item):
                continue
            if password_hash is None:  # hashed once: each hash costs a tenth of a second
                password_hash = _demo_password_hash()
            try:
                _seed_case(content["process"], item, password_hash)
            except Exception as err:
                db.session.rollback()
                raise DemoStepFailed(f"{path.name}, case {number}: {err!r}") from err
            made += 1
    return made


def _seeded(item: dict) -> bool:
    """Made before: its applicant's account exists; for a demo account ("existing": one of
    demo/accounts.json), a case of its with the name the case's submission gives."""
    who = item["applicant"]
    user = users.by_username(who["username"])
    if user is None:
        return False
    if not who.get("existing"):
        return True
    names = [s["data"].get("name") for s in item.get("steps", []) if "data" in s]
    name = next((n for n in names if n), None)
    return name is None or db.session.scalar(
        select(Case.id).where(Case.applicant_id == user.id, Case.name == name).limit(1)
    ) is not None


def _demo_password_hash() -> str:
    probe = User(username="-")
    probe.set_password(users.DEMO_PASSWORD)
    return probe.password_hash


def _seed_case(process: str, item: dict, password_hash: str) -> None:
    who = item["applicant"]
    applicant = users.by_username(who["username"])
    if applicant is None:
        applicant = _new_applicant(who, password_hash)
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
    if value is True:
        return "on"
    if value is False:
        return ""
    return str(value)
