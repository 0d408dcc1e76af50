"""退会: a member asks in writing with its reasons, the body the model names confirms, its
certificates cease to be valid (the verification page says since when), its status becomes
withdrawn, nothing is refunded and the member is told — all from workflows/withdrawal.bpmn."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Certificate, Member

PDF = (b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "退会申请书.pdf")
REQUEST = {
    "withdrawal_reasons": "本单位业务调整，不再从事相关行业。",
    "request_letter": PDF,
    "accept_no_refund": "on",
}


def start_withdrawal(p, username: str = "applicant") -> int:
    """The member starts the procedure from the catalogue and lands on its own form."""
    assert "会员退会" in p.actors(username).get("/start").get_data(as_text=True)
    started = p.actors(username).post("/start/withdrawal", {})
    assert started.status_code == 302 and "/tasks/" in started.headers["Location"]
    with p.app.app_context():
        from webapp.models import Case

        return db.session.scalars(select(Case).order_by(Case.id.desc())).first().id


def certificate_of(p, number: str) -> Certificate:
    with p.app.app_context():
        member = db.session.scalars(select(Member).where(Member.member_number == number)).one()
        return db.session.scalars(
            select(Certificate).where(Certificate.member_id == member.id)
        ).one()


def status_of(p, number: str) -> str:
    with p.app.app_context():
        return db.session.scalars(select(Member.status).where(Member.member_number == number)).one()


def test_a_confirmed_withdrawal_revokes_the_certificate_and_tells_the_member(app, procedure):
    p = procedure
    number = p.admit()
    token = certificate_of(p, number).verify_token
    assert 'data-result="valid"' in p.actors(None).get(f"/verify/{token}").get_data(as_text=True)
    # Only a member may start it: the secretary has no membership to leave.
    assert "会员退会" not in p.actors("secretary").get("/start").get_data(as_text=True)

    case_id = start_withdrawal(p)
    # The reasons and the written request are required, every missing field said at once.
    refused = p.do("applicant", case_id, "submit_request", {"accept_no_refund": "on"}, expect=400)
    page = refused.get_data(as_text=True)
    assert 'data-field="withdrawal_reasons"' in page and 'data-field="request_letter"' in page
    p.do("applicant", case_id, "submit_request", REQUEST)
    assert p.open_ids(case_id) == ["confirm_by_secretariat"]
    assert status_of(p, number) == "active"  # nothing ends before the confirmation

    p.do("secretary", case_id, "confirm_by_secretariat", {"withdrawal_decision": "confirm"})
    case = p.case(case_id)
    assert (case.status, case.outcome_code) == ("withdrawn", "withdrawn")
    assert case.facts["refund"] == "none" and case.facts["certificates_revoked"] == 1
    assert status_of(p, number) == "withdrawn"
    assert certificate_of(p, number).revoked_at is not None
    verified = p.actors(None).get(f"/verify/{token}").get_data(as_text=True)
    assert 'data-result="not-valid"' in verified
    assert 'data-revoked-on="2026-06-' in verified and "已失效" in verified
    [told] = p.messages("applicant", "withdrawal_confirmed")
    assert "退会已办理" in told.subject and "不予退还" in told.body
    # No longer a member, it cannot start a second withdrawal.
    assert p.actors("applicant").post("/start/withdrawal", {}).status_code == 403


def test_a_returned_request_goes_back_to_the_member_with_the_reason(app, procedure):
    p = procedure
    number = p.admit()
    case_id = start_withdrawal(p)
    p.do("applicant", case_id, "submit_request", REQUEST)
    # Returning without saying why is refused.
    returned = {"withdrawal_decision": "return"}
    p.do("secretary", case_id, "confirm_by_secretariat", returned, expect=400)
    returned["withdrawal_decision_reason"] = "申请书缺少公章。"
    p.do("secretary", case_id, "confirm_by_secretariat", returned)
    assert p.open_ids(case_id) == ["submit_request"]
    [told] = p.messages("applicant", "withdrawal_returned")
    assert "申请书缺少公章。" in told.body
    assert status_of(p, number) == "active" and certificate_of(p, number).revoked_at is None
    p.do("applicant", case_id, "submit_request", REQUEST)
    p.do("secretary", case_id, "confirm_by_secretariat", {"withdrawal_decision": "confirm"})
    assert status_of(p, number) == "withdrawn"


def test_the_process_owner_makes_the_council_confirm_withdrawals(app, procedure):
    """Which body confirms is model data: the owner deploys withdrawal_rules saying council."""
    from tests.test_model_editor import post_json
    from webapp.services import process_models

    p = procedure
    root = Path(__file__).resolve().parent.parent
    forms = process_models.read_forms(root / "forms" / "withdrawal")
    rules = forms["withdrawal_rules.data.json"]
    forms["withdrawal_rules.data.json"] = {**rules, "confirmed_by": "council"}
    bpmn = (root / "workflows" / "withdrawal.bpmn").read_text("utf-8")
    deployed = post_json(
        p.actors("owner"), "/models/withdrawal/deploy", {"bpmn": bpmn, "forms": forms}
    )
    assert deployed.status_code == 200, deployed.get_json()
    number = p.admit()
    case_id = start_withdrawal(p)
    p.do("applicant", case_id, "submit_request", REQUEST)
    assert p.open_ids(case_id) == ["confirm_by_council"]
    assert "理事会确认退会" in p.actors("council2").get("/inbox").get_data(as_text=True)
    p.do("council2", case_id, "confirm_by_council", {"withdrawal_decision": "confirm"})
    assert status_of(p, number) == "withdrawn" and certificate_of(p, number).revoked_at is not None
