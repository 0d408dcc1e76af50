"""The running counts of cases in progress per procedure and stage (the dashboard's funnel):
moved whenever a case is added, changes stage or status, or is deleted, in the same flush
(written at commit: webapp.services.running_counts), and recounted from case_file where rows
were written in bulk (the benchmarks' populations). `flask check` compares them with a count
of case_file.

They follow the ORM's unit of work rather than calls in each service: a case's status changes
in several places (a step, a withdrawal, an appeal reopening it, a draft deleted), and a count
that one of them forgot would drift without anyone noticing. The two writes that bypass the
flush (a case started, a step's sync: webapp.services.row_writes) go through `insert` and
`write` here, which move the count with the row.
"""

from __future__ import annotations

from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import Case, StageCount
from webapp.services import row_writes, running_counts

# Cases at one stage stepping in parallel update different rows.
SHARDS = 8
KEY = ("model_id", "stage", "shard")
NO_MODEL = 0

Place = tuple[int, str] | None  # (procedure, stage) of a case in progress; None otherwise


def place(case: Case) -> Place:
    # A case not yet flushed has no status: its column's default, in progress.
    if (case.status or "in_progress") != "in_progress":
        return None
    return (case.model_id or NO_MODEL, case.stage or "")


def _was(case: Case) -> Place:
    """Where the case stood when loaded (the columns keep their old values: active_history)."""
    attrs = inspect(case).attrs

    def old(key):
        history = attrs[key].history
        return (history.deleted or history.unchanged or (getattr(case, key),))[0]

    if old("status") != "in_progress":
        return None
    return (old("model_id") or NO_MODEL, old("stage") or "")


def move(session, before: Place, after: Place) -> None:
    """A case left `before` for `after` (None: not in progress)."""
    if before == after:
        return
    shard = running_counts.shard(session, SHARDS)
    if before is not None:
        running_counts.move(session, StageCount.__table__, KEY, (*before, shard), -1)
    if after is not None:
        running_counts.move(session, StageCount.__table__, KEY, (*after, shard), 1)


def insert(case: Case) -> None:
    """Insert the new case now, without a flush round, and count it."""
    row_writes.insert_objects([case])
    move(db.session, None, place(case))


def write(case: Case) -> None:
    """Write the case's changes now, without a flush round, and move its count with them (a
    case the flush must write, new or with a changed relationship, is left to it)."""
    before = _was(case)
    if row_writes.update_changed(case):
        move(db.session, before, place(case))


@event.listens_for(Session, "before_flush")
def _follow_cases(session, _context, _instances) -> None:
    for case in session.new:
        if isinstance(case, Case):
            move(session, None, place(case))
    for case in session.dirty:
        if isinstance(case, Case) and session.is_modified(case):
            move(session, _was(case), place(case))
    for case in session.deleted:
        if isinstance(case, Case):
            move(session, _was(case), None)


def now(model_ids: list[int] | None = None) -> dict[str, int]:
    """Cases in progress per stage, over the given procedures (None: all)."""
    db.session.flush()  # this transaction's own moves count too
    running_counts.write_pending(db.session)
    query = select(StageCount.stage, func.sum(StageCount.cases)).group_by(StageCount.stage)
    if model_ids is not None:
        query = query.where(StageCount.model_id.in_(model_ids))
    return {stage: int(n) for stage, n in db.session.execute(query) if n}


def counted() -> dict[tuple[int, str], int]:
    """What the running counts should be: a count of case_file (the slow way)."""
    return {
        (model_id or NO_MODEL, stage or ""): n
        for model_id, stage, n in db.session.execute(
            select(Case.model_id, Case.stage, func.count())
            .where(Case.status == "in_progress")
            .group_by(Case.model_id, Case.stage)
        )
    }


def kept() -> dict[tuple[int, str], int]:
    db.session.flush()
    running_counts.write_pending(db.session)
    return {
        (model_id, stage): int(n)
        for model_id, stage, n in db.session.execute(
            select(StageCount.model_id, StageCount.stage, func.sum(StageCount.cases)).group_by(
                StageCount.model_id, StageCount.stage
            )
        )
        if n
    }


def recount() -> None:
    """Count again from case_file (after rows written in bulk)."""
    db.session.flush()
    running_counts.write_pending(db.session)
    db.session.execute(delete(StageCount))
    for (model_id, stage), n in counted().items():
        db.session.add(StageCount(model_id=model_id, stage=stage, shard=0, cases=n))
    db.session.flush()
