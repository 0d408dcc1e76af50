"""A step's new rows, and its changes to a row, written at once through prebuilt statements,
and their objects left as written.

Every step offers tasks and queues messages, and a yearly start does so for thousands of cases:
through the unit of work each costs a share of a flush round (its bookkeeping, sorting and
events) several times the INSERT itself. Here the objects' columns are read as the caller set
them, the column defaults filled in as the mapper would, the rows inserted in one statement per
class, and each object attached to the session as loaded from the database: nothing is left for
a flush to write, and nothing is read again when it is used.

No flush listener sees these writes: a class one follows (a case's running counts,
webapp.services.stage_counts) moves what it follows itself. A relationship set by the caller would
not be written: a new object with one is refused, a changed object with one is left to the flush.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache

from sqlalchemy import bindparam, insert, inspect, update
from sqlalchemy.orm import make_transient_to_detached

from webapp.extensions import db


def insert_objects(objects: Sequence) -> None:
    """INSERT the new objects (all of one mapped class) and attach them to the session as
    persistent, their ids and defaults set; in the caller's transaction. Within `gathered`,
    when it ends."""
    if not objects:
        return
    waiting = db.session.info.get(_GATHERED)
    if waiting is not None:
        waiting.extend(objects)
        return
    plan = _plan(type(objects[0]))
    rows = []
    for obj in objects:
        state = obj.__dict__
        if any(key in state for key in plan.relationships):
            raise ValueError(f"{plan.name}: a relationship set on a new row would not be written")
        for key, default in plan.defaults:
            if state.get(key) is None:
                setattr(obj, key, default())
        row = {}
        for column, key in plan.columns:
            if key not in state:
                setattr(obj, key, None)  # written NULL, and known to be: never read back
            row[column] = state[key]
        rows.append(row)
    connection = db.session.connection()
    if len(rows) == 1:
        ids = [connection.execute(plan.one, rows[0]).scalar_one()]
    elif plan.sentinel or connection.dialect.name != "sqlite":
        ids = list(connection.execute(plan.many, rows).scalars())
    else:
        # SQLAlchemy matches returned rows to parameters by a sentinel column, and SQLite has
        # none implicit: it would send one INSERT per row. One statement's rows take ascending
        # rowids in the order of its VALUES (each new rowid is one past the largest), so the
        # ids, sorted, are the rows' in order.
        ids = sorted(connection.execute(plan.one, rows).scalars())
    session = db.session()
    for obj, row_id in zip(objects, ids, strict=True):
        setattr(obj, plan.id_key, row_id)
        make_transient_to_detached(obj)
        session.add(obj)
        # As the flush records a row it inserted: a rollback of this transaction (or savepoint)
        # takes the object out of the session with its row, and an id used again is free.
        session._transaction._new[inspect(obj)] = True


@contextmanager
def gathered() -> Iterator[None]:
    """The rows insert_objects is given meanwhile written when the block ends (if it does not
    raise), in one statement per class: a batch's messages, whatever the number of its cases.
    Within another such block, when that one ends."""
    info = db.session.info
    if _GATHERED in info:
        yield
        return
    waiting = info[_GATHERED] = []
    try:
        yield
    finally:
        info.pop(_GATHERED, None)
    by_class: dict[type, list] = {}
    for obj in waiting:
        by_class.setdefault(type(obj), []).append(obj)
    for objects in by_class.values():
        insert_objects(objects)


_GATHERED = "row_writes_gathered"


class _Plan:
    def __init__(self, cls) -> None:
        mapper = inspect(cls)
        table = mapper.local_table
        (primary,) = table.primary_key.columns
        self.name = table.name
        self.id_key = mapper.get_property_by_column(primary).key
        self.columns = [
            (column.key, mapper.get_property_by_column(column).key)
            for column in table.columns
            if column is not primary
        ]
        self.defaults = [
            (mapper.get_property_by_column(column).key, _default_of(column))
            for column in table.columns
            if column is not primary and column.default is not None
        ]
        if any(c.server_default is not None for c in table.columns if c is not primary):
            raise ValueError(f"{table.name}: a default computed by the database is not read back")
        self.relationships = frozenset(mapper.relationships.keys())
        # A version column or a value computed on update is the mapper's to write.
        self.updatable = mapper.version_id_col is None and all(
            c.onupdate is None and c.server_onupdate is None for c in table.columns
        )
        self.column_keys = frozenset(key for _column, key in self.columns)
        self._table, self._primary, self._mapper = table, primary, mapper
        self.updates: dict[frozenset[str], object] = {}  # built once per set of columns
        self.sentinel = any(c._insert_sentinel for c in table.columns)
        self.one = insert(table).returning(primary)
        # In the order the rows were given (SQLAlchemy checks the returned rows against them).
        self.many = insert(table).returning(primary, sort_by_parameter_order=True)

    def update_of(self, keys: frozenset[str]):
        columns = {self._mapper.attrs[key].columns[0]: key for key in keys}
        return (
            update(self._table)
            .where(self._primary == bindparam("row_id"))
            .values({c: bindparam(f"new_{key}", type_=c.type) for c, key in columns.items()})
        )


def _default_of(column):
    default = column.default
    if default.is_callable:
        return lambda: default.arg(None)
    if default.is_scalar:
        return lambda: default.arg
    raise ValueError(f"{column}: a default computed by the database is not read back")


@cache
def _plan(cls) -> _Plan:
    return _Plan(cls)


def update_changed(obj) -> bool:
    """UPDATE the persistent object's changed columns now, in one prebuilt statement, and mark
    them as stored; False (nothing written, the flush will write it) for an object that is not
    yet stored or has a changed relationship."""
    state = inspect(obj)
    plan = _plan(type(obj))
    if not state.persistent or not plan.updatable:
        return False
    changed = state.committed_state.keys()
    if not changed:
        return True  # nothing changed, or only flagged as such: the flush emits nothing either
    if not changed <= plan.column_keys:
        return False
    keys = frozenset(changed)
    statement = plan.updates.get(keys)
    if statement is None:
        statement = plan.updates[keys] = plan.update_of(keys)
    values = {key: getattr(obj, key) for key in keys}
    db.session.connection().execute(
        statement,
        {"row_id": getattr(obj, plan.id_key), **{f"new_{k}": v for k, v in values.items()}},
    )
    # All it had changed is stored: the object is as loaded, and no flush looks at it again
    # (a changed value given back with set_committed_value leaves it flagged as modified).
    state._commit_all(state.dict, db.session().identity_map)
    return True
