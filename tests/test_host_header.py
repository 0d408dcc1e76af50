"""The Host header is the sender's to choose: links in mails, certificates and their QR codes
come from PUBLIC_BASE_URL only, hosts outside TRUSTED_HOSTS are refused, and production does
not start without a public address."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import VALID_APPLICATION, open_task
from tests.test_certificates import admit_application, pdf_text
from tests.test_notify import mailbox  # noqa: F401 (a fixture: a real SMTP server)
from webapp import create_app
from webapp.config import ConfigurationError
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import mailer, notify

EVIL = "evil.example"
PUBLIC = "https://members.example.org"
DEMO = "http://127.0.0.1:5000"  # PUBLIC_BASE_URL on SQLite when none is set
PG = "postgresql+psycopg://postgres@127.0.0.1:1/none"


def _from(actor, host: str):
    """The actor's next requests name `host` in their Host header."""
    actor.client.environ_base["HTTP_HOST"] = host
    return actor


def test_a_host_outside_the_trusted_ones_is_refused(app):
    client = app.test_client()
    assert client.get("/board", headers={"Host": EVIL}).status_code == 400
    assert client.get("/board", headers={"Host": "localhost"}).status_code == 200
    assert client.get("/board", headers={"Host": "127.0.0.1:8000"}).status_code == 200


def test_trusted_hosts_default_to_the_public_address_and_the_local_ones(database_url):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "x", "PUBLIC_BASE_URL": PUBLIC}
    )
    assert app.config["TRUSTED_HOSTS"] == ["members.example.org", "localhost", "127.0.0.1"]
    client = app.test_client()
    assert client.get("/board", base_url=PUBLIC).status_code == 200
    assert client.get("/board", base_url=f"https://{EVIL}").status_code == 400
    chosen = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "x",
            "PUBLIC_BASE_URL": PUBLIC,
            "TRUSTED_HOSTS": [EVIL],
        }
    )
    assert chosen.test_client().get("/board", base_url=f"http://{EVIL}").status_code == 200


def test_production_refuses_to_start_without_a_public_address():
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL is not set"):
        create_app({"SQLALCHEMY_DATABASE_URI": PG, "SECRET_KEY": "a-real-secret"})
    with pytest.raises(ConfigurationError, match="not an http"):
        create_app(
            {"SQLALCHEMY_DATABASE_URI": PG, "SECRET_KEY": "s", "PUBLIC_BASE_URL": "members.org"}
        )
    app = create_app({"SQLALCHEMY_DATABASE_URI": PG, "SECRET_KEY": "s", "PUBLIC_BASE_URL": PUBLIC})
    assert app.config["PUBLIC_BASE_URL"] == PUBLIC


def test_the_demo_on_sqlite_links_to_its_own_address(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'd.db'}"})
    assert app.config["PUBLIC_BASE_URL"] == DEMO


def test_mails_link_to_the_public_address_whatever_host_the_request_named(
    app,
    actors,
    mailbox,  # noqa: F811
):
    # PUBLIC_BASE_URL left at its default, and as if the operator had trusted every host (or a
    # proxy passed any on): the links must still not follow the request.
    app.config.update(TRUSTED_HOSTS=None)
    applicant = _from(actors("applicant"), EVIL)
    case = applicant.start_application()
    task = open_task(app, case.id)
    response = applicant.complete(task.task_guid, VALID_APPLICATION)
    assert response.status_code == 302
    with app.app_context():
        mailer.send_pending()
        stored = list(db.session.scalars(select(OutboxMessage)))
        notify.render_pending(stored)  # those without an address, as their lists would
    assert stored and mailbox.received
    for _rcpts, _message, raw in mailbox.received:
        assert EVIL.encode() not in raw
    bodies = [m.body for m in stored]
    assert any(f"{DEMO}/tasks/" in body for body in bodies)
    assert any(f"{DEMO}/cases/{case.id}" in body for body in bodies)
    assert not any(EVIL in body for body in bodies)


def test_the_certificate_qr_code_links_to_the_public_address(app, actors, tmp_path):
    app.config.update(TRUSTED_HOSTS=None)
    case_id, token, _number = admit_application(app, actors)
    response = _from(actors("applicant"), EVIL).get(f"/cases/{case_id}/certificate.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data, tmp_path)
    assert f"{DEMO}/verify/{token}" in text and EVIL not in text
