"""Password guessing and objection flooding are throttled per address, with a clear message;
other addresses, and people who log in with the right password, are not held up."""

from __future__ import annotations

import pytest

from tests import staged
from tests.conftest import Actor, _config
from webapp import create_app
from webapp.errors import HTTP_MESSAGES
from webapp.extensions import db, limiter
from webapp.services import users

OTHER_ADDRESS = {"REMOTE_ADDR": "198.51.100.7"}


def _visitor(app, environ: dict | None = None) -> Actor:
    actor = Actor(app, None)
    if environ:
        actor.client.environ_base.update(environ)
    return actor


def _login(actor: Actor, password: str, username: str = "secretary"):
    return actor.post("/login", {"username": username, "password": password}, token_page="/login")


def _says_too_many(app, response) -> bool:
    with app.test_request_context():
        message = HTTP_MESSAGES[429]()  # in the default language, as the page shows it
    page = response.get_data(as_text=True)
    return 'id="error-message" data-status="429"' in page and message in page


@pytest.fixture
def low_login_limit(app):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    return app


def test_failed_logins_from_one_address_are_stopped_with_a_clear_message(low_login_limit):
    app = low_login_limit
    guesser = _visitor(app)
    for _ in range(3):
        assert _login(guesser, "guess").status_code == 200
    refused = _login(guesser, "guess")
    assert refused.status_code == 429
    assert _says_too_many(app, refused)
    # Not even the right password gets through until the window has passed.
    assert _login(guesser, users.DEMO_PASSWORD).status_code == 429
    # The form itself can still be read, and another address is not affected.
    assert guesser.get("/login").status_code == 200
    assert _login(_visitor(app, OTHER_ADDRESS), users.DEMO_PASSWORD).status_code == 302


def test_successful_logins_are_not_counted(low_login_limit):
    app = low_login_limit
    for _ in range(5):
        assert _login(_visitor(app), users.DEMO_PASSWORD).status_code == 302
    guesser = _visitor(app)
    assert [_login(guesser, "guess").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_objections_from_one_address_are_throttled(app):
    app.config["OBJECTION_RATE_LIMIT"] = "2 per hour"
    with app.test_request_context():
        (case_id,) = staged.on_notice(1)
    url = f"/board/{case_id}/objection"
    objector = _visitor(app)
    reason = {"reason": "申请人存在未披露的重大违法记录，请秘书处核查。"}
    assert [objector.post(url, reason, token_page=url).status_code for _ in range(2)] == [302, 302]
    refused = objector.post(url, reason, token_page=url)
    assert refused.status_code == 429
    assert _says_too_many(app, refused)
    assert objector.get(url).status_code == 200  # reading the form is not limited
    other = _visitor(app, OTHER_ADDRESS)
    assert other.post(url, reason, token_page=url).status_code == 302


def test_limits_hold_in_an_app_built_after_one_without_them(database_url):
    # Flask-Limiter keeps one extension object for all apps; a test app built without limits
    # must not switch them off for the apps that come after it.
    create_app({**_config(database_url), "RATELIMIT_ENABLED": False})
    app = create_app({**_config(database_url), "LOGIN_RATE_LIMIT": "1 per minute"})
    guesser = _visitor(app)
    assert [_login(guesser, "guess").status_code for _ in range(2)] == [200, 429]
    with app.app_context():
        db.engine.dispose()


def test_a_default_limit_in_the_settings_holds_on_routes_without_their_own(database_url):
    # Limits are checked in the limited routes alone, unless the settings set some for every
    # route: those must still hold.
    app = create_app({**_config(database_url), "RATELIMIT_DEFAULT": "2 per minute"})
    try:
        visitor = _visitor(app)
        assert [visitor.get("/board").status_code for _ in range(3)] == [200, 200, 429]
        assert _visitor(app, OTHER_ADDRESS).get("/board").status_code == 200
    finally:
        limiter.limit_manager.set_default_limits([])  # one limiter for every app built after
        with app.app_context():
            db.engine.dispose()
