"""The helper process that evaluates diagram code under operating-system limits.

The guards of the sandbox count Python steps, but work done inside one C built-in
(`any(map(l.append, l))`, `sum(map(len, map(str.split, many)))`) never returns to them. Here the
kernel counts instead: each evaluation runs under a CPU-time timer whose signal ends the process
(SIGPROF keeps its default action), and the process's address space is capped, so an expression
can neither hold a core nor fill the machine's memory. The parent (`sandbox_process`) notices the
death, names the limit and starts a replacement.

Diagram functions that need the application (the database, its calendar) are not run here: each
is a stub that asks the parent over the pipe and waits for its answer.
"""

from __future__ import annotations

import builtins
import os
import pickle
import resource
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

# Exit status when an evaluation ran out of memory: the parent reports the memory limit.
EXIT_MEMORY = 3
# The helper imports its code from disk when it starts: after a deployment a worker still
# running the old code must not talk to a helper of the new one. Raise it when the messages
# change.
PROTOCOL = 2


def _address_space() -> int:
    """Bytes of address space the process holds now (what RLIMIT_AS counts)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _stub(name: str, conn: Connection):
    def call(*args: Any, **kwargs: Any) -> Any:
        conn.send(("call", name, args, kwargs))
        kind, value = conn.recv()
        if kind == "ok":
            return value
        raise rebuilt(*value)

    call.__name__ = name
    return call


def rebuilt(kind: str, args: tuple) -> Exception:
    """An error sent over the pipe, rebuilt; only built-in classes keep their type."""
    from webapp.engine.sandbox_limits import SandboxViolation

    if kind == "SandboxViolation":
        return SandboxViolation(*args)
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, OSError):
        try:
            return cls(*args)
        except TypeError:
            pass
    return RuntimeError(f"{kind}: {args[0] if args else ''}")


def error_of(err: BaseException) -> tuple[str, tuple]:
    """An error as plain values to send over the pipe: its class name and short arguments."""
    from webapp.engine.sandbox_run import shorten

    shorten(err)
    args = tuple(a if isinstance(a, str | int | float) else repr(a)[:300] for a in err.args)
    return type(err).__name__, args


def serve(conn: Connection, seconds: float, megabytes: int, names: list[str]) -> None:
    """Answer evaluations until the parent closes the pipe."""
    from webapp.engine.sandbox import SandboxEnvironment

    environment = SandboxEnvironment({name: _stub(name, conn) for name in names}, seconds=seconds)
    # Warm what every first evaluation would pay for, before the cap is measured.
    environment.evaluate("len([1]) == 1", {})
    cap = _address_space() + megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    # A helper that keeps a quarter of the limit after an evaluation retires after its answer:
    # what the allocator holds on to would shrink the next evaluation's share.
    retire_at = cap - megabytes * 1024 * 1024 * 3 // 4
    conn.send(("ready", PROTOCOL))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        mode, source, context, external = job
        try:
            # The CPU timer covers the evaluation only; the pipe's waits cost no CPU.
            signal.setitimer(signal.ITIMER_PROF, seconds)
            if mode == "eval":
                reply = ("ok", environment.evaluate(source, context, external))
            else:
                environment.execute(source, context, external)
                reply = ("ok", context)
        except MemoryError:
            signal.setitimer(signal.ITIMER_PROF, 0)
            os._exit(EXIT_MEMORY)  # what the failed allocation left behind is not trusted
        except Exception as err:
            reply = ("error", error_of(err))
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        try:
            conn.send((*reply, _address_space() > retire_at))
        except MemoryError:
            os._exit(EXIT_MEMORY)
        except (pickle.PicklingError, TypeError, AttributeError) as err:
            message = f"the result cannot be kept: {err}"
            conn.send(("error", ("SandboxViolation", (message,)), True))


def main() -> None:
    """Entry point: `python -c '…main()' FD_IN FD_OUT SECONDS MEGABYTES NAME…`."""
    fd_in, fd_out, seconds, megabytes, *names = sys.argv[1:]
    conn = _Duplex(Connection(int(fd_in), writable=False), Connection(int(fd_out), readable=False))
    serve(conn, float(seconds), int(megabytes), names)  # type: ignore[arg-type]


class _Duplex:
    """Two one-way pipes used as one connection."""

    def __init__(self, reader: Connection, writer: Connection):
        self.recv, self.send = reader.recv, writer.send
