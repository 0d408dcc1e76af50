"""Objections filed by the public during an application's notice period, and their answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Objection(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    # Optional and never published: only the secretariat sees how to reach the objector.
    contact: Mapped[str | None] = mapped_column(String(200))
    # A keyed hash of the sender's address, for rate limits and abuse review; never the address.
    source_hash: Mapped[str | None] = mapped_column(String(64))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision: Mapped[str | None] = mapped_column(String(20))  # upheld | dismissed
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case = relationship("Case")
    answered_by = relationship("User")
