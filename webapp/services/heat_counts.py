"""The running counts of cases at each element of each version (the heatmap's "now"): moved
by every step in its own transaction (written at its commit: webapp.services.running_counts),
and recounted from the projection where rows were written in bulk (the benchmarks'
populations)."""

from __future__ import annotations

from sqlalchemy import delete, distinct, func, select

from webapp.extensions import db
from webapp.models import ElementCount, HumanTask, TimerWait
from webapp.services import running_counts

# Steps at one element in parallel (every review completed) update different rows.
SHARDS = 8
KEY = ("version_id", "bpmn_id", "shard")


def move(before: set, after: set) -> None:
    """An instance left the elements of `before` not in `after` and reached the others;
    each a (version id, element id) pair."""
    shard = running_counts.shard(db.session, SHARDS)
    for pairs, delta in ((before - after, -1), (after - before, 1)):
        for version_id, bpmn_id in pairs:
            if version_id is not None:
                key = (version_id, bpmn_id, shard)
                running_counts.move(db.session, ElementCount.__table__, KEY, key, delta)


def now(version_id: int) -> dict[str, int]:
    """Cases at each element of the version now."""
    db.session.flush()  # this transaction's own moves count too
    running_counts.write_pending(db.session)
    return {
        bpmn_id: int(n)
        for bpmn_id, n in db.session.execute(
            select(ElementCount.bpmn_id, func.sum(ElementCount.cases))
            .where(ElementCount.version_id == version_id)
            .group_by(ElementCount.bpmn_id)
        )
        if n
    }


def recount() -> None:
    """Count again from the open tasks and timer waits (after rows written in bulk)."""
    running_counts.write_pending(db.session)
    db.session.execute(delete(ElementCount))
    counts: dict[tuple[int, str], int] = {}
    for model, waiting in ((HumanTask, "ready"), (TimerWait, "waiting")):
        for version_id, bpmn_id, n in db.session.execute(
            select(model.version_id, model.bpmn_id, func.count(distinct(model.instance_id)))
            .where(model.state == waiting, model.version_id.is_not(None))
            .group_by(model.version_id, model.bpmn_id)
        ):
            counts[version_id, bpmn_id] = counts.get((version_id, bpmn_id), 0) + n
    for (version_id, bpmn_id), n in counts.items():
        db.session.add(ElementCount(version_id=version_id, bpmn_id=bpmn_id, shard=0, cases=n))
