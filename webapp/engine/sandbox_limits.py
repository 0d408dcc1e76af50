"""The limits of the diagram sandbox: which attributes a diagram may reach and how large a value
one operation may build. Each check raises SandboxViolation before Python does the work.

The resource policy (each limit a constant below):
- integers stop at MAX_INT_BITS: `10**10**10`, `pow(10, 10**9)`, `1 << 10**9`, `round(1, -10**9)`;
- one operation builds at most MAX_LENGTH characters or items: `'a' * 10**10`, `s + s` doubling,
  `.ljust/.rjust/.center/.zfill/.expandtabs/.replace/.join`, `list.extend`, `str()`, `repr()`,
  f-strings and `%` of values that would write out longer;
- format widths and precisions stop at MAX_WIDTH: `'%999999999d' % 1`, `f'{x:>999999999}'`,
  `strftime('%999999999Y')`, and `*` widths are refused;
- one evaluation takes at most MAX_STEPS loop iterations and lambda calls, and MAX_SECONDS
  (counted by `sandbox_run.Run`).
It is a policy, not a memory quota: it stops the known one-step bombs and endless loops.
"""

from __future__ import annotations

import datetime as _dt
import math
import operator
import re
import types
from typing import Any

from webapp.engine.sandbox_size import weight

MAX_STEPS = 100_000  # loop iterations and lambda calls in one evaluation
MAX_SECONDS = 2.0  # wall clock of one evaluation, checked as it steps
MAX_LENGTH = 1_000_000  # characters or items one operation may produce
MAX_INT_BITS = 10_000  # about 3,000 decimal digits
MAX_WIDTH = 1_000  # width or precision in a format
MAX_MODULAR_WORK = 2**36  # pow(b, e, m): bits of e times bits of m squared (4096-bit RSA)


class SandboxViolation(Exception):
    """An expression or script uses something the sandbox refuses."""


# Attributes that lead from a harmless object to frames, code, globals or classes. RestrictedPython
# already refuses every name starting with "_"; these need no underscore.
DENIED_ATTRIBUTES = frozenset(
    {
        "tb_frame", "tb_next", "f_back", "f_builtins", "f_code", "f_generator", "f_globals",
        "f_locals", "f_trace", "co_code", "gi_frame", "gi_code", "gi_yieldfrom", "cr_await",
        "cr_frame", "cr_code", "cr_origin", "ag_await", "ag_frame", "ag_code", "mro",
        "format", "format_map", "translate", "maketrans", "func_globals", "func_code",
        "to_bytes", "from_bytes",
    }
)  # fmt: skip

# Objects whose attributes are never data.
_OPAQUE = (
    types.ModuleType, types.FrameType, types.CodeType, types.TracebackType, types.GeneratorType,
    types.CoroutineType, types.AsyncGeneratorType, types.FunctionType, types.MethodType,
    types.BuiltinFunctionType, types.BuiltinMethodType,
)  # fmt: skip


def _refuse_long(value: Any, what: str) -> None:
    if weight(value, MAX_LENGTH) > MAX_LENGTH:
        raise SandboxViolation(f"{what} would be longer than {MAX_LENGTH:,} characters")


# --- Operators ---------------------------------------------------------------------------

_OPS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "<<": operator.lshift,
}  # fmt: skip

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)", re.S)
_SEQUENCES = (str, bytes, list, tuple)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_percent_format(text: str | bytes) -> None:
    """Refuse %-formats whose width or precision would build a huge string."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    for match in _PERCENT_SPEC.finditer(text):
        for number in match.group(1, 2):
            if number == "*":
                raise SandboxViolation("'*' widths are not allowed in % formats")
            if number and int(number) > MAX_WIDTH:
                raise SandboxViolation(f"format widths above {MAX_WIDTH} are not allowed")


def checked_pow(base: Any, exponent: Any, modulus: Any = None) -> Any:
    """pow() and `**` that refuse integers of more than MAX_INT_BITS bits."""
    if modulus is not None:
        if any(_is_int(n) and n.bit_length() > MAX_INT_BITS for n in (base, exponent, modulus)):
            raise SandboxViolation("the number would be too large")
        # Its work grows with the exponent's bits times the square of the modulus's.
        if _is_int(exponent) and _is_int(modulus):
            if exponent.bit_length() * modulus.bit_length() ** 2 > MAX_MODULAR_WORK:
                raise SandboxViolation("the modular power would take too long")
        return pow(base, exponent, modulus)
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        if exponent > MAX_INT_BITS or exponent * math.log2(abs(base)) > MAX_INT_BITS:
            raise SandboxViolation("the number would be too large")
    return pow(base, exponent)


def checked_op(symbol: str, left: Any, right: Any) -> Any:
    """One binary operator, refused where its result would be too large to build."""
    if symbol not in _OPS:
        raise SandboxViolation(f"operator {symbol} is not allowed")
    if symbol == "**":
        return checked_pow(left, right)
    if symbol == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        if len(left) + len(right) > MAX_LENGTH:
            raise SandboxViolation(f"the result would be longer than {MAX_LENGTH:,} items")
    elif symbol == "*":
        if _is_int(left) and _is_int(right):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise SandboxViolation("the number would be too large")
        else:
            sequence, times = (left, right) if _is_int(right) else (right, left)
            if isinstance(sequence, _SEQUENCES) and _is_int(times):
                if len(sequence) * max(times, 0) > MAX_LENGTH:
                    raise SandboxViolation(f"the result would be longer than {MAX_LENGTH:,} items")
    elif symbol == "<<" and _is_int(left) and _is_int(right) and left and right > 0:
        if left.bit_length() + right > MAX_INT_BITS:
            raise SandboxViolation("the number would be too large")
    elif symbol == "%" and isinstance(left, str | bytes):
        check_percent_format(left)
        _refuse_long(right, "the formatted text")
    return _OPS[symbol](left, right)


# --- Text --------------------------------------------------------------------------------


class _StandIn(type):
    # `isinstance(x, str)` must keep working in diagrams although `str` is the guarded one.
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.__mro__[1])

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.__mro__[1])


class Integer(int, metaclass=_StandIn):
    """`int` for diagrams: refuses to build a number above MAX_INT_BITS (`int('1' * 20000, 2)`)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> int:  # type: ignore[misc]
        number = int(*args, **kwargs)
        if number.bit_length() > MAX_INT_BITS:
            raise SandboxViolation("the number would be too large")
        return number


class Text(str, metaclass=_StandIn):
    """`str` for diagrams: writing out a value refuses one that would be enormous."""

    def __new__(cls, *args: Any, **kwargs: Any) -> str:  # type: ignore[misc]
        if args:
            _refuse_long(args[0], "the text")
        return str(*args, **kwargs)


_DIGITS = re.compile(r"\d+")


def check_format_spec(spec: Any) -> None:
    """Refuse a format spec whose width or precision would build huge text."""
    if not isinstance(spec, str) or len(spec) > MAX_WIDTH:
        raise SandboxViolation("a format must be short text")
    if any(int(number) > MAX_WIDTH for number in _DIGITS.findall(spec)):
        raise SandboxViolation(f"format widths above {MAX_WIDTH} are not allowed")


def checked_format(value: Any, conversion: int, spec: Any) -> str:
    """One f-string field (`{value!r:>10}`), refused where it would write out enormous text."""
    _refuse_long(value, "the text")
    check_format_spec(spec)
    if conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("a"):
        value = ascii(value)
    elif conversion == ord("s"):
        value = str(value)
    return format(value, spec)


def checked_repr(value: Any) -> str:
    """repr() that refuses enormous values."""
    _refuse_long(value, "the text")
    return repr(value)


def checked_round(number: Any, ndigits: Any = None) -> Any:
    """round(); a huge negative ndigits would make Python compute a power of ten as large."""
    if _is_int(ndigits) and abs(ndigits) > MAX_WIDTH:
        raise SandboxViolation(f"round() to more than {MAX_WIDTH} digits is not allowed")
    return round(number, ndigits)


def checked_sum(values: Any, start: Any = 0) -> Any:
    """sum() of numbers; adding up lists or strings could build huge values from references."""
    if not isinstance(start, int | float):
        raise SandboxViolation("sum() adds numbers only")
    return sum(values, start)


# --- Methods that can build huge values ----------------------------------------------------


def _padding(method):
    def guarded(width: Any, *args: Any) -> Any:
        if _is_int(width) and width > MAX_LENGTH:
            raise SandboxViolation(f"the result would be longer than {MAX_LENGTH:,} characters")
        return method(width, *args)

    return guarded


def _expandtabs(text: str | bytes):
    def guarded(tabsize: Any = 8) -> Any:
        tabs = text.count("\t" if isinstance(text, str) else b"\t")
        if _is_int(tabsize) and len(text) + tabs * tabsize > MAX_LENGTH:
            raise SandboxViolation(f"the result would be longer than {MAX_LENGTH:,} characters")
        return text.expandtabs(tabsize)

    return guarded


def _replace(text: str | bytes):
    def guarded(old: Any, new: Any, count: Any = -1) -> Any:
        found = text.count(old) if isinstance(old, type(text)) else 0
        if _is_int(count) and count >= 0:
            found = min(found, count)
        if isinstance(new, str | bytes) and len(text) + found * len(new) > MAX_LENGTH:
            raise SandboxViolation(f"the result would be longer than {MAX_LENGTH:,} characters")
        return text.replace(old, new, count)

    return guarded


def _join(separator: str | bytes):
    def guarded(items: Any) -> Any:
        items = list(items)
        if len(separator) * len(items) + weight(items, MAX_LENGTH) > MAX_LENGTH:
            raise SandboxViolation(f"the result would be longer than {MAX_LENGTH:,} characters")
        return separator.join(items)

    return guarded


def _extend(target: list):
    def guarded(items: Any) -> None:
        items = list(items)
        if len(target) + len(items) > MAX_LENGTH:
            raise SandboxViolation(f"the list would be longer than {MAX_LENGTH:,} items")
        target.extend(items)

    return guarded


_STRFTIME_SPEC = re.compile(r"%[-_0^#]*(\d+)")


def check_strftime_format(fmt: Any) -> None:
    """Refuse strftime formats whose widths (a glibc extension: %9999Y) would build huge text."""
    if not isinstance(fmt, str) or len(fmt) > MAX_WIDTH:
        raise SandboxViolation("strftime needs a short format text")
    if any(int(width) > MAX_WIDTH for width in _STRFTIME_SPEC.findall(fmt)):
        raise SandboxViolation(f"format widths above {MAX_WIDTH} are not allowed")


def _strftime(moment: _dt.date | _dt.time):
    def guarded(fmt: Any) -> str:
        check_strftime_format(fmt)
        return moment.strftime(fmt)

    return guarded


_TEXT = (str, bytes)
WRAPPED_METHODS: dict[str, tuple[tuple[type, ...], Any]] = {
    "ljust": (_TEXT, lambda obj: _padding(obj.ljust)),
    "rjust": (_TEXT, lambda obj: _padding(obj.rjust)),
    "center": (_TEXT, lambda obj: _padding(obj.center)),
    "zfill": (_TEXT, lambda obj: _padding(obj.zfill)),
    "expandtabs": (_TEXT, _expandtabs),
    "replace": (_TEXT, _replace),
    "join": (_TEXT, _join),
    "extend": ((list,), _extend),
    "strftime": ((_dt.date, _dt.time), _strftime),
}


def checked_getattr(obj: Any, name: Any) -> Any:
    """Attribute access for diagrams: data and the methods of data, nothing that leads further."""
    if not isinstance(name, str) or name.startswith("_") or name in DENIED_ATTRIBUTES:
        raise SandboxViolation(f"'.{name}' is not allowed")
    if isinstance(obj, _OPAQUE):
        raise SandboxViolation(f"attributes of a {type(obj).__name__} are not available")
    if name in WRAPPED_METHODS:
        kinds, wrap = WRAPPED_METHODS[name]
        if isinstance(obj, type):
            raise SandboxViolation(f"call .{name}() on a value, not on a type")
        if isinstance(obj, kinds):
            return wrap(obj)
    return getattr(obj, name)
