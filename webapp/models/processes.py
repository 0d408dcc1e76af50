"""Process models, their versions, running instances and the projection of their human tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class ProcessModel(db.Model):
    """A procedure, e.g. admission; its diagram and forms live in versions."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # No foreign key: versions point at their model, and a cycle of constraints would make
    # creating and dropping the two tables order-dependent on PostgreSQL.
    live_version_id: Mapped[int | None]

    live_version: Mapped[ModelVersion | None] = relationship(
        primaryjoin="foreign(ProcessModel.live_version_id) == ModelVersion.id"
    )


class ModelVersion(db.Model):
    """One immutable version: the BPMN text and its forms, identified by their content hash."""

    __table_args__ = (
        UniqueConstraint("model_id", "content_hash"),
        UniqueConstraint("model_id", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("process_model.id"))
    number: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    process_id: Mapped[str] = mapped_column(String(200))
    # Deferred: read once per process through services.workflow.version_content.
    bpmn: Mapped[str] = mapped_column(Text, deferred=True)
    forms: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the process owner said when deploying it (why this version), kept with it.
    deploy_comment: Mapped[str | None] = mapped_column(String(500))

    model: Mapped[ProcessModel] = relationship(foreign_keys=[model_id])


class ProcessInstance(db.Model):
    """A running or finished instance; `state` is the engine's serialized state without spec."""

    __table_args__ = (Index("ix_process_instance_next_timer_at", "next_timer_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    state: Mapped[str] = mapped_column(Text)
    # Bumped by every save (the mapper's version column): a stale writer has lost a race.
    lock_version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default="running")
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[ModelVersion] = relationship()

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTask(db.Model):
    """One row per user task an instance has offered: the queryable face of the engine state."""

    __table_args__ = (
        Index("ix_human_task_inbox", "state", "lane", "created_at"),
        # The inbox by due date: one lane's open tasks in deadline order, read a page at a time;
        # with the assignee, its counts need nothing but the index.
        Index("ix_human_task_due", "state", "lane", "due_at", "created_at", "assignee_id"),
        Index("ix_human_task_instance", "instance_id", "state"),
        # What a person has done (the desk's 已办), and what it holds.
        Index("ix_human_task_done_by", "completed_by_id", "completed_at"),
        Index("ix_human_task_claimed", "claimed_by_id", "state"),
        # The dashboard's time per stage: a stage's latest completed tasks, with when each
        # began, read from the index alone.
        Index("ix_human_task_stage_done", "state", "stage", "completed_at", "created_at"),
        # The dashboard's overdue tasks per stage and per person, on the index alone.
        Index(
            "ix_human_task_overdue",
            "state",
            "due_at",
            "stage",
            "lane",
            "assignee_id",
            "claimed_by_id",
        ),
        # The heatmap: per element of one version, its open tasks and latest ended ones.
        Index(
            "ix_human_task_heatmap",
            "version_id",
            "state",
            "bpmn_id",
            "completed_at",
            "created_at",
            "instance_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    # The instance's version when the task was offered (moved with the instance while open):
    # the heatmap counts one version's elements without joining every instance.
    version_id: Mapped[int | None]
    task_guid: Mapped[str] = mapped_column(String(36), unique=True, insert_sentinel=True)
    bpmn_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(100))
    stage: Mapped[str | None] = mapped_column(String(50))
    form: Mapped[str | None] = mapped_column(String(200))
    ui_form: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default="ready")  # ready|completed|cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    submitted_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A multi-instance task offered to one person (e.g. one council member's vote).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # What this instance of a multi-instance task is about (e.g. the objection to answer).
    item: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Someone of the lane took the task on: the others see who and leave it to them.
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    draft_saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    instance: Mapped[ProcessInstance] = relationship()
    completed_by = relationship("User", foreign_keys=[completed_by_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    claimed_by = relationship("User", foreign_keys=[claimed_by_id])


class WorkingCopy(db.Model):
    """A process owner's saved, undeployed edit of a model: one row per model, kept once made.
    Discarding or deploying empties it (bpmn NULL) rather than deleting it, so that `revision`
    only grows and an owner holding an old revision can never match a copy made afresh."""

    __tablename__ = "model_working_copy"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("process_model.id"), unique=True)
    # Bumped by every save, discard and deploy: a save from an older revision lost a race.
    revision: Mapped[int] = mapped_column(default=1)
    # NULL: no working copy now (discarded or deployed, as `last_action` says).
    bpmn: Mapped[str | None] = mapped_column(Text, deferred=True)
    forms: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    # The version the copy was started from, so the editor can say what it changes.
    base_number: Mapped[int | None]
    last_action: Mapped[str] = mapped_column(String(20), default="saved")
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ElementCount(db.Model):
    """How many cases are at one element of one version now, kept by every step in its own
    transaction (webapp.services.workflow.save_result): the heatmap reads these few rows
    instead of counting every open task. Split into shards by instance, so that steps at the
    same element in parallel rarely wait on one row; the count is the shards' sum."""

    version_id: Mapped[int] = mapped_column(primary_key=True)
    bpmn_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)


class TimerWait(db.Model):
    """One wait of an instance on a timer event, from when it began to when it ended (fired or
    withdrawn): what the heatmap counts and times for timers, written in the step's transaction
    as the human-task projection is."""

    __table_args__ = (
        Index("ix_timer_wait_instance", "instance_id", "state"),
        Index(
            "ix_timer_wait_heatmap",
            "version_id",
            "state",
            "bpmn_id",
            "ended_at",
            "started_at",
            "instance_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    version_id: Mapped[int]
    bpmn_id: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting | ended
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
