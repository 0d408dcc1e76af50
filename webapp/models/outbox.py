"""Notifications waiting to be mailed, and the record of those sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class OutboxMessage(db.Model):
    """One message to one recipient, written in the same transaction as the event it reports.

    The step stores what the message is made of (`params`, `version_id`); its subject and body
    are written once, when the message is first mailed or listed (webapp.services.notify)."""

    __table_args__ = (
        Index("ix_outbox_message_pending", "sent_at", "next_attempt_at"),
        Index("ix_outbox_message_recipient", "recipient_id", "created_at"),
        # The navbar's unread count: one indexed count per page.
        Index("ix_outbox_message_unread", "recipient_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    to_address: Mapped[str] = mapped_column(String(254), default="")
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    event: Mapped[str] = mapped_column(String(50))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    # None until rendered; then the text as the recipient reads it, and `params` is dropped
    # (kept for whoever looks into a message whose template failed: see `last_error`).
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    # The template's parameters as they were at the step (JSON: dates as ISO strings), and the
    # model version whose messages it comes from (None: the platform's own).
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When its recipient opened the message list with it there; None: unread.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
