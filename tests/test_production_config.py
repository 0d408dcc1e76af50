"""Production footing: settings from the environment, a refusal to run a server database on
the published development key, the reverse proxy trusted only when configured, and the
`flask deploy` / `flask create-user` commands that replace the demo set-up."""

import pytest
from flask import request
from sqlalchemy import func, select

from tests.conftest import Actor
from webapp import create_app
from webapp.config import DEV_SECRET_KEY, ConfigurationError, engine_options
from webapp.extensions import db
from webapp.models import AuditEvent, User

PG = "postgresql+psycopg://postgres@127.0.0.1:1/none"


def test_a_server_database_needs_a_secret_key():
    with pytest.raises(ConfigurationError, match="SECRET_KEY is not set"):
        create_app({"SQLALCHEMY_DATABASE_URI": PG, "SECRET_KEY": DEV_SECRET_KEY})
    create_app(
        {
            "SQLALCHEMY_DATABASE_URI": PG,
            "SECRET_KEY": "a-real-secret",
            "PUBLIC_BASE_URL": "https://members.example.org",
        }
    )


def test_the_embedded_demo_runs_on_the_development_key(tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.db'}",
            "SECRET_KEY": DEV_SECRET_KEY,
        }
    )
    assert app.config["SECRET_KEY"] == DEV_SECRET_KEY


def test_pool_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DB_POOL_SIZE", "12")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "3")
    options = engine_options(PG)
    assert (options["pool_size"], options["max_overflow"], options["pool_pre_ping"]) == (
        12,
        3,
        True,
    )
    assert engine_options("sqlite:///x.db") == {}


def _whoami(app):
    app.add_url_rule("/_whoami", "whoami", lambda: f"{request.remote_addr} {request.scheme}")
    return app.test_client().get(
        "/_whoami",
        headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )


def test_forwarded_headers_are_trusted_only_behind_a_configured_proxy(database_url):
    # As in production (on PostgreSQL too): no TESTING, so the public address is needed.
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "x"}
    settings["PUBLIC_BASE_URL"] = "https://members.example.org"
    direct = create_app(settings)
    assert _whoami(direct).get_data(as_text=True) == "127.0.0.1 http"
    proxied = create_app({**settings, "PROXY_COUNT": 1})
    assert _whoami(proxied).get_data(as_text=True) == "203.0.113.7 https"


def test_deploy_migrates_and_loads_workflows_without_demo_users(tmp_path):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}", "SECRET_KEY": "x"}
    )
    result = app.test_cli_runner().invoke(args=["deploy"])
    assert result.exit_code == 0, result.output
    assert "workflow admission: version 1 (new)" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert app.test_client().get("/health").status_code == 200
    again = app.test_cli_runner().invoke(args=["deploy"])
    assert again.exit_code == 0 and "version 1 (unchanged)" in again.output


def test_create_user_makes_a_staff_account_that_can_log_in(app):
    runner = app.test_cli_runner()
    args = ["create-user", "wang", "--role", "secretariat", "--role", "council"]
    result = runner.invoke(args=[*args, "--name", "王秘书"], input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == "wang")).one()
        assert user.role_set == {"secretariat", "council"}
        assert db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user_created")
        )
    wang = Actor(app, None)
    response = wang.post(
        "/login", {"username": "wang", "password": "s3cret-pass"}, token_page="/login"
    )
    assert response.status_code == 302

    taken = runner.invoke(args=[*args, "--name", "x"], input="s3cret-pass\ns3cret-pass\n")
    assert taken.exit_code == 1 and "the username wang is taken" in taken.output
    short = runner.invoke(
        args=["create-user", "li", "--role", "finance", "--name", "李"], input="short\nshort\n"
    )
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    with app.app_context():
        assert db.session.scalars(select(User).where(User.username == "li")).first() is None
