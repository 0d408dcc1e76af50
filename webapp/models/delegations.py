"""Out of office: a person names a substitute who may do their tasks for a period."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Delegation(db.Model):
    __tablename__ = "delegation"
    __table_args__ = (Index("ix_delegation_substitute", "substitute_id", "ends_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The person who is away, and the one who acts for them.
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    substitute_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # the last day, inclusive
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", foreign_keys=[user_id])
    substitute = relationship("User", foreign_keys=[substitute_id])

    def current(self, today: date) -> bool:
        """Whether the substitute may act on that day."""
        return self.withdrawn_at is None and self.starts_on <= today <= self.ends_on
