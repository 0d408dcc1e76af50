"""Instances on the database: one engine adapter for the app, row locks, and the projection of
human tasks written with every save of an instance."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from webapp.config import SANDBOX_CPU_SECONDS, SANDBOX_MEMORY_MB, Config
from webapp.engine import EngineLimits, EngineResult, ModelSource, SandboxLimits, WorkflowEngine
from webapp.extensions import db
from webapp.models import (
    Case,
    HumanTask,
    Incident,
    ModelVersion,
    ProcessInstance,
    TimerWait,
    utcnow,
)
from webapp.models.incidents import OPEN as INCIDENT_OPEN
from webapp.services import case_step, heat_counts, row_writes, users, write_lock
from webapp.services.diagram_functions import diagram_functions

engine = WorkflowEngine(
    functions=diagram_functions(),
    limits=EngineLimits(
        max_steps=Config.ENGINE_MAX_STEPS,
        min_timer_cycle=timedelta(seconds=Config.TIMER_CYCLE_MINIMUM_SECONDS),
    ),
    sandbox=SandboxLimits(SANDBOX_CPU_SECONDS, SANDBOX_MEMORY_MB),
    restored=Config.ENGINE_RESTORED,
    check_restored=Config.ENGINE_RESTORED_CHECK,
)


@dataclass(frozen=True)
class VersionContent:
    """A model version's diagram (as the adapter takes it) and its forms; read-only."""

    source: ModelSource
    forms: dict


# Versions never change once stored, so each is read once per process and database.
_versions: dict[tuple[str, int], VersionContent] = {}


def version_content(version_id: int) -> VersionContent:
    """The diagram and forms of a version, from the process-wide cache."""
    key = (str(db.engine.url), version_id)
    content = _versions.get(key)
    if content is None:
        version = db.session.get(ModelVersion, version_id)
        content = VersionContent(
            ModelSource(
                key=version.content_hash,
                bpmn=version.bpmn.encode("utf-8"),
                process_id=version.process_id,
            ),
            version.forms,
        )
        _versions[key] = content
    return content


def source_for(version_id: int) -> ModelSource:
    """What the adapter needs to run a version: it parses once per content hash."""
    return version_content(version_id).source


def one_writer() -> bool:
    """Whether the database has one write lock for all its rows (SQLite), which a transition
    holds from lock_case to its commit: what a transition can do before, it does before."""
    return db.session.get_bind().dialect.name == "sqlite"


def _take_write_lock(instance_id: int, promptly: bool = True) -> bool:
    """On SQLite, take the database's write lock; returns whether a SELECT must still ask for
    the row lock (any other database). `promptly`: ask again every fraction of a millisecond
    while it is busy (write_lock), as a person's request does. A ticker, which has the lock
    busy nearly all the time it runs, waits as SQLite does (a no-op write to the instance's
    row): people's transitions go first, and no core is spent asking."""
    if not one_writer():
        return True
    if not (promptly and write_lock.take(db.session.connection())):
        db.session.execute(_NO_OP_WRITE, {"instance_id": instance_id})
    return False


_instances = ProcessInstance.__table__
# Built once, as every transition runs it; a Core statement, which the ORM's bulk-update
# machinery (synchronizing the session) would only slow down.
_NO_OP_WRITE = (
    update(_instances)
    .where(_instances.c.id == bindparam("instance_id"))
    .values(updated_at=_instances.c.updated_at)
)


def task_property(task: HumanTask, name: str, version_id: int | None = None) -> str:
    """A property the diagram gives the task's user task ('' when it gives none)."""
    if version_id is None:
        version_id = task.instance.version_id
    info = engine.describe(source_for(version_id))
    drawn = next((t for t in info.user_tasks if t.spec_id == task.bpmn_id), None)
    return (drawn.properties.get(name) or "").strip() if drawn is not None else ""


def is_case_form(task: HumanTask, version_id: int | None = None) -> bool:
    """Whether the task's form holds the case's own data (`caseData=true` on the user task, as
    on admission's application form): what it submits becomes the case's data, its name, type,
    region and industry, and the summary every later step shows."""
    return task_property(task, "caseData", version_id).lower() == "true"


def lock_instance(instance_id: int) -> ProcessInstance:
    """Take the instance's row lock for the rest of the transaction and read it afresh.

    PostgreSQL (and any database with row locks) gets SELECT … FOR UPDATE. SQLite has no row
    locks and its reads take none, so there the database's write lock is taken (write_lock)
    and held until commit. Either way a second transition of the same instance
    waits here and then sees the first one's result. The mapper's version column (lock_version)
    is the second guard: a stale write fails instead of overwriting.
    """
    query = select(ProcessInstance).where(ProcessInstance.id == instance_id)
    if _take_write_lock(instance_id):
        query = query.with_for_update()
    instance = db.session.scalars(query.execution_options(populate_existing=True)).first()
    if instance is None:
        raise LookupError(instance_id)
    case_step.begin(instance_id)
    return instance


@dataclass
class LockedCase:
    """An instance under its row lock, with its application and its ready human tasks, all
    read afresh after the lock was granted."""

    instance: ProcessInstance
    case: Case | None
    ready: dict[str, HumanTask]
    # Whether an incident of the instance is open: a ticker's successful step resolves it, and
    # need not look for one that is not there.
    incident_open: bool = True


def lock_case(instance_id: int, locked: bool = False, promptly: bool = True) -> LockedCase:
    """lock_instance, then the instance, its application and its ready tasks in one statement:
    a transition needs no other read before it writes.

    On PostgreSQL the lock is a statement of its own. A joined SELECT … FOR UPDATE that waited
    for the lock re-reads the locked row only: the joined rows would still be those of its
    snapshot from before the wait (a task the winner just completed would look ready). The next
    statement, at READ COMMITTED, sees what the winner committed.

    `locked`: the caller holds the row lock already (a ticker claimed the instance).
    `promptly`: see _take_write_lock.
    """
    params = {"instance_id": instance_id}
    if not locked and _take_write_lock(instance_id, promptly):
        db.session.execute(_ROW_LOCK, params)
    rows = db.session.execute(_LOCKED_CASE, params).all()
    if not rows:
        raise LookupError(instance_id)
    ready = {task.task_guid: task for _i, _a, task, _open in rows if task is not None}
    case_step.begin(instance_id, case=rows[0][1])
    return LockedCase(rows[0][0], rows[0][1], ready, bool(rows[0][3]))


# Built once, as every transition runs them: building a statement and its cache key costs
# more than running it.
_ROW_LOCK = (
    select(ProcessInstance.id)
    .where(ProcessInstance.id == bindparam("instance_id"))
    .with_for_update()
)
_LOCKED_CASE = (
    select(
        ProcessInstance,
        Case,
        HumanTask,
        exists()
        .where(Incident.instance_id == ProcessInstance.id, Incident.state == INCIDENT_OPEN)
        .label("incident_open"),
    )
    .outerjoin(Case, Case.instance_id == ProcessInstance.id)
    .outerjoin(
        HumanTask,
        (HumanTask.instance_id == ProcessInstance.id) & (HumanTask.state == "ready"),
    )
    .where(ProcessInstance.id == bindparam("instance_id"))
    .execution_options(populate_existing=True)
)
_waits = TimerWait.__table__
_WAITING = select(_waits.c.id, _waits.c.version_id, _waits.c.bpmn_id, _waits.c.due_at).where(
    _waits.c.instance_id == bindparam("instance_id"), _waits.c.state == "waiting"
)
_END_WAIT = (
    update(_waits)
    .where(_waits.c.id == bindparam("row_id"))
    .values(state="ended", ended_at=bindparam("new_ended_at", type_=_waits.c.ended_at.type))
)
_MOVE_WAIT = (
    update(_waits)
    .where(_waits.c.id == bindparam("row_id"))
    .values(due_at=bindparam("new_due_at", type_=_waits.c.due_at.type))
)


def create_instance(
    version: ModelVersion, result: EngineResult
) -> tuple[ProcessInstance, list[HumanTask]]:
    """Store a newly started instance and its first human tasks (which it returns too)."""
    instance = ProcessInstance(version=version, state=result.state)
    db.session.add(instance)
    db.session.flush()
    return instance, save_result(instance, result, new=True)


def save_result(
    instance: ProcessInstance,
    result: EngineResult,
    actor_id: int | None = None,
    submitted: dict | None = None,
    ready: dict[str, HumanTask] | None = None,
    new: bool = False,
) -> list[HumanTask]:
    """Write the engine's new state and bring the human-task projection in line with it.

    `ready`: the instance's ready rows if the caller read them under the lock (lock_case).
    `new`: the instance was created in this transaction (it has no rows to read yet).
    Returns the tasks the step newly offered, so that their people can be told.
    """
    now = utcnow()
    waited: set[tuple[int | None, str]] = set()
    if instance.next_timer_at is not None or result.timers:
        waited = _record_timer_waits(instance, result.timers, now, new)
    _write_instance(
        instance,
        state=result.state,
        status="finished" if result.finished else "running",
        next_timer_at=result.next_timer_at,
        updated_at=now,
    )
    if new:
        ready = {}
    elif ready is None:
        ready = {
            t.task_guid: t
            for t in db.session.scalars(
                select(HumanTask).where(
                    HumanTask.instance_id == instance.id, HumanTask.state == "ready"
                )
            )
        }
    rows = dict(ready)
    before = waited | {(row.version_id, row.bpmn_id) for row in ready.values()}
    ended: list[tuple[HumanTask, dict]] = []
    for guid in result.completed_task_ids:
        row = rows.pop(guid, None)
        if row is not None:
            ended.append(
                (
                    row,
                    {
                        "state": "completed",
                        "completed_at": now,
                        "completed_by_id": actor_id,
                        "submitted_data": submitted,
                    },
                )
            )
    ready_ids, offered = set(), []
    for task in result.ready_tasks:
        ready_ids.add(task.id)
        if task.id in rows:
            continue
        info = task.info
        row = HumanTask(
            instance_id=instance.id,
            version_id=instance.version_id,
            task_guid=task.id,
            bpmn_id=info.spec_id,
            title=info.title,
            lane=info.lane,
            stage=info.stage,
            form=info.form,
            ui_form=info.ui_form,
            due_at=task.due_at,
            created_at=now,
            assignee_id=task.assignee if isinstance(task.assignee, int) else None,
            item=_json_item(task.item),
        )
        offered.append(row)
    row_writes.insert_objects(offered)
    _load_assignees(offered)
    # Ready rows the engine no longer offers were withdrawn by the process (timer, cancel).
    for guid, row in rows.items():
        if guid not in ready_ids:
            ended.append((row, {"state": "cancelled", "completed_at": now}))
    _end_tasks(ended)
    after = {(instance.version_id, t.info.spec_id) for t in result.ready_tasks}
    after |= {(instance.version_id, timer.spec_id) for timer in result.timers}
    heat_counts.move(before, after)
    return offered


def _write_instance(instance: ProcessInstance, **values) -> None:
    """Write the instance's new state with the mapper's version check, in one prebuilt UPDATE,
    and give the object the values as it now stands in the database.

    Every step writes this row: through the unit of work it cost a flush round of its own,
    several times the statement. The version column is checked and bumped as the mapper does,
    and a stale write fails the same way (StaleDataError)."""
    version = instance.lock_version
    written = db.session.connection().execute(
        _SAVE_INSTANCE,
        {**{f"new_{name}": value for name, value in values.items()},
         "row_id": instance.id, "old_version": version, "new_lock_version": version + 1},
    )  # fmt: skip
    if written.rowcount != 1:
        raise StaleDataError(
            f"process_instance {instance.id}: expected version {version}, another step wrote it"
        )
    for name, value in {**values, "lock_version": version + 1}.items():
        set_committed_value(instance, name, value)


_SAVE_INSTANCE = (
    update(_instances)
    .where(
        _instances.c.id == bindparam("row_id"),
        _instances.c.lock_version == bindparam("old_version"),
    )
    .values(
        {
            name: bindparam(f"new_{name}", type_=_instances.c[name].type)
            for name in ("state", "status", "next_timer_at", "updated_at", "lock_version")
        }
    )
)


def _end_tasks(ended: list[tuple[HumanTask, dict]]) -> None:
    """Mark the step's completed and withdrawn task rows (read from the database: a row is
    written when it is offered), one prebuilt UPDATE per kind however many rows, and give the
    objects their new values (nothing flushes them afterwards)."""
    for names, statement in _END_TASK:
        params = [
            {"row_id": row.id, **{f"new_{n}": values[n] for n in names}}
            for row, values in ended
            if values.keys() == names
        ]
        if params:
            db.session.connection().execute(statement, params)
    for row, values in ended:
        for name, value in values.items():
            set_committed_value(row, name, value)


_tasks = HumanTask.__table__
# (the columns a kind of end writes, its statement): completed (by whom, with what), withdrawn.
_END_TASK = [
    (
        names,
        update(_tasks)
        .where(_tasks.c.id == bindparam("row_id"))
        .values({n: bindparam(f"new_{n}", type_=_tasks.c[n].type) for n in names}),
    )
    for names in (
        frozenset({"state", "completed_at", "completed_by_id", "submitted_data"}),
        frozenset({"state", "completed_at"}),
    )
]


def _record_timer_waits(
    instance: ProcessInstance, waiting: list, now, new: bool = False
) -> set[tuple[int | None, str]]:
    """Bring the instance's timer waits in line with the timers it now waits on: a new wait
    begins now, one no longer waited on ended now (fired or withdrawn). An instance without
    timers before or after its step, or one created in this transaction, costs no query.
    Returns the (version, element) pairs it waited on before."""
    wanted = Counter(timer.spec_id for timer in waiting)
    due = {timer.spec_id: timer.due_at for timer in waiting}
    before = set()
    # Read and written as rows, not objects: nothing else in a step looks at them, and a flush
    # round of the unit of work costs several times the statements.
    connection = db.session.connection()
    rows = () if new else connection.execute(_WAITING, {"instance_id": instance.id})
    ended, moved = [], []
    for row in rows:
        before.add((row.version_id, row.bpmn_id))
        if wanted[row.bpmn_id] > 0:
            wanted[row.bpmn_id] -= 1
            if row.due_at != due[row.bpmn_id]:
                moved.append({"row_id": row.id, "new_due_at": due[row.bpmn_id]})
        else:
            ended.append({"row_id": row.id, "new_ended_at": now})
    if ended:
        connection.execute(_END_WAIT, ended)
    if moved:
        connection.execute(_MOVE_WAIT, moved)
    began = [
        {
            "instance_id": instance.id,
            "version_id": instance.version_id,
            "bpmn_id": spec_id,
            "state": "waiting",
            "started_at": now,
            "due_at": due[spec_id],
        }
        for spec_id, count in wanted.items()
        for _n in range(count)
    ]
    if began:
        # Written at once, in one statement however many (the unit of work would fetch each
        # one's id back, one INSERT each on SQLite).
        connection.execute(_BEGIN_WAIT, began)
    return before


_BEGIN_WAIT = insert(TimerWait.__table__)


def _load_assignees(offered: list[HumanTask]) -> None:
    """The people newly offered tasks of their own (each council member's vote), in one query.

    Kept on the rows' `assignee`: the session holds objects only while something refers to
    them, and the step's notifications look each of them up next.
    """
    ids = {row.assignee_id for row in offered if row.assignee_id is not None}
    if not ids:
        return
    # People are not what a step writes: their read need not flush what else the step changed
    # first (the commit flushes it all at once, in fewer statements).
    with db.session.no_autoflush:
        people = {u.id: u for u in users.by_ids(ids)}
    for row in offered:
        if row.assignee_id is not None:
            set_committed_value(row, "assignee", people.get(row.assignee_id))


def _json_item(item):
    """What a multi-instance task is about, as the projection stores it (always an object)."""
    if item is None:
        return None
    return item if isinstance(item, dict) else {"value": item}
