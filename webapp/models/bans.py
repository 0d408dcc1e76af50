"""Re-application bans: an identity (credit code or ID number) that may not apply again until a
date, and the case that imposed it (and the one that lifted it, if any)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class ReapplicationBan(db.Model):
    """One identity barred from applying until `until` (exclusive of lifted bans)."""

    __tablename__ = "reapplication_ban"

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_code: Mapped[str] = mapped_column(String(32), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    until: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
