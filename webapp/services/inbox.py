"""The inbox of a committee member: open tasks of its lanes a page at a time, with counts and
who has claimed each; and the same list filtered and sorted for the API.

Every query reads one lane's index range in the order the page shows it, and stops at the page
(or, for counts, at COUNT_CAP), so the page costs the same with a thousand open tasks as with a
hundred thousand. Lanes are merged in Python: an index serves one lane in order, not several.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select

from webapp.extensions import db
from webapp.models import (
    Case,
    HumanTask,
    ModelVersion,
    ProcessInstance,
    ProcessModel,
    User,
    utcnow,
)
from webapp.services import delegations, tasks
from webapp.services.errors import DomainError
from webapp.services.groups import lane_names

PAGE_SIZE = 50
# Counts above this are shown as "1000+": nobody reads further, and counting every open task
# would make the inbox slower the more work waits.
COUNT_CAP = 1000


@dataclass(frozen=True)
class Count:
    """How many, up to the cap; shown with a "+" when there are more."""

    n: int
    capped: bool = False

    def __str__(self) -> str:
        return f"{self.n}+" if self.capped else str(self.n)

    def __bool__(self) -> bool:
        return self.n > 0

    def __add__(self, other: Count) -> Count:
        return Count(self.n + other.n, self.capped or other.capped)


@dataclass
class InboxPage:
    """One page of the inbox and the counts around it."""

    rows: list[tuple[HumanTask, Case]]
    counts: dict[str, Count]  # by lane, for every lane the user works
    total: Count
    overdue: Count
    page: int
    has_next: bool
    claimers: dict[int, User] = field(default_factory=dict)  # by id: who claimed a shown task


def page_of(
    user: User, lane: str | None = None, sort: str = "due", page: int = 1, where=()
) -> InboxPage:
    """Open tasks of the user's committee lanes, never on its own application: by due date
    (overdue first, tasks without a deadline last) or, with sort="waiting", oldest first.
    `where`: further conditions on the task and its case (the desk's search and filters); the
    counts per lane stay those of the whole inbox."""
    lanes = lane_names(user.group_keys)
    shown = [name for name in lanes if lane is None or name == lane]
    page = max(1, page)
    wanted = page * PAGE_SIZE + 1  # one more than the page: is there a next one?
    where = tuple(where)
    if sort == "waiting":
        ordered = _waiting(user, shown, wanted, *where)
    else:
        ordered = _by_due(user, shown, wanted, where)
    start = (page - 1) * PAGE_SIZE
    now = utcnow()
    own = _own_open_tasks(user)
    counts = {name: _count(user, name, own) for name in lanes}
    overdue = sum((_count(user, name, own, due_before=now) for name in lanes), Count(0))
    rows = ordered[start : start + PAGE_SIZE]
    return InboxPage(
        rows=rows,
        counts=counts,
        total=sum(counts.values(), Count(0)),
        overdue=overdue,
        page=page,
        has_next=len(ordered) > start + PAGE_SIZE,
        claimers=claimers_of(task for task, _case in rows),
    )


def standing_in(user: User) -> list[tuple[User, list[tuple[HumanTask, Case]]]]:
    """For each person the user stands in for today, the first page of their inbox that the
    user may do for them: never a case about the user, nor a task kept to its person."""
    shown = []
    for principal in delegations.principals(user):
        rows = [
            (task, case)
            for task, case in page_of(principal).rows
            if case.applicant_id != user.id and delegations.delegable(task)
        ]
        shown.append((principal, rows))
    return shown


SORTS = ("due", "-due", "created", "-created")


@dataclass
class TaskPage:
    """One page of open tasks for the API, with what its summaries need besides the rows."""

    rows: list[tuple[HumanTask, Case]]
    processes: dict[int, str]  # instance id → process model key
    claimers: dict[int, User]
    page: int
    per_page: int
    has_next: bool


def open_tasks(
    user: User,
    lanes: list[str],
    sort: str = "due",
    page: int = 1,
    per_page: int = 20,
    overdue: bool | None = None,
    model_id: int | None = None,
) -> TaskPage:
    """Open tasks of the given lanes (the caller checks they are the user's) that the user may
    work, optionally only (not) overdue or of one process model. `sort` is one of SORTS: by
    due date (tasks without one last) or by creation, "-" for the latest first."""
    now = utcnow()
    where = [] if model_id is None else [ModelVersion.model_id == model_id]
    if overdue is True:
        where.append(HumanTask.due_at < now)
    elif overdue is False:
        where.append(or_(HumanTask.due_at.is_(None), HumanTask.due_at >= now))
    descending = sort.startswith("-")
    wanted = page * per_page + 1  # one more than the page: is there a next one?
    by_model = model_id is not None
    if sort.endswith("created"):
        ordered = _merged(user, lanes, where, ("created_at", "id"), descending, wanted, by_model)
    else:
        # As the inbox: an index range by deadline first, then the tasks without one by age.
        ordered = _merged(
            user,
            lanes,
            [*where, HumanTask.due_at.is_not(None)],
            ("due_at", "created_at", "id"),
            descending,
            wanted,
            by_model,
        )
        if len(ordered) < wanted:
            ordered += _merged(
                user,
                lanes,
                [*where, HumanTask.due_at.is_(None)],
                ("created_at", "id"),
                descending,
                wanted - len(ordered),
                by_model,
            )
    start = (page - 1) * per_page
    rows = ordered[start : start + per_page]
    return TaskPage(
        rows=rows,
        processes=process_keys({task.instance_id for task, _case in rows}),
        claimers=claimers_of(task for task, _case in rows),
        page=page,
        per_page=per_page,
        has_next=len(ordered) > start + per_page,
    )


def _merged(user, lanes, where, columns, descending, limit, by_model):
    """Each lane's rows in index order, merged, the first `limit` of them."""
    order = [getattr(HumanTask, name) for name in columns]
    queries = []
    for lane in lanes:
        query = _open_tasks(user, lane).where(*where)
        if by_model:
            query = query.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id).join(
                ModelVersion, ModelVersion.id == ProcessInstance.version_id
            )
        queries.append(query.order_by(*(c.desc() if descending else c for c in order)))
    merged = heapq.merge(
        *(_fetch(query, limit) for query in queries),
        key=lambda row: tuple(getattr(row[0], name) for name in columns),
        reverse=descending,
    )
    return list(itertools.islice(merged, limit))


def model_id(key: str) -> int | None:
    """The id of the process model with this key, if there is one."""
    return db.session.scalar(select(ProcessModel.id).where(ProcessModel.key == key))


def process_keys(instance_ids) -> dict[int, str]:
    """The process model key of each instance, in one query."""
    ids = set(instance_ids)
    if not ids:
        return {}
    return dict(
        db.session.execute(
            select(ProcessInstance.id, ProcessModel.key)
            .join(ModelVersion, ModelVersion.id == ProcessInstance.version_id)
            .join(ProcessModel, ProcessModel.id == ModelVersion.model_id)
            .where(ProcessInstance.id.in_(ids))
        ).all()
    )


def claimers_of(tasks) -> dict[int, User]:
    """The people who claimed these tasks, by id, in one query."""
    ids = {task.claimed_by_id for task in tasks if task.claimed_by_id is not None}
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(ids)))}


def _open_tasks(user: User, lane: str):
    """The user's open tasks in one lane, as a query the index (state, lane, …) serves."""
    return (
        select(HumanTask, Case)
        .join(Case, Case.instance_id == HumanTask.instance_id)
        .where(
            HumanTask.state == "ready",
            HumanTask.lane == lane,
            _assignable(user),
            Case.applicant_id.is_distinct_from(user.id),  # a case about no one too
        )
    )


def _fetch(query, limit: int) -> list[tuple[HumanTask, Case]]:
    return [(task, case) for task, case in db.session.execute(query.limit(limit))]


def _by_due(user: User, lanes: list[str], limit: int, where=()) -> list[tuple[HumanTask, Case]]:
    # Two index ranges per lane: tasks with a deadline by deadline, then those without by age.
    due = heapq.merge(
        *(
            _fetch(
                _open_tasks(user, lane)
                .where(HumanTask.due_at.is_not(None), *where)
                .order_by(HumanTask.due_at, HumanTask.created_at, HumanTask.id),
                limit,
            )
            for lane in lanes
        ),
        key=lambda row: (row[0].due_at, row[0].created_at, row[0].id),
    )
    rows = list(due)[:limit]
    if len(rows) < limit:
        rows += _waiting(user, lanes, limit - len(rows), HumanTask.due_at.is_(None), *where)
    return rows


def _waiting(user: User, lanes: list[str], limit: int, *where) -> list[tuple[HumanTask, Case]]:
    merged = heapq.merge(
        *(
            _fetch(
                _open_tasks(user, lane).where(*where).order_by(HumanTask.created_at, HumanTask.id),
                limit,
            )
            for lane in lanes
        ),
        key=lambda row: (row[0].created_at, row[0].id),
    )
    return list(merged)[:limit]


def _assignable(user: User):
    return or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id == user.id)


def _own_open_tasks(user: User) -> list[tuple[str, datetime | None]]:
    """(lane, due) of the open tasks on the user's own applications, which its inbox leaves out;
    read through the user's applications, so as many as it has, usually none."""
    return list(
        db.session.execute(
            # An IN, not a join: the plan must start from the user's applications, and SQLite
            # without statistics would rather scan every open task.
            select(HumanTask.lane, HumanTask.due_at).where(
                HumanTask.instance_id.in_(
                    select(Case.instance_id).where(Case.applicant_id == user.id)
                ),
                HumanTask.state == "ready",
            )
        )
    )


def _count(user: User, lane: str, own: list, due_before: datetime | None = None) -> Count:
    """Open tasks of a lane the user may work, counted on the index alone (it holds state, lane,
    due date and assignee) up to the cap; those on its own applications are taken off after."""
    query = select(HumanTask.id).where(
        HumanTask.state == "ready", HumanTask.lane == lane, _assignable(user)
    )
    mine = [due for name, due in own if name == lane]
    if due_before is not None:
        query = query.where(HumanTask.due_at < due_before)
        mine = [due for due in mine if due is not None and due < due_before]
    limit = COUNT_CAP + 1 + len(mine)
    n = db.session.scalar(select(func.count()).select_from(query.limit(limit).subquery()))
    n -= len(mine)
    return Count(min(n, COUNT_CAP), n > COUNT_CAP)


BULK_ACTIONS = ("claim", "release", "assign")
BULK_LIMIT = PAGE_SIZE  # at most a page of tasks at once


@dataclass
class BulkResult:
    """What a bulk action did: the tasks it changed, and each refusal with its reason."""

    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, Exception]] = field(default_factory=list)


def bulk(user: User, action: str, task_guids: list[str], to_id: int | None = None) -> BulkResult:
    """Claim, release or assign several tasks: each in its own transaction under its instance's
    lock, exactly as one at a time, so that one refusal leaves the others done. Completing is
    never offered in bulk: a decision is one person's act on one case."""
    result = BulkResult()
    for guid in list(dict.fromkeys(task_guids))[:BULK_LIMIT]:
        try:
            if action == "claim":
                tasks.claim(user, guid)
            elif action == "release":
                tasks.unclaim(user, guid)
            elif action == "assign" and to_id is not None:
                tasks.assign(user, guid, to_id)
            else:
                raise ValueError(action)
        except DomainError as refusal:
            result.refused.append((guid, refusal))
        else:
            result.done.append(guid)
    return result
