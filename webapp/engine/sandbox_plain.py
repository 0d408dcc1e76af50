"""Which diagram code is plain enough to evaluate in the serving process, without a helper.

Plain code reads names, constants and items, compares them, builds small lists and dicts of
them, assigns them to names, looks keys up with `mapping.get(key[, default])` and calls the
application's diagram functions on them (which run
in this process in any case: a helper asks us to run them). It has no loops, no operators that
build values and no built-ins that loop in C, so its work is bounded by the size of the task
data it reads. Most conditions, timers, due dates and bookkeeping scripts of a diagram are
plain (`decision == "pass"`, `notice_closes_at`, `working_days_later(5)`, `outcome = "rejected"`);
the round trip to a helper is kept for the rest.
"""

from __future__ import annotations

import ast
from functools import lru_cache

from webapp.engine.sandbox import compile_expression, compile_script
from webapp.engine.sandbox_limits import SandboxViolation

_PLAIN = (
    ast.Expression, ast.Module, ast.Assign, ast.Constant, ast.Name, ast.Load, ast.Store,
    ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Subscript, ast.IfExp, ast.Tuple, ast.List,
    ast.Dict, ast.keyword, ast.And, ast.Or, ast.Not, ast.USub, ast.Eq, ast.NotEq, ast.Lt,
    ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
)  # fmt: skip


@lru_cache(maxsize=4096)
def is_plain(source: str, mode: str, functions: frozenset[str]) -> bool:
    """Whether the code (mode "eval" or "exec") may run here; `functions`: the names of the
    application's diagram functions."""
    try:
        (compile_expression if mode == "eval" else compile_script)(source)
        tree = ast.parse(source, mode=mode)
    except (SandboxViolation, SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not _loads(n)}
    callable_names = (functions | {"len"}) - assigned
    lookups = set()  # the `.get` attributes of plain lookups
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if _is_lookup(node):
                lookups.add(id(node.func))
            elif not (isinstance(node.func, ast.Name) and node.func.id in callable_names):
                return False
        elif isinstance(node, ast.Attribute):
            if id(node) not in lookups:
                return False
        elif not isinstance(node, _PLAIN):
            return False
        elif isinstance(node, ast.Assign) and not all(
            isinstance(t, ast.Name) for t in node.targets
        ):
            return False
        elif isinstance(node, ast.keyword) and node.arg is None:  # f(**kwargs)
            return False
    return True


def _is_lookup(node: ast.Call) -> bool:
    # `d.get(key)` or `d.get(key, default)`: one hash lookup, as `d[key]` is (a model's tables
    # of fees by member type are read this way); the sandbox's attribute guard still applies.
    # Walked in breadth-first order, a call is met before its `.get` attribute.
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "get"
        and 1 <= len(node.args) <= 2
        and not node.keywords
        and not any(isinstance(a, ast.Starred) for a in node.args)
    )


def _loads(node: ast.Name) -> bool:
    return isinstance(node.ctx, ast.Load)
