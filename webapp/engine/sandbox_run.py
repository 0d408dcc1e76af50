"""One evaluation of diagram code: the guards its compiled code calls, bound to a step budget,
and what may leave the sandbox afterwards (task data) and how errors are cut to size."""

from __future__ import annotations

import datetime as _dt
import reprlib
import time
import uuid
from typing import Any

from RestrictedPython.Guards import full_write_guard

from webapp.engine.sandbox_limits import (
    MAX_LENGTH,
    MAX_SECONDS,
    MAX_STEPS,
    WRAPPED_METHODS,
    SandboxViolation,
    checked_format,
    checked_getattr,
    checked_op,
    checked_pow,
    checked_repr,
    checked_round,
    checked_sum,
)
from webapp.engine.sandbox_size import weight

MAX_DATA_DEPTH = 50  # nesting of a value a script leaves in the task data


class Run:
    """One evaluation's step budget, and the first violation it met.

    A violation is remembered: even if the code caught it, every later guard and the end of the
    evaluation raise it again, so a refused escape can never be swallowed and the step go on.
    """

    def __init__(self, seconds: float = MAX_SECONDS) -> None:
        self.seconds = seconds
        self.steps = 0
        self.started = time.monotonic()
        self.violation: SandboxViolation | None = None
        # Whether the code may have changed a value in place (an item written, a mutating
        # method taken): then every value it leaves is checked, not only those it bound anew.
        self.changed_in_place = False

    def _guarded(self, check, *args: Any, **kwargs: Any) -> Any:
        if self.violation is not None:
            raise self.violation
        try:
            return check(*args, **kwargs)
        except SandboxViolation as err:
            self.violation = err
            raise

    def tick(self) -> None:
        """Count a step; refuse when the budget of steps or time is spent."""
        self._guarded(self._count)

    def _count(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SandboxViolation(f"the script takes more than {MAX_STEPS:,} steps")
        if time.monotonic() - self.started > self.seconds:
            raise SandboxViolation(f"the script runs longer than {self.seconds:g} seconds")

    def getiter(self, iterable: Any):
        """Iterate, counting each item against the budget."""
        iterator = iter(iterable)

        def counted():
            for item in iterator:
                self.tick()
                yield item

        return counted()

    def inplace(self, symbol: str, left: Any, right: Any) -> Any:
        """`x op= y` as `x = x op y`, through the same checks."""
        if not symbol.endswith("=") or symbol[:-1] not in ("+", "-", "*", "/", "//", "%"):
            return self._guarded(checked_op, symbol, left, right)
        return self._guarded(checked_op, symbol[:-1], left, right)

    def getattr(self, obj: Any, name: Any) -> Any:
        """Attribute access; the guarded methods it hands out report to this evaluation too."""
        if name in MUTATING_METHODS:
            self.changed_in_place = True
        value = self._guarded(checked_getattr, obj, name)
        if name in WRAPPED_METHODS and callable(value):
            return lambda *args, **kwargs: self._guarded(value, *args, **kwargs)
        return value

    def write(self, obj: Any) -> Any:
        """The target of an item or attribute assignment or deletion (`_write_`)."""
        self.changed_in_place = True
        return checked_write(obj)

    def guards(self, builtins: dict[str, Any]) -> dict[str, Any]:
        """The names the compiled code calls, bound to this evaluation."""
        return {
            "__builtins__": {
                **builtins,
                "pow": lambda *args: self._guarded(checked_pow, *args),
                "sum": lambda *args: self._guarded(checked_sum, *args),
                "repr": lambda value: self._guarded(checked_repr, value),
                "round": lambda *args: self._guarded(checked_round, *args),
            },
            "_getattr_": self.getattr,
            "_getiter_": self.getiter,
            "_op_": lambda symbol, a, b: self._guarded(checked_op, symbol, a, b),
            "_inplacevar_": self.inplace,
            "_write_": self.write,
            "_tick_": self.tick,
            "_format_": lambda *args: self._guarded(checked_format, *args),
        }


# Every method that changes a list, dict or set in place: the only mutable values a script can
# reach (task data, and what the builtins and diagram functions return, are plain data).
MUTATING_METHODS = frozenset(
    {
        "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
        "update", "setdefault", "popitem",
        "add", "discard", "difference_update", "intersection_update",
        "symmetric_difference_update",
    }
)  # fmt: skip


class _ListWriter:
    """A list as `l[i] = v` and `del l[i]` reach it: slice assignment may not grow it past
    MAX_LENGTH (`l[len(l):] = l` doubles it in one step)."""

    __slots__ = ("_list",)

    def __init__(self, target: list):
        self._list = target

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            value = list(value)
            if len(self._list) - len(self._list[key]) + len(value) > MAX_LENGTH:
                raise SandboxViolation(f"the list would be longer than {MAX_LENGTH:,} items")
        self._list[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._list[key]


def checked_write(obj: Any) -> Any:
    """The target of an item assignment (RestrictedPython's `_write_`)."""
    return _ListWriter(obj) if type(obj) is list else full_write_guard(obj)


# --- What leaves the sandbox ---------------------------------------------------------------

_LEAVES = (str, int, float, bool, type(None), _dt.datetime, _dt.timedelta, uuid.UUID)
_KEYS = (str, int, float, bool, type(None))


def not_data(value: Any, depth: int = 0) -> str | None:
    """What in the value the stored instance state cannot hold (None when it can hold all)."""
    if depth == 0 and weight(value, MAX_LENGTH) > MAX_LENGTH:
        # Shared references (`a = [a, a]` 45 times) would be written out again at each use:
        # measured as written out, and refused before walking them item by item.
        return f"a value longer than {MAX_LENGTH:,} items when written out"
    if isinstance(value, _LEAVES):
        return None
    if depth > MAX_DATA_DEPTH:
        return "a value nested too deeply"
    if isinstance(value, list | tuple):
        return next((why for item in value if (why := not_data(item, depth + 1))), None)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, _KEYS):
                return f"a {type(key).__name__} as a key"
            if why := not_data(item, depth + 1):
                return why
        return None
    return f"a {type(value).__name__}"


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


def shorten(err: BaseException) -> None:
    """Cut an error's message to a readable size: it is written out in logs and pages."""
    if any(weight(arg, 300) > 300 for arg in err.args):
        err.args = (", ".join(_SHORT.repr(arg) for arg in err.args)[:300],)
