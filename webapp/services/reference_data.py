"""Reference data nearly every step reads and people rarely change (the working-day calendar,
the groups' names), kept by each process from one transaction to the next.

The database stamps each kind anew whenever its table changes, by triggers, whoever writes it.
Before loading a kind, its stamp is read (the session's pending changes flushed first, as for
any query): a copy this process loaded under the same stamp is used again, any other stamp
loads it afresh. The stamp is read before the data, so a change committed in between makes a
copy newer than its stamp, never older, and the next read, seeing the new stamp, loads again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, select

from webapp.extensions import db
from webapp.models import ReferenceStamp

T = TypeVar("T")

_STAMP = select(ReferenceStamp.stamp).where(ReferenceStamp.kind == bindparam("kind"))
# Per engine, since each app has its own (tests make hundreds): kind → (stamp, value).
_copies: WeakKeyDictionary = WeakKeyDictionary()


def kept(kind: str, load: Callable[[], T]) -> T:
    """What `load()` gives, from this process's copy if nothing of the kind changed since.
    The value is shared by every thread of the process: callers must not change it."""
    session = db.session()
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # as a query would: a pending change of the kind stamps it
    # Read as a row, not through the ORM's query machinery: nearly every step reads a stamp
    # or two, and that machinery cost several times the statement.
    stamp = session.connection().execute(_STAMP, {"kind": kind}).scalar()
    if stamp is None:  # a kind without a stamp is loaded each time
        return load()
    copies = _copies.setdefault(db.engine, {})
    copy = copies.get(kind)
    if copy is not None and copy[0] == stamp:
        return copy[1]
    value = load()
    copies[kind] = (stamp, value)
    return value
