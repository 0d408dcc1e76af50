"""Incidents: a timer whose step fails at run time is recorded with where and why, tried again
after doubling pauses up to the configured attempts and then left to a person; the ticker goes
on with the other instances; process owners and the secretariat see the incidents (with a
count in the navbar), nobody else does; and the owner retries after migrating the application
to a fixed version, which resolves the incident with an audit row."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.test_migration import ADMISSION_BPMN, deploy, migrate
from webapp.extensions import db
from webapp.models import AuditEvent, Case, Incident, ProcessInstance, User
from webapp.services import timers

GOOD = 'vote_working_days = settings["vote_working_days"]'
# A step a process owner got wrong: it passes validation and fails only when it runs.
BROKEN = ADMISSION_BPMN.replace(GOOD, 'vote_working_days = int("ten")')
FIXED = ADMISSION_BPMN.replace(GOOD, "vote_working_days = int(10)")
assert BROKEN != ADMISSION_BPMN and FIXED != ADMISSION_BPMN


def incidents_of(app, app_id: int) -> list[Incident]:
    with app.app_context():
        instance_id = db.session.get(Case, app_id).instance_id
        return list(
            db.session.scalars(
                select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id)
            )
        )


def instance(app, app_id: int) -> ProcessInstance:
    with app.app_context():
        return db.session.get(ProcessInstance, db.session.get(Case, app_id).instance_id)


def audit_rows(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


@pytest.fixture
def failing(app, procedure):
    """Two applications whose notice periods end at the same moment: `good` on version 1,
    `bad` on a version 2 whose step after the notice fails. The clock is just past the end."""
    good = procedure.submit()
    procedure.review(good)
    deploy(app, BROKEN)
    bad = procedure.submit()
    procedure.review(bad)
    closes = procedure.case(bad).notice_closes_at
    assert procedure.case(good).notice_closes_at == closes
    procedure.travel_to(closes + timedelta(minutes=1))
    return good, bad


def test_a_failing_timer_opens_an_incident_and_the_other_instance_fires_in_the_same_tick(
    app, procedure, failing
):
    good, bad = failing
    assert procedure.tick() == 1
    assert procedure.case(good).stage == "approval"
    assert procedure.case(bad).stage == "notice"

    [incident] = incidents_of(app, bad)
    assert incident.state == "open" and incident.attempts == 1
    assert incident.case_id == bad
    assert (incident.element_id, incident.element_name) == ("prepare_vote", "确定表决规则与投票人")
    assert "ValueError" in incident.message and "ten" in incident.message
    now = procedure.now()
    assert incident.first_at == incident.last_at == now
    assert incident.next_retry_at == now + timedelta(seconds=300)
    # The ticker's own due query no longer finds it until then.
    assert instance(app, bad).next_timer_at == incident.next_retry_at
    with app.app_context():
        assert timers.due_instances(now) == []
    [failed] = audit_rows(app, "timer_failed")
    assert failed.instance_id == incident.instance_id
    assert failed.data["incident"] == incident.id and failed.data["attempt"] == 1
    assert procedure.tick() == 0
    assert incidents_of(app, bad)[0].attempts == 1


def test_retries_wait_twice_as_long_each_time_and_stop_after_the_last_attempt(
    app, procedure, failing
):
    _good, bad = failing
    procedure.tick()
    pause = timedelta(seconds=300)
    for attempt in range(2, 6):  # INCIDENT_MAX_ATTEMPTS is 5 by default
        procedure.travel_to(procedure.now() + pause - timedelta(seconds=1))
        procedure.tick()
        assert incidents_of(app, bad)[0].attempts == attempt - 1  # not yet
        procedure.travel_to(procedure.now() + timedelta(seconds=1))
        procedure.tick()
        [incident] = incidents_of(app, bad)
        assert incident.attempts == attempt and incident.last_at == procedure.now()
        pause *= 2
        if attempt < 5:
            assert incident.next_retry_at == procedure.now() + pause
    assert incident.next_retry_at is None and incident.state == "open"
    assert instance(app, bad).next_timer_at is None
    procedure.travel_to(procedure.now() + timedelta(days=1))  # before the other's vote ends
    assert procedure.tick() == 0
    assert incidents_of(app, bad)[0].attempts == 5
    assert [row.data["attempt"] for row in audit_rows(app, "timer_failed")] == [1, 2, 3, 4, 5]


def test_the_attempts_and_pauses_are_settings(app, procedure, failing):
    _good, bad = failing
    app.config.update(INCIDENT_MAX_ATTEMPTS=2, INCIDENT_RETRY_SECONDS=60)
    procedure.tick()
    assert incidents_of(app, bad)[0].next_retry_at == procedure.now() + timedelta(seconds=60)
    procedure.travel_to(procedure.now() + timedelta(seconds=60))
    procedure.tick()
    [incident] = incidents_of(app, bad)
    assert incident.attempts == 2 and incident.next_retry_at is None


@pytest.mark.parametrize(
    ("username", "status"),
    [("owner", 200), ("secretary", 200), ("applicant", 403), ("council", 403), ("finance", 403)],
)
def test_process_owners_and_the_secretariat_see_incidents_others_are_refused(
    app, actors, procedure, failing, username, status
):
    _good, bad = failing
    procedure.tick()
    [incident] = incidents_of(app, bad)
    page = actors(username).get("/incidents")
    assert page.status_code == status
    inbox_or_home = actors(username).get("/messages").get_data(as_text=True)
    if status == 403:
        assert 'id="nav-incidents"' not in inbox_or_home
        return
    html = page.get_data(as_text=True)
    assert f'data-incident="{incident.id}" data-state="open" data-element="prepare_vote"' in html
    assert "确定表决规则与投票人" in html and "ValueError" in html
    # The navbar on any page tells them how many are open.
    assert re.search(r'id="nav-incident-count"[^>]*>1<', inbox_or_home)
    assert (f'data-retry="{incident.id}"' in html) == (username == "owner")


def test_the_secretariat_cannot_retry_and_an_unknown_incident_is_not_found(
    app, actors, procedure, failing
):
    _good, bad = failing
    procedure.tick()
    [incident] = incidents_of(app, bad)
    secretary = actors("secretary")
    assert secretary.post(f"/incidents/{incident.id}/retry", {}).status_code == 403
    assert actors("owner").post("/incidents/99999/retry", {}).status_code == 404
    assert incidents_of(app, bad)[0].attempts == 1


def test_owner_retries_after_migrating_to_a_fixed_version_and_the_incident_is_resolved(
    app, actors, procedure, failing
):
    _good, bad = failing
    procedure.tick()
    [incident] = incidents_of(app, bad)
    owner = actors("owner")

    # Retrying the broken version fails again: one more attempt, the error shown.
    response = owner.post(f"/incidents/{incident.id}/retry", {})
    assert response.status_code == 302
    page = owner.get("/incidents").get_data(as_text=True)
    assert "ValueError" in page and 'data-attempts="2"' in page
    assert incidents_of(app, bad)[0].state == "open"

    fixed = deploy(app, FIXED)
    assert migrate(owner, app, bad, fixed).status_code == 200
    assert instance(app, bad).version_id == fixed

    response = owner.post(f"/incidents/{incident.id}/retry", {})
    assert response.status_code == 302
    [incident] = incidents_of(app, bad)
    assert incident.state == "resolved" and incident.resolved_at == procedure.now()
    assert incident.next_retry_at is None and incident.attempts == 2
    with app.app_context():
        owner_id = db.session.scalars(select(User.id).where(User.username == "owner")).one()
    assert incident.resolved_by_id == owner_id
    [resolved] = audit_rows(app, "incident_resolved")
    assert resolved.actor_id == owner_id and resolved.instance_id == incident.instance_id
    assert resolved.data == {"incident": incident.id, "attempts": 2}
    # The application moved on to the council's vote.
    assert procedure.case(bad).stage == "approval"
    assert "council_vote" in procedure.open_ids(bad)
    page = owner.get("/incidents").get_data(as_text=True)
    assert 'id="no-incidents"' in page and 'id="nav-incident-count"' not in page
    assert f'<tr data-incident="{incident.id}" data-state="resolved">' in page


def test_the_ticker_resolves_the_incident_once_the_application_runs_on_a_fixed_version(
    app, actors, procedure, failing
):
    _good, bad = failing
    procedure.tick()
    fixed = deploy(app, FIXED)
    assert migrate(actors("owner"), app, bad, fixed).status_code == 200
    [scheduled] = audit_rows(app, "incident_retry_scheduled")
    assert scheduled.data == {"incident": incidents_of(app, bad)[0].id}
    assert procedure.tick() == 1  # a migration has the ticker try the step at once
    [incident] = incidents_of(app, bad)
    assert incident.state == "resolved" and incident.resolved_by_id is None
    assert procedure.case(bad).stage == "approval"
