"""Plain values the adapter hands to the rest of the application: no SpiffWorkflow objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a diagram: the element and a sentence saying what to change."""

    element_id: str
    element_name: str
    message: str


@dataclass(frozen=True)
class UserTaskInfo:
    """A user task as drawn: where it sits and which form it shows."""

    spec_id: str
    title: str
    lane: str | None
    form: str | None
    ui_form: str | None
    stage: str | None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessInfo:
    process_id: str
    name: str
    user_tasks: list[UserTaskInfo]


@dataclass(frozen=True)
class EngineTask:
    """A human task that is ready to be done."""

    id: str
    info: UserTaskInfo
    due_at: datetime | None = None


@dataclass(frozen=True)
class EngineResult:
    """An instance after a step: its new state and what it now waits for."""

    state: str
    finished: bool
    ready_tasks: list[EngineTask]
    next_timer_at: datetime | None
    data: dict[str, Any]
    completed_task_ids: list[str] = field(default_factory=list)
