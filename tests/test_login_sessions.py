"""Browser logins are known to the server: the session cookie is HttpOnly and SameSite=Lax
(Secure over HTTPS), it changes at login, and after logout a copy of it is worth nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import ROOT, Actor
from webapp.extensions import db
from webapp.models import LoginSession, User
from webapp.services import users


def _cookie(actor: Actor) -> str | None:
    cookie = actor.client.get_cookie("session")
    return cookie.value if cookie is not None else None


def _session(app, value: str) -> dict:
    """What a session cookie holds (the tests know the signing key; visitors do not)."""
    return dict(app.session_interface.get_signing_serializer(app).loads(value))


def _forge(app, content: dict) -> str:
    return app.session_interface.get_signing_serializer(app).dumps(content)


def _with_cookie(app, value: str) -> Actor:
    """A second browser holding a copy of someone's session cookie."""
    thief = Actor(app, None)
    thief.client.set_cookie("session", value)
    return thief


def _is_logged_in(actor: Actor) -> bool:
    response = actor.get("/messages")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def _open_logins(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(LoginSession)
            .join(User, User.id == LoginSession.user_id)
            .where(User.username == username, LoginSession.ended_at.is_(None))
        )


def test_session_cookie_is_httponly_and_samesite_lax_and_not_secure_over_http(app):
    visitor = Actor(app, None)
    visitor.get("/login")  # the CSRF token is kept in the session
    token = visitor.token("/login")
    response = visitor.client.post(
        "/login", data={"username": "secretary", "password": "demo1234", "csrf_token": token}
    )
    assert response.status_code == 302
    (set_cookie,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")}
    assert {"httponly", "samesite"} <= attributes
    assert "SameSite=Lax" in set_cookie
    assert "secure" not in attributes


def test_session_cookie_is_secure_when_served_over_https(app):
    client = app.test_client()
    response = client.get("/login", base_url="https://localhost")
    (set_cookie,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie


def test_session_cookie_is_secure_when_configured_even_over_http(app):
    app.config["SESSION_COOKIE_SECURE"] = True
    response = app.test_client().get("/login")
    (set_cookie,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert "Secure" in set_cookie


@pytest.mark.parametrize(
    ("environment", "secure"),
    [
        ({"PREFERRED_URL_SCHEME": "https"}, "True"),
        ({"SESSION_COOKIE_SECURE": "1"}, "True"),
        ({"PREFERRED_URL_SCHEME": "http"}, "False"),
    ],
)
def test_secure_cookie_setting_follows_the_environment(environment, secure):
    # Settings are read from the environment when the app is first imported: a fresh process.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PREFERRED_URL_SCHEME", "SESSION_COOKIE_SECURE")
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from webapp.config import Config as C; print(C.SESSION_COOKIE_SECURE)",
        ],
        env={**env, **environment},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == secure


def test_the_session_changes_at_login_and_keeps_nothing_of_the_anonymous_one(app):
    visitor = Actor(app, None)
    visitor.get("/login")
    before = _cookie(visitor)
    assert before and "sid" not in _session(app, before)
    response = visitor.post(
        "/login", {"username": "applicant", "password": "demo1234"}, token_page="/login"
    )
    assert response.status_code == 302
    after = _cookie(visitor)
    assert after != before
    first_sid = _session(app, after)["sid"]
    # Logging in again over a live login gives a new id and ends the old one.
    visitor.post("/login", {"username": "applicant", "password": "demo1234"}, token_page="/login")
    assert _session(app, _cookie(visitor))["sid"] != first_sid
    assert _open_logins(app, "applicant") == 1
    assert not _is_logged_in(_with_cookie(app, after))


def test_a_planted_cookie_does_not_carry_over_into_the_victims_login(app):
    # An attacker logs in, then gets the victim's browser to use the attacker's cookie.
    attacker = Actor(app, "applicant2")
    planted = _cookie(attacker)
    victim = _with_cookie(app, planted)
    victim.post("/login", {"username": "applicant", "password": "demo1234"}, token_page="/login")
    session = _session(app, _cookie(victim))
    assert session["sid"] != _session(app, planted)["sid"]
    with app.app_context():
        assert session["_user_id"] == str(users.by_username("applicant").id)
    assert _is_logged_in(victim)
    # The attacker's copy of the planted cookie no longer opens anything.
    assert not _is_logged_in(_with_cookie(app, planted))


def test_logout_ends_the_login_so_a_copied_cookie_is_anonymous(app):
    secretary = Actor(app, "secretary")
    copy = _cookie(secretary)
    thief = _with_cookie(app, copy)
    assert thief.get("/inbox").status_code == 200  # a copy works while the login lasts
    assert thief.get("/api/v1/me").json["username"] == "secretary"
    assert _open_logins(app, "secretary") == 1

    response = secretary.post("/logout", {}, token_page="/inbox")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert _open_logins(app, "secretary") == 0

    replay = thief.get("/inbox")
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]
    api = thief.get("/api/v1/me")
    assert api.status_code == 401 and api.json["error"] == "unauthorized"
    assert not _is_logged_in(secretary)


def test_a_cookie_without_a_server_side_login_is_anonymous(app):
    with app.app_context():
        secretary_id = users.by_username("secretary").id
    # A validly signed cookie naming a user but no login: a session from before logins were
    # recorded, or one made with a leaked key.
    old_style = _forge(app, {"_user_id": str(secretary_id), "_fresh": True})
    assert not _is_logged_in(_with_cookie(app, old_style))
    made_up = _forge(app, {"_user_id": str(secretary_id), "sid": "not-a-login"})
    assert not _is_logged_in(_with_cookie(app, made_up))


def test_a_login_id_opens_only_its_own_users_session(app):
    applicant = Actor(app, "applicant")
    sid = _session(app, _cookie(applicant))["sid"]
    with app.app_context():
        secretary_id = users.by_username("secretary").id
    swapped = _forge(app, {"_user_id": str(secretary_id), "sid": sid})
    assert _with_cookie(app, swapped).get("/inbox").status_code == 302


def test_registration_logs_in_with_a_recorded_session(app):
    visitor = Actor(app, None)
    response = visitor.post(
        "/register",
        {
            "username": "newco",
            "display_name": "新公司",
            "email": "newco@example.com",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
        },
        token_page="/register",
    )
    assert response.status_code == 302
    assert _is_logged_in(visitor)
    assert _open_logins(app, "newco") == 1
    visitor.post("/logout", {}, token_page="/cases")
    assert _open_logins(app, "newco") == 0


def test_a_login_runs_out_after_its_lifetime_and_is_purged_later(app):
    app.config["LOGIN_LIFETIME_HOURS"] = 12  # the default; the tests' config lifts it
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        actor = Actor(app, "secretary")
        assert actor.get("/inbox").status_code == 200
        clock.move_to(start + timedelta(hours=11, minutes=59))
        assert actor.get("/inbox").status_code == 200
        clock.move_to(start + timedelta(hours=12, minutes=1))
        response = actor.get("/inbox")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(LoginSession)) == 1
        clock.move_to(start + timedelta(days=29))
        app.test_cli_runner().invoke(args=["tick", "--interval", "0"])
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(LoginSession)) == 1
        clock.move_to(start + timedelta(days=31))
        app.test_cli_runner().invoke(args=["tick", "--interval", "0"])
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(LoginSession)) == 0
