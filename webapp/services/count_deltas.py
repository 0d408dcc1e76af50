"""Changes to running counts (the funnel's stage counts, the heatmap's element counts) gathered
over a transaction and written once, when it commits.

A step moves a count by one; a yearly start of thousands of cases in batches of fifty would
otherwise write one upsert per case, element and stage. Gathered, a transaction writes one
statement per table of counts (a row per count it changes), and holds those rows' locks only
for the moment of its commit. The deltas of a savepoint that rolls back go with it (a case
that could not be started counts nowhere). Once the commit has begun, a count moved by its
last flushes is written at once: nothing is left behind for a transaction that no longer
exists.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

# An upsert of several rows in one statement: (session, [(key, delta), …]) → None; a key names
# one row (its shard included) and appears once.
Writer = Callable[[Session, list[tuple[tuple, int]]], None]

_LAYERS = "count_deltas"  # [(transaction, Counter of (writer, key) → delta)], oldest first
_COMMITTING = "count_deltas_committing"


def add(session: Session, write: Writer, key: tuple, delta: int) -> None:
    """Move the count of `key` by `delta`, written when the transaction commits."""
    session = _unscoped(session)
    if session.info.get(_COMMITTING):
        write(session, [(key, delta)])
        return
    transaction = session.get_nested_transaction() or session.get_transaction()
    layers = session.info.setdefault(_LAYERS, [])
    if not layers or layers[-1][0] is not transaction:
        layers.append((transaction, Counter()))
    layers[-1][1][write, key] += delta


def shard(session: Session, shards: int) -> int:
    """Which of a count's rows this session moves. Any will do (a count is the sum of its
    rows); one per session gathers a batch's moves into few rows, and sessions (threads,
    workers) moving the same count mostly update different rows."""
    return session.info.setdefault(f"count_shard_{shards}", random.randrange(shards))


def write_pending(session: Session) -> None:
    """Write the deltas gathered so far (in a fixed order: concurrent transactions take the
    count rows' locks alike and never deadlock on them)."""
    total: Counter = Counter()
    for _transaction, deltas in session.info.pop(_LAYERS, []):
        total.update(deltas)
    rows: dict[Writer, list[tuple[tuple, int]]] = {}
    for (write, key), delta in sorted(total.items(), key=lambda item: repr(item[0][1])):
        if delta:
            rows.setdefault(write, []).append((key, delta))
    for write, changes in rows.items():
        write(session, changes)


def _unscoped(session) -> Session:
    return session() if isinstance(session, scoped_session) else session


@event.listens_for(Session, "before_commit")
def _at_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its deltas wait for the transaction's commit
    # What the commit still flushes after this (a step's last rows) is written at once.
    session.flush()
    session.info[_COMMITTING] = True
    write_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction) -> None:
    layers = session.info.get(_LAYERS)
    if not layers:
        return
    if not previous_transaction.nested:
        session.info.pop(_LAYERS, None)
        return

    def within(transaction) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    layers[:] = [(t, deltas) for t, deltas in layers if not within(t)]


@event.listens_for(Session, "after_transaction_end")
def _end(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_COMMITTING, None)
        session.info.pop(_LAYERS, None)
