"""Evaluations in helper processes (`sandbox_helper`) that the kernel holds to a CPU time and an
address space, so that no expression can hang or exhaust the process serving requests.

A pool keeps started helpers; an evaluation takes one, sends the code and the task data, and
answers the diagram functions the helper asks for (they run here, with the database) until the
result comes back. A helper that dies is replaced and the evaluation fails with SandboxOverrun,
naming the limit. A wall-clock deadline backs the CPU timer up: a helper that does not answer in
time is killed all the same, so a row lock is never held much past the limit.
"""

from __future__ import annotations

import atexit
import io
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from webapp.engine.sandbox import SandboxEnvironment
from webapp.engine.sandbox_helper import EXIT_MEMORY, PROTOCOL, error_of, rebuilt
from webapp.engine.sandbox_limits import SandboxViolation
from webapp.engine.sandbox_plain import fits, plain_reads

_PACKAGE = Path(__file__).resolve().parent
# The helper imports the sandbox modules only: empty stand-ins for the packages keep it from
# running webapp/__init__.py (Flask, SQLAlchemy, every blueprint), which would take seconds.
_START = f"""
import sys, types
for name, path in (("webapp", {str(_PACKAGE.parent)!r}), ("webapp.engine", {str(_PACKAGE)!r})):
    sys.modules[name] = types.ModuleType(name)
    sys.modules[name].__path__ = [path]
from webapp.engine.sandbox_helper import main
main()
"""
MAX_MESSAGE = 64 * 1024 * 1024  # bytes of one message from a helper
GRACE_SECONDS = 1.0  # wall time beyond the CPU limit before a silent helper is killed


@dataclass(frozen=True)
class SandboxLimits:
    """What one evaluation may cost: CPU seconds and megabytes of memory."""

    seconds: float = 2.0
    megabytes: int = 256

    @property
    def wall(self) -> float:
        """Seconds a helper may take to answer, whatever the load, before it is killed."""
        return self.seconds + GRACE_SECONDS


class SandboxOverrun(SandboxViolation):
    """An evaluation went over a limit and its helper was stopped."""

    def __init__(self, limit: str, limits: SandboxLimits):
        self.limit, self.limits = limit, limits
        amount = {"memory": f"{limits.megabytes} MB", "time": f"{limits.wall:g} s"}.get(
            limit, f"{limits.seconds:g} s"
        )
        self.params = {"amount": amount}  # the engine adds the element's name
        super().__init__(f"the {limit} limit of {amount} was reached")


# Classes a helper's answer may contain; anything else is refused when it is read.
_ALLOWED = {
    "builtins": {"set", "frozenset"},
    "datetime": {"date", "datetime", "time", "timedelta", "timezone"},
    "uuid": {"UUID"},
    "decimal": {"Decimal"},
}


def _zone(owner: Any, name: str) -> Any:
    # A ZoneInfo pickles as getattr(ZoneInfo, "_unpickle"): that one lookup, no other.
    if owner is ZoneInfo and name == "_unpickle":
        return ZoneInfo._unpickle
    raise pickle.UnpicklingError("getattr cannot leave the sandbox")


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("zoneinfo", "ZoneInfo"):
            return ZoneInfo
        if (module, name) == ("builtins", "getattr"):
            return _zone
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} cannot leave the sandbox")


class Helper:
    """One helper process and the two pipes to it."""

    def __init__(self, limits: SandboxLimits, names: list[str]):
        to_child, self._child_in = os.pipe()
        self._child_out, from_child = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _START, str(to_child), str(from_child)]
            + [str(limits.seconds), str(limits.megabytes), *names],
            pass_fds=(to_child, from_child),
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
        os.close(to_child)
        os.close(from_child)
        self._writer = Connection(self._child_in, readable=False)
        self._reader = Connection(self._child_out, writable=False)
        self.owner = os.getpid()
        self.ready = False

    def send(self, message: Any) -> None:
        self._writer.send(message)

    def receive(self, timeout: float) -> Any:
        """The next message, or TimeoutError; EOFError when the helper died."""
        if not self._reader.poll(max(timeout, 0)):
            raise TimeoutError
        return _DataUnpickler(io.BytesIO(self._reader.recv_bytes(MAX_MESSAGE))).load()

    def wait_ready(self, timeout: float = 60) -> None:
        if not self.ready:
            kind, protocol = self.receive(timeout)
            if kind != "ready" or protocol != PROTOCOL:
                raise SandboxViolation("the sandbox's helper runs other code: restart the service")
            self.ready = True

    def stop(self) -> int:
        """End the helper (if it still runs) and return its exit status."""
        if self.process.poll() is None:
            self.process.kill()
        self._writer.close()
        self._reader.close()
        return self.process.wait()


class HelperPool:
    """Started helpers for one engine; one spare is started as soon as one is taken."""

    def __init__(self, limits: SandboxLimits, names: tuple[str, ...]):
        self.limits, self.names = limits, list(names)
        self._idle: list[Helper] = []
        self._lock = threading.Lock()

    def _take(self) -> Helper:
        with self._lock:
            pid = os.getpid()
            # Not a parent's (after a fork), nor one that died idle (the kernel's OOM killer).
            for helper in [h for h in self._idle if h.owner != pid or h.process.poll() is not None]:
                self._idle.remove(helper)
                if helper.owner == pid:
                    helper.stop()
            helper = self._idle.pop() if self._idle else None
            if not self._idle:
                self._idle.append(Helper(self.limits, self.names))
        return helper or Helper(self.limits, self.names)

    def _give_back(self, helper: Helper) -> None:
        with self._lock:
            self._idle.append(helper)

    def run(self, mode: str, source: str, scope: tuple, functions: dict[str, Any]) -> Any:
        """Evaluate (`eval`) or execute (`exec`) source on (context, external context) in a
        helper; the value, or the context the script left."""
        helper = self._take()
        try:
            helper.wait_ready()
            helper.send((mode, source, *scope))
            reply = self._answer_calls(helper, functions)
        except BaseException as err:
            status = helper.stop()
            if isinstance(err, TimeoutError):
                raise SandboxOverrun("time", self.limits) from None
            if isinstance(err, pickle.UnpicklingError):
                raise SandboxViolation(str(err)) from None
            if isinstance(err, EOFError | BrokenPipeError | ConnectionResetError):
                raise self._death(status) from None
            if isinstance(err, OSError):  # longer than MAX_MESSAGE
                raise SandboxViolation("the result is too large to keep") from None
            raise
        kind, value, retire = reply
        if retire:
            helper.stop()
        else:
            self._give_back(helper)
        if kind == "ok":
            return value
        raise rebuilt(*value)

    def _answer_calls(self, helper: Helper, functions: dict[str, Any]) -> Any:
        deadline = time.monotonic() + self.limits.wall
        while True:
            message = helper.receive(deadline - time.monotonic())
            if message[0] != "call":
                return message
            started = time.monotonic()
            _call, name, args, kwargs = message
            try:
                reply = ("ok", functions[name](*args, **kwargs))
            except Exception as err:  # the function's own refusal, for the diagram to report
                reply = ("error", error_of(err))
            deadline += time.monotonic() - started  # our time is not the expression's
            helper.send(reply)

    def _death(self, status: int) -> SandboxViolation:
        if status in (-signal.SIGPROF, -signal.SIGXCPU):
            return SandboxOverrun("CPU time", self.limits)
        if status in (EXIT_MEMORY, -signal.SIGSEGV, -signal.SIGABRT, -signal.SIGKILL):
            return SandboxOverrun("memory", self.limits)  # the kernel refused an allocation
        return SandboxViolation(f"the sandbox stopped unexpectedly ({status})")

    def close(self) -> None:
        """Stop every idle helper."""
        with self._lock:
            idle, self._idle = self._idle, []
        for helper in idle:
            helper.stop()


_pools: dict[tuple, HelperPool] = {}
_pools_lock = threading.Lock()


def pool_for(limits: SandboxLimits, names: tuple[str, ...]) -> HelperPool:
    """The process's pool for these limits and function names (engines share helpers)."""
    with _pools_lock:
        return _pools.setdefault((limits, names), HelperPool(limits, names))


@atexit.register
def _stop_helpers() -> None:
    for pool in list(_pools.values()):
        pool.close()


class IsolatedEnvironment(SandboxEnvironment):
    """The sandbox with every evaluation that could be costly done in a helper process."""

    def __init__(self, functions: dict[str, Any] | None, limits: SandboxLimits):
        super().__init__(functions, seconds=limits.seconds)
        self.limits = limits
        self._names = frozenset(self.functions)
        self.pool = pool_for(limits, tuple(sorted(self._names)))

    def evaluate(self, expression, context, external_context=None):
        if self._plain(expression, "eval", context, external_context):
            return super().evaluate(expression, context, external_context)
        return self.pool.run("eval", expression, (context, external_context), self.functions)

    def execute(self, script, context, external_context=None):
        if self._plain(script, "exec", context, external_context):
            return super().execute(script, context, external_context)
        scope = (context, external_context)
        result = self.pool.run("exec", script, scope, self.functions)
        for name in [n for n in context if n not in result]:
            del context[name]  # `del x` in a script removes the variable
        context.update(result)
        return True

    def _plain(self, source, mode, context, external_context) -> bool:
        # Plain code runs here, under the same guards, when what it reads per item is small.
        reads = plain_reads(source, mode, self._names)
        return reads is not None and (not reads or fits(reads, context, external_context))
