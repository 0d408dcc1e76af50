"""A step writes its messages as a template and the parameters of that moment; each is rendered
once, when it is mailed or its recipient's list shows it, whichever comes first, and says what
the case was at the step however far the case has moved on since. A model's template that fails
then costs its own message only: marked, never mailed, and said so in the app."""

from __future__ import annotations

import logging

from sqlalchemy import select

from tests.test_notify import ADMISSION, _reader, mailbox, stored_version  # noqa: F401
from webapp.extensions import db
from webapp.models import OutboxMessage, utcnow
from webapp.services import mailer, notify

MATERIAL = "material_response"
FIRST, SECOND = "请补充近三年财务报表。", "请于下周二上午来会面谈。"


def _rows(app, event: str | None = None) -> list[OutboxMessage]:
    """The rows as stored, rendered or not: nothing here renders them."""
    with app.app_context():
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if event:
            query = query.where(OutboxMessage.event == event)
        return list(db.session.scalars(query))


def _more_material_twice(procedure) -> int:
    case_id = procedure.submit()
    for round_no, request in enumerate((FIRST, SECOND), 1):
        procedure.review(case_id, "more_material", review_request=request)
        procedure.do("applicant", case_id, "provide_material", {MATERIAL: f"第{round_no}次补充。"})
    procedure.review(case_id, "pass")  # and on to the public notice
    return case_id


def test_a_mail_sent_later_says_what_the_case_was_at_its_step(app, procedure, mailbox):  # noqa: F811
    with procedure.app.app_context():
        _reader("applicant", "en", "applicant@example.org")
        db.session.commit()
    case_id = _more_material_twice(procedure)
    assert procedure.case(case_id).stage != "review"
    asked = _rows(app, "more_material_requested")
    assert [(m.subject, m.body) for m in asked] == [(None, None)] * 2  # the steps rendered none
    assert asked[0].params["case"]["facts"]["review_request"] == FIRST
    assert asked[0].params["case"]["stage"] == "review"

    with app.app_context():
        sent, failed = mailer.send_pending()
    assert failed == 0 and sent == len(mailbox.received) >= 2
    mails = [
        m for rcpts, m, _raw in mailbox.received
        if rcpts == ["applicant@example.org"] and "Further material" in m["Subject"]
    ]  # fmt: skip
    # Each mail over SMTP carries its own round's request, not the case's latest one.
    bodies = [m.get_content() for m in mails]
    assert len(bodies) == 2
    assert FIRST in bodies[0] and SECOND not in bodies[0]
    assert SECOND in bodies[1] and FIRST not in bodies[1]
    assert "http://127.0.0.1:5000/" in bodies[0]
    # Rendered once and kept: the row holds the mail's text, its parameters are dropped.
    stored = _rows(app, "more_material_requested")
    assert [m["Subject"] for m in mails] == [m.subject for m in stored]
    assert all(m.body and m.params is None and m.sent_at is not None for m in stored)


def test_the_list_renders_a_message_on_first_read_and_keeps_it(app, actors, procedure):
    case_id = procedure.submit()
    [receipt] = _rows(app, "application_received")
    assert receipt.subject is None and receipt.params["case"]["id"] == case_id
    applicant = actors("applicant")
    page = applicant.get("/messages").get_data(as_text=True)
    [receipt] = _rows(app, "application_received")
    assert receipt.subject and receipt.subject in page and receipt.params is None
    assert f"http://127.0.0.1:5000/cases/{case_id}" in receipt.body

    # Read again, the list shows the stored text: it renders nothing a second time.
    with app.app_context():
        db.session.get(OutboxMessage, receipt.id).subject = "Stored once"
        db.session.commit()
    assert "Stored once" in applicant.get("/messages").get_data(as_text=True)


def test_a_failing_template_is_marked_and_the_others_still_go(app, actors, mailbox, caplog):  # noqa: F811
    broken = {**ADMISSION, "messages/application_received.en.txt": "Hi\n\n{{ 1 // 0 }}\n"}
    with app.app_context():
        council = _reader("council", "en")
        applicant = _reader("applicant", "en")
        notify.notify("task_waiting", council, task_title="初审", path="/cases/7")
        notify.notify("application_received", applicant, version_id=stored_version(broken))
        notify.notify("task_waiting", council, task_title="复审", path="/cases/8")
        db.session.commit()
        with caplog.at_level(logging.ERROR):
            assert mailer.send_pending() == (2, 1)
        assert mailer.send_pending() == (0, 0)  # never tried again
    assert "could not be written" in caplog.text and "ZeroDivisionError" in caplog.text
    subjects = [m["Subject"] for _r, m, _raw in mailbox.received]
    assert len(subjects) == 2 and {"初审", "复审"} == {s.split(": ")[1][:2] for s in subjects}
    [bad] = _rows(app, "application_received")
    assert bad.sent_at is None and bad.next_attempt_at is None and bad.attempts == 0
    assert bad.last_error.startswith("MessageFailed") and "ZeroDivisionError" in bad.last_error
    assert bad.params is not None  # what it was made of, for whoever looks into it

    # Its reader sees that a message could not be written, and the page still works.
    page = actors("applicant").get("/messages")
    assert page.status_code == 200
    assert "A message could not be written" in page.get_data(as_text=True)


def test_the_list_survives_a_failing_template_and_shows_the_rest(app, actors):
    broken = {**ADMISSION, "messages/application_received.en.txt": "Hi\n\n{{ 1 // 0 }}\n"}
    with app.app_context():
        applicant = _reader("applicant", "en", email="")  # shown in the app only
        notify.notify("application_received", applicant, version_id=stored_version(broken))
        notify.notify(
            "application_received", applicant, version_id=stored_version(),
            application_name="甲公司", path="/cases/1",
        )  # fmt: skip
        db.session.commit()
    page = actors("applicant").get("/messages").get_data(as_text=True)
    assert "A message could not be written" in page and "甲公司" in page
    [bad, good] = _rows(app, "application_received")
    assert bad.last_error.startswith("MessageFailed") and good.last_error is None


def test_a_message_written_before_the_change_is_mailed_and_listed_as_it_is(app, actors, mailbox):  # noqa: F811
    with app.app_context():
        applicant = _reader("applicant", "en")
        db.session.add(
            OutboxMessage(
                recipient_id=applicant.id,
                to_address=applicant.email,
                locale="en",
                event="application_received",
                subject="Written long ago",
                body="Old text.\n",
                created_at=utcnow(),
                next_attempt_at=utcnow(),
                attempts=0,
            )
        )
        db.session.commit()
        assert mailer.send_pending() == (1, 0)
    [(_rcpts, mail, _raw)] = mailbox.received
    assert mail["Subject"] == "Written long ago" and mail.get_content() == "Old text.\n"
    assert "Written long ago" in actors("applicant").get("/messages").get_data(as_text=True)
