"""Every branch of the admission procedure the regulations describe, on a travelling clock:
more material, objections, the council's voting rules, payment reminders and lapses, and a
certificate issued exactly once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import func, select

from tests.conftest import add_user
from tests.procedure import PAYMENT, SHANGHAI
from webapp.extensions import db
from webapp.models import Certificate, Member, Objection
from webapp.services import process_models


def test_more_material_requested_twice_then_passed(procedure):
    p = procedure
    app_id = p.submit()
    for round_no, request in enumerate(("请补充近三年财务报表。", "请于下周二上午来会面谈。"), 1):
        p.review(app_id, "more_material", review_request=request)
        assert p.open_ids(app_id) == ["provide_material"]
        assert p.case(app_id).stage == "review"
        page = p.actors("applicant").get(f"/tasks/{p.task(app_id, 'provide_material').task_guid}")
        assert request in page.get_data(as_text=True)
        (message,) = p.messages("applicant", "more_material_requested")[round_no - 1 :]
        assert request in message.body
        p.do(
            "applicant",
            app_id,
            "provide_material",
            {
                "material_response": f"第{round_no}次补充。",
                "additional_document": (b"%PDF-1.4\n%%EOF\n", f"补充{round_no}.pdf"),
            },
        )
        assert p.open_ids(app_id) == ["preliminary_review"]
    p.review(app_id, "pass")
    case = p.case(app_id)
    assert case.stage == "notice" and case.facts["review_rounds"] == 3


def _with_objection(p, reason="该企业存在拖欠员工工资的情况，不符合诚信自律公约。"):
    app_id = p.submit()
    p.review(app_id)
    assert p.actors(None).get(f"/board/{app_id}/objection").status_code == 200
    response = p.file_objection(app_id, reason, contact="13800000000")
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    assert p.messages("secretary", "objection_filed")
    p.close_notice(app_id)
    assert p.open_ids(app_id) == ["answer_objection"]
    return app_id


def test_objection_upheld_rejects_with_the_answer_as_reason(app, procedure):
    p = procedure
    app_id = _with_objection(p)
    task_page = p.actors("secretary").get(f"/tasks/{p.task(app_id, 'answer_objection').task_guid}")
    assert "拖欠员工工资" in task_page.get_data(as_text=True)
    answer = "经核实，该企业确有拖欠工资记录。"
    p.do(
        "secretary",
        app_id,
        "answer_objection",
        {"objection_decision": "upheld", "objection_reply": answer},
    )
    case = p.case(app_id)
    assert case.status == "rejected" and case.outcome_code == "objection_upheld"
    assert case.outcome_reason == answer
    with app.app_context():
        (objection,) = db.session.scalars(select(Objection)).all()
        assert objection.decision == "upheld" and objection.answer == answer
        assert objection.answered_by.username == "secretary"
    page = p.actors("applicant").get(f"/cases/{app_id}").get_data(as_text=True)
    assert answer in page and "13800000000" not in page  # the objector stays private


def test_objection_dismissed_goes_to_the_council_with_the_answer_kept(procedure):
    p = procedure
    app_id = _with_objection(p)
    answer = "经核实，工资已于上月全部结清，异议不成立。"
    p.do(
        "secretary",
        app_id,
        "answer_objection",
        {"objection_decision": "dismissed", "objection_reply": answer},
    )
    assert p.case(app_id).stage == "approval"
    vote_page = p.actors("council").get(
        f"/tasks/{p.task(app_id, 'council_vote', 'council').task_guid}"
    )
    text = vote_page.get_data(as_text=True)
    assert "拖欠员工工资" in text and answer in text  # objections and answers, while voting


def test_objection_after_the_notice_period_is_refused(procedure):
    p = procedure
    app_id = p.submit()
    p.review(app_id)
    closes = p.case(app_id).notice_closes_at
    public = p.actors(None)
    token_page = f"/board/{app_id}/objection"
    token = public.token(token_page)
    p.travel_to(closes + timedelta(seconds=1))  # closed, even before the ticker has run
    response = public.client.post(
        token_page, data={"csrf_token": token, "reason": "公示期后才提出的异议内容。"}
    )
    assert response.status_code == 409
    assert "公示期" in response.get_data(as_text=True)
    p.tick()
    late = public.client.post(
        token_page, data={"csrf_token": token, "reason": "公示期后才提出的异议内容。"}
    )
    assert late.status_code == 409
    assert p.case(app_id).stage == "approval"


def test_objections_need_a_csrf_token_and_are_rate_limited(procedure):
    p = procedure
    app_id = p.submit()
    p.review(app_id)
    url = f"/board/{app_id}/objection"
    forged = p.actors(None).client.post(url, data={"reason": "没有令牌的异议提交内容。"})
    assert forged.status_code == 400
    codes = [p.file_objection(app_id, f"第{i}条异议，内容足够长。").status_code for i in range(6)]
    assert codes == [302] * 5 + [429]


def test_vote_without_quorum_rejects_at_the_vote_deadline(procedure):
    p = procedure
    app_id = p.submit()
    p.review(app_id)
    p.close_notice(app_id)
    p.vote(app_id, "council", "approve")  # one of three: below the two-thirds quorum
    p.after(p.case(app_id).facts["vote_closes_at"])
    case = p.case(app_id)
    assert case.status == "rejected" and case.outcome_code == "no_quorum"
    tally = case.facts["vote_result"]
    assert (tally["approve"], tally["voted"], tally["eligible"]) == (1, 1, 3)
    assert tally["quorum_met"] is False
    assert p.open_ids(app_id) == []  # the votes not cast were withdrawn
    assert p.messages("secretary", "vote_result")


def test_vote_rejected_by_the_majority_tells_the_applicant_why(procedure):
    p = procedure
    app_id = p.submit()
    p.review(app_id)
    p.close_notice(app_id)
    p.vote(app_id, "council", "reject", "主营业务与本会宗旨不符。")
    p.vote(app_id, "council2", "reject", "申请材料显示经营年限不足。")
    p.vote(app_id, "council3", "approve")
    case = p.case(app_id)
    assert case.status == "rejected" and case.outcome_code == "council_rejected"
    assert "主营业务与本会宗旨不符。" in case.outcome_reason
    secretary_page = p.actors("secretary").get(f"/cases/{app_id}").get_data(as_text=True)
    assert 'id="vote-tally"' in secretary_page
    applicant_page = p.actors("applicant").get(f"/cases/{app_id}").get_data(as_text=True)
    assert 'id="vote-tally"' not in applicant_page and "主营业务与本会宗旨不符。" in applicant_page


def test_two_thirds_majority_is_expressible_in_the_diagram(app, procedure):
    for name in ("council4", "council5"):
        add_user(app, name, f"{name}（理事会）", "council")
    with app.app_context():
        version = process_models.live_version("admission")
        # The rule is model data (settings.data.json), which the owner edits without a script.
        forms = dict(version.forms)
        forms["settings.data.json"] = {**forms["settings.data.json"], "vote_majority": ">=2/3"}
        process_models.deploy("admission", version.bpmn, forms)
        db.session.commit()
    p = procedure
    app_id = p.submit()
    p.review(app_id)
    p.close_notice(app_id)
    for member, vote in zip(
        ("council", "council2", "council3", "council4", "council5"),
        ("approve", "approve", "approve", "reject", "reject"),
        strict=True,
    ):
        p.vote(app_id, member, vote, "" if vote == "approve" else "不同意。")
    case = p.case(app_id)
    # 3 of 5 is more than half but less than two thirds.
    assert case.facts["vote_result"]["majority"] == ">=2/3"
    assert case.status == "rejected" and case.outcome_code == "council_rejected"


def test_the_preliminary_reviewer_does_not_vote(app, procedure):
    add_user(app, "dual", "吴理事兼秘书", "secretariat,council")
    p = procedure
    app_id = p.submit()
    p.do("dual", app_id, "preliminary_review", {"review_decision": "pass"})
    p.close_notice(app_id)
    assert p.case(app_id).facts.get("vote_result") is None
    with app.app_context():
        voters = set(p.open_ids(app_id))
    assert voters == {"council_vote"}
    dual_inbox = p.actors("dual").get("/inbox").get_data(as_text=True)
    assert 'data-task="council_vote"' not in dual_inbox
    for member in ("council", "council2", "council3"):
        p.vote(app_id, member, "approve")
    assert p.case(app_id).facts["vote_result"]["eligible"] == 3


def test_payment_reminder_three_working_days_before_the_deadline(procedure):
    p = procedure
    app_id = p.submit()
    p.to_payment(app_id)
    facts = p.case(app_id).facts
    deadline = datetime.fromisoformat(facts["payment_deadline"])
    assert p.messages("applicant", "payment_reminder") == []
    p.after(deadline - timedelta(days=7))  # well before the reminder
    assert p.messages("applicant", "payment_reminder") == []
    reminder_at = deadline.astimezone(SHANGHAI).date() - timedelta(days=3)
    # Three working days before: for a deadline on a Monday that is the Wednesday before.
    p.after(datetime(reminder_at.year, reminder_at.month, reminder_at.day, 23, tzinfo=SHANGHAI))
    (reminder,) = p.messages("applicant", "payment_reminder")
    assert p.case(app_id).stage == "payment" and p.open_ids(app_id) == ["declare_payment"]
    p.declare_payment(app_id)
    p.confirm_payment(app_id)
    assert p.case(app_id).stage == "certificate"
    assert reminder.subject


def test_application_lapses_when_the_fee_is_not_paid_by_the_deadline(procedure):
    p = procedure
    app_id = p.submit()
    p.to_payment(app_id)
    p.after(p.case(app_id).facts["payment_deadline"])
    case = p.case(app_id)
    assert case.status == "lapsed" and case.outcome_code == "lapsed"
    assert p.open_ids(app_id) == []
    assert p.messages("applicant", "application_lapsed")
    page = p.actors("applicant").get(f"/cases/{app_id}").get_data(as_text=True)
    assert 'data-status="lapsed"' in page


def test_payment_sent_back_then_declared_again(procedure):
    p = procedure
    app_id = p.submit()
    p.to_payment(app_id)
    p.declare_payment(app_id)
    p.do(
        "finance",
        app_id,
        "confirm_payment",
        {"payment_check": "not_received", "payment_check_reason": "未查到该笔款项"},
    )
    assert p.open_ids(app_id) == ["declare_payment"]
    (message,) = p.messages("applicant", "payment_rejected")
    assert "未查到该笔款项" in message.body


def test_certificate_is_issued_once_under_a_double_submit(app, procedure):
    p = procedure
    app_id = p.submit()
    p.to_payment(app_id)
    p.declare_payment(app_id)
    p.confirm_payment(app_id)
    add_user(app, "secretary2", "陈秘书（秘书处）", "secretariat")
    guid = p.task(app_id, "issue_certificate").task_guid
    people = [p.actors("secretary"), p.actors("secretary2")]
    tokens = [person.token() for person in people]
    barrier, codes = threading.Barrier(2), [None, None]

    def issue(i):
        barrier.wait()
        codes[i] = (
            people[i]
            .client.post(
                f"/tasks/{guid}", data={"csrf_token": tokens[i], "certificate_confirmed": "on"}
            )
            .status_code
        )

    threads = [threading.Thread(target=issue, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [302, 409]
    again = people[0].client.post(
        f"/tasks/{guid}", data={"csrf_token": tokens[0], "certificate_confirmed": "on"}
    )
    assert again.status_code == 409  # a retry later changes nothing either
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 1
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1
    assert p.case(app_id).member_number == "2026-U-000001"


def test_notice_counts_working_days_across_the_spring_festival(procedure):
    p = procedure
    # Friday 13 Feb 2026; Saturday 14 Feb is a make-up working day, then the holiday runs
    # from Sunday 15 to Monday 23 Feb: five working days end on Friday 27 Feb.
    p.travel_to(datetime(2026, 2, 13, 10, 0, tzinfo=SHANGHAI))
    app_id = p.submit()
    p.review(app_id)
    closes = p.case(app_id).notice_closes_at.astimezone(SHANGHAI)
    assert closes.date().isoformat() == "2026-02-27"


def test_inbox_shows_due_dates_and_puts_overdue_tasks_first(procedure):
    p = procedure
    first = p.submit()
    p.travel_to(p.now() + timedelta(days=1))
    second = p.submit("applicant2", {**_individual()})
    inbox = p.actors("secretary").get("/inbox").get_data(as_text=True)
    assert 'data-overdue="1"' not in inbox
    due = p.task(first, "preliminary_review").due_at
    assert due is not None
    p.travel_to(due + timedelta(hours=1))
    inbox = p.actors("secretary").get("/inbox").get_data(as_text=True)
    assert inbox.index(f'data-case="{first}"') < inbox.index(f'data-case="{second}"')
    assert 'id="inbox-overdue"' in inbox and 'data-overdue="1"' in inbox


def _individual() -> dict:
    return {
        "member_type": "individual",
        "name": "李四",
        "id_number": "110101199003070011",
        "contact_person": "李四",
        "phone": "13900000000",
        "email": "lisi@example.com",
        "address": "北京市海淀区示例路2号",
        "region": "北京市",
        "industry": "it",
        "reasons": "希望参与行业交流，共同促进行业发展。",
        "accept_charter": "on",
        "accept_integrity_pact": "on",
        "application_form_scan": (b"%PDF-1.4\n%%EOF\n", "申请表.pdf"),
        "id_document": (b"%PDF-1.4\n%%EOF\n", "身份证.pdf"),
        "cv": (b"%PDF-1.4\n%%EOF\n", "简历.pdf"),
    }


def test_draft_is_kept_and_offered_again(procedure):
    p = procedure
    applicant = p.actors("applicant")
    case = applicant.start_application()
    guid = p.task(case.id, "submit_application").task_guid
    response = applicant.post(
        f"/tasks/{guid}",
        {
            "action": "draft",
            "name": "草稿示例有限公司",
            "application_form_scan": (b"%PDF-1.4\n%%EOF\n", "申请表.pdf"),
        },
    )
    assert response.status_code == 302
    page = applicant.get(f"/tasks/{guid}").get_data(as_text=True)
    assert "草稿示例有限公司" in page and "申请表.pdf" in page and 'id="draft-note"' in page
    assert p.open_ids(case.id) == ["submit_application"]  # nothing moved on
    assert PAYMENT  # the module's payment data stays in use for other tests
