"""Line breaks in single-line fields: refused on the pages and in the API with a field error,
and never carried into a mail header — a name with CR/LF or U+2028 once cut the subject short
and put `Bcc: victim@example.com` above the secretary's greeting."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import VALID_APPLICATION, open_task
from tests.test_api_tasks import _bearer
from tests.test_notify import _outbox, _reader, mailbox  # noqa: F401 (mailbox: a fixture)
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import mailer, notify

INJECTIONS = [
    "北京示例科技有限公司\r\nBcc: victim@example.com",
    "北京示例科技有限公司\nX-Injected: 1",
    "北京示例科技有限公司\u2028X-Injected: 1",
    "北京示例科技有限公司\u2029第二段",
    "北京示例科技有限公司\x85X-Injected: 1",
]
ONE_LINE = "This field takes a single line: please remove the line breaks."


@pytest.mark.parametrize("name", INJECTIONS)
def test_the_api_refuses_a_line_break_in_a_single_line_field(app, actors, name):
    case = actors("applicant").start_application()
    guid = open_task(app, case.id).task_guid
    data = {k: v for k, v in VALID_APPLICATION.items() if not isinstance(v, tuple)}
    data["accept_charter"] = data["accept_integrity_pact"] = True
    response = app.test_client().post(
        f"/api/v1/tasks/{guid}/complete",
        json={"data": {**data, "name": name, "reasons": "第一行\n第二行，多行文字可以。"}},
        headers={**_bearer(app, "applicant"), "Accept-Language": "en"},
    )
    assert response.status_code == 400
    fields = response.get_json()["fields"]
    assert "name" in fields and "reasons" not in fields, fields
    assert open_task(app, case.id).task_guid == guid


@pytest.mark.parametrize("name", INJECTIONS[:3])
def test_the_page_refuses_a_line_break_in_a_single_line_field(app, actors, name):
    applicant = actors("applicant")
    case = applicant.start_application()
    guid = open_task(app, case.id).task_guid
    response = applicant.complete(
        guid, {**VALID_APPLICATION, "name": name, "reasons": "第一行\r\n第二行，多行文字可以。"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "请删除换行" in page or ONE_LINE in page
    assert open_task(app, case.id).task_guid == guid  # nothing moved on


@pytest.mark.parametrize("name", INJECTIONS)
def test_a_mail_header_never_carries_a_line_break(app, mailbox, name):  # noqa: F811
    # A name stored before the forms refused line breaks, or given by any other path.
    with app.app_context():
        notify.notify(
            "task_waiting",
            [_reader("secretary", None)],
            task_title="初审",
            application_name=name,
            due_at=None,
            path="/cases/7",
        )
        db.session.commit()
        stored = notify.rendered(db.session.scalars(select(OutboxMessage)).one())
        greeting_start = stored.body.lstrip().split("\n", 1)[0]
        assert greeting_start.startswith("尊敬的"), stored.body
        assert not any(ch in stored.subject for ch in "\r\n\u2028\u2029\x85")
        assert any(rest in stored.subject for rest in ("X-Injected", "Bcc", "第二段"))
        assert mailer.send_pending() == (1, 0)
    ((rcpts, message, raw),) = mailbox.received
    assert rcpts == ["secretary@example.org"]
    assert message["Bcc"] is None and message["X-Injected"] is None
    headers = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    assert b"victim" not in headers and b"X-Injected" not in headers
    # The body starts with the greeting, not with the rest of the name.
    greeting = message.get_content().lstrip().split("\n", 1)[0]
    assert greeting.startswith(greeting_start) and "X-Injected" not in greeting, greeting


def test_the_mailer_takes_line_breaks_out_of_whatever_row_it_is_given(app, mailbox):  # noqa: F811
    with app.app_context():
        row = OutboxMessage(subject="Hello\r\nBcc: victim@example.com", body="Hi\n",
                            to_address="secretary@example.org\r\nBcc: victim@example.com",
                            locale="en", event="task_waiting")  # fmt: skip
        mail = mailer.build_email(row)
    assert mail["Bcc"] is None
    assert "\n" not in str(mail["Subject"]) and "\n" not in mail["To"]
    assert _outbox(app) == []
