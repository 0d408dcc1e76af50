"""Personal API tokens: made and revoked on the settings page, shown once, accepted as Bearer
credentials until revoked; and the API's rules for the browser session beside them (401 instead
of a login redirect, CSRF on writes, a bad token never falling back to the cookie)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from tests.conftest import Actor, open_task
from webapp.extensions import db
from webapp.models import ApiToken, AuditEvent, User
from webapp.services import api_tokens, users

NO_TASK = "00000000-0000-0000-0000-000000000000"
NEW_TOKEN_RE = re.compile(r'id="new-token-value">([^<]+)<')


def _token_for(app, username: str, name: str = "script") -> str:
    with app.app_context():
        _token, plain = api_tokens.create(users.by_username(username), name)
    return plain


def _bearer(plain: str) -> dict:
    return {"Authorization": f"Bearer {plain}"}


def _stored(app, plain: str) -> ApiToken:
    with app.app_context():
        return db.session.scalars(select(ApiToken).where(ApiToken.prefix == plain[:10])).one()


def test_token_made_on_the_settings_page_is_shown_once_and_lets_a_program_in(app, actors):
    secretary = actors("secretary")
    page = secretary.get("/settings/tokens")
    assert page.status_code == 200
    assert 'id="nav-tokens"' in page.get_data(as_text=True)
    created = secretary.post("/settings/tokens", {"name": "finance sync"})
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    plain = NEW_TOKEN_RE.search(created.get_data(as_text=True)).group(1)
    assert plain.startswith(api_tokens.TOKEN_PREFIX)

    again = secretary.get("/settings/tokens").get_data(as_text=True)
    assert plain not in again  # never shown a second time
    assert "finance sync" in again and plain[:10] in again  # listed by name and prefix

    program = app.test_client()  # no cookie at all
    me = program.get("/api/v1/me", headers=_bearer(plain))
    assert me.status_code == 200
    assert me.get_json()["username"] == "secretary"
    assert "secretariat" in me.get_json()["roles"]
    with app.app_context():
        stored = db.session.scalars(select(ApiToken)).one()
        assert stored.token_hash != plain and plain not in stored.token_hash  # only a hash kept
        assert stored.last_used_at is not None


def test_a_token_needs_a_sensible_name(app, actors):
    applicant = actors("applicant")
    for name in ("", "bad\x00name"):
        refused = applicant.post("/settings/tokens", {"name": name})
        assert refused.status_code == 400, name
        # The form's own refusal of the name (a CSRF failure would also be a 400).
        assert 'class="invalid-feedback"' in refused.get_data(as_text=True), name
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).first() is None


def test_revoked_token_is_refused(app, actors):
    plain = _token_for(app, "applicant")
    program = app.test_client()
    assert program.get("/api/v1/me", headers=_bearer(plain)).status_code == 200
    token_id = _stored(app, plain).id
    revoked = actors("applicant").post(f"/settings/tokens/{token_id}/revoke", {})
    assert revoked.status_code == 302
    response = program.get("/api/v1/me", headers=_bearer(plain))
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    page = actors("applicant").get("/settings/tokens").get_data(as_text=True)
    assert f'data-token-id="{token_id}" data-revoked="1"' in page
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"api_token_created", "api_token_revoked"} <= actions


def test_another_users_token_cannot_be_revoked(app, actors):
    plain = _token_for(app, "applicant")
    token_id = _stored(app, plain).id
    assert actors("applicant2").post(f"/settings/tokens/{token_id}/revoke", {}).status_code == 404
    assert actors("secretary").post(f"/settings/tokens/{token_id}/revoke", {}).status_code == 404
    assert _stored(app, plain).revoked_at is None
    assert app.test_client().get("/api/v1/me", headers=_bearer(plain)).status_code == 200
    # A number beyond the column's range is simply not found.
    assert actors("applicant").post("/settings/tokens/99999999999/revoke", {}).status_code == 404


def _sent_to_login(response, path: str) -> bool:
    location = response.headers.get("Location", "")
    return response.status_code == 302 and location.startswith("/login?next=") and path in location


def test_the_settings_page_needs_a_login(app):
    plain = _token_for(app, "applicant")
    token_id = _stored(app, plain).id
    visitor = Actor(app, None)
    assert _sent_to_login(visitor.get("/settings/tokens"), "settings")
    # With a valid CSRF token, so that the login check is what answers (CSRF would say 400).
    revoke = visitor.post(f"/settings/tokens/{token_id}/revoke", {}, token_page="/login")
    assert _sent_to_login(revoke, "revoke"), (revoke.status_code, revoke.headers.get("Location"))
    create = visitor.post("/settings/tokens", {"name": "by nobody"}, token_page="/login")
    assert _sent_to_login(create, "settings"), (create.status_code, create.headers.get("Location"))
    assert _stored(app, plain).revoked_at is None
    with app.app_context():
        assert db.session.scalars(select(ApiToken.id)).all() == [token_id]  # none made


def test_unauthenticated_api_calls_get_401_json_never_a_login_redirect(app):
    client = app.test_client()
    for headers in (
        {},
        {"Authorization": "Bearer ma_not-a-real-token"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic c2VjcmV0YXJ5OmRlbW8xMjM0"},
        {"Authorization": "Bearer ma_" + "x" * 500},
    ):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.get_json()["error"] == "unauthorized"
        assert "WWW-Authenticate" in response.headers
    assert client.get("/api/v1/tasks").status_code == 401
    assert client.post(f"/api/v1/tasks/{NO_TASK}/claim").status_code == 401


def test_a_bad_token_never_falls_back_to_the_session(app, actors):
    applicant = actors("applicant")
    assert applicant.get("/api/v1/me").get_json()["username"] == "applicant"  # the session
    bad = applicant.client.get("/api/v1/me", headers=_bearer("ma_forged"))
    assert bad.status_code == 401
    # A good token is the token's owner, whoever's cookie rides along.
    plain = _token_for(app, "finance")
    assert applicant.client.get("/api/v1/me", headers=_bearer(plain)).get_json()["username"] == (
        "finance"
    )


def test_token_of_a_deactivated_account_is_refused(app):
    plain = _token_for(app, "council")
    with app.app_context():
        db.session.scalars(select(User).where(User.username == "council")).one().active = False
        db.session.commit()
    assert app.test_client().get("/api/v1/me", headers=_bearer(plain)).status_code == 401


def test_session_writes_need_the_csrf_header_and_token_writes_do_not(app, actors, submitted):
    secretary = actors("secretary")
    guid = open_task(app, submitted.id).task_guid
    url = f"/api/v1/tasks/{guid}/claim"
    refused = secretary.client.post(url)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "csrf_failed"
    forged = secretary.client.post(url, headers={"X-CSRFToken": "forged"})
    assert forged.get_json()["error"] == "csrf_failed"
    assert open_task(app, submitted.id).claimed_by_id is None
    accepted = secretary.client.post(url, headers={"X-CSRFToken": secretary.token()})
    assert accepted.status_code == 200, accepted.get_json()
    # Reads need no header.
    assert secretary.client.get(f"/api/v1/tasks/{guid}").status_code == 200

    plain = _token_for(app, "secretary")
    released = app.test_client().post(f"/api/v1/tasks/{guid}/unclaim", headers=_bearer(plain))
    assert released.status_code == 200
    assert released.get_json()["claimed_by"] is None


def test_last_use_is_noted_at_most_once_a_minute(app):
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        plain = _token_for(app, "owner")
        client = app.test_client()
        assert client.get("/api/v1/me", headers=_bearer(plain)).status_code == 200
        assert _stored(app, plain).last_used_at == start
        traveller.shift(timedelta(seconds=30))
        client.get("/api/v1/me", headers=_bearer(plain))
        assert _stored(app, plain).last_used_at == start
        traveller.shift(timedelta(minutes=2))
        client.get("/api/v1/me", headers=_bearer(plain))
        assert _stored(app, plain).last_used_at == start + timedelta(seconds=150)


def test_answers_are_utf8_json_with_chinese_as_written(app):
    plain = _token_for(app, "applicant")
    response = app.test_client().get("/api/v1/me", headers=_bearer(plain))
    assert response.mimetype == "application/json"
    assert '"display_name":"华夏示例科技有限公司"' in response.get_data(as_text=True)
