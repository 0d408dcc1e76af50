"""The whole admission, application to certificate, through the Flask test client."""

from sqlalchemy import func, select

from tests.conftest import open_task, reload
from webapp.extensions import db
from webapp.models import AuditEvent, HumanTask


def test_application_travels_every_stage_to_a_member_number(app, actors, submitted):
    applicant, secretary = actors("applicant"), actors("secretary")
    council, finance = actors("council"), actors("finance")
    assert submitted.stage == "review" and submitted.name == "北京示例科技有限公司"

    page = applicant.get("/applications").get_data(as_text=True)
    assert "北京示例科技有限公司" in page and 'data-stage="review" aria-current="step"' in page

    inbox = secretary.get("/inbox").get_data(as_text=True)
    assert 'data-task="preliminary_review"' in inbox

    steps = [
        (secretary, "preliminary_review", {"review_decision": "pass"}, "notice"),
        (secretary, "close_notice", {"notice_closed": "on"}, "approval"),
        (council, "council_decision", {"council_decision": "approve"}, "payment"),
        (
            applicant,
            "declare_payment",
            {
                "payment_method": "bank_transfer",
                "payment_reference": "TX-2026-001",
                "payment_amount": "2000",
                "payment_date": "2026-11-20",
            },
            "payment",
        ),
        (finance, "confirm_payment", {"payment_check": "received"}, "certificate"),
    ]
    for actor, task_id, data, stage_after in steps:
        if task_id == "council_decision":  # the council sees what review decided, in words
            page = actor.get(f"/tasks/{open_task(app, submitted.id, task_id).task_guid}")
            text = page.get_data(as_text=True)
            assert '<details class="small mb-2" data-task="preliminary_review">' in text
            assert "通过" in text and "91110000600037341L" in text
        response = actor.complete(open_task(app, submitted.id, task_id).task_guid, data)
        assert response.status_code == 302, (task_id, response.get_data(as_text=True)[:1500])
        assert reload(app, submitted.id).stage == stage_after

    on_board = actors(None).get("/board").get_data(as_text=True)
    assert "北京示例科技有限公司" not in on_board  # the notice period is over

    response = secretary.complete(
        open_task(app, submitted.id, "issue_certificate").task_guid, {"certificate_confirmed": "on"}
    )
    assert response.status_code == 302
    application = reload(app, submitted.id)
    assert application.status == "admitted"
    assert application.member_number.endswith("-U-000001")

    detail = applicant.get(f"/applications/{application.id}").get_data(as_text=True)
    assert application.member_number in detail
    with app.app_context():
        completed = db.session.scalar(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.instance_id == application.instance_id, HumanTask.state == "completed")
        )
        audited = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.instance_id == application.instance_id,
                AuditEvent.action == "task_completed",
            )
        )
    assert completed == audited == 7


def test_passing_review_puts_the_applicant_on_the_public_board(app, actors, submitted):
    secretary = actors("secretary")
    secretary.complete(open_task(app, submitted.id).task_guid, {"review_decision": "pass"})
    board = actors(None).get("/board")
    assert board.status_code == 200
    text = board.get_data(as_text=True)
    assert "北京示例科技有限公司" in text and "北京市" in text
    assert "91110000600037341L" not in text and "zhangsan@example.com" not in text


def test_rejection_at_review_shows_the_reasons_to_the_applicant(app, actors, submitted):
    secretary, applicant = actors("secretary"), actors("applicant")
    reasons = "营业执照已过期，不符合入会条件。"
    response = secretary.complete(
        open_task(app, submitted.id).task_guid,
        {"review_decision": "reject", "review_reasons": reasons},
    )
    assert response.status_code == 302
    application = reload(app, submitted.id)
    assert application.status == "rejected" and application.outcome_reason == reasons
    assert application.member_number is None
    page = applicant.get(f"/applications/{application.id}").get_data(as_text=True)
    assert reasons in page and 'data-status="rejected"' in page
    assert "王秘书" not in page  # the applicant sees roles, not the people behind them


def test_payment_not_received_sends_the_applicant_back_to_declare(app, actors, submitted):
    secretary, council = actors("secretary"), actors("council")
    applicant, finance = actors("applicant"), actors("finance")
    secretary.complete(open_task(app, submitted.id).task_guid, {"review_decision": "pass"})
    secretary.complete(open_task(app, submitted.id).task_guid, {"notice_closed": "on"})
    council.complete(open_task(app, submitted.id).task_guid, {"council_decision": "approve"})
    payment = {
        "payment_method": "online",
        "payment_reference": "X1",
        "payment_amount": "100",
        "payment_date": "2026-11-20",
    }
    applicant.complete(open_task(app, submitted.id).task_guid, payment)
    finance.complete(
        open_task(app, submitted.id).task_guid,
        {"payment_check": "not_received", "payment_check_reason": "未查到该笔款项"},
    )
    assert open_task(app, submitted.id).bpmn_id == "declare_payment"
    assert reload(app, submitted.id).stage == "payment"


def test_council_rejection_ends_the_application_with_the_council_comment(app, actors, submitted):
    secretary, council = actors("secretary"), actors("council")
    secretary.complete(open_task(app, submitted.id).task_guid, {"review_decision": "pass"})
    secretary.complete(open_task(app, submitted.id).task_guid, {"notice_closed": "on"})
    council.complete(
        open_task(app, submitted.id).task_guid,
        {"council_decision": "reject", "council_comment": "业务范围与本会不符"},
    )
    application = reload(app, submitted.id)
    assert application.status == "rejected"
    assert application.outcome_reason == "业务范围与本会不符"
