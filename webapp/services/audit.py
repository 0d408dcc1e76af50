"""Append-only audit rows, written in the same transaction as what they record and chained
by hashes when it commits."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import AuditChainHead, AuditEvent, utcnow
from webapp.models.audit import GENESIS, row_digest

# What the audit trail of a case says for each action recorded on it; an action not named
# here shows as recorded.
ACTION_LABELS = {
    "case_started": _l("Case started"),
    "draft_saved": _l("Draft saved"),
    "task_completed": _l("Task completed"),
    "objection_filed": _l("Objection filed"),
    "timer_fired": _l("Deadline reached"),
    "timer_failed": _l("Automatic step failed"),
    "demo_time_moved": _l("Demo: deadlines brought forward"),
    "incident_retry_scheduled": _l("Automatic step to be retried"),
    "incident_resolved": _l("Failure resolved"),
    "instance_migrated": _l("Moved to another version of the procedure"),
    "member_registered": _l("Entered in the member register"),
    "certificate_issued": _l("Certificate issued"),
    "certificate_revoked": _l("Certificate revoked"),
    "case_withdrawn": _l("Withdrawn by the applicant"),
    "case_deleted": _l("Empty draft deleted"),
}


def action_label(action: str) -> str:
    """The action in the reader's language, for the audit trail page."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def record(
    action: str,
    actor_id: int | None = None,
    instance_id: int | None = None,
    task_guid: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Add one audit row to the current transaction.

    The row is kept aside and written when the transaction commits, already on the chain: one
    INSERT for all of them, where the ORM needed a flush for the rows and an UPDATE to link
    them. Nothing reads a transaction's own audit rows before it commits."""
    session = db.session()
    if not session.in_transaction():
        # Begun now, so that a rollback before any other write still takes the row with it.
        session.connection()
    row = {
        "action": action,
        "actor_id": actor_id,
        "instance_id": instance_id,
        "task_guid": task_guid,
        "data": data,
        "at": utcnow(),
    }
    session.info.setdefault("audit_pending", []).append((row, session.get_nested_transaction()))


@sa_event.listens_for(Session, "before_commit")
def _chain(session: Session) -> None:
    """Write the transaction's audit rows onto the chain, in the order they were recorded.

    The head row is locked last of all and held only until the commit that follows, so two
    transactions never take the same place in the chain and no lock is waited for while it is
    held (no deadlock with the instance locks). A savepoint's release is no commit: its rows
    wait for the transaction's (a yearly start releases one savepoint per case)."""
    if session.in_nested_transaction():
        return
    pending = session.info.pop("audit_pending", None)
    if not pending:
        return
    # The transaction's other rows first (an audit row names the instance it may have just
    # created); on SQLite this takes the write lock before the head is read.
    session.flush()
    connection = session.connection()
    head = connection.execute(_LOCK_HEAD).first()
    seq, previous = (head.seq, head.hash) if head is not None else (0, GENESIS)
    rows = []
    for recorded, _savepoint in pending:
        seq += 1
        digest = row_digest(
            seq,
            previous,
            recorded["at"],
            recorded["action"],
            recorded["actor_id"],
            recorded["instance_id"],
            recorded["task_guid"],
            recorded["data"],
        )
        rows.append({**recorded, "seq": seq, "prev_hash": previous, "hash": digest})
        previous = digest
    connection.execute(_EVENTS.insert(), rows)
    if head is None:
        connection.execute(_HEAD.insert().values(id=1, seq=seq, hash=previous))
    else:
        connection.execute(_MOVE_HEAD, {"seq": seq, "hash": previous})


_HEAD = AuditChainHead.__table__
_EVENTS = AuditEvent.__table__
# Built once, as every audited commit runs them. A no-op write takes the head's lock on every
# database; it returns the head as locked.
_LOCK_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq)
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_MOVE_HEAD = (
    update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("seq"), hash=bindparam("hash"))
)


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction) -> None:
    if previous_transaction.nested:
        # Only the rows recorded inside the savepoint (or a savepoint within it) are gone;
        # those recorded before it still wait.
        pending = session.info.get("audit_pending")
        if pending:
            pending[:] = [p for p in pending if not _within(p[1], previous_transaction)]
        return
    session.info.pop("audit_pending", None)


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_unwritten(session: Session, transaction) -> None:
    """A transaction ended without its commit (closed, or its connection lost): its rows are
    not carried into the session's next one."""
    if transaction.parent is None:
        session.info.pop("audit_pending", None)


def _within(savepoint, rolled_back) -> bool:
    while savepoint is not None:
        if savepoint is rolled_back:
            return True
        savepoint = savepoint.parent
    return False


CSV_COLUMNS = ("at", "action", "actor", "task", "data")


def trail(instance_id: int) -> list[AuditEvent]:
    """Every audit row of one instance, oldest first."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.instance_id == instance_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


# A cell starting with one of these is a formula to Excel and LibreOffice: a display name such
# as "=HYPERLINK(…)" typed at registration would run when the secretariat opens the file.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def as_csv(events: list[AuditEvent], actor_names: dict[int, str]) -> str:
    """The rows as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese right)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        writer.writerow(
            [
                event.at.isoformat(),
                event.action,
                _cell(actor_names.get(event.actor_id, "") if event.actor_id else ""),
                event.task_guid or "",
                json.dumps(event.data or {}, ensure_ascii=False, sort_keys=True, default=str),
            ]
        )
    return out.getvalue()
