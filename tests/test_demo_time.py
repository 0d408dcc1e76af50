"""Demo time: a case's waiting period ended from its page, and `flask demo advance`, both
through the ticker's own step; a production configuration refuses them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import Actor, reload
from webapp import create_app
from webapp.config import ConfigurationError
from webapp.extensions import db
from webapp.models import AuditEvent, HumanTask

BUTTON = re.compile(r'data-element="([^"]+)">([^<]+)<')


def _open_tasks(app, case_id):
    case = reload(app, case_id)
    with app.app_context():
        return sorted(
            db.session.scalars(
                select(HumanTask.bpmn_id).where(
                    HumanTask.instance_id == case.instance_id, HumanTask.state == "ready"
                )
            )
        )


def test_the_notice_period_ends_from_the_case_page(app, actors, procedure):
    case_id = procedure.submit()
    procedure.review(case_id)
    page = actors("secretary").get(f"/cases/{case_id}").get_data(as_text=True)
    buttons = dict(BUTTON.findall(page))
    assert "notice_period" in buttons and "公示期届满" in buttons["notice_period"]
    # The applicant, too, may end it on its own page (it is the demo).
    assert "notice_period" in actors("applicant").get(f"/cases/{case_id}").get_data(as_text=True)
    url = f"/cases/{case_id}/demo-timers/notice_period"
    assert actors("applicant2").post(url, {}).status_code == 404  # not a case it sees
    response = actors("secretary").post(url, {}, token_page=f"/cases/{case_id}")
    assert response.status_code == 302
    assert _open_tasks(app, case_id) == ["council_vote"] * 3
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["demo_time_moved", "timer_fired"]  # the ticker's own step
    # Now the vote waits on its own period, with its own button.
    page = actors("council").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "vote_deadline" in dict(BUTTON.findall(page))


def test_flask_demo_advance_moves_every_case_on(app, procedure):
    case_id = procedure.submit()
    procedure.review(case_id)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "advance", "1d"])
    assert result.exit_code == 0, result.output
    assert "fired 0 timer(s)" in result.output
    assert _open_tasks(app, case_id) == []  # still on notice
    result = runner.invoke(args=["demo", "advance", "10d"])
    assert "fired 1 timer(s)" in result.output, result.output
    assert _open_tasks(app, case_id) == ["council_vote"] * 3
    assert runner.invoke(args=["demo", "advance", "soon"]).exit_code != 0


def test_production_refuses_demo_time(database_url, tmp_path, procedure, app):
    production = {
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/none",
        "SECRET_KEY": "a-real-secret",
        "PUBLIC_BASE_URL": "https://members.example.org",
    }
    assert create_app(production).config["DEMO_MODE"] is False  # off unless asked for
    with pytest.raises(ConfigurationError, match="DEMO_MODE"):
        create_app({**production, "DEMO_MODE": True})  # and refused when asked for
    case_id = procedure.submit()
    procedure.review(case_id)
    serious = create_app(
        {**app.config, "DEMO_MODE": False, "UPLOAD_DIR": str(tmp_path / "uploads")}
    )
    secretary = Actor(serious, "secretary")
    assert "demo-timers" not in secretary.get(f"/cases/{case_id}").get_data(as_text=True)
    url = f"/cases/{case_id}/demo-timers/notice_period"
    assert secretary.post(url, {}).status_code == 404
    result = serious.test_cli_runner().invoke(args=["demo", "advance", "30d"])
    assert result.exit_code != 0 and "DEMO_MODE" in result.output
    assert _open_tasks(app, case_id) == []


def test_a_notice_ended_early_is_over_on_the_applicants_timeline(app, actors, procedure):
    case_id = procedure.submit()
    procedure.review(case_id)
    secretary = actors("secretary")
    secretary.post(
        f"/cases/{case_id}/demo-timers/notice_period", {}, token_page=f"/cases/{case_id}"
    )
    page = actors("applicant").get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="on-notice"' not in page
    assert not re.search(r'data-timeline-stage="notice" data-state="ready"', page)
