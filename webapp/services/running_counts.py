"""What the running counts (the funnel's cases per stage, the heatmap's cases per element) share:
moves gathered over a transaction and written once, when it commits, in one statement per
table of counts whatever the number of rows.

A step moves a count by one; a yearly start of thousands of cases in batches of fifty would
otherwise write one upsert per case, element and stage. Gathered, a transaction writes one
statement per table (a row per count it changes), and holds those rows' locks only for the
moment of its commit. The moves of a savepoint that rolls back go with it (a case that could
not be started counts nowhere). Once the commit has begun, a count moved by its last flushes is
written at once: nothing is left behind for a transaction that no longer exists.
"""

from __future__ import annotations

import random
from collections import Counter
from functools import cache

from sqlalchemy import Table, event, text
from sqlalchemy.orm import Session, scoped_session

_LAYERS = "running_counts"  # [(transaction, Counter of (table, columns, key) → delta)]
_COMMITTING = "running_counts_committing"


def move(session, table: Table, columns: tuple[str, ...], key: tuple, delta: int) -> None:
    """Move the count of the row at `key` (its values of `columns`, the table's unique key) by
    `delta`, written when the transaction commits."""
    session = _unscoped(session)
    if session.info.get(_COMMITTING):
        _write(session, table, columns, [(key, delta)])
        return
    transaction = session.get_nested_transaction() or session.get_transaction()
    layers = session.info.setdefault(_LAYERS, [])
    if not layers or layers[-1][0] is not transaction:
        layers.append((transaction, Counter()))
    layers[-1][1][table, columns, key] += delta


def shard(session, shards: int) -> int:
    """Which of a count's rows this session moves. Any will do (a count is the sum of its
    rows); one per session gathers a batch's moves into few rows, and sessions (threads,
    workers) moving the same count mostly update different rows."""
    session = _unscoped(session)
    return session.info.setdefault(f"count_shard_{shards}", random.randrange(shards))


def write_pending(session) -> None:
    """Write the moves gathered so far, rows in key order: concurrent transactions take the
    count rows' locks alike and never deadlock on them."""
    session = _unscoped(session)
    total: Counter = Counter()
    for _transaction, deltas in session.info.pop(_LAYERS, []):
        total.update(deltas)
    rows: dict[tuple[Table, tuple[str, ...]], list[tuple[tuple, int]]] = {}
    for (table, columns, key), delta in sorted(total.items(), key=_order):
        if delta:
            rows.setdefault((table, columns), []).append((key, delta))
    for (table, columns), changes in rows.items():
        _write(session, table, columns, changes)


def _order(item) -> tuple:
    (table, columns, key), _delta = item
    return (table.name, columns, tuple(map(repr, key)))


def _write(session: Session, table: Table, columns: tuple[str, ...], changes: list) -> None:
    params = {}
    for i, (key, delta) in enumerate(changes):
        params.update({f"{name}_{i}": value for name, value in zip(columns, key, strict=True)})
        params[f"cases_{i}"] = delta
    session.execute(_adding(table.name, columns, len(changes)), params)


@cache
def _adding(table: str, columns: tuple[str, ...], n: int):
    # Written as text, once per table and number of rows: SQLAlchemy would walk a multi-row
    # INSERT construct for its cache key at every execution (measured: more than running it).
    # The same statement on SQLite and PostgreSQL (ON CONFLICT … excluded).
    names = ", ".join((*columns, "cases"))
    rows = ", ".join(
        "(" + ", ".join(f":{name}_{i}" for name in (*columns, "cases")) + ")" for i in range(n)
    )
    return text(
        f"INSERT INTO {table} ({names}) VALUES {rows} ON CONFLICT ({', '.join(columns)}) "
        f"DO UPDATE SET cases = {table}.cases + excluded.cases"
    )


def _unscoped(session) -> Session:
    return session() if isinstance(session, scoped_session) else session


@event.listens_for(Session, "before_commit")
def _at_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its moves wait for the transaction's commit
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
