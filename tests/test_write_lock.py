"""SQLite's write lock, taken by a transition without SQLite's coarse wait (1, 2, 5, 10… ms
between tries): tried again after sleeps of at most half a millisecond, until the connection's
busy timeout, which is left as it was. (SQLite only, whichever database the suite runs on.)"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from webapp.services import write_lock


class Holder:
    """Another process's writer: holds the write lock from start() until release()."""

    def __init__(self, path: str):
        self.path = path
        self.holding, self.released = threading.Event(), threading.Event()
        self.let_go = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        connection = sqlite3.connect(self.path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        self.holding.set()
        self.let_go.wait(30)
        connection.execute("COMMIT")
        connection.close()
        self.released.set()

    def start(self):
        self.thread.start()
        assert self.holding.wait(10)

    def release(self):
        self.let_go.set()
        assert self.released.wait(10)
        self.thread.join(10)


@pytest.fixture
def path(tmp_path):
    path = str(tmp_path / "lock.db")
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x INTEGER)")
    setup.commit()
    setup.close()
    return path


def _busy_timeout(connection) -> int:
    return connection.exec_driver_sql("PRAGMA busy_timeout").scalar()


def _others_can_write(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    other.execute("ROLLBACK")
    other.close()
    return True


def test_a_busy_lock_is_taken_soon_after_it_is_let_go(path, monkeypatch):
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    holder = Holder(path)
    holder.start()
    sleeps = []

    def sleep(seconds):
        # The holder lets go while the taker sleeps for the third time: no wall clock involved.
        sleeps.append(seconds)
        if len(sleeps) == 3:
            holder.release()

    monkeypatch.setattr(write_lock.time, "sleep", sleep)
    with engine.connect() as connection:
        assert write_lock.take(connection) is True
        assert not _others_can_write(path)  # held until the transaction ends
        assert _busy_timeout(connection) == 30_000  # SQLite's own wait as before, for the rest
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        connection.commit()
        assert _others_can_write(path)
    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps)
    assert max(sleeps) <= write_lock.LONGEST_SLEEP < 0.001  # SQLite's own first waits: 1, 2, 5 ms
    engine.dispose()


def test_a_lock_held_past_the_busy_timeout_fails_as_any_statement_would(path):
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    holder = Holder(path)
    holder.start()
    try:
        with engine.connect() as connection:
            with pytest.raises(OperationalError, match="database is locked"):
                write_lock.take(connection)
            assert _busy_timeout(connection) == 50
    finally:
        holder.release()
    engine.dispose()


def test_a_transaction_that_writes_already_holds_the_lock(path):
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert write_lock.take(connection) is False
        assert not _others_can_write(path)
        connection.rollback()
    engine.dispose()
