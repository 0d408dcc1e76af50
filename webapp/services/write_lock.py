"""SQLite's one write lock, taken at the start of a transition and held until it commits.

SQLite's own wait for a busy lock (its busy timeout) sleeps 1, 2, 5, 10, 15, 20, 25… ms
between tries, whatever became of the lock meanwhile. A transition holds the lock for a few
milliseconds, so under load each waiting worker woke several milliseconds after the lock was
free: with three workers on two cores a third of the machine stood idle and completions per
second fell by a sixth. Here the lock is asked for without SQLite's wait, and asked again after
a sleep that starts at 50 µs and doubles up to half a millisecond, for as long as the
connection's busy timeout (the same limit as before); then the usual error.

Only people's transitions ask this way (services.workflow.lock_case). A ticker has the lock
busy nearly all the time it runs: asking often would only spend a core, so it waits as SQLite
does, and people's transitions go first.
"""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy import Connection

# The busy timeout the connection was opened with, read once per connection (milliseconds).
TIMEOUT_KEY = "sqlite_busy_timeout_ms"
FIRST_SLEEP = 0.000_05
LONGEST_SLEEP = 0.000_5


def take(connection: Connection) -> bool:
    """Begin the connection's transaction holding SQLite's write lock (BEGIN IMMEDIATE).
    False if its transaction had begun already (a write, or a savepoint): then the caller's
    first write takes the lock, with SQLite's own wait."""
    proxied = connection.connection
    raw = proxied.dbapi_connection
    if raw.in_transaction:
        return False
    timeout_ms = proxied.info.get(TIMEOUT_KEY)
    if timeout_ms is None:
        timeout_ms = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        proxied.info[TIMEOUT_KEY] = timeout_ms
    deadline = time.monotonic() + timeout_ms / 1000
    sleep = FIRST_SLEEP
    # Raw statements, below SQLAlchemy: tries are cheap, and an echo or a statement count does
    # not see them. Whatever is not a plain busy lock, and the last try once out of time, goes
    # through SQLAlchemy, so that its error is the one any other statement would raise.
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return True
            except sqlite3.OperationalError as err:
                if not _busy(err):
                    break
            time.sleep(sleep)
            sleep = min(sleep * 2, LONGEST_SLEEP)
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return True
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


# A lock another connection holds, which waiting frees: not a stale snapshot (SQLITE_BUSY_SNAPSHOT)
# nor a lock of this connection's own (SQLITE_LOCKED), which no wait would end.
_BUSY = {5, 261, 773}  # SQLITE_BUSY, SQLITE_BUSY_RECOVERY, SQLITE_BUSY_TIMEOUT


def _busy(err: sqlite3.OperationalError) -> bool:
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code in _BUSY
    return str(err) == "database is locked"
