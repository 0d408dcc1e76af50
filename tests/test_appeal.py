"""申诉 from workflows/appeal.bpmn: whoever a decision is about may appeal within the period the
deciding procedure published; the board of supervisors (a body other than the one that
decided) upholds or overturns with reasons, and overturning an expulsion restores the member:
status active, ban lifted, a valid certificate under the same number."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import fresh_application, fresh_credit_code
from tests.test_discipline import admitted, open_case
from tests.test_withdrawal import status_of
from webapp.extensions import db
from webapp.models import Case, Certificate, Member, ReapplicationBan


def expel(p, number: str) -> int:
    case_id = open_case(p, number)
    p.do("applicant", case_id, "submit_defence", {"defence": "不同意立案所述事实。"})
    p.do(
        "secretary", case_id, "decide", {"sanction": "expulsion", "decision_reasons": "情节严重。"}
    )
    for voter in ("council", "council2", "council3"):
        p.vote(case_id, voter, "approve")
    assert p.case(case_id).status == "expelled"
    return case_id


def lodge(p, username: str, appealed: int | str, expect: int = 302):
    """The appellant starts an appeal and submits its first form; the appeal's id and the
    response to the submission."""
    started = p.actors(username).post("/start/appeal", {})
    assert started.status_code == 302, started.status_code
    with p.app.app_context():
        appeal = db.session.scalars(select(Case).order_by(Case.id.desc())).first().id
    answer = p.do(username, appeal, "lodge_appeal", {
        "appealed_case_number": str(appealed),
        "appeal_reasons": "立案所述材料系第三方伪造，已向公安机关报案。",
    }, expect=expect)  # fmt: skip
    return appeal, answer


def test_overturning_an_expulsion_restores_the_member(app, procedure):
    p = procedure
    code = fresh_credit_code()
    number = admitted(p, code)
    # Nothing to appeal yet: the catalogue does not offer it.
    assert "申诉" not in p.actors("applicant").get("/start").get_data(as_text=True)
    expulsion = expel(p, number)
    assert "申诉" in p.actors("applicant").get("/start").get_data(as_text=True)
    # Another account cannot appeal someone else's decision (nor has anything to appeal).
    assert p.actors("applicant2").post("/start/appeal", {}).status_code == 403

    appeal, _ = lodge(p, "applicant", expulsion)
    assert p.open_ids(appeal) == ["decide_appeal"]
    [received] = p.messages("applicant", "appeal_received")
    assert str(expulsion) in received.body
    # The council that voted does not decide the appeal: the supervisors do.
    assert "监事会复核" not in p.actors("council").get("/inbox").get_data(as_text=True)
    assert "监事会复核" in p.actors("supervisor").get("/inbox").get_data(as_text=True)
    # The supervisors' task shows the decision appealed, with its reasons and a link to it.
    decide = p.task(appeal, "decide_appeal").task_guid
    page = p.actors("supervisor").get(f"/tasks/{decide}").get_data(as_text=True)
    assert f'href="/cases/{expulsion}" id="appealed-case"' in page and "情节严重。" in page
    assert "北京示例科技有限公司" in page  # whom the appeal is for
    assert p.actors("supervisor").get(f"/cases/{expulsion}").status_code == 200
    p.do("supervisor", appeal, "decide_appeal", {
        "appeal_decision": "overturn", "appeal_decision_reasons": "证据系伪造，原决定事实不清。",
    })  # fmt: skip
    case = p.case(appeal)
    assert (case.status, case.outcome_code) == ("overturned", "overturned")
    assert status_of(p, number) == "active"
    with app.app_context():
        member = db.session.scalars(select(Member).where(Member.member_number == number)).one()
        bans = db.session.scalars(
            select(ReapplicationBan).where(ReapplicationBan.member_id == member.id)
        ).all()
        assert bans and all(b.lifted_at is not None and b.lifted_case_id == appeal for b in bans)
        valid = db.session.scalars(
            select(Certificate).where(
                Certificate.member_id == member.id, Certificate.revoked_at.is_(None)
            )
        ).all()
        assert len(valid) == 1 and valid[0].case_id == appeal
    token = valid[0].verify_token
    assert 'data-result="valid"' in p.actors(None).get(f"/verify/{token}").get_data(as_text=True)
    [told] = p.messages("applicant", "appeal_decided")
    assert "撤销原决定" in told.body and "会籍已恢复" in told.body and "证据系伪造" in told.body
    # A decision is appealed once.
    _again, refused = lodge(p, "applicant", expulsion, expect=400)
    assert "已经提出过申诉" in refused.get_data(as_text=True)


def test_a_rejected_applicant_appeals_in_time_and_late(app, procedure):
    p = procedure
    first = p.submit("applicant", fresh_application())
    p.review(first, "reject", review_reasons="材料不全。")
    assert p.case(first).status == "rejected"
    [rejected] = p.messages("applicant", "application_rejected")
    assert "监事会提出申诉" in rejected.body
    appeal, _ = lodge(p, "applicant", first)
    p.do("supervisor", appeal, "decide_appeal", {
        "appeal_decision": "uphold", "appeal_decision_reasons": "原决定事实清楚，维持。",
    })  # fmt: skip
    assert p.case(appeal).status == "upheld"
    [told] = p.messages("applicant", "appeal_decided")
    assert "维持原决定" in told.body

    # A second rejection, appealed after its period: refused, saying when it ended.
    second = p.submit("applicant2", fresh_application())
    p.review(second, "reject", review_reasons="不符合条件。")
    closes = p.case(second).facts["appeal_closes_at"]
    p.after(closes)
    assert "申诉" not in p.actors("applicant2").get("/start").get_data(as_text=True)
    assert p.actors("applicant2").post("/start/appeal", {}).status_code == 403


# Found reviewing the appeal's form for the schema fuzz: the form takes up to 20 characters,
# and a number of 20 digits overflowed the database's integer (a server error on SQLite and
# PostgreSQL alike).
def test_a_case_number_no_case_can_have_is_refused_not_a_server_error(app, procedure):
    p = procedure
    first = p.submit("applicant", fresh_application())
    p.review(first, "reject", review_reasons="材料不全。")
    appeal, refused = lodge(p, "applicant", "9" * 20, expect=400)
    page = refused.get_data(as_text=True)  # in Chinese where the catalogue is compiled
    assert "您没有此编号的已决事项" in page or "You have no decided case with this number" in page
    for number in ("9" * 19, str(2**31), "-1", "0", "#"):
        p.do("applicant", appeal, "lodge_appeal", {
            "appealed_case_number": number,
            "appeal_reasons": "立案所述材料系第三方伪造，已向公安机关报案。",
        }, expect=400)  # fmt: skip
    assert p.open_ids(appeal) == ["lodge_appeal"]


def test_overturning_a_rejected_application_reopens_it_at_fee_payment(app, procedure):
    """appeal_rules.data.json says where an overturned rejection resumes: the application goes
    on to its payment notice, payment and certificate, as if the council had approved it."""
    p = procedure
    first = p.submit("applicant", fresh_application())
    p.review(first, "reject", review_reasons="材料不全。")
    assert p.case(first).status == "rejected"
    appeal, _ = lodge(p, "applicant", first)
    p.do("supervisor", appeal, "decide_appeal", {
        "appeal_decision": "overturn", "appeal_decision_reasons": "补充材料证明符合入会条件。",
    })  # fmt: skip
    assert (p.case(appeal).status, p.case(appeal).facts["reopened_case"]["id"]) == (
        "overturned",
        first,
    )
    case = p.case(first)
    assert (case.status, case.stage, case.outcome_code) == ("in_progress", "payment", None)
    assert case.facts["fee_amount"] == 5000 and "appeal_closes_at" not in case.facts
    assert p.open_ids(first) == ["declare_payment"]
    # The applicant is sent the payment notice, as after a council's approval.
    assert p.messages("applicant", "application_approved")
    [told] = p.messages("applicant", "appeal_decided")
    assert "恢复办理" in told.body
    p.declare_payment(first)
    p.confirm_payment(first)
    p.issue_certificate(first)
    case = p.case(first)
    assert (case.status, case.outcome_code) == ("admitted", "admitted") and case.member_number
    with app.app_context():
        member = db.session.scalars(
            select(Member).where(Member.member_number == case.member_number)
        ).one()
        assert member.status == "active"
        assert (
            db.session.scalars(select(Certificate).where(Certificate.member_id == member.id))
            .one()
            .revoked_at
            is None
        )
        from webapp.services import consistency

        assert consistency.check().problems == []
