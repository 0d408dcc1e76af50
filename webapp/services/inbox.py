"""The inbox of a committee member: open tasks of its lanes a page at a time, with counts.

Every query reads one lane's index range in the order the page shows it, and stops at the page
(or, for counts, at COUNT_CAP), so the page costs the same with a thousand open tasks as with a
hundred thousand. Lanes are merged in Python: an index serves one lane in order, not several.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from webapp.extensions import db
from webapp.models import Application, HumanTask, User, utcnow
from webapp.roles import lanes_for_roles

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

    rows: list[tuple[HumanTask, Application]]
    counts: dict[str, Count]  # by lane, for every lane the user works
    total: Count
    overdue: Count
    page: int
    has_next: bool


def page_of(user: User, lane: str | None = None, sort: str = "due", page: int = 1) -> InboxPage:
    """Open tasks of the user's committee lanes, never on its own application: by due date
    (overdue first, tasks without a deadline last) or, with sort="waiting", oldest first."""
    lanes = lanes_for_roles(user.role_set)
    shown = [name for name in lanes if lane is None or name == lane]
    page = max(1, page)
    wanted = page * PAGE_SIZE + 1  # one more than the page: is there a next one?
    ordered = _waiting(user, shown, wanted) if sort == "waiting" else _by_due(user, shown, wanted)
    start = (page - 1) * PAGE_SIZE
    now = utcnow()
    own = _own_open_tasks(user)
    counts = {name: _count(user, name, own) for name in lanes}
    overdue = sum((_count(user, name, own, due_before=now) for name in lanes), Count(0))
    return InboxPage(
        rows=ordered[start : start + PAGE_SIZE],
        counts=counts,
        total=sum(counts.values(), Count(0)),
        overdue=overdue,
        page=page,
        has_next=len(ordered) > start + PAGE_SIZE,
    )


def _open_tasks(user: User, lane: str):
    """The user's open tasks in one lane, as a query the index (state, lane, …) serves."""
    return (
        select(HumanTask, Application)
        .join(Application, Application.instance_id == HumanTask.instance_id)
        .where(
            HumanTask.state == "ready",
            HumanTask.lane == lane,
            _assignable(user),
            Application.applicant_id != user.id,
        )
    )


def _fetch(query, limit: int) -> list[tuple[HumanTask, Application]]:
    return [(task, application) for task, application in db.session.execute(query.limit(limit))]


def _by_due(user: User, lanes: list[str], limit: int) -> list[tuple[HumanTask, Application]]:
    # Two index ranges per lane: tasks with a deadline by deadline, then those without by age.
    due = heapq.merge(
        *(
            _fetch(
                _open_tasks(user, lane)
                .where(HumanTask.due_at.is_not(None))
                .order_by(HumanTask.due_at, HumanTask.created_at, HumanTask.id),
                limit,
            )
            for lane in lanes
        ),
        key=lambda row: (row[0].due_at, row[0].created_at, row[0].id),
    )
    rows = list(due)[:limit]
    if len(rows) < limit:
        rows += _waiting(user, lanes, limit - len(rows), HumanTask.due_at.is_(None))
    return rows


def _waiting(
    user: User, lanes: list[str], limit: int, *where
) -> list[tuple[HumanTask, Application]]:
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
                    select(Application.instance_id).where(Application.applicant_id == user.id)
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
