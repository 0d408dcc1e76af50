"""Reference data nearly every step reads and people rarely change (the working-day calendar,
the groups' names), kept by each process from one transaction to the next.

The database stamps each kind anew whenever its table changes, by triggers, whoever writes it.
Before loading a kind, its stamp is read (the session's pending changes flushed first, as for
any query): a copy this process loaded under the same stamp is used again, any other stamp
loads it afresh. The stamp is read before the data, so a change committed in between makes a
copy newer than its stamp, never older, and the next read, seeing the new stamp, loads again.

Every kind's stamp is read at once, and a transaction uses them until it writes (a flush) or
rolls back (a savepoint too): a step asks for the groups (authorizing, before its lock) and
then for the calendar (its deadlines, under the lock), one statement instead of two. A change
another transaction commits meanwhile is the next transaction's to see: the step counts with
the calendar as it stood when the step began, as if it had run before that change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import ReferenceStamp

T = TypeVar("T")

_STAMPS = select(ReferenceStamp.kind, ReferenceStamp.stamp)
_READ = "reference_stamps"  # session.info: (root transaction, {kind: stamp}) as read in it
# Per engine, since each app has its own (tests make hundreds): kind → (stamp, value).
_copies: WeakKeyDictionary = WeakKeyDictionary()


def kept(kind: str, load: Callable[[], T]) -> T:
    """What `load()` gives, from this process's copy if nothing of the kind changed since.
    The value is shared by every thread of the process: callers must not change it."""
    session = db.session()
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # as a query would: a pending change of the kind stamps it
    stamp = _stamps(session).get(kind)
    if stamp is None:  # a kind without a stamp is loaded each time
        return load()
    copies = _copies.setdefault(db.engine, {})
    copy = copies.get(kind)
    if copy is not None and copy[0] == stamp:
        return copy[1]
    value = load()
    copies[kind] = (stamp, value)
    return value


def _stamps(session) -> dict[str, str]:
    transaction = session.get_transaction()
    read = session.info.get(_READ)
    if read is not None and read[0] is transaction:
        return read[1]
    # Read as rows, not through the ORM's query machinery: nearly every step reads them, and
    # that machinery cost several times the statement.
    stamps = {kind: stamp for kind, stamp in session.connection().execute(_STAMPS)}
    session.info[_READ] = (session.get_transaction(), stamps)
    return stamps


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_soft_rollback")
def _forget_stamps(session, *_args) -> None:
    # A write may change a kind (its trigger stamps it), and a rollback may undo one.
    session.info.pop(_READ, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_stamps_at_end(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_READ, None)
