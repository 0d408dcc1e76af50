"""Incidents: an automatic step (a timer and what runs after it) that failed at run time, kept
open until a retry succeeds, as Camunda turns a failed job into an incident."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow

OPEN, RESOLVED = "open", "resolved"


class Incident(db.Model):
    """One failing automatic step of one instance: where, why, how often, and since when."""

    __table_args__ = (
        # The incidents page and the navbar's count: open ones, latest failure first.
        Index("ix_incident_state", "state", "last_at"),
        # A failure or a success finds the instance's open incident through this.
        Index("ix_incident_instance", "instance_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    element_id: Mapped[str] = mapped_column(String(200), default="")
    element_name: Mapped[str] = mapped_column(String(300), default="")
    message: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default=OPEN)  # open | resolved
    attempts: Mapped[int] = mapped_column(default=1)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the ticker tries again; None once the attempts are used up (a person must retry).
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    instance = relationship("ProcessInstance")
    case = relationship("Case")
    resolved_by = relationship("User")
