"""The demo's association (demo/cases/): every stage and outcome, made through the real
services, consistent, and seeded once however often `flask setup` runs."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Case, HumanTask, Member, utcnow
from webapp.services import consistency, demo_cases


def test_the_demo_association_shows_every_stage_and_outcome(app, actors):
    with app.app_context(), app.test_request_context():
        assert demo_cases.seed() == 42
        assert demo_cases.seed() == 0  # idempotent
        rows = db.session.scalars(select(Case)).all()
        assert len(rows) == 42
        statuses = Counter(c.status for c in rows)
        outcomes = Counter(c.outcome_code for c in rows if c.outcome_code)
        assert statuses["admitted"] == 5 and statuses["in_progress"] >= 25
        assert set(outcomes) >= {
            "review_rejected", "objection_upheld", "council_rejected", "no_quorum", "lapsed"
        }  # fmt: skip
        assert len({c.region for c in rows}) >= 10 and len({c.industry for c in rows}) >= 8
        ready = Counter(
            db.session.scalars(select(HumanTask.bpmn_id).where(HumanTask.state == "ready"))
        )
        for step in (
            "submit_application", "preliminary_review", "provide_material", "answer_objection",
            "council_vote", "declare_payment", "confirm_payment", "issue_certificate",
        ):  # fmt: skip
            assert ready[step], step
        overdue = db.session.scalar(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.state == "ready", HumanTask.due_at < utcnow())
        )
        assert overdue >= 3
        assert db.session.scalar(select(func.count()).select_from(Member)) == 5
        on_notice = [c for c in rows if c.notice_closes_at and c.notice_closes_at > utcnow()]
        assert len(on_notice) >= 2
        report = consistency.check()
        assert report.ok, [str(p) for p in report.problems]
    # Every demo account lands on a page with work in it.
    for username, work in (
        ("secretary", "初审"), ("council", "理事会表决"), ("council3", "理事会表决"),
        ("finance", "确认到账"),
    ):  # fmt: skip
        landing = actors(username).client.get("/", follow_redirects=True)
        assert work in landing.get_data(as_text=True), username
    # The demo's own applicants each have their turn waiting: the fee (amount due filled in),
    # and the material the secretariat asked for.
    for username in ("applicant", "applicant2"):
        mine = actors(username).get("/cases").get_data(as_text=True)
        assert "btn btn-sm btn-success" in mine, username
    board = actors(None).get("/board").get_data(as_text=True)
    assert "Raise an objection" in board or "提出异议" in board
