"""SQLite's write lock, taken by a transition without SQLite's coarse wait (1, 2, 5, 10… ms
between tries): tried again after sleeps of at most half a millisecond, until the connection's
busy timeout, which is left as it was. (SQLite only, whichever database the suite runs on.)"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine, text
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
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


class Clock:
    """write_lock's time: the real monotonic clock, and sleeps that only call back (patched
    on the module alone, so no other thread's sleeps are touched)."""

    def __init__(self, on_sleep):
        self.monotonic, self.on_sleep = time.monotonic, on_sleep

    def sleep(self, seconds):
        self.on_sleep(seconds)


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

    monkeypatch.setattr(write_lock, "time", Clock(sleep))
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


def test_a_transaction_begun_by_a_savepoint_is_left_to_its_first_write(path):
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        savepoint = connection.begin_nested()
        assert write_lock.take(connection) is False
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")  # the lock, SQLite's way
        assert not _others_can_write(path)
        savepoint.commit()
        connection.commit()
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    engine.dispose()


def test_a_session_commits_and_rolls_back_a_transaction_begun_so(path):
    from sqlalchemy.orm import Session

    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        assert write_lock.take(session.connection()) is True
        session.execute(text("INSERT INTO t VALUES (1)"))
        with session.begin_nested():
            session.execute(text("INSERT INTO t VALUES (2)"))
        session.commit()
        assert _others_can_write(path)
        assert write_lock.take(session.connection()) is True
        session.execute(text("INSERT INTO t VALUES (3)"))
        session.rollback()
        assert _others_can_write(path)
        assert session.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2]
    engine.dispose()


def test_a_lock_no_wait_can_free_fails_at_once_as_any_statement_would(path, monkeypatch):
    # A read still open on this connection saw the database before another writer's commit:
    # its snapshot can never be written from (SQLITE_BUSY_SNAPSHOT), however long it waits.
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    with engine.begin() as setup:
        setup.exec_driver_sql("INSERT INTO t VALUES (1), (2)")

    def sleep(_seconds):
        raise AssertionError("waited for a lock that no wait frees")

    monkeypatch.setattr(write_lock, "time", Clock(sleep))
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        reading = raw.execute("SELECT x FROM t")
        reading.fetchone()  # the read stays open, holding its snapshot
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("INSERT INTO t VALUES (3)")
        other.close()
        with pytest.raises(OperationalError):
            write_lock.take(connection)
        assert _busy_timeout(connection) == 30_000
        reading.close()
    engine.dispose()
