"""The engine adapter: the only package that imports SpiffWorkflow.

It imports neither flask nor any other part of webapp except its own modules, and speaks in plain
values: model sources, serialized states, ready tasks, results.
"""

from webapp.engine.errors import EngineError, LimitReached, TaskNotReady
from webapp.engine.function_calls import know as know_diagram_functions
from webapp.engine.runtime import WorkflowEngine
from webapp.engine.sandbox_process import SandboxLimits
from webapp.engine.specs import InvalidDiagram, ModelSource
from webapp.engine.timer_starts import TimerStart, first_occurrence, next_occurrence
from webapp.engine.types import (
    N_,
    EngineLimits,
    EngineResult,
    EngineTask,
    Problem,
    ProcessInfo,
    UserTaskInfo,
    WaitingTimer,
)
from webapp.engine.validation import DiagramReport, check_diagram

__all__ = [
    "know_diagram_functions",
    "N_",
    "DiagramReport",
    "check_diagram",
    "EngineError",
    "EngineLimits",
    "EngineResult",
    "EngineTask",
    "InvalidDiagram",
    "LimitReached",
    "ModelSource",
    "Problem",
    "ProcessInfo",
    "SandboxLimits",
    "TaskNotReady",
    "TimerStart",
    "WaitingTimer",
    "first_occurrence",
    "next_occurrence",
    "UserTaskInfo",
    "WorkflowEngine",
]
