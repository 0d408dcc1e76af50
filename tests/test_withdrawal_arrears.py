"""退会 with arrears (001会员管理制度全套: 退出会员须清偿欠缴会费): the member's request and the
secretariat's task show what is still owed (dues_outstanding()); where withdrawal_rules says
settle_arrears_first, the confirmation waits until the dues are paid or the secretariat records
a waiver with its reasons. Without arrears nothing waits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.conftest import Actor
from tests.test_annual_dues import OPENS, declaration, dues_cases, entry, start_due
from tests.test_withdrawal import REQUEST, start_withdrawal, status_of
from webapp.extensions import db
from webapp.models import Member, ProcessInstance
from webapp.services import consistency


def member_in_arrears(p):
    """A member whose dues of 2027 are open; its number and its dues case."""
    number = p.admit()
    p.travel_to(OPENS + timedelta(minutes=1))
    assert start_due(p.app) == 1
    # Months later the sessions of the admission have expired: everyone logs in again.
    logged_in, earlier = {}, p.actors

    def relogged(username):
        if username is None:
            return earlier(None)
        if username not in logged_in:
            logged_in[username] = Actor(p.app, username)
        return logged_in[username]

    p.actors = relogged
    with p.app.app_context():
        member_id = db.session.scalars(
            select(Member.id).where(Member.member_number == number)
        ).one()
    return number, member_id, dues_cases(p.app)[member_id].id


def page(p, username, case_id, bpmn_id) -> str:
    guid = p.task(case_id, bpmn_id).task_guid
    return p.actors(username).get(f"/tasks/{guid}").get_data(as_text=True)


def test_the_confirmation_waits_until_the_arrears_are_paid(app, procedure):
    p = procedure
    number, member_id, dues_case = member_in_arrears(p)
    case_id = start_withdrawal(p)
    # The member sees what it owes on its request.
    request = page(p, "applicant", case_id, "submit_request")
    assert 'id="outstanding-dues" data-count="1" data-total="5000.00"' in request
    assert 'data-year="2027"' in request
    p.do("applicant", case_id, "submit_request", REQUEST)
    assert p.open_ids(case_id) == ["settle_arrears"]
    task = page(p, "secretary", case_id, "settle_arrears")
    assert 'data-total="5000.00"' in task and "欠缴会费" in task
    # Saying "settled" while the dues are open is refused, with what is owed, nothing changed.
    refused = p.do("secretary", case_id, "settle_arrears", {"arrears_action": "settled"}, 400)
    assert "该会员尚欠会费 5000.00 CNY（2027）" in refused.get_data(as_text=True)
    assert p.open_ids(case_id) == ["settle_arrears"]
    # The member pays through its dues case; finance confirms; now it is settled.
    p.do("applicant", dues_case, "declare_dues", declaration("5000"))
    p.do("finance", dues_case, "confirm_dues", {"payment_check": "received"})
    assert entry(app, member_id).state == "paid"
    p.do("secretary", case_id, "settle_arrears", {"arrears_action": "settled"})
    assert p.open_ids(case_id) == ["confirm_by_secretariat"]
    assert p.case(case_id).facts["outstanding_dues"]["count"] == 0
    p.do("secretary", case_id, "confirm_by_secretariat", {"withdrawal_decision": "confirm"})
    assert status_of(p, number) == "withdrawn"


def test_a_waiver_with_reasons_lets_the_confirmation_go_on(app, procedure):
    p = procedure
    number, member_id, dues_case = member_in_arrears(p)
    case_id = start_withdrawal(p)
    p.do("applicant", case_id, "submit_request", REQUEST)
    # A waiver needs its reasons.
    refused = p.do("secretary", case_id, "settle_arrears", {"arrears_action": "waive"}, 400)
    assert 'data-field="arrears_waiver_reason"' in refused.get_data(as_text=True)
    waiver = {
        "arrears_action": "waive",
        "arrears_waiver_reason": "企业注销，经会长办公会同意免缴。",
    }
    p.do("secretary", case_id, "settle_arrears", waiver)
    facts = p.case(case_id).facts
    assert facts["arrears_action"] == "waive"
    assert facts["arrears_waiver_reason"] == "企业注销，经会长办公会同意免缴。"
    assert facts["outstanding_dues"]["total"] == "5000.00"  # what was waived stays on record
    assert p.open_ids(case_id) == ["confirm_by_secretariat"]
    p.do("secretary", case_id, "confirm_by_secretariat", {"withdrawal_decision": "confirm"})
    assert status_of(p, number) == "withdrawn"
    # The waiver is recorded on the dues (not marked paid) and ends the dues case where it
    # stood: no task, no timer, no reminder after the member has left.
    assert entry(app, member_id).state == "waived"
    dues = p.case(dues_case)
    assert (dues.status, dues.outcome_code) == ("waived", "dues_waived")
    assert dues.outcome_reason == "企业注销，经会长办公会同意免缴。"
    assert p.open_ids(dues_case) == []
    with app.app_context():
        instance = db.session.get(ProcessInstance, dues.instance_id)
        assert (instance.status, instance.next_timer_at) == ("finished", None)
    reminded = len(p.messages("applicant"))
    p.travel_to(p.now() + timedelta(days=400))
    p.tick()
    assert len(p.messages("applicant")) == reminded
    assert p.case(case_id).facts["dues_waived"]["closed_cases"] == [dues_case]
    with app.app_context():
        assert consistency.check().problems == []


def test_without_arrears_nothing_waits(app, procedure):
    p = procedure
    p.admit()
    case_id = start_withdrawal(p)
    request = page(p, "applicant", case_id, "submit_request")
    assert 'id="outstanding-dues" data-count="0"' in request and "无欠缴会费" in request
    p.do("applicant", case_id, "submit_request", REQUEST)
    assert p.open_ids(case_id) == ["confirm_by_secretariat"]
