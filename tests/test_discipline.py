"""处分与除名 from workflows/discipline.bpmn: the secretariat opens a case about a member, the
member may answer within the answer period (a timer ends the wait), a warning is the
secretariat's decision, an expulsion needs two thirds of the council's votes cast and then
revokes the certificate, sets the status and bars the code from applying for five years."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.conftest import Actor, add_user, fresh_application, fresh_credit_code
from tests.test_reapplication import refused_submission
from tests.test_withdrawal import certificate_of, status_of
from webapp.extensions import db
from webapp.models import Case

EVIDENCE = (b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "证据.pdf")


def open_case(p, number: str, proposed: str = "expulsion") -> int:
    """The secretary starts a case about the member and states the grounds."""
    started = p.actors("secretary").post("/start/discipline", {"member_number": number})
    assert started.status_code == 302 and "/tasks/" in started.headers["Location"]
    with p.app.app_context():
        case_id = db.session.scalars(select(Case).order_by(Case.id.desc())).first().id
    p.do("secretary", case_id, "open_case", {
        "grounds": "该会员在行业评比中提供虚假材料，违反章程第十条。",
        "evidence": EVIDENCE,
        "proposed_sanction": proposed,
    })  # fmt: skip
    return case_id


def admitted(p, code: str | None = None) -> str:
    case_id = p.submit("applicant", fresh_application(credit_code=code or fresh_credit_code()))
    p.to_payment(case_id)
    p.declare_payment(case_id)
    p.confirm_payment(case_id)
    p.issue_certificate(case_id)
    return p.case(case_id).member_number


def test_the_member_answers_in_time_and_the_secretariat_warns(app, procedure):
    p = procedure
    number = admitted(p)
    # The council may not open a case; nobody opens one about themselves.
    assert (
        p.actors("council").post("/start/discipline", {"member_number": number}).status_code == 403
    )
    case_id = open_case(p, number, proposed="warning")
    [told] = p.messages("applicant", "discipline_opened")
    assert "虚假材料" in told.body and "申辩" in told.body
    assert p.open_ids(case_id) == ["submit_defence"]
    p.do("applicant", case_id, "submit_defence", {"defence": "材料系工作人员误报，已更正。"})
    assert p.case(case_id).facts["answered"] is True
    p.do(
        "secretary",
        case_id,
        "decide",
        {"sanction": "warning", "decision_reasons": "情节较轻，予以警告。"},
    )
    case = p.case(case_id)
    assert (case.status, case.outcome_code, case.outcome_reason) == (
        "warning",
        "warning",
        "情节较轻，予以警告。",
    )
    assert status_of(p, number) == "active" and certificate_of(p, number).revoked_at is None
    [outcome] = p.messages("applicant", "discipline_outcome")
    assert (
        "警告处分" in outcome.body
        and "情节较轻" in outcome.body
        and "监事会提出申诉" in outcome.body
    )


def test_without_an_answer_in_time_an_expulsion_passes_with_two_thirds(app, procedure):
    p = procedure
    code = fresh_credit_code()
    number = admitted(p, code)
    token = certificate_of(p, number).verify_token
    case_id = open_case(p, number)
    closes = p.case(case_id).facts["answer_closes_at"]
    late = p.task(case_id, "submit_defence").task_guid
    p.after(closes)  # the answer period ends: the timer takes the case on
    assert p.open_ids(case_id) == ["decide"] and p.case(case_id).facts["answered"] is False
    # An answer after the period is no longer taken.
    too_late = p.actors("applicant").complete(late, {"defence": "迟到的申辩意见。"})
    assert too_late.status_code in (404, 409) and p.case(case_id).facts["answered"] is False
    p.do(
        "secretary",
        case_id,
        "decide",
        {"sanction": "expulsion", "decision_reasons": "情节严重，予以除名。"},
    )
    for voter, vote in (("council", "approve"), ("council2", "approve"), ("council3", "reject")):
        p.vote(case_id, voter, vote, "" if vote == "approve" else "证据不足")
    case = p.case(case_id)
    assert (case.status, case.outcome_code) == ("expelled", "expelled")
    assert case.facts["vote_result"]["passed"] is True
    assert status_of(p, number) == "expelled" and certificate_of(p, number).revoked_at is not None
    assert 'data-result="not-valid"' in p.actors(None).get(f"/verify/{token}").get_data(
        as_text=True
    )
    ban_until = date.fromisoformat(case.facts["ban_until"])
    assert ban_until.year == p.now().year + 5
    [outcome] = p.messages("applicant", "discipline_outcome")
    assert "除名" in outcome.body and ban_until.isoformat() in outcome.body
    # The code may not apply again within the ban, from any account.
    for username in ("applicant", "applicant2"):
        _case, page = refused_submission(p, username, fresh_application(credit_code=code))
        assert f"{code} 在 {ban_until.isoformat()} 之前不得再次申请入会" in page
    # After the ban it may, its history flagged for the reviewer.
    p.travel_to(p.now().replace(year=ban_until.year, month=ban_until.month, day=ban_until.day))
    add_user(app, "newcomer", "新申请人", "applicant")  # logged in afresh, five years on
    again = p.submit("newcomer", fresh_application(credit_code=code))
    review = p.task(again, "preliminary_review")
    page = Actor(app, "secretary").get(f"/tasks/{review.task_guid}").get_data(as_text=True)
    assert f'data-member="{number}" data-status="expelled"' in page
    assert f'data-ban-until="{ban_until.isoformat()}" data-lifted="0"' in page


def test_an_expulsion_short_of_two_thirds_fails_though_a_majority_voted_for_it(app, procedure):
    p = procedure
    number = admitted(p)
    add_user(app, "council4", "赵理事", "council")
    add_user(app, "council5", "钱理事", "council")
    case_id = open_case(p, number)
    p.do("applicant", case_id, "submit_defence", {"defence": "不同意立案所述事实。"})
    p.do(
        "secretary", case_id, "decide", {"sanction": "expulsion", "decision_reasons": "情节严重。"}
    )
    votes = ("approve", "approve", "approve", "reject", "reject")  # 3/5: more than half, not 2/3
    voters = ("council", "council2", "council3", "council4", "council5")
    for voter, vote in zip(voters, votes, strict=True):
        p.vote(case_id, voter, vote, "" if vote == "approve" else "处分过重")
    case = p.case(case_id)
    assert (case.status, case.outcome_code) == ("not_sanctioned", "vote_failed")
    assert status_of(p, number) == "active" and certificate_of(p, number).revoked_at is None
    [outcome] = p.messages("applicant", "discipline_outcome")
    assert "不予处分" in outcome.body
