"""Cases — what each process instance is about — and the member numbers they are given."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Case(db.Model):
    """The case a process instance carries: an application for membership, or any procedure
    about an account or a member of the register (`applicant_id` is the account it is about;
    none for a case the ticker started about no one)."""

    # "case" is an SQL keyword; the table is the case file (案卷), as User is user_account.
    __tablename__ = "case_file"
    __table_args__ = (
        Index("ix_case_file_applicant", "applicant_id", "created_at"),
        # The desk's all-cases list: newest first, overall or per procedure, status or stage.
        # Holding what the list's counts read, so that they read the index alone.
        Index(
            "ix_case_file_created",
            *("created_at", "id", "applicant_id", "model_id", "stage", "status", "outcome_code"),
        ),
        Index("ix_case_file_model_created", "model_id", "created_at", "id"),
        Index("ix_case_file_status_created", "status", "created_at", "id"),
        Index(
            "ix_case_file_stage_created",
            *("stage", "created_at", "id", "applicant_id", "model_id", "status", "outcome_code"),
        ),
        Index("ix_case_file_name", "name"),
        # The dashboard's funnel, counted on the index alone.
        Index("ix_case_file_funnel", "status", "stage", "model_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The procedure (process model), its title when the case began, and the member of the
    # register the case is about, if it is about one.
    model_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_model.id"), index=True, active_history=True
    )
    title: Mapped[str | None] = mapped_column(String(200))
    subject_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    member_type: Mapped[str | None] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(50))
    industry: Mapped[str | None] = mapped_column(String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The credit code or ID number the case applies under, once a submission check claimed it:
    # what re-application control compares (webapp.services.reapplication).
    identity_code: Mapped[str | None] = mapped_column(String(32), index=True)
    # The old values are loaded before a change, for the funnel's running counts to move
    # (webapp.services.stage_counts).
    stage: Mapped[str] = mapped_column(String(50), default="", index=True, active_history=True)
    # in_progress | admitted | rejected | lapsed
    status: Mapped[str] = mapped_column(String(20), default="in_progress", active_history=True)
    # Why it ended (review_rejected, objection_upheld, council_rejected, no_quorum, lapsed, …).
    outcome_code: Mapped[str | None] = mapped_column(String(40))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    # What the process has published about the case (vote tally, fee notice…), for pages.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set while the case is on public notice; the board reads it through its index.
    notice_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # A member admitted again keeps its number: its cases share it.
    member_number: Mapped[str | None] = mapped_column(String(40), index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    instance = relationship("ProcessInstance")
    applicant = relationship("User")


class StageCount(db.Model):
    """How many cases of a procedure are in progress at a stage now, kept by every step in its
    own transaction (webapp.services.stage_counts): the dashboard's funnel reads these few rows
    instead of counting every case in progress. Split into shards by instance, as the
    heatmap's counts are, so that steps of cases at one stage rarely wait on one row."""

    __tablename__ = "case_stage_count"

    model_id: Mapped[int] = mapped_column(primary_key=True)  # 0: a case of no procedure
    stage: Mapped[str] = mapped_column(String(50), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)


class MemberNumberCounter(db.Model):
    """The last member number handed out per series; numbers are never reused."""

    series: Mapped[str] = mapped_column(String(40), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
