"""The applicant's own controls, for any case it started about itself: a new case's first form
comes before the case (two clicks on 发起新的入会申请 leave nothing behind), an empty draft can
be deleted, and a case in progress withdrawn with a reason until its diagram's
`withdrawableUntil` stage — never by anyone else."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.conftest import fresh_application
from webapp.extensions import db
from webapp.models import AuditEvent, Case, HumanTask, ProcessInstance
from webapp.services import consistency


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_first_form_comes_before_the_case(app, actors):
    applicant = actors("applicant2")
    listed = applicant.get("/cases").get_data(as_text=True)
    assert 'href="/cases/new"' in listed and 'id="start-application"' in listed
    before = _count(app, Case)
    for _click in range(2):  # 发起新的入会申请, twice: a form, and still no case
        page = applicant.get("/cases/new")
        assert page.status_code == 200 and 'id="task-form"' in page.get_data(as_text=True)
        assert 'name="credit_code"' in page.get_data(as_text=True)
    assert _count(app, Case) == before and _count(app, ProcessInstance) == _count(app, Case) + len(
        _audit(app, "case_deleted")
    )
    # Nobody but an applicant gets the form; the catalogue opens it by key too.
    assert actors("secretary").get("/cases/new").status_code == 403
    start = applicant.get("/start").get_data(as_text=True)
    assert 'action="/cases/new"' in start
    assert applicant.get("/cases/new?process=no_such").status_code == 404

    # The first save creates the case, with the draft in it.
    saved = applicant.post("/cases/new", {"action": "draft", "name": "上海草稿有限公司"},
                           token_page="/cases/new")  # fmt: skip
    assert saved.status_code == 302 and "/tasks/" in saved.headers["Location"]
    assert _count(app, Case) == before + 1
    with app.app_context():
        case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
        task = db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == case.instance_id)
        ).one()
        assert task.draft["name"] == "上海草稿有限公司" and task.draft_saved_at is not None

    # A refused first submission creates its case too, keeping what was typed, with every
    # error shown; a valid one submits at once.
    refused = applicant.post("/cases/new", {"action": "submit", "name": "测试", "credit_code": "1"},
                             token_page="/cases/new")  # fmt: skip
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert body.count("is-invalid") >= 3 and "测试" in body
    submitted = applicant.post("/cases/new", {**fresh_application(), "action": "submit"},
                               token_page="/cases/new")  # fmt: skip
    assert submitted.status_code == 302 and "/cases/" in submitted.headers["Location"]
    with app.app_context():
        newest = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
        assert newest.submitted_at is not None and newest.stage == "review"
    assert _count(app, Case) == before + 3


def test_an_empty_draft_is_deleted_by_its_applicant_only(app, actors):
    applicant = actors("applicant")
    empty = applicant.start_application()  # the old way still makes one: it can go now
    listed = applicant.get("/cases").get_data(as_text=True)
    assert f"/cases/{empty.id}?confirm=delete" in listed
    page = applicant.get(f"/cases/{empty.id}?confirm=delete").get_data(as_text=True)
    assert 'id="confirm-delete"' in page and 'id="confirm-withdraw"' not in page
    # Nobody else may delete it, nor learn that it exists.
    for other in ("applicant2", "secretary", "admin"):
        assert actors(other).post(f"/cases/{empty.id}/delete", {}).status_code == 404
    deleted = applicant.post(f"/cases/{empty.id}/delete", {})
    assert deleted.status_code == 302 and deleted.headers["Location"].endswith("/cases")
    assert applicant.get(f"/cases/{empty.id}").status_code == 404
    assert applicant.post(f"/cases/{empty.id}/delete", {}).status_code == 404  # a second click
    with app.app_context():
        assert db.session.get(Case, empty.id) is None
        assert not db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == empty.instance_id)
        ).all()
    [row] = _audit(app, "case_deleted")
    assert row.instance_id == empty.instance_id and row.data["case_id"] == empty.id
    assert row.actor_id is not None

    # A draft with something saved in it is no longer empty: it is withdrawn, not deleted.
    kept = applicant.start_application()
    with app.app_context():
        task = db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == kept.instance_id)
        ).one()
    applicant.post(f"/tasks/{task.task_guid}", {"action": "draft", "name": "已保存"})
    assert applicant.post(f"/cases/{kept.id}/delete", {}).status_code == 403
    assert 'id="confirm-withdraw"' in applicant.get(f"/cases/{kept.id}").get_data(as_text=True)
    with app.app_context():  # the deleted draft's instance stays, ended, for its audit rows
        assert consistency.check().problems == []


def test_a_case_in_review_is_withdrawn_with_its_reason(app, procedure):
    p = procedure
    case_id = p.submit()
    review = p.task(case_id, "preliminary_review")
    secretary, applicant = p.actors("secretary"), p.actors("applicant")
    assert review.task_guid in secretary.get("/inbox").get_data(as_text=True)
    assert f"/cases/{case_id}?confirm=withdraw" in applicant.get("/cases").get_data(as_text=True)

    # Nobody else may withdraw it; the secretariat sees it but has no such control.
    assert 'id="confirm-withdraw"' not in secretary.get(f"/cases/{case_id}").get_data(as_text=True)
    for other in ("applicant2", "secretary", "council"):
        refused = p.actors(other).post(f"/cases/{case_id}/withdraw", {"reason": "代为撤回"})
        assert refused.status_code == 404
    # A reason is needed: said beside the field, nothing changed.
    missing = applicant.post(f"/cases/{case_id}/withdraw", {"reason": " "})
    assert missing.status_code == 400 and "is-invalid" in missing.get_data(as_text=True)
    assert p.case(case_id).status == "in_progress"

    done = applicant.post(f"/cases/{case_id}/withdraw", {"reason": "公司战略调整，暂不入会"})
    assert done.status_code == 302
    case = p.case(case_id)
    assert (case.status, case.outcome_code, case.outcome_reason) == (
        "retracted", "withdrawn_by_applicant", "公司战略调整，暂不入会"
    )  # fmt: skip
    assert p.open_ids(case_id) == []
    with app.app_context():
        instance = db.session.get(ProcessInstance, case.instance_id)
        assert instance.status == "finished" and instance.next_timer_at is None
        closed = db.session.get(HumanTask, review.id)
        assert closed.state == "cancelled"
    [row] = _audit(app, "case_withdrawn")
    assert row.data["reason"] == "公司战略调整，暂不入会"
    assert row.data["closed_tasks"] == [review.task_guid]
    # Its task has left the inbox, and its page says why the case ended.
    assert review.task_guid not in secretary.get("/inbox").get_data(as_text=True)
    assert secretary.get(f"/tasks/{review.task_guid}").status_code == 409
    page = applicant.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-outcome="withdrawn_by_applicant"' in page and "公司战略调整" in page
    assert 'id="confirm-withdraw"' not in page
    trail = secretary.get(f"/cases/{case_id}/audit").get_data(as_text=True)
    assert "公司战略调整，暂不入会" in trail and "申请人已撤回" in trail
    # Withdrawn once is withdrawn: a second request changes nothing.
    again = applicant.post(f"/cases/{case_id}/withdraw", {"reason": "再次撤回"})
    assert again.status_code == 403
    with app.app_context():
        assert consistency.check().problems == []


def test_no_withdrawal_once_the_council_has_decided(app, procedure):
    p = procedure
    case_id = p.submit()
    p.to_payment(case_id)  # admission: withdrawableUntil="approval"; now at payment
    assert p.case(case_id).stage == "payment"
    applicant = p.actors("applicant")
    assert 'id="confirm-withdraw"' not in applicant.get(f"/cases/{case_id}").get_data(as_text=True)
    refused = applicant.post(f"/cases/{case_id}/withdraw", {"reason": "不想缴费了"})
    assert refused.status_code == 403
    assert p.case(case_id).status == "in_progress" and "declare_payment" in p.open_ids(case_id)
    assert not _audit(app, "case_withdrawn")


def test_any_procedure_the_member_started_and_none_started_about_it(app, procedure):
    """Generic: a member withdraws its own 补办 request; a case the secretariat opened about
    the member (discipline) is not the member's to withdraw."""
    p = procedure
    number = p.admit()
    applicant = p.actors("applicant")
    started = applicant.post("/start/certificate_reissue", {}, token_page="/membership")
    own = p.case_by_task(started.headers["Location"].rsplit("/", 1)[1])
    p.do("applicant", own, "report_loss", {"loss_kind": "lost", "loss_reason": "遗失"})
    assert applicant.post(f"/cases/{own}/withdraw", {"reason": "证书已找到"}).status_code == 302
    assert p.case(own).status == "retracted" and p.open_ids(own) == []

    opened = p.actors("secretary").post("/start/discipline", {"member_number": number})
    assert opened.status_code == 302
    with app.app_context():
        about = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert about.applicant_id is not None  # the member is its subject…
    assert 'id="own-controls"' not in applicant.get(f"/cases/{about.id}").get_data(as_text=True)
    for action in ("withdraw", "delete"):  # …but did not start it
        answer = applicant.post(f"/cases/{about.id}/{action}", {"reason": "不服"})
        assert answer.status_code == 403
    assert p.case(about.id).status == "in_progress"


def test_a_withdrawal_limit_naming_no_stage_is_refused_at_validation(app):
    from pathlib import Path

    from webapp.services import process_models

    bpmn = Path("workflows/admission.bpmn").read_text("utf-8")
    forms = process_models.read_forms(Path("forms/admission"))
    with app.app_context():
        assert process_models.validate(bpmn, forms) == []
        bad = bpmn.replace('"withdrawableUntil" value="approval"', '"withdrawableUntil" value="x"')
        [problem] = process_models.validate(bad, forms)
        assert problem.params["stage"] == "x" and "approval" in problem.params["stages"]


def test_withdrawn_on_notice_and_during_the_vote_nothing_fires_later(app, procedure):
    p = procedure
    on_notice = p.submit()
    p.review(on_notice)
    assert p.case(on_notice).notice_closes_at is not None
    voting = p.submit(data=fresh_application())
    p.review(voting)
    p.close_notice(voting)
    assert len(p.open_ids(voting)) == 3  # each council member's vote
    applicant = p.actors("applicant")
    assert f'data-case="{voting}"' in p.actors("council").get("/inbox").get_data(as_text=True)
    for case_id in (on_notice, voting):
        answer = applicant.post(f"/cases/{case_id}/withdraw", {"reason": "另有安排"})
        assert answer.status_code == 302 and p.case(case_id).status == "retracted"
        assert p.open_ids(case_id) == []
    assert p.case(on_notice).notice_closes_at is None
    board = p.actors(None).get("/board").get_data(as_text=True)
    assert f"/board/{on_notice}/objection" not in board
    inbox = p.actors("council").get("/inbox").get_data(as_text=True)
    assert f'data-case="{voting}"' not in inbox
    p.after(p.now() + timedelta(days=60))  # every period long over: nothing left to fire
    for case_id in (on_notice, voting):
        assert p.case(case_id).status == "retracted"
    with app.app_context():
        assert consistency.check().problems == []


def test_a_case_about_a_member_is_made_by_its_first_save_too(app, procedure):
    """The catalogue's start, for a group's case about a member: the secretary's first form
    shows before the case; a wrong or own number is said beside the field, nothing made."""
    p = procedure
    number = p.admit()
    secretary = p.actors("secretary")
    start = secretary.get("/start").get_data(as_text=True)
    assert 'data-procedure="discipline"' in start and 'action="/cases/new"' in start
    before = _count(app, Case)
    page = secretary.get(f"/cases/new?process=discipline&member_number={number}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="grounds"' in body and number in body
    wrong = secretary.get("/cases/new?process=discipline&member_number=2026-U-999999")
    assert wrong.status_code == 400 and "is-invalid" in wrong.get_data(as_text=True)
    assert _count(app, Case) == before
    saved = secretary.post(
        "/cases/new",
        {"_process": "discipline", "_member_number": number, "action": "draft",
         "grounds": "初步线索"},
        token_page="/start",
    )  # fmt: skip
    assert saved.status_code == 302 and "/tasks/" in saved.headers["Location"]
    with app.app_context():
        case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
        assert case.id and case.subject_member_id is not None
    assert _count(app, Case) == before + 1
