"""The yearly dues cycle (年度会费) as shipped in workflows/annual_dues.bpmn, on a travelling
clock: the timer opens one case per active member once a year; members declare with a receipt,
finance confirms or returns; two reminders go out; the unpaid member's consequence is the
secretariat's decision; finance reads the arrears list and downloads it."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import Actor, add_user
from tests.procedure import SHANGHAI
from tests.test_model_editor import post_json
from tests.test_timer_starts import make_member
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Case,
    DuesEntry,
    HumanTask,
    Member,
    ScheduledStart,
    TimerStartCase,
)
from webapp.services import scheduled_starts, xlsx

ROOT = Path(__file__).resolve().parent.parent
KEY = "annual_dues"
OPENS = datetime(2027, 1, 10, 9, 0, tzinfo=SHANGHAI)
RECEIPT = (b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "回单.pdf")


def declaration(amount: str, reference: str = "TX-2027-001") -> dict:
    return {
        "payment_method": "bank_transfer",
        "payment_reference": reference,
        "payment_amount": amount,
        "payment_date": "2027-01-15",
        "payment_receipt": RECEIPT,
    }


def bundle(cycle: str) -> dict:
    """The shipped model with another cycle date, as the process owner would deploy it."""
    folder = ROOT / "forms" / KEY
    forms = {}
    for path in folder.rglob("*"):
        if path.is_file():
            name = path.relative_to(folder).as_posix()
            text = path.read_text("utf-8")
            forms[name] = json.loads(text) if name.endswith(".json") else text
    forms["dues_calendar.data.json"]["cycle"] = cycle
    return {"bpmn": (ROOT / "workflows" / f"{KEY}.bpmn").read_text("utf-8"), "forms": forms}


def start_due(app) -> int:
    with app.app_context():
        return scheduled_starts.start_due()


def dues_cases(app) -> dict[int, Case]:
    """member id → its dues case."""
    with app.app_context():
        rows = db.session.scalars(
            select(Case).join(TimerStartCase, TimerStartCase.case_id == Case.id)
        ).all()
        return {c.subject_member_id: c for c in rows}


def entry(app, member_id: int) -> DuesEntry:
    with app.app_context():
        return db.session.scalars(select(DuesEntry).where(DuesEntry.member_id == member_id)).one()


def test_a_year_of_dues_paid_returned_reminded_and_suspended(app, procedure):
    p = procedure
    add_user(app, "member3", "会员三", "applicant")
    add_user(app, "member4", "会员四", "applicant")
    ids = {
        "applicant": make_member(app, "applicant", "unit"),
        "applicant2": make_member(app, "applicant2", "individual"),
        "member3": make_member(app, "member3", "unit"),
        "member4": make_member(app, "member4", "unit", status="withdrawn"),
    }
    with app.app_context():
        row = db.session.scalars(select(ScheduledStart)).one()
        assert row.next_at == OPENS  # the cycle date of the model data

    # The cycle opens: one case per active member, exactly once.
    p.travel_to(OPENS - timedelta(minutes=1))
    assert start_due(app) == 0
    p.travel_to(OPENS + timedelta(minutes=1))
    assert start_due(app) == 3
    assert start_due(app) == 0
    cases = dues_cases(app)
    assert set(cases) == {ids["applicant"], ids["applicant2"], ids["member3"]}
    assert {c.title for c in cases.values()} == {"年度会费"}

    unit, individual, late = (entry(app, ids[k]) for k in ("applicant", "applicant2", "member3"))
    assert (unit.year, unit.amount_due, unit.state) == (2027, 5000, "open")
    assert individual.amount_due == 500
    assert unit.confirmed_by_group == "finance"
    assert [m.event for m in p.messages("applicant", "dues_notice")] == ["dues_notice"]
    notice = p.messages("applicant", "dues_notice")[0]
    assert "2027" in notice.subject and "5,000" in notice.body

    # The member declares with a receipt (its task shows the payment notice); finance confirms.
    a = cases[ids["applicant"]].id
    form = p.actors("applicant").get(f"/tasks/{p.task(a, 'declare_dues').task_guid}")
    assert 'id="fee-notice"' in form.get_data(as_text=True)
    assert "5000" in form.get_data(as_text=True)
    p.do("applicant", a, "declare_dues", declaration("5000"))
    assert entry(app, ids["applicant"]).state == "declared"
    assert entry(app, ids["applicant"]).declared_receipt
    p.do("finance", a, "confirm_dues", {"payment_check": "received"})
    paid = entry(app, ids["applicant"])
    assert paid.state == "paid" and paid.confirmed_at is not None
    assert p.case(a).status == "paid"
    assert len(p.messages("applicant", "dues_confirmed")) == 1

    # Declared, returned with a reason, declared again, confirmed.
    b = cases[ids["applicant2"]].id
    p.do("applicant2", b, "declare_dues", declaration("50", "TX-WRONG"))
    # Finance's bad input: every field's error at once, nothing changed.
    p.do("finance", b, "confirm_dues", {"payment_check": "not_received"}, expect=400)
    assert entry(app, ids["applicant2"]).state == "declared"
    p.do(
        "finance", b, "confirm_dues",
        {"payment_check": "not_received", "payment_check_reason": "金额不符"},
    )
    assert entry(app, ids["applicant2"]).state == "returned"
    returned = p.messages("applicant2", "dues_returned")
    assert len(returned) == 1 and "金额不符" in returned[0].body
    p.do("applicant2", b, "declare_dues_again", declaration("500", "TX-RIGHT"))
    p.do("finance", b, "confirm_dues", {"payment_check": "received"})
    assert entry(app, ids["applicant2"]).state == "paid"
    assert entry(app, ids["applicant2"]).declared_reference == "TX-RIGHT"

    # A member's declaration is its own: neither another member nor finance opens it.
    c = cases[ids["member3"]].id
    theirs = p.task(c, "declare_dues")
    for who in ("applicant", "finance"):
        assert p.actors(who).get(f"/tasks/{theirs.task_guid}").status_code in (403, 404)

    # Two reminders to the one who has not paid, none to those who have.
    p.after(datetime(2027, 2, 20, 9, 0, tzinfo=SHANGHAI))
    assert len(p.messages("member3", "dues_reminder")) == 1
    p.after(datetime(2027, 3, 25, 9, 0, tzinfo=SHANGHAI))
    assert len(p.messages("member3", "dues_reminder")) == 2
    assert p.messages("applicant", "dues_reminder") == []
    assert p.messages("applicant2", "dues_reminder") == []

    # The arrears list: finance sees who owes what for which year.
    finance = Actor(app, "finance")  # months later: a new session
    page = finance.get("/dues/arrears").get_data(as_text=True)
    late_number = _number(app, ids["member3"])
    assert late_number in page and _number(app, ids["applicant"]) not in page
    assert finance.get("/dues/arrears?overdue=1").get_data(as_text=True).count("arrears-row") == 0
    # A filter that is no filter is said, not a 500.
    assert "is-invalid" in finance.get("/dues/arrears?year=abc").get_data(as_text=True)

    # The period ends unpaid: the secretariat decides (the model's default consequence).
    p.after(p.case(c).facts["payment_deadline"])
    assert p.open_ids(c) == ["decide_arrears"]
    assert finance.get("/dues/arrears?overdue=1").get_data(as_text=True).count("arrears-row") == 1
    p.do("secretary", c, "decide_arrears", {"arrears_decision": "extend"}, expect=400)
    p.do(
        "secretary", c, "decide_arrears",
        {"arrears_decision": "suspend", "arrears_reason": "经两次催缴仍未缴纳"},
    )
    with app.app_context():
        assert db.session.get(Member, ids["member3"]).status == "suspended"
        changed = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "member_status_changed")
        ).all()[-1]
        assert changed.data["to"] == "suspended" and changed.data["reason"] == "经两次催缴仍未缴纳"
    unpaid = entry(app, ids["member3"])
    assert (unpaid.state, unpaid.reason) == ("unpaid", "经两次催缴仍未缴纳")
    assert p.case(c).status == "suspended"
    assert len(p.messages("member3", "membership_suspended")) == 1

    # Exports of what the filter shows, every row; each export is audited.
    response = finance.get("/dues/arrears.csv?year=2027")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r[0] for r in rows[1:]] == [late_number]
    assert rows[1][3:5] == ["2027", "5000.00"] and rows[1][7] == "逾期未缴"
    assert finance.get("/dues/arrears.csv?year=2026").get_data(as_text=True).count("\n") == 1
    response = Actor(app, "secretary").get("/dues/arrears.xlsx?state=unpaid")
    assert response.status_code == 200
    values = xlsx.read_rows(response.get_data())
    assert len(values) == 2 and values[1][0] == late_number and values[1][4] == "5000.00"
    with app.app_context():
        exported = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "dues_arrears_exported")
        ).all()
        assert [e.data["format"] for e in exported] == ["csv", "csv", "xlsx"]

    # Authorization: members, the council and the public do not see the arrears.
    for who in ("applicant", "council", "owner"):
        for url in ("/dues/arrears", "/dues/arrears.csv", "/dues/arrears.xlsx"):
            assert Actor(app, who).get(url).status_code == 403, (who, url)
    assert p.actors(None).get("/dues/arrears").status_code == 302

    # The owner moves the cycle to March: the occurrence of March 2027 comes, but each member
    # already has its case of 2027, so nothing new starts.
    deployed = post_json(
        Actor(app, "owner"), f"/models/{KEY}/deploy", bundle("R/2027-03-01T09:00:00+08:00/P1Y")
    )
    assert deployed.status_code == 200, deployed.get_json()
    with app.app_context():  # missed: it fires once, now
        assert db.session.scalars(select(ScheduledStart)).one().next_at == datetime(
            2027, 3, 1, 9, 0, tzinfo=SHANGHAI
        )
    assert start_due(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DuesEntry)) == 3
    # The next year's cycle opens again, for the members still active.
    p.travel_to(datetime(2028, 3, 1, 9, 1, tzinfo=SHANGHAI))
    assert start_due(app) == 2
    assert start_due(app) == 0


@pytest.mark.parametrize(
    ("consequence", "status", "message"),
    [("lapse", "lapsed", "membership_lapsed"), ("suspend", "suspended", "membership_suspended")],
)
def test_automatic_consequence_when_the_model_says_so(app, procedure, consequence, status, message):
    """002 视作自动退会 (`lapse`), or a suspension at once (`suspend`): with the consequence in
    the model data, nobody decides; the secretariat's decision task never opens."""
    p = procedure
    member_id = make_member(app, "applicant", "unit")
    model = bundle("R/2027-01-10T09:00:00+08:00/P1Y")
    model["forms"]["dues_policy.data.json"]["arrears_consequence"] = consequence
    assert post_json(p.actors("owner"), f"/models/{KEY}/deploy", model).status_code == 200
    p.travel_to(OPENS + timedelta(minutes=1))
    assert start_due(app) == 1
    case_id = dues_cases(app)[member_id].id
    p.after(p.case(case_id).facts["payment_deadline"])
    with app.app_context():
        assert db.session.get(Member, member_id).status == status
        assert not db.session.scalars(
            select(HumanTask).where(
                HumanTask.bpmn_id == "decide_arrears", HumanTask.state == "ready"
            )
        ).first()
    assert p.case(case_id).status == status
    assert entry(app, member_id).state == "unpaid"
    assert len(p.messages("applicant", message)) == 1


def test_an_unknown_start_once_per_is_refused_by_name(app, procedure):
    model = bundle("R/2027-01-10T09:00:00+08:00/P1Y")
    model["bpmn"] = model["bpmn"].replace(
        'name="startOncePer" value="year"', 'name="startOncePer" value="month"'
    )
    refused = post_json(procedure.actors("owner"), f"/models/{KEY}/deploy", model)
    assert refused.status_code == 422
    assert any("startOncePer" in p["message"] for p in refused.get_json()["problems"])


def _number(app, member_id: int) -> str:
    with app.app_context():
        return db.session.get(Member, member_id).member_number


def test_a_type_the_fee_schedule_charges_nothing_gets_no_dues_case(app, procedure):
    """荣誉会员 pay 0 in the shipped schedule: the model data exempts them (the process's
    `startIf` rule reads the schedule), so they get no case, no dues entry, no notice and stand
    in no arrears list; charging the type again bills it from the next cycle."""
    p = procedure
    add_user(app, "member3", "会员三", "applicant")
    unit = make_member(app, "applicant", "unit")
    honorary = make_member(app, "member3", "honorary")
    p.travel_to(OPENS + timedelta(minutes=1))
    assert start_due(app) == 1
    assert start_due(app) == 0  # the exempt member is not "still to start" for ever
    assert set(dues_cases(app)) == {unit}
    with app.app_context():
        assert (
            db.session.scalars(select(DuesEntry).where(DuesEntry.member_id == honorary)).all() == []
        )
    assert p.messages("member3", "dues_notice") == []
    p.after(datetime(2027, 6, 1, 9, 0, tzinfo=SHANGHAI))
    page = Actor(app, "finance").get("/dues/arrears").get_data(as_text=True)
    assert _number(app, unit) in page and _number(app, honorary) not in page

    # The process owner charges honorary members: the next year's cycle bills them.
    model = bundle("R/2027-01-10T09:00:00+08:00/P1Y")
    model["forms"]["dues_schedule.data.json"]["member_types"]["honorary"]["amount"] = 100
    assert post_json(p.actors("owner"), f"/models/{KEY}/deploy", model).status_code == 200
    p.travel_to(datetime(2028, 1, 10, 9, 1, tzinfo=SHANGHAI))
    start_due(app)
    with app.app_context():
        billed = db.session.scalars(select(DuesEntry).where(DuesEntry.member_id == honorary)).one()
        assert (billed.year, billed.amount_due) == (2028, 100)


def test_a_start_if_rule_that_cannot_be_evaluated_is_refused_by_name(app, procedure):
    model = bundle("R/2027-01-10T09:00:00+08:00/P1Y")
    model["bpmn"] = model["bpmn"].replace(
        'dues_schedule["member_types"].get(', 'no_such_schedule["member_types"].get('
    )
    refused = post_json(procedure.actors("owner"), f"/models/{KEY}/deploy", model)
    assert refused.status_code == 422
    assert any("startIf" in p["message"] for p in refused.get_json()["problems"])


def test_a_years_dues_open_once_per_case_and_member(app, procedure):
    from webapp.services import case_step, dues

    member_id = make_member(app, "applicant", "unit")
    procedure.travel_to(OPENS + timedelta(minutes=1))
    assert start_due(app) == 1
    opened = entry(app, member_id)
    with app.app_context():
        dues_case = dues_cases(app)[member_id]
        admission = db.session.get(Case, db.session.get(Member, member_id).case_id)
        # The dues case asking again gets its own entry back, and nothing new is written.
        case_step.begin(dues_case.instance_id, case=db.session.get(Case, dues_case.id))
        assert dues.open_dues(2027, 5000, "2027-03-31T00:00:00+08:00") == opened.id
        # Another case of the member (its admission) is refused the same year.
        case_step.begin(admission.instance_id, case=admission)
        with pytest.raises(ValueError, match="already open"):
            dues.open_dues(2027, 5000, "2027-03-31T00:00:00+08:00")
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(DuesEntry)) == 1
        opened_rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "dues_opened")
        ).all()
        assert len(opened_rows) == 1 and opened_rows[0].data["member_id"] == member_id
