"""The tasks of the JSON API: the committee's list (filters, sorting, pages, overdue), one task
with the same access rules as its page, and completing a task with JSON data checked by the same
schema as the form — invalid data moves nothing, a second completion is refused."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests import staged
from tests.conftest import VALID_APPLICATION, add_user, open_task, reload
from tests.procedure import START
from webapp.extensions import db
from webapp.models import AuditEvent, HumanTask
from webapp.services import api_tokens, users

REVIEW_PASS = {"data": {"review_decision": "pass", "review_notes": "齐全"}}


def _bearer(app, username: str) -> dict:
    with app.app_context():
        _token, plain = api_tokens.create(users.by_username(username), "test")
    return {"Authorization": f"Bearer {plain}"}


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


@pytest.fixture
def three_reviews(app):
    """Three applications submitted a day apart, each waiting for its preliminary review; the
    clock stays at the third day. Yields (ids oldest first, due dates, traveller)."""
    ids = []
    with time_machine.travel(START, tick=False) as traveller:
        for day in range(3):
            traveller.move_to(START + timedelta(days=day))
            with app.test_request_context():
                ids += staged.submitted(1)
        dues = [open_task(app, i).due_at for i in ids]
        yield ids, dues, traveller


def _names(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [item["case"]["id"] for item in response.get_json()["items"]]


def test_me_tells_the_caller_who_it_is(app, actors):
    body = actors("council").get("/api/v1/me").get_json()
    assert body["username"] == "council"
    assert body["roles"] == ["council"]
    assert set(body) == {"id", "username", "display_name", "roles"}


def test_task_list_is_for_the_committee_only(app, actors, submitted):
    for username in ("applicant", "owner"):
        response = actors(username).get("/api/v1/tasks")
        assert response.status_code == 403
        assert response.get_json()["error"] == "forbidden"
    items = actors("secretary").get("/api/v1/tasks").get_json()["items"]
    assert [item["case"]["id"] for item in items] == [submitted.id]
    summary = items[0]
    assert summary["id"] == open_task(app, submitted.id).task_guid
    assert summary["lane"] == "secretariat" and summary["stage"] == "review"
    assert summary["state"] == "ready" and summary["process"] == "admission"
    assert summary["claimed_by"] is None and summary["overdue"] is False
    assert summary["due_at"].endswith("+00:00")
    assert actors("council").get("/api/v1/tasks").get_json()["items"] == []  # not its lane


def test_task_list_sorts_pages_and_filters(app, actors, three_reviews):
    ids, dues, traveller = three_reviews
    secretary = actors("secretary")
    assert _names(secretary.get("/api/v1/tasks")) == ids  # due date, soonest first
    assert _names(secretary.get("/api/v1/tasks?sort=-due")) == ids[::-1]
    assert _names(secretary.get("/api/v1/tasks?sort=created")) == ids
    assert _names(secretary.get("/api/v1/tasks?sort=-created")) == ids[::-1]

    first = secretary.get("/api/v1/tasks?per_page=2").get_json()
    assert [i["case"]["id"] for i in first["items"]] == ids[:2]
    assert (first["page"], first["per_page"], first["has_next"]) == (1, 2, True)
    second = secretary.get("/api/v1/tasks?per_page=2&page=2").get_json()
    assert [i["case"]["id"] for i in second["items"]] == ids[2:]
    assert second["has_next"] is False
    assert secretary.get("/api/v1/tasks?page=9").get_json()["items"] == []

    assert _names(secretary.get("/api/v1/tasks?lane=secretariat&process=admission")) == ids
    assert _names(secretary.get("/api/v1/tasks?overdue=true")) == []

    # Past the first deadline only: one overdue task, marked so.
    traveller.move_to(dues[0] + timedelta(minutes=1))
    overdue = secretary.get("/api/v1/tasks?overdue=true").get_json()["items"]
    assert [i["case"]["id"] for i in overdue] == ids[:1]
    assert overdue[0]["overdue"] is True
    assert _names(secretary.get("/api/v1/tasks?overdue=false")) == ids[1:]
    assert _names(secretary.get("/api/v1/tasks?overdue=false&sort=-due")) == ids[1:][::-1]


def test_task_list_shows_the_lanes_of_each_role(app, actors, three_reviews):
    add_user(app, "clerk", "Clerk", "secretariat,finance")
    clerk = actors("clerk")
    ids, _dues, _traveller = three_reviews
    assert _names(clerk.get("/api/v1/tasks")) == ids
    assert _names(clerk.get("/api/v1/tasks?lane=finance")) == []
    assert _names(clerk.get("/api/v1/tasks?lane=秘书处")) == []  # no task in a lane of that name
    refused = clerk.get("/api/v1/tasks?lane=council")
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=fastest", "sort"),
        ("overdue=yes", "overdue"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=99999999999999999999999", "page"),
        ("per_page=1000", "per_page"),
        ("per_page=", "per_page"),
        ("lane=nowhere", "lane"),
        ("lane=%00", "lane"),
        ("process=withdrawal", "process"),
        ("process=admission%00", "process"),
    ],
)
def test_task_list_refuses_queries_it_cannot_mean(app, actors, query, field):
    response = actors("secretary").get(f"/api/v1/tasks?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_data"
    assert list(body["fields"]) == [field]


def test_a_task_is_shown_to_whom_its_page_is(app, actors, submitted):
    guid = open_task(app, submitted.id).task_guid
    url = f"/api/v1/tasks/{guid}"
    assert actors("council").get(url).status_code == 403  # not its lane
    assert actors("applicant").get(url).status_code == 403  # a secretariat task
    assert actors("applicant2").get(url).status_code == 403  # as on the page
    for missing in ("00000000-0000-0000-0000-000000000000", "x%00", "a" * 300):
        response = actors("secretary").get(f"/api/v1/tasks/{missing}")
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"

    body = actors("secretary").get(url).get_json()
    assert body["id"] == guid
    assert "review_decision" in body["form"]["schema"]["properties"]
    assert isinstance(body["form"]["ui_schema"], dict)
    assert body["data"]["case"]["name"] == VALID_APPLICATION["name"]
    assert body["data"]["earlier"] == []


def test_another_applicants_task_is_not_found(app, actors):
    case = actors("applicant").start_application()
    guid = open_task(app, case.id).task_guid
    response = actors("applicant2").get(f"/api/v1/tasks/{guid}")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    assert actors("applicant").get(f"/api/v1/tasks/{guid}").status_code == 200


def test_completing_with_valid_data_moves_the_application_on_once(app, actors, submitted):
    guid = open_task(app, submitted.id).task_guid
    url = f"/api/v1/tasks/{guid}/complete"
    secretary = _bearer(app, "secretary")
    client = app.test_client()
    done = client.post(url, json=REVIEW_PASS, headers=secretary)
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["task"]["state"] == "completed" and body["task"]["id"] == guid
    assert body["case"] == {"id": submitted.id, "stage": "notice", "status": "in_progress"}
    with app.app_context():
        stored = db.session.scalars(select(HumanTask).where(HumanTask.task_guid == guid)).one()
        assert stored.submitted_data == REVIEW_PASS["data"]

    again = client.post(url, json=REVIEW_PASS, headers=secretary)
    assert again.status_code == 409
    assert again.get_json()["error"] == "task_not_open"
    assert client.get(f"/api/v1/tasks/{guid}", headers=secretary).status_code == 409


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"review_decision": "maybe"}, "review_decision"),
        ({}, "review_decision"),
        ({"review_decision": "reject"}, "review_reasons"),
        ({"review_decision": 7}, "review_decision"),
        ({"review_decision": ["pass"]}, "review_decision"),
        ({"review_decision": "pass", "review_notes": {"a": 1}}, "review_notes"),
        ({"review_decision": "pass", "review_notes": "x" * 2001}, "review_notes"),
        ({"review_decision": "pass", "review_notes": "a\x00b"}, "review_notes"),
        ({"review_decision": "pass", "approve_everything": True}, "approve_everything"),
        ("pass", ""),
        (None, ""),
    ],
)
def test_invalid_data_is_refused_field_by_field_and_moves_nothing(
    app, actors, submitted, data, field
):
    guid = open_task(app, submitted.id).task_guid
    before = _audit_count(app)
    response = app.test_client().post(
        f"/api/v1/tasks/{guid}/complete", json={"data": data}, headers=_bearer(app, "secretary")
    )
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["error"] == "invalid_data"
    assert field in body["fields"]
    assert open_task(app, submitted.id).task_guid == guid
    assert reload(app, submitted.id).stage == "review"
    assert _audit_count(app) == before + 1  # the token's creation only


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"data": {"review_decision": "pass"}', "application/json", 400, "bad_request"),
        (b"[1, 2]", "application/json", 400, "bad_request"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "bad_request"),
        (
            b'{"data": {"review_decision": "pass", "review_notes": NaN}}',
            "application/json",
            400,
            "invalid_data",
        ),
        (
            b'{"data": {"review_decision": "pass", "review_notes": "\\ud800"}}',
            "application/json",
            400,
            "invalid_data",
        ),
        (b"\xff\xfe", "application/json", 400, "bad_request"),
        (
            b"review_decision=pass",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
    ],
)
def test_bodies_that_are_not_a_json_object_are_refused_cleanly(
    app, submitted, body, content_type, status, code
):
    guid = open_task(app, submitted.id).task_guid
    response = app.test_client().post(
        f"/api/v1/tasks/{guid}/complete",
        data=body,
        headers={**_bearer(app, "secretary"), "Content-Type": content_type},
    )
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"] == code
    assert reload(app, submitted.id).stage == "review"


def test_lanes_are_enforced_on_completion_as_on_the_page(app, actors, submitted):
    guid = open_task(app, submitted.id).task_guid
    url = f"/api/v1/tasks/{guid}/complete"
    client = app.test_client()
    council = client.post(url, json=REVIEW_PASS, headers=_bearer(app, "council"))
    assert council.status_code == 403
    own = client.post(url, json=REVIEW_PASS, headers=_bearer(app, "applicant"))
    assert own.status_code == 403
    other = client.post(url, json=REVIEW_PASS, headers=_bearer(app, "applicant2"))
    assert other.status_code == 403
    assert reload(app, submitted.id).stage == "review"


def test_applicant_files_an_application_through_the_api(app):
    """Start, upload the documents, complete the form with their tokens: the whole path."""
    headers = _bearer(app, "applicant")
    client = app.test_client()
    started = client.post("/api/v1/cases", headers=headers)
    assert started.status_code == 201, started.get_json()
    case_id = started.get_json()["id"]
    guid = started.get_json()["open_tasks"][0]["id"]
    form = {k: v for k, v in VALID_APPLICATION.items() if not isinstance(v, tuple)}
    form.update(accept_charter=True, accept_integrity_pact=True)

    forged = client.post(
        f"/api/v1/tasks/{guid}/complete",
        json={"data": {**form, "business_licence": "not-a-token"}},
        headers=headers,
    )
    assert forged.status_code == 400
    assert "business_licence" in forged.get_json()["fields"]

    for field in ("application_form_scan", "business_licence"):
        content, name = VALID_APPLICATION[field]
        uploaded = client.post(
            f"/api/v1/cases/{case_id}/documents",
            data={"field": field, "file": (io.BytesIO(content), name)},
            headers=headers,
        )
        assert uploaded.status_code == 201, uploaded.get_json()
        form[field] = uploaded.get_json()["token"]
    task = client.get(f"/api/v1/tasks/{guid}", headers=headers).get_json()
    assert "earlier" not in task["data"]  # decisions are for the committee
    done = client.post(f"/api/v1/tasks/{guid}/complete", json={"data": form}, headers=headers)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["case"]["stage"] == "review"
    assert reload(app, case_id).name == VALID_APPLICATION["name"]


def test_council_member_sees_earlier_decisions_but_not_the_other_votes(app, actors):
    with time_machine.travel(START, tick=False) as traveller:
        with app.test_request_context():
            (case_id,) = staged.in_vote(1, traveller)
            staged.complete("council2", case_id, "council_vote", {"vote": "approve"})
        with app.app_context():
            council = users.by_username("council")
            guid = next(
                t.task_guid
                for t in staged.open_tasks(case_id, "council_vote")
                if t.assignee_id == council.id
            )
        body = actors("council").get(f"/api/v1/tasks/{guid}").get_json()
    earlier = [step["task"] for step in body["data"]["earlier"]]
    assert "preliminary_review" in earlier
    assert "council_vote" not in earlier
