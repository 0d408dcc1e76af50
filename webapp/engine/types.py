"""Plain values the adapter hands to the rest of the application: no SpiffWorkflow objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


def N_(message: str) -> str:
    """Mark a message for translation without translating it (the engine knows no locale)."""
    return message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a diagram: the element and a sentence saying what to change.

    `template` is an English sentence marked with N_ whose `%(name)s` placeholders `params` fill;
    the web layer translates the template, never the params (ids, names, parser details).
    """

    element_id: str
    element_name: str
    template: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def message(self) -> str:
        """The sentence in English."""
        return fill(self.template, self.params)


def fill(template: str, params: dict[str, Any]) -> str:
    """A message template with its placeholders filled; a template without params is literal."""
    if not params:
        return template
    try:
        return template % params
    except (KeyError, ValueError, TypeError):
        # A translation that lost a placeholder must not hide the problem it describes.
        return template + " " + ", ".join(f"{k}={v}" for k, v in params.items())


class EngineError(Exception):
    """The engine could not take the step (a diagram error met at run time).

    When the sentence is ours, `template` and `params` are kept as for a Problem, so that the
    web layer can translate it; otherwise the message is the engine's own, said as it is.
    """

    def __init__(self, message: str, template: str | None = None, params: dict | None = None):
        super().__init__(message)
        self.template, self.params = template, dict(params or {})

    @classmethod
    def of(cls, template: str, **params) -> EngineError:
        """An error with a sentence of ours (an N_ template)."""
        return cls(fill(template, params), template, params)


@dataclass(frozen=True)
class EngineLimits:
    """What one step may do: how many automatic steps it runs before it is refused (a diagram
    that loops without waiting), and the shortest interval a cycle timer may repeat at."""

    max_steps: int = 500
    min_timer_cycle: timedelta = timedelta(minutes=1)


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
class ElementProperty:
    """One element's extension property as drawn, e.g. the `notify` of a throw event."""

    element_id: str
    element_name: str
    name: str
    value: str


@dataclass(frozen=True)
class ProcessInfo:
    process_id: str
    name: str
    user_tasks: list[UserTaskInfo]


@dataclass(frozen=True)
class EngineTask:
    """A human task that is ready to be done.

    `item` is what one instance of a multi-instance task is about (the objection to answer, the
    council member who votes); `assignee` is the value of the variable the task's `assignee`
    property names, when the diagram offers the task to one person rather than a whole lane.
    """

    id: str
    info: UserTaskInfo
    due_at: datetime | None = None
    item: Any = None
    assignee: Any = None


@dataclass(frozen=True)
class WaitingTimer:
    """A timer the instance waits on, with the properties the diagram gave its event."""

    spec_id: str
    name: str
    due_at: datetime
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PassedEvent:
    """An element the engine ran by itself during a step whose properties ask to be reported
    (e.g. `notify`), such as a timer that fired or a script that recorded a decision."""

    spec_id: str
    name: str
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceView:
    """What a stored instance waits on, read from its state (for the consistency check).

    `ready_steps`: automatic steps (scripts, gateways, events) that are ready but not run;
    `timers`: each waiting timer's element and when it falls due (None: the engine cannot say);
    `events`: other events it waits for (messages, signals, conditions).
    """

    complete: bool
    ready_tasks: list[EngineTask]
    ready_steps: list[str]
    timers: list[tuple[str, datetime | None]]
    events: list[str]


@dataclass(frozen=True)
class EngineResult:
    """An instance after a step: its new state and what it now waits for.

    `data` is the process data as it stands: at the end when finished, else that of the tokens
    still waiting (ready human tasks and waiting events), for pages that show decisions made.
    """

    state: str
    finished: bool
    ready_tasks: list[EngineTask]
    next_timer_at: datetime | None
    data: dict[str, Any]
    completed_task_ids: list[str] = field(default_factory=list)
    timers: list[WaitingTimer] = field(default_factory=list)
    events: list[PassedEvent] = field(default_factory=list)
