"""Mailing the outbox over SMTP: due messages only, one commit each, back-off on failure, and
safe with several senders at once."""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from flask import current_app
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import OutboxMessage, utcnow
from webapp.services import notify
from webapp.text import one_line

# Wait after the 1st, 2nd, 3rd failure, then every 2 hours; the 8th failure is the last.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
MAX_ATTEMPTS = 8
# A claimed message is not offered to other senders for this long: if its sender dies
# mid-batch the message is retried after the lease instead of being lost.
LEASE = timedelta(minutes=15)


def send_pending(now: datetime | None = None, limit: int = 100) -> tuple[int, int]:
    """Mail the due messages, one commit each; returns (sent, failed)."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        return 0, 0
    now = now or utcnow()
    claimed = _claim(now, limit)
    if not claimed:
        return 0, 0
    messages = {
        m.id: m
        for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_([i for i, _due in claimed]))
        )
    }
    # Those the steps left unrendered are rendered here, all at once; each one's text is kept
    # with the first commit below, whatever becomes of its sending.
    unwritable = {m.id for m in notify.render_pending(messages.values())}
    sent = failed = 0
    smtp = None
    try:
        for index, (message_id, _due) in enumerate(claimed):
            message = messages[message_id]
            if message_id in unwritable:
                # Its model's template failed: marked, never mailed; the others go on.
                db.session.commit()
                failed += 1
                continue
            try:
                mail = build_email(message)
                smtp = smtp or _connect(config)
                # Envelope addresses given explicitly: never re-parsed from the headers.
                smtp.send_message(mail, _envelope_sender(config), [message.to_address])
            except (ValueError, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError,
                    smtplib.SMTPNotSupportedError) as err:  # fmt: skip
                # This message alone is at fault; the connection stays usable for the others.
                _record_failure(message, err, now, permanent=_is_permanent(err))
                db.session.commit()
                failed += 1
                continue
            except OSError as err:  # the server (smtplib.SMTPException is an OSError too)
                _record_failure(message, err, now)
                # Stop: when the server is down, trying each message only multiplies timeouts.
                _release(claimed[index + 1 :])
                db.session.commit()
                failed += 1
                smtp = None
                break
            message.sent_at = utcnow()
            message.attempts += 1
            message.last_error = None
            message.next_attempt_at = None
            db.session.commit()
            sent += 1
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
    return sent, failed


def build_email(message: OutboxMessage) -> Message:
    """The MIME message for a rendered outbox row: UTF-8 headers and a base64 UTF-8 body."""
    config = current_app.config
    sender = config.get("MAIL_FROM") or "noreply@localhost"
    # Not EmailMessage: its header folder (CPython 3.11-3.13) drops the space between an English
    # word and a Chinese one ("for you: 初审" arrives as "for you:初审"). The legacy Header
    # encodes the whole subject as one run of encoded words, which keeps every space.
    # Base64 keeps Chinese intact through relays that do not speak 8BITMIME.
    mail = MIMEText(message.body, "plain", "utf-8")
    # No header carries a line break, whatever the row holds: one would end the header and
    # let the rest pass for headers of its own (Bcc:) or the start of the body.
    subject = one_line(message.subject)
    sender = one_line(sender)
    mail["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    name = one_line(config["ASSOCIATION_NAME"])
    mail["From"] = sender if "<" in sender else formataddr((name, sender))
    mail["To"] = one_line(message.to_address)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rstrip(">").rpartition("@")[2] or "localhost")
    mail["Content-Language"] = message.locale.replace("_", "-")
    mail["Auto-Submitted"] = "auto-generated"  # tells vacation responders not to answer
    return mail


def _claim(now: datetime, limit: int) -> list[tuple[int, datetime]]:
    """Take up to `limit` due messages away from other senders; (id, original due time)."""
    query = (
        select(OutboxMessage.id, OutboxMessage.next_attempt_at)
        .where(
            OutboxMessage.to_address != "",
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name != "sqlite":
        # Concurrent senders each take other rows instead of waiting for one another.
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for message_id, due in db.session.execute(query).all():
        # Compare-and-set: SQLite has no row locks, so another sender may have taken it since.
        taken = db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:
            claimed.append((message_id, due))
    db.session.commit()
    return claimed


def _release(claimed: list[tuple[int, datetime]]) -> None:
    for message_id, due in claimed:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
            .values(next_attempt_at=due)
            .execution_options(synchronize_session=False)
        )


def _record_failure(
    message: OutboxMessage, error: Exception, now: datetime, permanent: bool = False
) -> None:
    message.attempts += 1
    message.last_error = f"{type(error).__name__}: {error}"[:2000]
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.next_attempt_at = None  # given up; the message stays readable in the app
    else:
        message.next_attempt_at = now + BACKOFF[min(message.attempts, len(BACKOFF)) - 1]


def _is_permanent(error: Exception) -> bool:
    # 5xx for every recipient (no such mailbox…) will not heal by retrying; 4xx may.
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in error.recipients.values())
    if isinstance(error, smtplib.SMTPDataError):
        return error.smtp_code >= 500
    return isinstance(error, ValueError | smtplib.SMTPNotSupportedError)


def _envelope_sender(config) -> str:
    return parseaddr(config.get("MAIL_FROM") or "noreply@localhost")[1] or "noreply@localhost"


def _connect(config) -> smtplib.SMTP:
    use_ssl = bool(config.get("MAIL_USE_SSL"))
    port = config.get("MAIL_PORT") or (465 if use_ssl else 25)
    timeout = config.get("MAIL_TIMEOUT", 30)
    if use_ssl:
        context = ssl.create_default_context()
        smtp = smtplib.SMTP_SSL(config["MAIL_SERVER"], port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(config["MAIL_SERVER"], port, timeout=timeout)
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    return smtp
