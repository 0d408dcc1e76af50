"""Workflows restored in this process, kept for the next step of the same instance.

Restoring a stored state (parse the JSON, rebuild every task and its data) is a fixed share of
every step. An instance being worked on takes its steps one after another, mostly in the same
worker, so the workflow a step leaves behind is kept here and the next step takes it instead of
restoring the state it just wrote.

An entry is keyed by the compiled model it runs on and the whole state string, not by an
instance's id and row version: the state the caller read under the row lock is the version
check itself. A step another worker took meanwhile, or a step whose transaction was rolled
back, leaves a stored state that differs from the kept one, and the lookup simply misses. An
id and version could not tell those apart: a rolled-back step's version number is written
again by the next step with other content, and ids repeat across databases served by one
process (tests, demo). Comparing the strings is a hash and a memcmp; equal states restore to
equal workflows, so a hit is correct whichever instance, database or worker the state came from.

A kept workflow belongs to the cache until a step takes it out; the step mutates it and, after
writing its new state, puts it back under that state. A step that fails puts nothing back.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.event import EventManager
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.event import Event
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

# Values a state's JSON gives back exactly as they were: anything else (a tuple, a set, a
# non-string key, a date in a named zone) would come back changed from the stored state.
_PLAIN = (str, int, float, bool, type(None), UUID, timedelta)


# A kept workflow takes about six times its state's length in memory (measured on admission);
# the states kept are bounded in characters too, so that a few huge instances cannot take the
# worker's memory: 4 million characters keep some 25 MB of workflows at most.
MAX_CHARACTERS = 4_000_000


class RestoredWorkflows:
    """At most `size` workflows, of states of at most `characters` characters in all, the least
    recently kept dropped first; safe across threads."""

    def __init__(self, size: int, characters: int = MAX_CHARACTERS):
        self.size, self.characters = size, characters
        self._entries: OrderedDict[tuple[int, str], object] = OrderedDict()
        self._held = 0  # characters of the states kept
        self._lock = threading.Lock()

    def take(self, spec, state: str):
        """The workflow kept for exactly this state of a model (its compiled spec), now the
        caller's alone, its data made what restoring the state gives (settle); None if there
        is none, or it holds a value the state's JSON would change."""
        with self._lock:
            workflow = self._entries.pop((id(spec), state), None)
            if workflow is not None:
                self._held -= len(state)
        # The id is only a short key: the workflow must run on this very spec object.
        if workflow is None or workflow.spec is not spec:
            return None
        # Settled when taken rather than when kept: an entry never taken costs nothing.
        return workflow if settle(workflow) else None

    def holds(self, spec, state: str) -> bool:
        """Whether a workflow is kept for exactly this state of a model."""
        with self._lock:
            return (id(spec), state) in self._entries

    def keep(self, state: str, workflow) -> None:
        """Keep a workflow under the state just dumped from it."""
        if self.size <= 0 or len(state) > self.characters:
            return
        key = (id(workflow.spec), state)
        with self._lock:
            if self._entries.pop(key, None) is not None:
                self._held -= len(state)
            self._entries[key] = workflow
            self._held += len(state)
            while len(self._entries) > self.size or self._held > self.characters:
                (_spec, dropped), _workflow = self._entries.popitem(last=False)
                self._held -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._held = 0

    def __len__(self) -> int:
        return len(self._entries)


class _Changed(Exception):
    """A value that would not come back from the state's JSON as it is."""


def settle(workflow) -> bool:
    """Give the workflow the data restoring its last dumped state would give, object for
    object; False if it cannot (a value the JSON would change).

    SpiffWorkflow stores a task's data as its differences from its parent's, and restoring
    rebuilds it as a shallow copy of the parent's data with those differences put in: nested
    values are shared down the tree, a key equal to the parent's (1 and True are equal) takes
    the parent's value, keys come in the parent's order. The live workflow got its data by other
    paths (scripts' results, merges, form data), so it shares and orders differently, and an
    in-place merge later (SpiffWorkflow's DeepMerge) could then change other tasks than it
    would in a restored one. Rebuilding the data the serializer's way, from values checked to be
    plain JSON, makes the kept workflow's data the same graph as a restored one's; what it
    saves is parsing the JSON and making the tasks.
    """
    try:
        order = _workflows_in_restore_order(workflow)
        if order is None:
            return False
        waiting, settled = {}, set()
        for flow in order:
            live = {task.id: task.data for task in flow.tasks.values()}
            for task in flow.tasks.values():
                task.internal_data = _plain_copy(task.internal_data)
                parent = task.parent
                if parent is None:
                    task.data = _plain_copy(task.data)
                elif parent.id not in settled:  # restoring would not find its parent yet
                    return False
                else:
                    own, inherited = live[task.id], live[parent.id]
                    data = DeepMerge.merge({}, parent.data)
                    data.update(_plain_copy(DeepMerge.get_updated_keys(inherited, own)))
                    for key in DeepMerge.get_deleted_keys(inherited, own):
                        data.pop(key, None)
                    task.data = data
                if isinstance(task.task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
                    waiting[task.id] = task
                settled.add(task.id)
            flow.data = _plain_copy(flow.data)
    except _Changed:
        return False
    workflow.subprocesses = {flow.parent_task_id: flow for flow in order[1:]}
    workflow.event_manager.tasks = waiting
    return True


def _workflows_in_restore_order(workflow):
    """The workflow and its subprocesses in the order restoring creates them (parents before
    children, each in its parent's task order); None if restoring would lose one."""
    order, subprocesses = [workflow], workflow.subprocesses
    for flow in order:
        for task in flow.tasks.values():
            if isinstance(task.task_spec, SubWorkflowTask) and task.id in subprocesses:
                order.append(subprocesses[task.id])
    return order if len(order) == len(subprocesses) + 1 else None


def _plain_copy(value):
    """A copy of a value, sharing nothing, as json.loads and the serializer's restore give it
    back; raises _Changed for a value they would give back otherwise."""
    kind = type(value)
    if kind is dict:
        if "typename" in value:  # the serializer would read it as a typed object
            raise _Changed
        copy = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _Changed
            copy[key] = _plain_copy(item)
        return copy
    if kind is list:
        return [_plain_copy(item) for item in value]
    if kind is datetime:
        if value.tzinfo is not None and type(value.tzinfo) is not timezone:
            raise _Changed  # a named zone comes back as a fixed offset
        return value
    if kind in _PLAIN:
        if kind is float and not math.isfinite(value):
            raise _Changed
        return value
    raise _Changed


def differences(kept, restored, limit: int = 10) -> list[str]:
    """Where a kept workflow differs from the same state restored afresh: types, values, the
    shape of sharing (two tasks holding one list in one must hold one list in the other), every
    attribute of every task. Slow; for checking the cache, not for serving."""
    found: list[str] = []
    pairs: dict[int, int] = {}
    back: dict[int, int] = {}
    stack = [(kept, restored, "workflow")]
    while stack and len(found) < limit:
        a, b, path = stack.pop()
        if type(a) is not type(b):
            found.append(f"{path}: {type(a).__name__} != {type(b).__name__}")
            continue
        if isinstance(a, (str, int, bool, type(None), UUID, datetime, timedelta)):
            if a != b:
                found.append(f"{path}: {a!r} != {b!r}")
            continue
        if isinstance(a, float):
            if a != b and not (math.isnan(a) and math.isnan(b)):
                found.append(f"{path}: {a!r} != {b!r}")
            continue
        if pairs.get(id(a), id(b)) != id(b) or back.get(id(b), id(a)) != id(a):
            found.append(f"{path}: shared differently")
            continue
        if id(a) in pairs:
            continue
        pairs[id(a)], back[id(b)] = id(b), id(a)
        if isinstance(a, dict):
            if [(type(k), k) for k in a] != [(type(k), k) for k in b]:
                found.append(f"{path}: keys {list(a)} != {list(b)}")
                continue
            stack.extend((a[k], b[k], f"{path}[{k!r}]") for k in a)
        elif isinstance(a, (list, tuple)):
            if len(a) != len(b):
                found.append(f"{path}: length {len(a)} != {len(b)}")
                continue
            stack.extend((x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True)))
        elif isinstance(a, (set, frozenset)):
            if a != b:
                found.append(f"{path}: {a!r} != {b!r}")
        elif isinstance(a, EventManager):
            # Which waiting events it hears; the order it met them in is not stored.
            if set(a.tasks) != set(b.tasks):
                found.append(f"{path}.tasks: {set(a.tasks)} != {set(b.tasks)}")
            stack.extend((a.tasks[k], b.tasks[k], f"{path}.tasks[{k}]") for k in a.tasks)
        elif isinstance(a, Event):
            # Nothing of ours subscribes to a workflow's own events.
            if a.n_subscribers() != b.n_subscribers():
                found.append(f"{path}: {a.n_subscribers()} != {b.n_subscribers()} subscribers")
        elif isinstance(a, (Task, Workflow)):
            attributes = vars(a).keys() | vars(b).keys()
            # A branch number the serializer does not store; only SpiffWorkflow's non-BPMN
            # specs read it (Workflow.get_task_mapping).
            attributes.discard("thread_id")
            for name in sorted(attributes):
                stack.append((getattr(a, name, None), getattr(b, name, None), f"{path}.{name}"))
        elif a is not b:  # specs, the script engine: the same objects, or not the same thing
            found.append(f"{path}: not the same {type(a).__name__}")
    return found
