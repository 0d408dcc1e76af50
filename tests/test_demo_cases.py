"""The demo's association (demo/cases/): every stage and outcome of every procedure, made
through the real services, consistent, and seeded once however often `flask setup` runs."""

from __future__ import annotations

import time
from collections import Counter, defaultdict

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Case, HumanTask, Member, ProcessModel, utcnow
from webapp.services import consistency, demo_cases

PROCEDURES = (
    "admission",
    "annual_dues",
    "appeal",
    "change_of_details",
    "discipline",
    "member_type_change",
    "withdrawal",
)


def test_the_demo_association_shows_every_stage_and_outcome(app, actors):
    with app.app_context(), app.test_request_context():
        began = time.monotonic()
        assert demo_cases.seed() == 67
        seconds = time.monotonic() - began
        assert demo_cases.seed() == 0  # idempotent
        assert seconds < 120, seconds  # about 15 s on a laptop with a file database
        rows = db.session.execute(
            select(Case, ProcessModel.key).join(ProcessModel, ProcessModel.id == Case.model_id)
        ).all()
        assert len(rows) == 69  # the dues timer opened two more than the file lists
        by_process = defaultdict(list)
        for case, key in rows:
            by_process[key].append(case)
        # Every procedure has cases at more than one stage or outcome.
        assert set(by_process) == set(PROCEDURES)
        for key, found in by_process.items():
            assert len({(c.stage, c.status) for c in found}) > 1, key
        admissions = by_process["admission"]
        statuses = Counter(c.status for c in admissions)
        outcomes = Counter(c.outcome_code for c in admissions if c.outcome_code)
        assert statuses["admitted"] == 11 and statuses["in_progress"] >= 25
        assert set(outcomes) >= {
            "review_rejected", "objection_upheld", "council_rejected", "no_quorum", "lapsed"
        }  # fmt: skip
        assert len({c.region for c in admissions}) >= 10
        assert len({c.industry for c in admissions}) >= 8
        # The other procedures' outcomes: a renamed member, a withdrawal, an expulsion, dues
        # paid, an appeal decided.
        decided = {(k, c.status) for k, found in by_process.items() for c in found}
        assert {
            ("change_of_details", "changed"), ("withdrawal", "withdrawn"),
            ("discipline", "expelled"), ("annual_dues", "paid"), ("appeal", "upheld"),
            ("member_type_change", "changed"),
        } <= decided  # fmt: skip
        ready = Counter(
            db.session.scalars(select(HumanTask.bpmn_id).where(HumanTask.state == "ready"))
        )
        for step in (
            "submit_application", "preliminary_review", "provide_material", "answer_objection",
            "council_vote", "declare_payment", "confirm_payment", "issue_certificate",
            "submit_changes", "review_changes", "declare_dues", "declare_dues_again",
            "confirm_dues", "decide_arrears", "confirm_by_secretariat", "submit_defence",
            "decide_appeal", "review_type",
        ):  # fmt: skip
            assert ready[step], step
        overdue = db.session.scalar(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.state == "ready", HumanTask.due_at < utcnow())
        )
        assert overdue >= 4
        members = Counter(db.session.scalars(select(Member.status)))
        assert members == {"active": 9, "withdrawn": 1, "expelled": 1}
        # This year's dues went out through the timer start to every member active then.
        assert len(by_process["annual_dues"]) == 9
        renamed = db.session.scalars(
            select(Member).where(Member.name == "苏州工业园区精密智造股份有限公司")
        ).one()
        assert renamed.status == "active"
        on_notice = [c for c in admissions if c.notice_closes_at and c.notice_closes_at > utcnow()]
        assert len(on_notice) >= 2
        report = consistency.check()
        assert report.ok, [str(p) for p in report.problems]
    # Every demo account that takes part in a procedure finds work waiting in its inbox.
    for username, work in (
        ("secretary", "初审"), ("secretary", "欠费处理决定"), ("secretary", "审核变更事项"),
        ("secretary", "秘书处确认退会"), ("council", "理事会表决"), ("council3", "理事会表决"),
        ("finance", "确认到账"), ("finance", "确认会费到账"), ("supervisor", "监事会复核"),
    ):  # fmt: skip
        inbox = actors(username).client.get("/inbox", follow_redirects=True)
        assert work in inbox.get_data(as_text=True), (username, work)
    # Each row names the stage as its own procedure does: the withdrawal's "confirmation" is
    # 确认, the dues' is 到账确认.
    secretary = actors("secretary").get("/inbox").get_data(as_text=True)
    row = secretary[secretary.index('data-task="confirm_by_secretariat"') :]
    row = row[: row.index("</tr>")]
    assert ">确认</td>" in row and "到账确认" not in row
    # The applicants land on their own cases, with their step first.
    for username, work in (("applicant", "申报缴纳会费"), ("applicant2", "补充材料")):
        landing = actors(username).client.get("/", follow_redirects=True)
        assert work in landing.get_data(as_text=True), (username, work)
    # The demo's own applicants each have their turn waiting: the dues (the member), and the
    # material the secretariat asked for.
    for username in ("applicant", "applicant2"):
        mine = actors(username).get("/cases").get_data(as_text=True)
        assert "btn btn-sm btn-success" in mine, username
    # The demo member sees its membership, with its certificate.
    membership = actors("applicant").get("/membership").get_data(as_text=True)
    assert "华夏示例科技有限公司" in membership and "2026-U-" in membership
    board = actors(None).get("/board").get_data(as_text=True)
    assert "Raise an objection" in board or "提出异议" in board
