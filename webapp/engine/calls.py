"""Call activities that call back into themselves: refused before SpiffWorkflow sees them.

A process that calls itself, directly or through others, never ends: SpiffWorkflow builds the
called processes as it meets them and, on such a cycle, spins at full CPU inside
`create_subprocess` (unmoved by SIGTERM), so the cycle must be found in the XML first.
"""

from __future__ import annotations

from webapp.engine.bpmn_xml import problem, processes, xpath
from webapp.engine.types import N_, Problem

CALL_CYCLE = N_(
    "The call activity calls the process %(called)s, which leads back to the process the call "
    "is in (%(cycle)s): a process cannot call itself, directly or through others, because it "
    "would never end. Draw the repetition as a loop back to an earlier step instead."
)


def call_cycle_problems(root) -> list[Problem]:
    """Each call activity on a cycle of calls, with the cycle it belongs to."""
    calls: dict[str, list] = {}  # process id → its call activities (inside subprocesses too)
    for process in processes(root):
        calls[process.get("id") or ""] = xpath(process, ".//bpmn:callActivity")
    problems = []
    for caller, activities in calls.items():
        for activity in activities:
            called = (activity.get("calledElement") or "").strip()
            path = _path(calls, called, caller)
            if path is not None:
                cycle = " → ".join([caller, *path])
                problems.append(problem(activity, CALL_CYCLE, called=called, cycle=cycle))
    return problems


def _path(calls: dict[str, list], start: str, goal: str) -> list[str] | None:
    """The processes from `start` to `goal` following calls (breadth first), or None."""
    if start not in calls:
        return None
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        current = queue.pop(0)
        if current == goal:
            path = [current]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])
            return path[::-1]
        for activity in calls[current]:
            nxt = (activity.get("calledElement") or "").strip()
            if nxt in calls and nxt not in previous:
                previous[nxt] = current
                queue.append(nxt)
    return None
