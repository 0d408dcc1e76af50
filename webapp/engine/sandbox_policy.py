"""What diagram code may say: the checks that refuse an expression or script when a diagram is
loaded, and the RestrictedPython policy that rewrites the rest so the run-time guards see it.

Validation refuses, with a short message, what no rule needs: imports, names and attributes
starting with "_", attributes leading to frames or code, `open`/`eval`/`exec` and their kind,
defining functions or classes, `yield`, `try`, `with`, `raise`, changing attributes, computed
f-string formats, and constant expressions the limits would refuse at run time anyway.
"""

from __future__ import annotations

import ast
from typing import Any

from RestrictedPython.transformer import RestrictingNodeTransformer

from webapp.engine.sandbox_limits import (
    DENIED_ATTRIBUTES,
    MAX_LENGTH,
    SandboxViolation,
    check_format_spec,
    check_percent_format,
    check_strftime_format,
    checked_op,
)

# Names a diagram may never use. Most are simply absent at run time too; refusing them when the
# diagram is loaded tells the process owner at once instead of failing an application later.
FORBIDDEN_NAMES = frozenset(
    {
        "open", "eval", "exec", "compile", "globals", "locals", "vars", "getattr", "setattr",
        "delattr", "hasattr", "input", "breakpoint", "help", "memoryview", "type", "object",
        "super", "classmethod", "staticmethod", "property", "dir", "exit", "quit", "print",
        "printed", "id", "iter", "next", "aiter", "anext", "bytearray", "reload", "license",
        "credits", "copyright",
    }
)  # fmt: skip

_REFUSED_NODES: dict[type, str] = {
    ast.Import: "imports are not allowed",
    ast.ImportFrom: "imports are not allowed",
    ast.FunctionDef: "defining functions is not allowed",
    ast.AsyncFunctionDef: "defining functions is not allowed",
    ast.ClassDef: "defining classes is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
    ast.Await: "'await' is not allowed",
    ast.Global: "'global' is not allowed",
    ast.Nonlocal: "'nonlocal' is not allowed",
    ast.Try: "'try' is not allowed: an error must stop the step",
    ast.With: "'with' is not allowed",
    ast.AsyncWith: "'with' is not allowed",
    ast.Raise: "'raise' is not allowed",
}
if hasattr(ast, "TryStar"):
    _REFUSED_NODES[ast.TryStar] = _REFUSED_NODES[ast.Try]

_GUARDED_OPERATORS = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}
_FOLDABLE = {**_GUARDED_OPERATORS, ast.Sub: "-", ast.Div: "/", ast.FloorDiv: "//"}
_PADDING = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


def _reserved(name: str) -> bool:
    return name.startswith("_") and name != "_"


def _constant(node: ast.AST, known: dict[int, Any]) -> Any:
    """The value of a constant subexpression, computed through the run-time checks; else None."""
    if id(node) in known:
        return known[id(node)]
    value = None
    if isinstance(node, ast.Constant):
        value = node.value
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _constant(node.operand, known)
        if isinstance(operand, int | float) and not isinstance(operand, bool):
            value = -operand if isinstance(node.op, ast.USub) else operand
    elif isinstance(node, ast.BinOp) and type(node.op) in _FOLDABLE:
        left, right = _constant(node.left, known), _constant(node.right, known)
        if left is not None and right is not None:
            try:
                value = checked_op(_FOLDABLE[type(node.op)], left, right)
            except (ArithmeticError, TypeError, ValueError):
                value = None  # a run-time error for the run to report, not ours
    known[id(node)] = value
    return value


def _refusal(node: ast.AST, known: dict[int, Any]) -> str | None:
    """Why this one node is refused, if it is."""
    if type(node) in _REFUSED_NODES:
        return _REFUSED_NODES[type(node)]
    if isinstance(node, ast.Name) and (_reserved(node.id) or node.id in FORBIDDEN_NAMES):
        return f"'{node.id}' is not allowed"
    if isinstance(node, ast.arg) and _reserved(node.arg):
        return f"'{node.arg}' is not allowed"
    if isinstance(node, ast.Attribute):
        if node.attr in ("format", "format_map"):  # it reaches attributes: "{0.__class__}"
            return f"'.{node.attr}' is not allowed: use an f-string"
        if _reserved(node.attr) or node.attr in DENIED_ATTRIBUTES:
            return f"'.{node.attr}' is not allowed"
        if not isinstance(node.ctx, ast.Load):
            return "changing attributes is not allowed"
    if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        parts = node.format_spec.values
        if not all(isinstance(p, ast.Constant) for p in parts):
            return "f-string formats must be fixed text"
        check_format_spec("".join(str(p.value) for p in parts))
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
            if isinstance(node.left.value, str | bytes):
                check_percent_format(node.left.value)
        _constant(node, known)  # raises SandboxViolation for `10**10**10`, `'a' * 10**10`
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        first = _constant(node.args[0], known)
        if node.func.attr == "strftime" and first is not None:
            check_strftime_format(first)
        if node.func.attr in _PADDING and isinstance(first, int) and first > MAX_LENGTH:
            return f"the result would be longer than {MAX_LENGTH:,} characters"
    return None


def check_source(tree: ast.AST) -> None:
    """Raise SandboxViolation with the first reason validation refuses this code."""
    known: dict[int, Any] = {}
    for node in ast.walk(tree):
        if (reason := _refusal(node, known)) is not None:
            line = getattr(node, "lineno", None)
            raise SandboxViolation(f"{reason} (line {line})" if line and line > 1 else reason)


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    for new in (call, call.func, *args):
        ast.copy_location(new, like)
    return call


class DiagramPolicy(RestrictingNodeTransformer):
    """RestrictedPython's rules, plus the calls through which the run-time guards count and measure.

    `while` loops, lambdas and functions step the run's budget (`for` and comprehensions do so
    through `_getiter_`); `+ * ** << %` go through `_op_`; f-string fields through `_format_`.
    """

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        symbol = _GUARDED_OPERATORS.get(type(node.op))
        if symbol is None:
            return node
        return _call("_op_", [ast.Constant(symbol), node.left, node.right], node)

    def visit_While(self, node: ast.While) -> ast.AST:
        node = self.node_contents_visit(node)
        node.body.insert(0, ast.copy_location(ast.Expr(_call("_tick_", [], node)), node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        # Refused by validation; counted all the same, in case code arrives here another way.
        node = super().visit_FunctionDef(node)
        node.body.insert(0, ast.copy_location(ast.Expr(_call("_tick_", [], node)), node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node = super().visit_Lambda(node)
        # `_tick_()` returns None, so `None or body` is the body, counted once per call.
        node.body = ast.copy_location(
            ast.BoolOp(ast.Or(), [_call("_tick_", [], node), node.body]), node
        )
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        # `{value!r:spec}` becomes `{_format_(value, conversion, spec)}`: the guard sees the spec
        # even when it is computed (`{x:>{n}}`), which validation refuses but the run checks.
        node = self.node_contents_visit(node)
        spec = node.format_spec or ast.copy_location(ast.Constant(""), node)
        args = [node.value, ast.Constant(node.conversion), spec]
        field = ast.FormattedValue(_call("_format_", args, node.value), -1, None)
        return ast.copy_location(field, node)

    def visit_Module(self, node: ast.Module) -> ast.AST:
        return ast.fix_missing_locations(super().visit_Module(node))

    def visit_Expression(self, node: ast.Expression) -> ast.AST:
        return ast.fix_missing_locations(super().visit_Expression(node))
