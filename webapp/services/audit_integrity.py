"""Is the audit trail as it was written? Every row's hash is recomputed and each row must name
its predecessor's hash; the chain head names the last row. An edited row, a deleted row (in the
middle or at the end) or a row slipped in without the chain all show.

Someone who can rewrite the whole database can also recompute every hash after a change: keep
the head hash that `flask check` prints somewhere else (a ticket, a mail) to pin the trail down
to that moment."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AuditChainHead, AuditEvent
from webapp.models.audit import GENESIS


@dataclass
class ChainReport:
    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] | None = None


def verify(batch_size: int = 2000) -> ChainReport:
    """Walk the chain in order; read-only."""
    problems: list[str] = []
    head = db.session.get(AuditChainHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    report = ChainReport(head_seq=head_seq, head_hash=head_hash, problems=problems)
    # Rows that later transactions commit while this runs lie past the head read above.
    unchained = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
    )
    if unchained:
        problems.append(f"{unchained} audit row(s) are not on the hash chain (written around it)")
    expected_seq, previous = 1, GENESIS
    last_seen = 0
    while True:
        batch = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq >= expected_seq, AuditEvent.seq <= head_seq)
            .order_by(AuditEvent.seq)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        for event in batch:
            if event.seq != expected_seq:
                problems.append(_gap(expected_seq, event.seq - 1))
                previous = None  # the link across a gap cannot be checked
            if previous is not None and event.prev_hash != previous:
                problems.append(
                    f"audit row seq {event.seq} (id {event.id}) does not link to the row "
                    "before it: that row was changed or replaced"
                )
            if event.hash != event.digest(event.seq, event.prev_hash or ""):
                problems.append(
                    f"audit row seq {event.seq} (id {event.id}, {event.action}) was changed "
                    "after it was written"
                )
            report.rows += 1
            previous, expected_seq, last_seen = event.hash, event.seq + 1, event.seq
        db.session.expunge_all()
    if last_seen < head_seq:
        problems.append(_gap(last_seen + 1, head_seq))
    elif head_seq and previous is not None and previous != head_hash:
        problems.append("the chain head does not match the last audit row")
    return report


def _gap(first: int, last: int) -> str:
    if first == last:
        return f"audit row seq {first} was deleted"
    return f"audit rows seq {first}…{last} were deleted"
