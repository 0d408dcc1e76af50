"""Annual dues (年度会费): one entry per member and year, the row the arrears list reads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow

# open: notice sent, nothing declared; declared: waiting for the confirming group; returned:
# the declaration was not confirmed; paid; unpaid: the period ended and a consequence followed.
DUES_STATES = ("open", "declared", "returned", "paid", "unpaid")
OWING = ("open", "declared", "returned", "unpaid")


class DuesEntry(db.Model):
    """A member's dues of one year; a year is opened once per member (the unique key)."""

    __table_args__ = (
        UniqueConstraint("member_id", "year", name="uq_dues_entry_member_year"),
        Index("ix_dues_entry_state_due", "state", "due_at"),
        Index("ix_dues_entry_year_state", "year", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    amount_due: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The group (key) that confirms receipt: it sees the entry in the arrears list.
    confirmed_by_group: Mapped[str] = mapped_column(String(50), default="")
    state: Mapped[str] = mapped_column(String(20), default="open")
    declared_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    declared_reference: Mapped[str | None] = mapped_column(String(100))
    declared_receipt: Mapped[str | None] = mapped_column(String(36))  # a document's token
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)  # of a return, extension or consequence
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member = relationship("Member")
