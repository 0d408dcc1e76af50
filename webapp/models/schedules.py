"""Timer starts of deployed models: when each is next due, and the cases each occurrence
started (the key that makes starting an occurrence twice create nothing new)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class ScheduledStart(db.Model):
    """A timer start event of a model's live version; the ticker reads `next_at` by its index."""

    __table_args__ = (
        UniqueConstraint("model_id", "element_id"),
        Index("ix_scheduled_start_next_at", "next_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("process_model.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    element_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # timeDate | timeCycle | timeDuration
    # The timer's value as evaluated over the version's model data (e.g. R/2027-01-10…/P1Y).
    value: Mapped[str] = mapped_column(String(200))
    # The occurrence whose cases are being started (None: nothing more will occur) …
    occurrence_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # … and when the ticker looks at it next: the occurrence, or later after a failed start.
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last occurrence done
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TimerStartCase(db.Model):
    """One case a timer start's occurrence opened, for one member or for none."""

    __table_args__ = (
        UniqueConstraint(
            "model_id",
            "element_id",
            "occurrence_at",
            "member_key",
            name="uq_timer_start_case_occurrence",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("process_model.id"))
    element_id: Mapped[str] = mapped_column(String(200))
    occurrence_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The member's id, or 0 for a case about no member: a unique key holds NULLs distinct.
    member_key: Mapped[int] = mapped_column(default=0)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written in the flush that writes the case (webapp.services.cases.open_case's `started`).
    case = relationship("Case")
