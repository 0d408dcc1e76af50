"""The errors of running an instance, and the sentence each gives a process owner."""

from __future__ import annotations

from typing import Any

from webapp.engine.sandbox_process import SandboxOverrun
from webapp.engine.types import N_, EngineError, fill

__all__ = ["EngineError", "LimitReached", "TaskNotReady", "describe", "limit_reached"]


class LimitReached(EngineError):
    """An expression of the diagram went over the sandbox's CPU time, memory or time limit.

    `template` (marked with N_) and `params` let the web layer say it in the user's language.
    """

    def __init__(self, template: str, params: dict[str, Any]):
        super().__init__(fill(template, params), template, params)


OVERRUN = {
    "CPU time": N_(
        "The expression of %(element)s used more than %(amount)s of CPU time and was stopped."
    ),
    "memory": N_(
        "The expression of %(element)s needed more than %(amount)s of memory and was stopped."
    ),
    "time": N_("The expression of %(element)s ran longer than %(amount)s and was stopped."),
}


class TaskNotReady(EngineError):
    """The task is not open any more (or never was a human task of this instance)."""


def limit_reached(err: BaseException) -> LimitReached | None:
    """The overrun behind SpiffWorkflow's wrapping of an error, as a LimitReached naming the
    element whose expression it was; None when the error is another one."""
    element, depth = None, 0
    while err is not None and depth < 10:
        task = getattr(err, "task", None)
        if element is None and task is not None and getattr(task, "task_spec", None):
            spec = task.task_spec
            element = f"'{spec.bpmn_name or spec.bpmn_id}' ({spec.bpmn_id})"
        if isinstance(err, SandboxOverrun):
            params = {"element": element or "?", **err.params}
            return LimitReached(OVERRUN[err.limit], params)
        err = getattr(err, "exception", None) or err.__cause__ or err.__context__
        depth += 1
    return None


def describe(err: Exception) -> str:
    """One line a process owner can act on, never a traceback."""
    task = getattr(err, "task", None)
    where = ""
    if task is not None and getattr(task, "task_spec", None) is not None:
        spec = task.task_spec
        where = f" at '{getattr(spec, 'bpmn_name', None) or getattr(spec, 'bpmn_id', '')}'"
    return f"{type(err).__name__}{where}: {str(err).splitlines()[0] if str(err) else ''}"
