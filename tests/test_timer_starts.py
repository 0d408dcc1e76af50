"""A procedure started by a timer — a yearly confirmation of each member's contact details,
which exists only as fixture files — opens one case per active member when its day comes,
once, and the member finds and completes its task like any other."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import Actor, add_user
from tests.procedure import SHANGHAI
from tests.test_model_editor import post_json
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Case,
    Member,
    ScheduledStart,
    TimerStartCase,
    User,
)
from webapp.services import cases, members, scheduled_starts, users

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KEY = "annual_confirmation"
OPENS = datetime(2027, 1, 10, 9, 0, tzinfo=SHANGHAI)
CONFIRM = {"contact_person": "张三", "phone": "010-12345678", "details_correct": "on"}


def bundle(cycle: str | None = None, extra_property: str = "") -> dict:
    forms = {p.name: json.loads(p.read_text("utf-8")) for p in (FIXTURES / KEY).glob("*.json")}
    if cycle is not None:
        forms["confirmation_calendar.data.json"] = {"cycle": cycle}
    bpmn = (FIXTURES / f"{KEY}.bpmn").read_text("utf-8")
    if extra_property:
        bpmn = bpmn.replace(
            '<spiffworkflow:property name="startFor" value="members" />',
            '<spiffworkflow:property name="startFor" value="members" />' + extra_property,
        )
    return {"bpmn": bpmn, "forms": forms}


def make_member(app, username: str, member_type: str = "unit", status: str = "active") -> int:
    """An entry in the register for the user, made directly through the service; its id."""
    with app.test_request_context():
        user = users.by_username(username)
        case = cases.start(user)
        case.name, case.member_type = f"{username} 有限公司", member_type
        members.admit(case, datetime.now(UTC))
        member = db.session.scalars(select(Member).where(Member.user_id == user.id)).one()
        member.status = status
        db.session.commit()
        return member.id


def register(app) -> dict[str, int]:
    """Two active members and one that has withdrawn."""
    add_user(app, "member2", "会员二", "applicant")
    add_user(app, "member3", "会员三", "applicant")
    return {
        "applicant": make_member(app, "applicant"),
        "member2": make_member(app, "member2", "individual"),
        "member3": make_member(app, "member3", status="withdrawn"),
    }


def tick(app) -> int:
    with app.app_context():
        return scheduled_starts.start_due()


def started_cases(app) -> list[Case]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(Case)
                .join(TimerStartCase, TimerStartCase.case_id == Case.id)
                .order_by(Case.id)
            )
        )


def schedule(app) -> ScheduledStart:
    with app.app_context():
        return db.session.scalars(select(ScheduledStart)).one()


def test_a_yearly_timer_start_opens_one_case_per_active_member_once(app, procedure):
    p = procedure
    ids = register(app)
    deployed = post_json(p.actors("owner"), f"/models/{KEY}/deploy", bundle())
    assert deployed.status_code == 200, deployed.get_json()
    # Nobody starts it from the catalogue: the ticker does.
    assert "年度会员信息确认" not in p.actors("applicant").get("/start").get_data(as_text=True)
    assert schedule(app).next_at == OPENS

    assert tick(app) == 0  # June 2026: not yet
    p.travel_to(OPENS - timedelta(minutes=1))
    assert tick(app) == 0
    p.travel_to(OPENS + timedelta(minutes=1))
    assert tick(app) == 2
    assert tick(app) == 0  # a second tick of the same occurrence makes nothing new

    cases = started_cases(app)
    assert sorted(c.subject_member_id for c in cases) == sorted(
        [ids["applicant"], ids["member2"]]
    )  # not the withdrawn member
    assert {c.title for c in cases} == {"年度会员信息确认"}
    assert {c.stage for c in cases} == {"confirmation"}
    with app.app_context():
        started = list(
            db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_started"))
        )[-2:]
        assert {e.actor_id for e in started} == {None}  # the system started them
        assert {e.data["occurrence"] for e in started} == {OPENS.astimezone(UTC).isoformat()}
    # The next year's occurrence is scheduled.
    assert schedule(app).next_at == OPENS.replace(year=2028)
    assert schedule(app).last_at == OPENS

    # The member finds its case and its task, and completes it (logged in afresh: the clock
    # went past the idle time of the login made in June).
    member = Actor(app, "applicant")
    assert "年度会员信息确认" in member.get("/cases").get_data(as_text=True)
    own = next(c for c in cases if c.subject_member_id == ids["applicant"])
    task = p.task(own.id, "confirm")
    page = member.get(f"/tasks/{task.task_guid}").get_data(as_text=True)
    assert "确认联系信息" in page
    assert Actor(app, "member2").get(f"/tasks/{task.task_guid}").status_code in (403, 404)
    done = member.complete(task.task_guid, CONFIRM)
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    assert p.case(own.id).status == "confirmed"  # as its diagram's outcome says
    assert p.case(own.id).outcome_code == "confirmed"

    # A year later: one case each again, for the new occurrence.
    p.travel_to(OPENS.replace(year=2028) + timedelta(hours=1))
    assert tick(app) == 2
    assert len(started_cases(app)) == 4


def test_a_member_admitted_later_gets_its_case_from_the_next_occurrence_only(app, procedure):
    p = procedure
    add_user(app, "member2", "会员二", "applicant")
    make_member(app, "applicant")
    assert post_json(p.actors("owner"), f"/models/{KEY}/deploy", bundle()).status_code == 200
    p.travel_to(OPENS + timedelta(minutes=1))
    assert tick(app) == 1
    make_member(app, "member2")
    assert tick(app) == 0
    p.travel_to(OPENS.replace(year=2028) + timedelta(minutes=1))
    assert tick(app) == 2


def test_a_date_in_the_past_at_deploy_fires_once_and_a_missed_cycle_once(app, procedure):
    p = procedure
    register(app)
    # Deployed in June 2026 with a cycle that began in 2020: the latest occurrence (January
    # 2026) fires once, not six times.
    past = bundle(cycle="R/2020-01-10T09:00:00+08:00/P1Y")
    assert post_json(p.actors("owner"), f"/models/{KEY}/deploy", past).status_code == 200
    assert schedule(app).next_at == datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    assert tick(app) == 2
    assert tick(app) == 0
    assert schedule(app).next_at == datetime(2027, 1, 10, 1, 0, tzinfo=UTC)
    # Deploying the same again changes nothing; a new version with the same time keeps the
    # schedule where it is.
    assert post_json(p.actors("owner"), f"/models/{KEY}/deploy", past).status_code == 200
    assert tick(app) == 0


def test_start_for_types_narrows_the_members(app, procedure):
    p = procedure
    ids = register(app)
    only_units = bundle(
        extra_property='<spiffworkflow:property name="startForTypes" value="unit" />'
    )
    assert post_json(p.actors("owner"), f"/models/{KEY}/deploy", only_units).status_code == 200
    p.travel_to(OPENS + timedelta(minutes=1))
    assert tick(app) == 1
    assert [c.subject_member_id for c in started_cases(app)] == [ids["applicant"]]


def test_a_ticker_told_to_stop_stops_between_cases(app, procedure):
    p = procedure
    register(app)
    assert post_json(p.actors("owner"), f"/models/{KEY}/deploy", bundle()).status_code == 200
    p.travel_to(OPENS + timedelta(minutes=1))
    asked = []

    def stopping() -> bool:
        asked.append(1)
        return len(asked) > 1  # asked before the run, then between the first and second case

    with app.app_context():
        assert scheduled_starts.start_due(stopping=stopping) == 1
        assert db.session.scalar(select(func.count()).select_from(TimerStartCase)) == 1
    assert tick(app) == 1  # the next tick starts the rest
    assert tick(app) == 0


def test_an_unreadable_start_timer_is_refused_naming_its_element(app, procedure):
    owner = procedure.actors("owner")
    refused = post_json(owner, f"/models/{KEY}/deploy", bundle(cycle="every January"))
    assert refused.status_code == 422
    problems = refused.get_json()["problems"]
    assert any(p["element_id"] == "yearly" and "every January" in p["message"] for p in problems)
    missing = bundle()
    del missing["forms"]["confirmation_calendar.data.json"]
    refused = post_json(owner, f"/models/{KEY}/deploy", missing)
    assert refused.status_code == 422
    assert any(p["element_id"] == "yearly" for p in refused.get_json()["problems"])
    # Without startFor the case is about no one: a task in the member's lane has nobody to do it.
    no_subject = bundle()
    no_subject["bpmn"] = no_subject["bpmn"].replace(
        '<spiffworkflow:property name="startFor" value="members" />', ""
    )
    refused = post_json(owner, f"/models/{KEY}/deploy", no_subject)
    assert refused.status_code == 422
    assert any(
        p["element_id"] == "confirm" and "startFor" in p["message"]
        for p in refused.get_json()["problems"]
    )


def test_without_start_for_each_occurrence_opens_one_case_about_no_one(app, procedure):
    """A quarterly check the secretariat files: no member, no applicant; its group does it."""
    p = procedure
    register(app)
    quarterly = bundle(cycle="R/2027-01-10T09:00:00+08:00/P3M")
    quarterly["bpmn"] = (
        quarterly["bpmn"]
        .replace('<spiffworkflow:property name="startFor" value="members" />', "")
        .replace('name="会员"', 'name="secretariat"')
    )
    deployed = post_json(p.actors("owner"), f"/models/{KEY}/deploy", quarterly)
    assert deployed.status_code == 200, deployed.get_json()
    p.travel_to(OPENS + timedelta(minutes=1))
    assert tick(app) == 1
    assert tick(app) == 0  # once per occurrence
    (case,) = started_cases(app)
    assert case.applicant_id is None and case.subject_member_id is None
    secretary = Actor(app, "secretary")  # logged in afresh, after the clock moved on
    inbox = secretary.get("/inbox").get_data(as_text=True)
    assert "确认联系信息" in inbox
    task = p.task(case.id, "confirm")
    assert Actor(app, "applicant").get(f"/tasks/{task.task_guid}").status_code in (403, 404)
    done = secretary.complete(task.task_guid, CONFIRM)
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    assert p.case(case.id).outcome_code == "confirmed"
    for page in (f"/cases/{case.id}", f"/cases/{case.id}/audit", f"/cases/{case.id}/diagram"):
        assert secretary.get(page).status_code == 200, page
    assert Actor(app, "applicant").get(f"/cases/{case.id}").status_code == 404
    p.travel_to(OPENS + timedelta(days=92))
    assert tick(app) == 1  # the next quarter's


def test_three_tickers_start_each_members_case_exactly_once(app, actors, database_url):
    """Real `flask tick` processes on the real clock, and a register larger than one batch."""
    import time

    from tests.test_tickers import start_tickers, stop_tickers

    count = scheduled_starts.BATCH + 10
    with app.app_context():  # accounts nobody logs in to: hashing a password takes 0.25 s
        db.session.add_all(
            User(username=f"m{n}", display_name=f"会员{n}", roles="applicant", password_hash="!")
            for n in range(count)
        )
        db.session.commit()
    for n in range(count):
        make_member(app, f"m{n}")
    # A cycle that began years ago: its latest occurrence is due now, by any clock.
    past = bundle(cycle="R/2020-01-10T09:00:00+08:00/P1Y")
    assert post_json(actors("owner"), f"/models/{KEY}/deploy", past).status_code == 200
    tickers = start_tickers(database_url, 3)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with app.app_context():
                done = db.session.scalar(select(func.count()).select_from(TimerStartCase))
            if done == count:
                break
            time.sleep(0.5)
    finally:
        logs = stop_tickers(tickers)
    said = sum(
        int(line.split()[1])
        for log in logs
        for line in log.splitlines()
        if line.startswith("started ")
    )
    assert said == count, logs
    with app.app_context():
        subjects = db.session.scalars(
            select(Case.subject_member_id).join(TimerStartCase, TimerStartCase.case_id == Case.id)
        ).all()
        assert len(subjects) == len(set(subjects)) == count
        audited = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "case_started", AuditEvent.actor_id.is_(None))
        )
        assert audited == count
        assert db.session.scalars(select(ScheduledStart)).one().next_at > datetime.now(UTC)
