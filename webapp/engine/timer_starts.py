"""Timer start events: what a process's timer starts are, when each occurs, and an instance
begun past one.

The ticker, not the engine, waits for a timer start: a model's next occurrence is a row of the
database, read through its index, and an instance is only created once it is due. SpiffWorkflow
would instead keep a cycle start event waiting inside the instance for ever, adding a path at
every occurrence, so the instance begun here has its start event fired once and its other start
events cancelled: one occurrence, one instance, which ends when its path ends.

Occurrences of a cycle are counted from its first one with calendar arithmetic
(`R/2027-01-10T09:00:00+08:00/P1Y` falls on 10 January every year, leap years or not), in the
offset the value was written in.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState

from webapp.engine.types import N_, EngineError

DATE, CYCLE, DURATION = "timeDate", "timeCycle", "timeDuration"
_KINDS = (
    (TimeDateEventDefinition, DATE),
    (CycleTimerEventDefinition, CYCLE),
    (DurationTimerEventDefinition, DURATION),
)
NOT_A_TIME = N_(
    "The start timer gives %(value)s, which is not an ISO 8601 %(kind)s: write e.g. "
    '"2027-01-10T09:00:00+08:00" for a date or "R/2027-01-10T09:00:00+08:00/P1Y" for a '
    "yearly cycle."
)
CANNOT_EVALUATE = N_("The start timer's expression cannot be evaluated: %(reason)s")
_KIND_WORDS = {DATE: "date and time", CYCLE: "repeating interval", DURATION: "duration"}
_CALENDAR = ("years", "months")


@dataclass(frozen=True)
class TimerStart:
    """A timer start event of the process that runs: its element, kind and expression."""

    element_id: str
    name: str
    kind: str  # timeDate | timeCycle | timeDuration
    expression: str


def timer_starts(spec) -> list[TimerStart]:
    """The process's own timer start events (not those of its event subprocesses)."""
    found = []
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if not isinstance(task_spec, StartEvent) or not isinstance(
            definition, TimerEventDefinition
        ):
            continue
        kind = next((k for cls, k in _KINDS if isinstance(definition, cls)), DATE)
        found.append(
            TimerStart(
                task_spec.bpmn_id,
                task_spec.bpmn_name or task_spec.bpmn_id,
                kind,
                definition.expression,
            )
        )
    return sorted(found, key=lambda t: t.element_id)


def check_value(kind: str, value) -> str:
    """The evaluated timer value, if it is one the schedule can use; raises EngineError."""
    if isinstance(value, str):
        try:
            _parse(kind, value.strip(), datetime.now(UTC))
            return value.strip()
        except Exception:  # SpiffWorkflow's parsers raise all sorts on odd text
            pass
    raise EngineError.of(NOT_A_TIME, value=repr(value)[:200], kind=_KIND_WORDS[kind])


def first_occurrence(
    kind: str, value: str, now: datetime, after: datetime | None = None
) -> datetime | None:
    """When the timer start is next due, as the schedule of a deployed version sees it at `now`.

    A date fires once, even one already past. A cycle's occurrences that are already past fire
    once together, as the latest of them (as a ticker that was away fires a missed cycle once);
    `after`, the last occurrence that started cases, is never started again. A duration counts
    from `now`, the moment the version was deployed.
    """
    if kind == DATE:
        due = _parse(kind, value, now)
        return due if after is None or due > after else None
    if kind == DURATION:
        return None if after is not None else _parse(kind, value, now)
    cycles, start, step = _parse(kind, value, now)
    latest = _first_after(cycles, start, step, now) - 1  # the last occurrence not after now
    if latest >= 0 and (after is None or _at(start, step, latest) > after):
        return _at(start, step, latest)
    return next_occurrence(kind, value, max(after or now, now), now)


def next_occurrence(kind: str, value: str, after: datetime, now: datetime) -> datetime | None:
    """The first occurrence later than `after` (None: a date or duration, or cycles done)."""
    if kind != CYCLE:
        return None
    cycles, start, step = _parse(kind, value, now)
    n = _first_after(cycles, start, step, after)
    return _at(start, step, n) if cycles < 0 or n < cycles else None


def _parse(kind: str, value: str, now: datetime):
    if kind == DATE:
        due = TimerEventDefinition.parse_time_or_duration(value)
        if not isinstance(due, datetime):
            raise ValueError(value)
        return due.astimezone(UTC)
    if kind == DURATION:
        parsed = TimerEventDefinition.parse_iso_duration(value)
        return now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
    return _parse_cycle(value, now)


def _parse_cycle(value: str, now: datetime):
    """(cycles or -1, first occurrence, step) where step is (months, timedelta)."""
    parts = value.upper().replace("--", "/").split("/")
    if not parts[0].startswith("R"):
        raise ValueError(value)
    cycles = int(parts[0][1:]) if parts[0][1:] else -1
    if len(parts) == 3 and not parts[1].startswith("P"):
        start = TimerEventDefinition.get_datetime(value.split("/")[1])
        return cycles, start, _step(parts[2], start)
    # The other forms (duration/end, or a duration alone) as SpiffWorkflow reads them.
    cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
    return cycles, start, (0, duration)


def _step(duration: str, start: datetime) -> tuple[int, timedelta]:
    parsed = TimerEventDefinition.parse_iso_duration(duration)
    months = parsed.pop("years", 0) * 12 + parsed.pop("months", 0)
    if months != int(months):
        return 0, TimerEventDefinition.get_timedelta_from_start({**parsed, "months": months}, start)
    step = TimerEventDefinition.get_timedelta_from_start(parsed, start)
    if not months and step <= timedelta(0):
        raise ValueError(duration)
    return int(months), step


def _at(start: datetime, step: tuple[int, timedelta], n: int) -> datetime:
    """The n-th occurrence (0 is the first), counted from the first, never from the one before
    (31 January plus a month twice is 31 March, not 28 March)."""
    months, delta = step
    return (_add_months(start, months * n) + delta * n).astimezone(UTC)


def _first_after(cycles: int, start: datetime, step: tuple[int, timedelta], after) -> int:
    """The index of the first occurrence later than `after` (may be past the last cycle)."""
    if start > after:
        return 0
    months, delta = step
    span = timedelta(days=30.436875 * months) + delta  # the average length of one step
    n = max(0, int((after - start) / span) - 1)
    while _at(start, step, n) <= after:
        n += 1
    while n > 0 and _at(start, step, n - 1) > after:
        n -= 1
    return n if cycles < 0 else min(n, cycles)


def _add_months(moment: datetime, months: int) -> datetime:
    if not months:
        return moment
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def begin_past(workflow, element_id: str, occurrence: datetime) -> None:
    """Run a new workflow's first steps up to and through the timer start event `element_id`,
    as if it had fired at `occurrence`; the process's other start events are cancelled."""
    target = None
    for task in workflow.get_tasks():
        if not isinstance(task.task_spec, StartEvent) or task.workflow is not workflow:
            continue
        if task.task_spec.bpmn_id == element_id and target is None:
            target = task
        else:
            task.cancel()
    if target is None:
        raise EngineError(f"no timer start event {element_id}")
    # Fired already, so SpiffWorkflow neither evaluates the expression nor waits on it.
    target.internal_data.update(event_fired=True, event_value=occurrence.isoformat())
    for _step_count in range(10):  # the start task, the split of several start events, the event
        if target.has_state(TaskState.FINISHED_MASK):
            break
        ready = workflow.get_next_task(state=TaskState.READY, manual=False)
        if ready is None:
            break
        ready.run()
    if not target.has_state(TaskState.COMPLETED):
        raise EngineError(f"the timer start event {element_id} could not be started")
    if not target.children:
        # A cycle start event makes its path only when its cycle comes round (SpiffWorkflow's
        # update_task): make it now, once.
        for output in target.task_spec.outputs:
            child = target._add_child(output, TaskState.FUTURE)
            child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
            child.task_spec._update(child)
