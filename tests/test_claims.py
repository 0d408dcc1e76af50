"""Claiming a committee task: the others of the lane see who holds it and cannot complete or
take it (409, naming the holder) until it is released; in the API and on the pages alike."""

from __future__ import annotations

import re

import time_machine
from sqlalchemy import select

from tests import staged
from tests.conftest import add_user, open_task, reload
from tests.procedure import START
from webapp.extensions import db
from webapp.models import AuditEvent, HumanTask, User
from webapp.services import api_tokens, users

REVIEW_PASS = {"data": {"review_decision": "pass"}}
NO_TASK = "00000000-0000-0000-0000-000000000000"


def _api(app, username: str):
    """A client of the API acting with the user's personal token."""
    with app.app_context():
        _token, plain = api_tokens.create(users.by_username(username), "test")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}

    def post(url: str, **kwargs):
        return client.post(f"/api/v1{url}", headers=headers, **kwargs)

    return post


def _user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalars(select(User.id).where(User.username == username)).one()


def _actions(app, guid: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.task_guid == guid)
                .order_by(AuditEvent.id)
            )
        )


def test_a_claimed_task_is_left_to_its_holder(app, actors, submitted):
    add_user(app, "secretary2", "Second Secretary", "secretariat")
    guid = open_task(app, submitted.id).task_guid
    first, second = _api(app, "secretary"), _api(app, "secretary2")
    secretary_id = _user_id(app, "secretary")

    claimed = first(f"/tasks/{guid}/claim")
    assert claimed.status_code == 200, claimed.get_json()
    holder = claimed.get_json()["claimed_by"]
    assert holder["id"] == secretary_id and holder["display_name"]
    assert first(f"/tasks/{guid}/claim").status_code == 200  # one's own claim again
    assert _actions(app, guid).count("task_claimed") == 1

    for refused in (
        second(f"/tasks/{guid}/claim"),
        second(f"/tasks/{guid}/unclaim"),
        second(f"/tasks/{guid}/complete", json=REVIEW_PASS),
    ):
        assert refused.status_code == 409
        assert refused.get_json()["error"] == "task_claimed"
        assert holder["display_name"] in refused.get_json()["message"]
    # The page refuses as the API does, drafts included.
    page_user = actors("secretary2")
    assert page_user.complete(guid, {"review_decision": "pass"}).status_code == 409
    draft = page_user.complete(guid, {"review_decision": "pass", "action": "draft"})
    assert draft.status_code == 409
    assert reload(app, submitted.id).stage == "review"
    assert open_task(app, submitted.id).claimed_by_id == secretary_id

    done = first(f"/tasks/{guid}/complete", json=REVIEW_PASS)
    assert done.status_code == 200
    assert done.get_json()["task"]["claimed_by"]["id"] == secretary_id
    assert reload(app, submitted.id).stage == "notice"


def test_releasing_a_claim_lets_anyone_of_the_lane_take_it(app, actors, submitted):
    add_user(app, "secretary2", "Second Secretary", "secretariat")
    guid = open_task(app, submitted.id).task_guid
    first, second = _api(app, "secretary"), _api(app, "secretary2")
    assert first(f"/tasks/{guid}/claim").status_code == 200
    released = first(f"/tasks/{guid}/unclaim")
    assert released.status_code == 200
    assert released.get_json()["claimed_by"] is None
    assert first(f"/tasks/{guid}/unclaim").status_code == 200  # nothing held: no change
    taken = second(f"/tasks/{guid}/claim")
    assert taken.status_code == 200
    assert taken.get_json()["claimed_by"]["id"] == _user_id(app, "secretary2")
    assert _actions(app, guid)[-3:] == ["task_claimed", "task_unclaimed", "task_claimed"]
    assert second(f"/tasks/{guid}/complete", json=REVIEW_PASS).status_code == 200
    assert first(f"/tasks/{guid}/claim").get_json()["error"] == "task_not_open"


def test_only_the_lane_may_claim_and_only_committee_tasks_are_claimable(app, actors, submitted):
    guid = open_task(app, submitted.id).task_guid
    assert _api(app, "council")(f"/tasks/{guid}/claim").status_code == 403
    assert _api(app, "applicant")(f"/tasks/{guid}/claim").status_code == 403
    assert _api(app, "applicant2")(f"/tasks/{guid}/claim").status_code == 403
    assert open_task(app, submitted.id).claimed_by_id is None

    own = actors("applicant").start_application()
    own_guid = open_task(app, own.id).task_guid
    refused = _api(app, "applicant")(f"/tasks/{own_guid}/claim")
    assert refused.status_code == 403  # an applicant's task has one worker anyway
    assert _api(app, "applicant2")(f"/tasks/{own_guid}/claim").status_code == 404
    assert _api(app, "secretary")(f"/tasks/{NO_TASK}/claim").status_code == 404


def test_claim_buttons_on_the_task_page_and_the_inbox(app, actors, submitted):
    add_user(app, "secretary2", "Second Secretary", "secretariat")
    guid = open_task(app, submitted.id).task_guid
    secretary, other = actors("secretary"), actors("secretary2")
    secretary_id = _user_id(app, "secretary")

    page = secretary.get(f"/tasks/{guid}").get_data(as_text=True)
    assert 'id="claim-task"' in page and 'data-claimed-by=""' in page
    response = secretary.post(f"/tasks/{guid}/claim", {}, token_page=f"/tasks/{guid}")
    assert response.status_code == 302
    page = secretary.get(f"/tasks/{guid}").get_data(as_text=True)
    assert 'id="unclaim-task"' in page and f'data-claimed-by="{secretary_id}"' in page

    inbox = other.get("/inbox").get_data(as_text=True)
    row = re.search(r'<tr data-task="preliminary_review"[^>]*>', inbox).group(0)
    assert f'data-claimed-by="{secretary_id}"' in row
    assert "data-claimed-by-name" in inbox
    other_page = other.get(f"/tasks/{guid}").get_data(as_text=True)
    assert 'id="claimed-by"' in other_page and 'id="claim-task"' not in other_page
    # Taking it anyway is refused with a message; the claim stays.
    assert other.post(f"/tasks/{guid}/claim", {}).status_code == 302
    assert open_task(app, submitted.id).claimed_by_id == secretary_id
    assert other.post(f"/tasks/{guid}/unclaim", {}).status_code == 302
    assert open_task(app, submitted.id).claimed_by_id == secretary_id

    assert secretary.post(f"/tasks/{guid}/unclaim", {}).status_code == 302
    assert open_task(app, submitted.id).claimed_by_id is None
    row = re.search(
        r'<tr data-task="preliminary_review"[^>]*>', other.get("/inbox").get_data(as_text=True)
    ).group(0)
    assert 'data-claimed-by=""' in row


def test_the_claim_forms_need_their_csrf_token(app, actors, submitted):
    guid = open_task(app, submitted.id).task_guid
    secretary = actors("secretary")
    assert secretary.client.post(f"/tasks/{guid}/claim").status_code == 400
    assert open_task(app, submitted.id).claimed_by_id is None


def test_a_vote_given_to_one_member_has_no_claim_button(app, actors, procedure):
    app_id = procedure.submit()
    procedure.review(app_id)
    procedure.close_notice(app_id)
    vote = procedure.task(app_id, "council_vote", "council")
    page = actors("council").get(f"/tasks/{vote.task_guid}").get_data(as_text=True)
    assert 'id="claim-task"' not in page
    assert _api(app, "council")(f"/tasks/{vote.task_guid}/claim").status_code == 403


def test_a_vote_given_to_one_member_cannot_be_claimed_and_says_why(app):
    with time_machine.travel(START, tick=False) as traveller:
        with app.test_request_context():
            [case_id] = staged.in_vote(1, traveller)
            votes = staged.open_tasks(case_id, "council_vote")
        council_id = _user_id(app, "council")
        own = next(t for t in votes if t.assignee_id == council_id)
        response = _api(app, "council")(f"/tasks/{own.task_guid}/claim")
    assert response.status_code == 403
    assert response.get_json()["message"] == "此任务已由流程指定给特定人员办理，不能认领。"
    with app.app_context():
        assert db.session.get(HumanTask, own.id).claimed_by_id is None
