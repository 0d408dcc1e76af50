"""会员类别变更 from workflows/member_type_change.bpmn: a member (or the secretariat on its behalf)
proposes a new type with reasons, the proposal showing the current type; the secretariat decides
the types its model data lets it, a council vote the others (type_rules.data.json); on approval
the register's type changes with a row of history (who, when, why, which case), the member number
stays, and `flask check` still finds each number in its series."""

from __future__ import annotations

from sqlalchemy import select

from tests.test_discipline import admitted
from webapp.extensions import db
from webapp.models import Case, Member, MemberDetailChange
from webapp.services import consistency

KEY = "member_type_change"


def _member(p, number: str) -> Member:
    with p.app.app_context():
        return db.session.scalars(select(Member).where(Member.member_number == number)).one()


def _history(p, number: str) -> list[MemberDetailChange]:
    member = _member(p, number)
    with p.app.app_context():
        return list(
            db.session.scalars(
                select(MemberDetailChange)
                .where(
                    MemberDetailChange.member_id == member.id,
                    MemberDetailChange.field == "member_type",
                )
                .order_by(MemberDetailChange.id)
            )
        )


def start_by_member(p, username: str = "applicant") -> int:
    started = p.actors(username).post(f"/start/{KEY}", {}, token_page="/membership")
    assert started.status_code == 302 and "/tasks/" in started.headers["Location"]
    return p.case_by_task(started.headers["Location"].rsplit("/", 1)[1])


def propose(
    p, case_id: int, new_type: str, username: str = "applicant", step: str = "propose_type"
):
    p.do(
        username,
        case_id,
        step,
        {"new_type": new_type, "type_change_reasons": "连续三年参与标准制定"},
    )


def review(p, case_id: int, decision: str, reasons: str = "材料齐全，同意") -> None:
    p.do("secretary", case_id, "review_type",
         {"type_review_decision": decision, "type_review_reasons": reasons})  # fmt: skip


def _check_problems(p) -> list[str]:
    with p.app.app_context():
        return [x.message for x in consistency.check().problems]


def test_the_secretariat_approves_a_senior_type_with_history(app, procedure):
    p = procedure
    number = admitted(p)
    # 我的会籍 offers it to an active member; an applicant without membership cannot start it.
    assert f'data-process="{KEY}"' in p.actors("applicant").get("/membership").get_data(
        as_text=True
    )
    assert p.actors("applicant2").post(f"/start/{KEY}", {}).status_code == 403
    assert p.actors("council").post(f"/start/{KEY}", {"member_number": number}).status_code == 403
    case_id = start_by_member(p)
    # The proposal shows the current type first.
    page = p.actors("applicant").get(f"/tasks/{p.task(case_id, 'propose_type').task_guid}")
    assert "当前会员类别：单位会员" in page.get_data(as_text=True)
    bad = p.do("applicant", case_id, "propose_type", {"new_type": "emperor"}, expect=400)
    assert bad.get_data(as_text=True).count("is-invalid") >= 2
    propose(p, case_id, "senior")
    assert p.open_ids(case_id) == ["review_type"]
    # Nobody reviews their own proposal.
    guid = p.task(case_id, "review_type").task_guid
    assert p.actors("applicant").get(f"/tasks/{guid}").status_code in (403, 404)
    review_page = p.actors("secretary").get(f"/tasks/{guid}").get_data(as_text=True)
    assert "当前类别：单位会员 → 申请变更为：高级会员" in review_page
    review(p, case_id, "approve")
    case = p.case(case_id)
    assert (case.status, case.outcome_code) == ("changed", "changed")
    member = _member(p, number)
    assert member.member_type == "senior" and member.member_number == number
    [row] = _history(p, number)
    assert (row.old_value, row.new_value, row.case_id) == ("unit", "senior", case_id)
    assert row.reason == "连续三年参与标准制定" and row.actor_id is not None
    assert row.decided_by is None  # one person's decision: the secretary is named
    [told] = p.messages("applicant", "type_change_decided")
    assert "高级会员" in told.body and "单位会员" in told.body
    # /members/<id> shows the history of types; the register's check still passes.
    shown = p.actors("secretary").get(f"/members/{member.id}").get_data(as_text=True)
    assert "会员类别变更记录" in shown and 'data-to="senior"' in shown and "高级会员" in shown
    assert _check_problems(p) == []


def test_a_council_type_passes_the_vote_and_the_vote_page_shows_the_proposal(app, procedure):
    p = procedure
    number = admitted(p)
    case_id = start_by_member(p)
    propose(p, case_id, "council")
    review(p, case_id, "approve", "同意提交理事会表决")
    assert p.case(case_id).facts["needs_vote"] is True
    vote_task = p.task(case_id, "council_vote", "council")
    page = p.actors("council").get(f"/tasks/{vote_task.task_guid}").get_data(as_text=True)
    first = page.index('id="first-text"')
    assert "单位会员 → 理事单位" in page[first:] and 'class="card mb-3 first-step"' in page
    assert page.index("连续三年参与标准制定") < page.index('id="task-form"')
    for voter, vote in (("council", "approve"), ("council2", "approve"), ("council3", "reject")):
        p.vote(case_id, voter, vote, "" if vote == "approve" else "条件尚不具备")
    case = p.case(case_id)
    assert (case.status, case.outcome_code) == ("changed", "changed")
    assert case.facts["vote_result"]["passed"] is True
    member = _member(p, number)
    assert member.member_type == "council"
    # The council decided, not the member whose ballot completed the vote: the history says so
    # with the tally, and links the case.
    [row] = _history(p, number)
    assert row.case_id == case_id
    decided = dict(row.decided_by)
    assert decided.pop("eligible") >= 3
    assert decided == {"by": "council", "approve": 2, "reject": 1, "abstain": 0}
    shown = p.actors("secretary").get(f"/members/{member.id}").get_data(as_text=True)
    history = shown[shown.index('id="type-history"') :]
    history = history[: history.index("</ul>")]
    assert "经理事会表决通过（赞成 2 票，反对 1 票，弃权 0 票）" in history
    assert f"#{case_id}" in history
    assert _check_problems(p) == []


def test_a_failed_vote_keeps_the_type(app, procedure):
    p = procedure
    number = admitted(p)
    case_id = start_by_member(p)
    propose(p, case_id, "honorary")
    review(p, case_id, "approve")
    for voter, vote in (("council", "reject"), ("council2", "reject"), ("council3", "approve")):
        p.vote(case_id, voter, vote, "" if vote == "approve" else "不符合荣誉会员条件")
    case = p.case(case_id)
    assert (case.status, case.outcome_code) == ("not_changed", "vote_failed")
    assert "不符合荣誉会员条件" in case.outcome_reason
    assert _member(p, number).member_type == "unit" and _history(p, number) == []
    [told] = p.messages("applicant", "type_change_decided")
    assert "未达到规定的多数" in told.body


def test_returned_then_the_secretariat_proposes_for_the_member(app, procedure):
    p = procedure
    number = admitted(p)
    # The secretariat starts on the member's behalf: its own proposal form, about that member.
    started = p.actors("secretary").post(f"/start/{KEY}", {"member_number": number})
    assert started.status_code == 302
    with p.app.app_context():
        case_id = db.session.scalars(select(Case).order_by(Case.id.desc())).first().id
    assert p.open_ids(case_id) == ["propose_type_for_member"]
    propose(p, case_id, "senior", username="secretary", step="propose_type_for_member")
    review(p, case_id, "return", "请补充参与标准制定的证明")
    [returned] = p.messages("applicant", "type_change_returned")
    assert "请补充参与标准制定的证明" in returned.body
    assert p.open_ids(case_id) == ["propose_type_for_member"]
    propose(p, case_id, "senior", username="secretary", step="propose_type_for_member")
    review(p, case_id, "refuse", "尚不符合高级会员条件")
    case = p.case(case_id)
    assert (case.status, case.outcome_code, case.facts["review_rounds"]) == (
        "not_changed",
        "refused",
        1,
    )
    assert _member(p, number).member_type == "unit"


def test_a_withdrawn_member_is_not_offered_the_change(app, procedure):
    p = procedure
    number = admitted(p)
    with p.app.app_context():
        member = db.session.scalars(select(Member).where(Member.member_number == number)).one()
        member.status = "withdrawn"
        db.session.commit()
    assert p.actors("applicant").post(f"/start/{KEY}", {}).status_code == 403
    assert p.actors("secretary").post(f"/start/{KEY}", {"member_number": number}).status_code == 400


def test_a_second_open_change_about_the_member_is_refused_at_submission(app, procedure):
    """One open case of type change per member: the second proposal is refused, saying which
    case is open, until that one is decided; a draft nobody submitted blocks nobody."""
    p = procedure
    number = admitted(p)
    first = start_by_member(p)
    # The secretariat opens one for the member too, before the member submits: no one blocks.
    p.actors("secretary").post(f"/start/{KEY}", {"member_number": number})
    with p.app.app_context():
        second = db.session.scalars(select(Case).order_by(Case.id.desc())).first().id
    assert second != first
    propose(p, first, "senior")
    refused = p.do(
        "secretary",
        second,
        "propose_type_for_member",
        {"new_type": "council", "type_change_reasons": "经会员大会推选"},
        expect=400,
    )
    text = refused.get_data(as_text=True)
    assert f"#{first}" in text and "已有一件本程序的案件在办" in text
    assert p.open_ids(second) == ["propose_type_for_member"]  # nothing changed
    review(p, first, "approve")
    assert _member(p, number).member_type == "senior"
    # Decided: the next change may go on.
    propose(p, second, "council", username="secretary", step="propose_type_for_member")
    assert p.open_ids(second) == ["review_type"]
