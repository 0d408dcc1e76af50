"""Drive an application through the admission procedure step by step, on a travelling clock.

Each helper goes through the real paths: the test client for people, `timers.fire_due` (what the
ticker runs) for time passing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import fresh_application, reload
from webapp.extensions import db
from webapp.models import Case, HumanTask, Incident, OutboxMessage, ProcessInstance, User
from webapp.services import notify, timers

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday without holidays near it, so that periods are easy to read in the tests.
START = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)
PAYMENT = {
    "payment_method": "bank_transfer",
    "payment_reference": "TX-2026-001",
    "payment_amount": "5000",
    "payment_date": "2026-06-20",
}


class Procedure:
    """One association's day-to-day: people completing tasks while the clock moves on."""

    def __init__(self, app, actors, traveller):
        self.app, self.actors, self.traveller = app, actors, traveller

    # --- time -----------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(SHANGHAI)

    def travel_to(self, moment: datetime) -> None:
        self.traveller.move_to(moment)

    def tick(self) -> int:
        """What the ticker does: fire every due timer."""
        with self.app.app_context():
            return timers.fire_due()

    def after(self, moment: datetime | str, extra: timedelta = timedelta(minutes=1)) -> int:
        """Move past a deadline and let the ticker run."""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        self.travel_to(moment + extra)
        return self.tick()

    # --- people ---------------------------------------------------------------------------
    def task(self, app_id: int, bpmn_id: str, username: str | None = None) -> HumanTask:
        """The open task with that id; for a task given to one person, that person's."""
        with self.app.app_context():
            case = db.session.get(Case, app_id)
            query = select(HumanTask).where(
                HumanTask.instance_id == case.instance_id,
                HumanTask.state == "ready",
                HumanTask.bpmn_id == bpmn_id,
            )
            if username is not None:
                user = db.session.scalars(select(User).where(User.username == username)).one()
                query = query.where(HumanTask.assignee_id == user.id)
            task = db.session.scalars(query.order_by(HumanTask.id)).first()
            if task is None:  # say where the case stands instead, and what failed there
                instance = db.session.get(ProcessInstance, case.instance_id)
                open_ids = db.session.scalars(
                    select(HumanTask.bpmn_id).where(
                        HumanTask.instance_id == case.instance_id, HumanTask.state == "ready"
                    )
                ).all()
                failed = db.session.scalars(
                    select(Incident.message).where(Incident.instance_id == case.instance_id)
                ).all()
                where = (
                    f"open tasks {open_ids}, next timer {instance.next_timer_at}, "
                    f"now {datetime.now(UTC)}, incidents {failed}"
                )
        assert task is not None, f"no open task {bpmn_id} on application {app_id}: {where}"
        return task

    def case_by_task(self, task_guid: str) -> int:
        """The case whose task that is (a started case's first step)."""
        with self.app.app_context():
            task = db.session.scalars(
                select(HumanTask).where(HumanTask.task_guid == task_guid)
            ).one()
            return db.session.scalars(
                select(Case.id).where(Case.instance_id == task.instance_id)
            ).one()

    def open_ids(self, app_id: int) -> list[str]:
        with self.app.app_context():
            case = db.session.get(Case, app_id)
            return list(
                db.session.scalars(
                    select(HumanTask.bpmn_id).where(
                        HumanTask.instance_id == case.instance_id,
                        HumanTask.state == "ready",
                    )
                )
            )

    def do(self, username: str, app_id: int, bpmn_id: str, data: dict, expect: int = 302):
        assignee = username if bpmn_id == "council_vote" else None
        task = self.task(app_id, bpmn_id, assignee)
        response = self.actors(username).complete(task.task_guid, data)
        assert response.status_code == expect, (bpmn_id, response.get_data(as_text=True)[:2000])
        return response

    def submit(self, username: str = "applicant", data: dict | None = None) -> int:
        applicant = self.actors(username)
        case = applicant.start_application()
        self.do(username, case.id, "submit_application", data or fresh_application())
        return case.id

    def review(self, app_id: int, decision: str = "pass", **extra) -> None:
        self.do("secretary", app_id, "preliminary_review", {"review_decision": decision, **extra})

    def file_objection(self, app_id: int, reason: str, contact: str = ""):
        """A member of the public objects through the board's form; returns the response."""
        url = f"/board/{app_id}/objection"
        return self.actors(None).post(url, {"reason": reason, "contact": contact}, token_page=url)

    def close_notice(self, app_id: int) -> None:
        """Let the notice period run out without objections."""
        self.after(self.case(app_id).notice_closes_at)

    def vote(self, app_id: int, username: str, vote: str, comment: str = "") -> None:
        self.do(username, app_id, "council_vote", {"vote": vote, "vote_comment": comment})

    def approve_by_council(self, app_id: int) -> None:
        for member in ("council", "council2", "council3"):
            self.vote(app_id, member, "approve")

    def declare_payment(self, app_id: int, username: str = "applicant") -> None:
        self.do(username, app_id, "declare_payment", PAYMENT)

    def confirm_payment(self, app_id: int) -> None:
        self.do("finance", app_id, "confirm_payment", {"payment_check": "received"})

    def issue_certificate(self, app_id: int):
        return self.do("secretary", app_id, "issue_certificate", {"certificate_confirmed": "on"})

    def to_payment(self, app_id: int) -> None:
        self.review(app_id)
        self.close_notice(app_id)
        self.approve_by_council(app_id)

    def admit(self, username: str = "applicant") -> str:
        """A new member: an application taken to its certificate; returns its member number."""
        app_id = self.submit(username)
        self.to_payment(app_id)
        self.declare_payment(app_id, username)
        self.confirm_payment(app_id)
        self.issue_certificate(app_id)
        return self.case(app_id).member_number

    # --- what the app holds -----------------------------------------------------------------
    def case(self, app_id: int) -> Case:
        return reload(self.app, app_id)

    def messages(self, username: str, event: str | None = None) -> list[OutboxMessage]:
        with self.app.app_context():
            user = db.session.scalars(select(User).where(User.username == username)).one()
            query = select(OutboxMessage).where(OutboxMessage.recipient_id == user.id)
            if event:
                query = query.where(OutboxMessage.event == event)
            messages = list(db.session.scalars(query.order_by(OutboxMessage.id)))
            # As the recipient's list shows them: rendered now if not yet, and kept.
            notify.render_pending(messages)
            db.session.commit()
            return messages


@pytest.fixture
def procedure(app, actors):
    """The procedure on a clock that stands still at START until a test moves it."""
    with time_machine.travel(START, tick=False) as traveller:
        yield Procedure(app, actors, traveller)
