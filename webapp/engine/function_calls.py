"""Which functions an expression calls, checked against those a diagram may call: a call of a
function that does not exist, or with arguments its definition cannot take, is refused when the
diagram is validated rather than when a case reaches it."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Mapping
from typing import Any

_known: dict[str, Callable[..., Any]] = {}


def know(functions: Mapping[str, Callable[..., Any]]) -> None:
    """Make the functions a diagram may call known to validation (the engine does, once)."""
    _known.update(functions)


def call_problems(source: str, mode: str, builtins: Mapping[str, Any]) -> list[str]:
    """A sentence for each call of an unknown function or with the wrong arguments."""
    if not _known:
        return []  # no engine made in this process: nothing to check the calls against
    try:
        tree = ast.parse(source, mode=mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # the compile check says why
    assigned = {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and not _loads(node)
    }
    callable_names = {**builtins, **_known}
    problems = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        name = node.func.id
        if name in assigned:
            continue  # a variable the script set (e.g. `f = len`), judged when it runs
        if name not in callable_names:
            known = ", ".join(sorted(_known))
            problems.append(
                f"it calls {name}(), which is no function a diagram may call "
                f"({known} and the basic built-ins)"
            )
            continue
        wrong = _wrong_arguments(name, callable_names[name], node)
        if wrong:
            problems.append(wrong)
    return list(dict.fromkeys(problems))


def _loads(node: ast.Name) -> bool:
    return isinstance(node.ctx, ast.Load)


def _wrong_arguments(name: str, function: Callable[..., Any], call: ast.Call) -> str | None:
    if name not in _known:
        return None  # built-ins have C signatures inspect cannot always read
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return None  # *args / **kwargs: how many is known only when it runs
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*call.args, **{k.arg: k.value for k in call.keywords})
    except TypeError as err:
        return f"{name}{signature} cannot be called like that: {err}"
    return None
