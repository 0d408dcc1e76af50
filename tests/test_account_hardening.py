"""Accounts: a failed login costs the same whether or not the username exists, sign-ups are
throttled per address, short and common passwords are refused wherever a password is set, and
display names lose the control and bidi characters that would make them read other than they
are."""

from __future__ import annotations

import statistics
import time

import pytest
from sqlalchemy import select

from tests.conftest import Actor
from tests.test_rate_limits import OTHER_ADDRESS, _says_too_many, _visitor
from webapp.extensions import db
from webapp.models import User

STRONG = "copper-kettle-lantern"


def _failed_login_ms(app, usernames: tuple[str, ...], rounds: int = 9) -> list[float]:
    """Median time of a failed login for each username, tried in turn so that the machine's
    load weighs on all alike."""
    visitor = Actor(app, None)
    token = visitor.token("/login")
    times: dict[str, list[float]] = {name: [] for name in usernames}
    for _ in range(rounds):
        for name in usernames:
            started = time.perf_counter()
            response = visitor.client.post(
                "/login", data={"username": name, "password": "wrong-guess", "csrf_token": token}
            )
            times[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    return [statistics.median(times[name]) for name in usernames]


def test_a_failed_login_takes_as_long_for_an_unknown_username(app):
    known, unknown = _failed_login_ms(app, ("secretary", "nobody-of-that-name"))
    # Both hash a password now; before, the unknown name was refused in a fifteenth of the time.
    assert unknown > 0.6 * known, (known, unknown)
    print(f"failed login: known username {known:.0f} ms, unknown {unknown:.0f} ms")


def _register(actor: Actor, username: str, password: str = STRONG, name: str = "新公司"):
    return actor.post(
        "/register",
        {"username": username, "display_name": name, "email": f"{username}@example.com",
         "password": password, "confirm": password},
        token_page="/register",
    )  # fmt: skip


def _user(app, username: str) -> User | None:
    with app.app_context():
        return db.session.scalars(select(User).where(User.username == username)).first()


def test_sign_ups_from_one_address_are_throttled(app):
    app.config["REGISTER_RATE_LIMIT"] = "3 per hour"
    statuses = [_register(_visitor(app), f"co{i}").status_code for i in range(3)]
    assert statuses == [302, 302, 302]
    refused = _register(_visitor(app), "co3")
    assert refused.status_code == 429 and _says_too_many(app, refused)
    assert _user(app, "co3") is None
    assert _register(_visitor(app, OTHER_ADDRESS), "co4").status_code == 302


@pytest.mark.parametrize(
    "password", ["12345678", "password1", "qwertyuiop", "88888888", "abc12", "newco2026"]
)
def test_registration_refuses_short_and_common_passwords(app, password):
    response = _register(Actor(app, None), "newco", password)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "密码" in page and ("太常见" in page or "至少" in page)
    assert _user(app, "newco") is None


def test_registration_takes_a_password_of_unrelated_words(app):
    assert _register(Actor(app, None), "newco", STRONG).status_code == 302


def _create_user(app, password: str, name: str = "王秘书"):
    args = ["create-user", "wang", "--role", "secretariat", "--name", name]
    return app.test_cli_runner().invoke(args=args, input=f"{password}\n{password}\n")


def test_create_user_refuses_a_common_password(app):
    result = _create_user(app, "12345678")
    assert result.exit_code != 0 and "too common" in result.output
    assert _user(app, "wang") is None
    assert _create_user(app, "short").exit_code != 0


@pytest.mark.parametrize(
    "typed", ["\u202e司公例示", "示例\u200b公司\u2066", "示例公司\x07\x1b[31m", "示例\r\n公司"]
)
def test_display_names_lose_control_and_bidi_characters(app, typed):
    assert _register(Actor(app, None), "newco", name=typed).status_code == 302
    stored = _user(app, "newco").display_name
    assert stored.replace(" ", "") in ("司公例示", "示例公司", "示例公司[31m"), repr(stored)
    assert _create_user(app, STRONG, name=typed).exit_code == 0
    assert _user(app, "wang").display_name == stored


def test_a_display_name_of_invisible_characters_only_is_refused(app):
    response = _register(Actor(app, None), "newco", name="\u202e\u202d\u200b")
    assert response.status_code == 200 and _user(app, "newco") is None
    assert _create_user(app, STRONG, name="\u202e\u2067").exit_code != 0
