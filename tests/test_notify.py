"""Notifications are queued inside the transaction of the event they report and written in each
reader's language when first mailed or listed, mailed over real SMTP (an in-process aiosmtpd
server), retried with back-off when the server is away, and listed in the app for their
recipient only."""

from __future__ import annotations

import secrets
import socket
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from tests.conftest import Actor
from webapp.extensions import db
from webapp.models import ModelVersion, OutboxMessage, User
from webapp.services import groups, mailer, notify, process_models, users

APPLICANT_NAME = "北京示例科技有限公司"
# The admission model's files: its messages are templates in forms/admission/messages.
ADMISSION = process_models.read_forms(
    Path(__file__).resolve().parent.parent / "forms" / "admission"
)
PLATFORM_MESSAGES = ("task_waiting", "applicant_action")
DUE = datetime(2026, 3, 5, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai


class Mailbox:
    """An SMTP server on a free local port that keeps what it receives."""

    def __init__(self):
        self.received = []  # (envelope recipients, parsed message)
        self.controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), parsed, envelope.content))
        return "250 Message accepted"

    def start(self, app) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=_free_port())
        self.controller.start()
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=self.controller.port)

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str):
        found = [m for rcpts, m, _raw in self.received if address in rcpts]
        assert len(found) == 1, f"{len(found)} messages to {address}"
        return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox(app):
    box = Mailbox()
    box.start(app)
    yield box
    box.stop()


def _reader(username: str, locale: str | None, email: str | None = None):
    user = users.by_username(username)
    user.locale = locale
    user.email = f"{username}@example.org" if email is None else email
    return user


def _task_waiting(recipients, **extra):
    params = dict(task_title="初审", application_name=APPLICANT_NAME, due_at=DUE, path="/cases/7")
    return notify.notify("task_waiting", recipients, **{**params, **extra})


def _outbox(app) -> list[OutboxMessage]:
    """Every message, rendered as its recipient's list would show it."""
    with app.app_context():
        messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        notify.render_pending(messages)
        db.session.commit()
        return messages


def stored_version(files: dict = ADMISSION) -> int:
    """The id of a version holding these files: the admission's deployed one, or one stored
    beside it as it is, unvalidated (a template that got in by any other path)."""
    live = process_models.live_version("admission")
    if files == ADMISSION:
        return live.id
    number = db.session.scalar(
        select(func.max(ModelVersion.number)).where(ModelVersion.model_id == live.model_id)
    )
    version = ModelVersion(
        model_id=live.model_id, number=number + 1, content_hash=secrets.token_hex(32),
        process_id=live.process_id, bpmn=live.bpmn, forms=files,
    )  # fmt: skip
    db.session.add(version)
    db.session.flush()
    return version.id


def test_each_reader_gets_the_mail_in_its_own_language(app, mailbox):
    app.config["PUBLIC_BASE_URL"] = "https://members.example.org/"
    with app.app_context():
        _task_waiting([_reader("secretary", None), _reader("council", "en")])
        db.session.commit()
        assert mailer.send_pending() == (2, 0)

    zh, en = mailbox.to("secretary@example.org"), mailbox.to("council@example.org")
    stored = {m.to_address: m for m in _outbox(app)}
    # Chinese survives the trip: the subject decodes to exactly what was written.
    assert zh["Subject"] == stored["secretary@example.org"].subject
    assert APPLICANT_NAME in zh["Subject"] and "示范行业协会" in zh["Subject"]
    assert zh["Content-Language"] == "zh-CN"
    assert "2026年3月5日 14:00" in zh.get_content()
    assert en["Subject"] == f"[示范行业协会] Task waiting for you: 初审 – {APPLICANT_NAME}"
    assert en["Content-Language"] == "en"
    body = en.get_content()
    assert body.startswith("Dear 赵理事（理事会）,")
    assert "March 5, 2026" in body and "2:00" in body
    assert "https://members.example.org/cases/7" in body
    assert "The Secretariat of 示范行业协会" in body
    assert all(m.sent_at is not None and m.attempts == 1 for m in stored.values())


def test_a_chinese_reader_gets_chinese_wording(app, mailbox):
    with app.app_context():
        _task_waiting([_reader("secretary", "zh_CN")])
        db.session.commit()
        mailer.send_pending()
    mail = mailbox.to("secretary@example.org")
    assert "初审" in mail["Subject"] and "Task waiting" not in mail["Subject"]
    assert "Dear" not in mail.get_content()


def test_a_rolled_back_transition_sends_nothing(app, mailbox):
    with app.app_context():
        _task_waiting([_reader("secretary", None)])
        db.session.rollback()
        assert mailer.send_pending() == (0, 0)
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert mailbox.received == []


def test_refused_connection_is_retried_with_backoff(app, mailbox):
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    with app.app_context(), time_machine.travel(start, tick=False):
        _task_waiting([_reader("secretary", None)])
        db.session.commit()
    mailbox.stop()  # the server refuses connections now
    with app.app_context(), time_machine.travel(start, tick=False):
        assert mailer.send_pending() == (0, 1)
    [message] = _outbox(app)
    assert message.attempts == 1 and message.sent_at is None
    assert "refused" in message.last_error.lower()
    assert message.next_attempt_at == start + timedelta(minutes=1)

    mailbox.start(app)
    with app.app_context(), time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert mailer.send_pending() == (0, 0)  # not due again yet
    with app.app_context(), time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert mailer.send_pending() == (1, 0)
    [message] = _outbox(app)
    assert message.attempts == 2 and message.last_error is None
    assert message.sent_at == start + timedelta(minutes=1)
    assert len(mailbox.received) == 1


def test_sender_gives_up_after_eight_attempts(app, mailbox):
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    with app.app_context(), time_machine.travel(now, tick=False):
        _task_waiting([_reader("secretary", None)])
        db.session.commit()
    mailbox.stop()
    waits = []
    for _attempt in range(8):
        with app.app_context(), time_machine.travel(now, tick=False):
            assert mailer.send_pending() == (0, 1)
        [message] = _outbox(app)
        if message.next_attempt_at is not None:
            waits.append(message.next_attempt_at - now)
            now = message.next_attempt_at
    assert [w.total_seconds() / 60 for w in waits] == [1, 5, 30, 120, 120, 120, 120]
    assert message.attempts == 8 and message.next_attempt_at is None and message.sent_at is None
    mailbox.start(app)
    with app.app_context(), time_machine.travel(now + timedelta(days=1), tick=False):
        assert mailer.send_pending() == (0, 0)
    assert mailbox.received == []


def test_an_unknown_mailbox_is_given_up_without_holding_up_the_others(app, mailbox):
    with app.app_context():
        _task_waiting([_reader("secretary", None, "nobody@example.org"), _reader("council", "en")])
        db.session.commit()
        assert mailer.send_pending() == (1, 1)
    bad, good = _outbox(app)
    assert bad.attempts == 1 and "No such mailbox" in bad.last_error and bad.sent_at is None
    assert bad.next_attempt_at is None  # a 5xx answer will not heal by retrying
    assert good.sent_at is not None
    assert [rcpts for rcpts, _m, _raw in mailbox.received] == [["council@example.org"]]


def test_two_senders_at_once_mail_each_message_once(app, mailbox):
    with app.app_context():
        for n in range(12):
            _task_waiting([_reader("council", "en")], application_name=f"申请单位{n}")
        db.session.commit()
    results = []

    def sender():
        with app.app_context():
            results.append(mailer.send_pending())

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(sent for sent, _failed in results) == 12
    subjects = sorted(m["Subject"] for _r, m, _raw in mailbox.received)
    assert len(subjects) == len(set(subjects)) == 12


def test_without_an_address_or_a_server_the_message_stays_in_the_app(app, mailbox):
    with app.app_context():
        _task_waiting([_reader("secretary", None, email="")])
        db.session.commit()
        assert mailer.send_pending() == (0, 0)
    app.config["MAIL_SERVER"] = ""
    with app.app_context():
        _task_waiting([_reader("council", "en")])
        db.session.commit()
        assert mailer.send_pending() == (0, 0)
    no_address, no_server = _outbox(app)
    assert no_address.to_address == "" and no_address.sent_at is None
    assert no_server.sent_at is None and no_server.attempts == 0
    assert mailbox.received == []


def test_notify_role_reaches_every_active_holder_but_the_excluded(app):
    with app.app_context():
        council, council2 = users.by_username("council"), users.by_username("council2")
        finance = users.by_username("finance")
        finance.locale = "en"
        groups.add_member(groups.by_key("council"), finance, None, None, None)
        for user in db.session.scalars(select(User).where(User.id.in_(groups.members("council")))):
            if user.id != finance.id:
                user.active = user.id == council.id  # every other pure council member is away
        messages = notify.notify_role(
            "vote_result", "council", exclude=[council.id], application_name=APPLICANT_NAME,
            vote_result=dict(approve=2, reject=1, abstain=0, eligible=3, passed=True),
            path="/cases/7", version_id=stored_version(),
        )  # fmt: skip
        notify.render_pending(messages)
        assert [m.recipient_id for m in messages] == [finance.id]
        assert council2.id not in [m.recipient_id for m in messages]
        assert "For: 2, against: 1, abstentions: 0, of 3" in messages[0].body
        assert messages[0].subject.endswith("Council vote on 北京示例科技有限公司: approved")


def test_links_are_absolute_on_the_public_address_only(app):
    with app.app_context():
        assert notify.absolute_url("/cases/7") == "http://127.0.0.1:5000/cases/7"
    app.config["PUBLIC_BASE_URL"] = "https://members.example.org"
    with app.test_request_context(base_url="https://portal.example.cn"):
        assert notify.absolute_url("/cases/7") == "https://members.example.org/cases/7"
    with app.app_context():
        assert notify.absolute_url("/cases/7") == "https://members.example.org/cases/7"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("review_rejected", "does not meet the conditions"),
        ("objection_upheld", "objection raised during the public notice"),
        ("council_rejected", "council did not approve"),
        ("no_quorum", "did not reach the number of votes"),
    ],
)
def test_a_rejection_says_why_in_words(app, code, words):
    with app.app_context():
        [message] = notify.notify(
            "application_rejected", _reader("applicant", "en"), application_name=APPLICANT_NAME,
            outcome_code=code, outcome_reason="材料不实", path="/cases/7",
            version_id=stored_version(),
        )  # fmt: skip
        notify.rendered(message)
    assert words in message.body and "Reasons: 材料不实" in message.body


def test_every_event_renders_in_both_languages(app):
    params = dict(
        application_name=APPLICANT_NAME, path="/cases/7", task_title="初审", due_at=DUE,
        review_request="请补充营业执照复印件。", notice_closes_at=DUE, fee_amount=2000,
        fee_currency="CNY", fee_payment_method="银行转账", payment_deadline=DUE.date(),
        outcome_code="council_rejected", outcome_reason="理由", payment_check_reason="理由",
        member_number="2026-U-000001", certificate_path="/certificates/1.pdf",
        vote_result=dict(approve=3, reject=1, abstain=1, eligible=5, passed=False),
    )  # fmt: skip
    messages = {name.split("/")[1].split(".")[0] for name in ADMISSION if name.endswith(".txt")}
    messages = (messages - {"signature"}) | set(PLATFORM_MESSAGES)
    assert len(messages) == 13  # each of the admission's messages, and the platform's
    with app.app_context():
        params["version_id"] = stored_version()
        for event in sorted(messages):
            for locale in ("zh_CN", "en"):
                [m] = notify.notify(event, _reader("applicant", locale), **params)
                notify.rendered(m)
                assert m.subject and "\n" not in m.subject and "示范行业协会" in m.subject
                assert APPLICANT_NAME in m.subject + m.body, event
                assert "/cases/7" in m.body and "\n\n\n" not in m.body, event
    with app.app_context():
        [m] = notify.notify("application_approved", _reader("applicant", "en"), **params)
        notify.rendered(m)
        assert "CN¥2,000.00" in m.body and "March 5, 2026" in m.body and "银行转账" in m.body
        [m] = notify.notify("certificate_issued", _reader("applicant", "en"), **params)
        notify.rendered(m)
        assert "2026-U-000001" in m.subject and "/certificates/1.pdf" in m.body


def test_messages_page_shows_only_ones_own(app, actors):
    with app.app_context():
        admission = stored_version()
        notify.notify("application_received", _reader("applicant", "en"), version_id=admission,
                      application_name="甲公司", path="/cases/1")  # fmt: skip
        notify.notify("application_received", _reader("applicant2", "en"), version_id=admission,
                      application_name="乙公司", path="/cases/2")  # fmt: skip
        db.session.commit()
    page = actors("applicant").get("/messages").get_data(as_text=True)
    assert "甲公司" in page and "乙公司" not in page
    assert "We have received your membership application" in page
    other = actors("applicant2").get("/messages").get_data(as_text=True)
    assert "乙公司" in other and "甲公司" not in other
    assert Actor(app, None).get("/messages").status_code == 302  # to the login page


def test_flask_send_mail_sends_and_counts(app, mailbox):
    with app.app_context():
        _task_waiting([_reader("secretary", None), _reader("council", "en")])
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "sent 2 message(s), 0 failed" in result.output
    assert len(mailbox.received) == 2
    result = app.test_cli_runner().invoke(args=["tick"])
    assert result.exit_code == 0, result.output
    assert "sent 0 message(s), 0 failed" in result.output


def test_a_mail_written_while_answering_a_request_links_to_the_configured_address(app, submitted):
    # Never to the request's Host header (a forged one would put its site into the mail).
    bodies = [m.body for m in _outbox(app)]
    assert bodies, "submitting an application wrote no message"
    assert all("http://localhost/" not in body for body in bodies), bodies
    assert any(f"http://127.0.0.1:5000/cases/{submitted.id}" in body for body in bodies)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh_CN", "陈晓明 的“年度会费”已进入“欠费处理决定”环节，等待您办理。"),
        ("en", "The case “年度会费” of 陈晓明 has reached the step “欠费处理决定”"),
    ],
)
def test_a_task_waiting_names_its_cases_procedure_not_an_admission(app, locale, expected):
    # The platform's message serves every procedure's group tasks: a dues case's arrears
    # decision is no "membership application".
    with app.app_context():
        _subject, body = notify.render(
            "task_waiting",
            locale,
            title="年度会费",
            application_name="陈晓明",
            task_title="欠费处理决定",
            recipient_name="王秘书",
            url="http://example.org/tasks/1",
            due_at=None,
        )
    assert expected in body
    assert "入会申请" not in body and "membership application" not in body
