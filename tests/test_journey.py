"""The whole admission, application to certificate, through the Flask test client and the
ticker, on a clock that moves through the periods of the regulations."""

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AuditEvent, Certificate, HumanTask, Member


def test_application_travels_every_stage_to_a_member_certificate(app, procedure):
    p = procedure
    app_id = p.submit()
    case = p.case(app_id)
    assert case.stage == "review" and case.name == "北京示例科技有限公司"
    applicant, secretary = p.actors("applicant"), p.actors("secretary")

    page = applicant.get("/cases").get_data(as_text=True)
    assert 'data-stage="review" aria-current="step"' in page
    inbox = secretary.get("/inbox").get_data(as_text=True)
    assert 'data-task="preliminary_review"' in inbox

    p.review(app_id, "pass", review_notes="材料齐全，经营状况良好。")
    case = p.case(app_id)
    assert case.stage == "notice" and case.notice_closes_at is not None
    # Five working days from Monday 1 June 2026: the end of Monday 8 June, Beijing time.
    assert case.notice_closes_at.isoformat() == "2026-06-08T15:59:59+00:00"
    board = p.actors(None).get("/board").get_data(as_text=True)
    assert "北京示例科技有限公司" in board

    assert p.tick() == 0  # nothing is due before the period ends
    p.close_notice(app_id)
    case = p.case(app_id)
    assert case.stage == "approval" and case.notice_closes_at is None
    assert "北京示例科技有限公司" not in p.actors(None).get("/board").get_data(as_text=True)

    # One vote per council member, offered to each by name; review notes visible while voting.
    vote_task = p.task(app_id, "council_vote", "council")
    vote_page = p.actors("council").get(f"/tasks/{vote_task.task_guid}")
    assert "材料齐全，经营状况良好。" in vote_page.get_data(as_text=True)
    p.approve_by_council(app_id)
    case = p.case(app_id)
    assert case.stage == "payment"
    assert case.facts["vote_result"]["passed"] is True
    assert case.facts["fee_amount"] == 5000  # the unit fee of the fee schedule
    assert p.messages("applicant", "application_approved")

    p.declare_payment(app_id)
    p.confirm_payment(app_id)
    assert p.case(app_id).stage == "certificate"
    p.issue_certificate(app_id)

    case = p.case(app_id)
    assert case.status == "admitted"
    assert case.member_number == "2026-U-000001"
    detail = applicant.get(f"/cases/{app_id}").get_data(as_text=True)
    assert case.member_number in detail and 'id="certificate-link"' in detail
    pdf = applicant.get(f"/cases/{app_id}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    board = p.actors(None).get("/board").get_data(as_text=True)
    assert 'id="admissions"' in board and "2026-U-000001" in board

    with app.app_context():
        completed = db.session.scalar(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.instance_id == case.instance_id, HumanTask.state == "completed")
        )
        audited = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.instance_id == case.instance_id,
                AuditEvent.action == "task_completed",
            )
        )
        assert db.session.scalar(select(func.count()).select_from(Member)) == 1
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1
    # submit, review, three votes, declare, confirm, issue
    assert completed == audited == 8
    assert [m.event for m in p.messages("applicant")] == [
        "application_received",
        "notice_opened",
        "application_approved",  # the approval and payment notice in one
        "certificate_issued",
    ]


def test_passing_review_puts_only_publishable_facts_on_the_board(procedure):
    p = procedure
    app_id = p.submit()
    p.review(app_id)
    text = p.actors(None).get("/board").get_data(as_text=True)
    assert "北京示例科技有限公司" in text and "北京市" in text
    assert "91110000600037341L" not in text and "zhangsan@example.com" not in text
    assert "2026-06-08" in text  # the end of the notice period, written the one zh way


def test_rejection_at_review_tells_the_applicant_the_reasons(procedure):
    p = procedure
    app_id = p.submit()
    reasons = "营业执照已过期，不符合入会条件。"
    p.review(app_id, "reject", review_reasons=reasons)
    case = p.case(app_id)
    assert case.status == "rejected" and case.outcome_reason == reasons
    assert case.outcome_code == "review_rejected" and case.member_number is None
    page = p.actors("applicant").get(f"/cases/{app_id}").get_data(as_text=True)
    assert reasons in page and 'data-status="rejected"' in page
    assert "王秘书" not in page  # the applicant sees roles, not the people behind them
    (message,) = p.messages("applicant", "application_rejected")
    assert reasons in message.body
