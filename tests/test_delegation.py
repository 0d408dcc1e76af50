"""A council member away names a substitute: during the period the substitute sees the
member's tasks and casts the member's vote, recorded as "B for A"; four eyes bind both, and a
task the diagram keeps to its person stays with it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.conftest import add_user
from webapp.extensions import db
from webapp.models import AuditEvent, Delegation, HumanTask
from webapp.models.users import association_today
from webapp.services import process_models, users


def _delegate(actors, who: str, substitute: str, days: int = 10, start: int = 0):
    with actors(who).app.app_context():
        today = association_today()
    return actors(who).post(
        "/settings/delegation",
        {
            "substitute": substitute,
            "starts_on": (today + timedelta(days=start)).isoformat(),
            "ends_on": (today + timedelta(days=start + days)).isoformat(),
        },
    )


def _to_vote(p) -> int:
    app_id = p.submit()
    p.review(app_id)
    p.close_notice(app_id)
    return app_id


def _vote_of(app, case_id: int, username: str) -> HumanTask:
    with app.app_context():
        user = users.by_username(username)
        return db.session.scalars(
            select(HumanTask).where(
                HumanTask.bpmn_id == "council_vote",
                HumanTask.state == "ready",
                HumanTask.assignee_id == user.id,
            )
        ).one()


def test_the_substitute_casts_the_absent_members_vote_recorded_as_for_them(app, procedure):
    p = procedure
    app_id = _to_vote(p)
    vote = _vote_of(app, app_id, "council")
    council2 = p.actors("council2")
    assert council2.get(f"/tasks/{vote.task_guid}").status_code == 403  # not before
    assert _delegate(p.actors, "council", "council2").status_code == 302
    inbox = council2.get("/inbox").get_data(as_text=True)
    assert 'data-standing-in="council"' in inbox and vote.task_guid in inbox
    page = council2.get(f"/tasks/{vote.task_guid}").get_data(as_text=True)
    assert 'id="standing-in"' in page
    response = council2.post(
        f"/tasks/{vote.task_guid}", {"vote": "approve", "vote_comment": "代投"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        council, sub = users.by_username("council"), users.by_username("council2")
        row = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.task_guid == vote.task_guid, AuditEvent.action == "task_completed"
            )
        ).one()
        assert row.actor_id == sub.id and row.data["on_behalf_of"] == council.id
        done = db.session.get(HumanTask, vote.id)
        assert done.state == "completed" and done.assignee_id == council.id
    # council2's own vote is still its own to cast.
    assert _vote_of(app, app_id, "council2").state == "ready"
    # The trail reads "B for A", in words.
    trail = p.actors("secretary").get(f"/cases/{app_id}/audit").get_data(as_text=True)
    assert "钱理事（理事会） 代 赵理事（理事会）" in trail and "任务已办理" in trail


def test_no_substitute_before_or_after_the_period_nor_after_withdrawal(app, procedure):
    p = procedure
    app_id = _to_vote(p)
    vote = _vote_of(app, app_id, "council")
    assert _delegate(p.actors, "council", "council2", days=3, start=2).status_code == 302
    assert p.actors("council2").get(f"/tasks/{vote.task_guid}").status_code == 403
    page = p.actors("council").get("/settings/delegation").get_data(as_text=True)
    assert "钱理事" in page
    assert _delegate(p.actors, "council", "council2").status_code == 302
    assert p.actors("council2").get(f"/tasks/{vote.task_guid}").status_code == 200
    with app.app_context():
        ids = db.session.scalars(select(Delegation.id)).all()
    for delegation_id in ids:
        assert (
            p.actors("council").post(f"/settings/delegation/{delegation_id}/withdraw", {})
        ).status_code == 302
    assert p.actors("council2").get(f"/tasks/{vote.task_guid}").status_code == 403
    # Nobody withdraws another's delegation.
    assert (
        p.actors("council2").post(f"/settings/delegation/{ids[0]}/withdraw", {}).status_code == 404
    )


def test_a_substitute_never_acts_on_a_case_about_itself(app, procedure):
    add_user(app, "sub", "兼申请人的替补", "applicant")
    p = procedure
    app_id = p.submit("sub")
    review = p.task(app_id, "preliminary_review")
    assert _delegate(p.actors, "secretary", "sub").status_code == 302
    assert p.actors("sub").get(f"/tasks/{review.task_guid}").status_code == 403


def test_a_task_the_diagram_keeps_to_its_person_is_not_delegated(app, procedure):
    with app.app_context():
        version = process_models.live_version("admission")
        bpmn = version.bpmn.replace(
            '<spiffworkflow:property name="stage" value="review" />',
            '<spiffworkflow:property name="stage" value="review" />'
            '<spiffworkflow:property name="delegable" value="false" />',
            1,
        )
        assert bpmn != version.bpmn
        process_models.deploy("admission", bpmn, dict(version.forms))
        db.session.commit()
    add_user(app, "helper", "助理", "council")
    p = procedure
    app_id = p.submit()
    review = p.task(app_id, "preliminary_review")
    assert _delegate(p.actors, "secretary", "helper").status_code == 302
    response = p.actors("helper").get(f"/tasks/{review.task_guid}")
    assert response.status_code == 403
    assert "替补不能代办" in response.get_data(as_text=True)


def test_a_bad_delegation_gets_every_error_at_once(app, actors):
    response = actors("council").post(
        "/settings/delegation", {"substitute": "council", "starts_on": "x", "ends_on": ""}
    )
    assert response.status_code == 400
    assert response.get_data(as_text=True).count("invalid-feedback") == 3
