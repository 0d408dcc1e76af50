"""The restricted script environment every diagram expression and script runs in.

A process owner's diagram must never run arbitrary Python, so conditions, timer expressions and
script tasks are compiled by RestrictedPython and evaluated against a small, explicit set of
functions. The default SpiffWorkflow environment is plain eval/exec and is never used.
"""

from __future__ import annotations

import ast
import datetime as _dt
from functools import lru_cache
from typing import Any

from RestrictedPython import compile_restricted, limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment


class SandboxViolation(Exception):
    """An expression or script uses something the sandbox refuses."""


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    ops = {
        "+=": lambda a, b: a + b,
        "-=": lambda a, b: a - b,
        "*=": lambda a, b: a * b,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
    }
    if op not in ops:
        raise SandboxViolation(f"operator {op} is not allowed")
    return ops[op](x, y)


def _iso_duration_days(days: int) -> str:
    """An ISO 8601 duration of whole days, for timer expressions."""
    return f"P{int(days)}D"


# What a diagram may call. Later issues add working-day arithmetic here through `functions`.
BASE_FUNCTIONS: dict[str, Any] = {
    "len": len,
    "sum": sum,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "sorted": sorted,
    "any": any,
    "all": all,
    "enumerate": enumerate,
    "zip": zip,
    "dict": dict,
    "set": set,
    "duration_days": _iso_duration_days,
    "date": _dt.date,
    "timedelta": _dt.timedelta,
}

_RESERVED = {
    "__builtins__",
    "_getattr_",
    "_getitem_",
    "_getiter_",
    "_write_",
    "_iter_unpack_sequence_",
    "_unpack_sequence_",
    "_inplacevar_",
    "__name__",
    "__metaclass__",
    "_print_",
    "_apply_",
}


@lru_cache(maxsize=4096)
def compile_expression(source: str):
    """Compile a condition or timer expression; raises SandboxViolation with the reasons."""
    return _compile(source, "eval")


@lru_cache(maxsize=1024)
def compile_script(source: str):
    """Compile a script task's body; raises SandboxViolation with the reasons."""
    return _compile(source, "exec")


# Names a diagram may never use, even where RestrictedPython would only fail at run time:
# refusing them when the diagram is loaded tells the process owner at once.
FORBIDDEN_NAMES = frozenset(
    {
        "open",
        "eval",
        "exec",
        "compile",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "input",
        "breakpoint",
        "help",
        "memoryview",
        "type",
        "object",
        "super",
        "classmethod",
        "staticmethod",
        "property",
        "dir",
        "exit",
        "quit",
    }
)


def _compile(source: str, mode: str):
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as err:
        raise SandboxViolation(f"syntax error: {err.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise SandboxViolation("imports are not allowed")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            raise SandboxViolation(f"'{node.id}' is not allowed")
    try:
        return compile_restricted(source, filename="<diagram>", mode=mode)
    except SyntaxError as err:
        raise SandboxViolation(str(err.msg or err)) from None


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates with RestrictedPython's guards and only the allowed functions."""

    def __init__(self, functions: dict[str, Any] | None = None):
        builtins = dict(safe_builtins)
        builtins.update(limited_builtins)
        builtins.update(BASE_FUNCTIONS)
        builtins.update(functions or {})
        super().__init__(
            {
                "__builtins__": builtins,
                "__name__": "diagram",
                "_getattr_": safer_getattr,
                "_getitem_": default_guarded_getitem,
                "_getiter_": default_guarded_getiter,
                "_write_": full_write_guard,
                "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
                "_unpack_sequence_": guarded_unpack_sequence,
                "_inplacevar_": _inplacevar,
            }
        )

    def _scope(self, context: dict, external_context: dict | None) -> dict:
        scope = dict(context)
        scope.update(external_context or {})
        scope.update(self.globals)
        return scope

    def evaluate(self, expression, context, external_context=None):
        return eval(compile_expression(expression), self._scope(context, external_context))

    def execute(self, script, context, external_context=None):
        scope = self._scope(context, external_context)
        exec(compile_script(script), scope)
        for name, value in scope.items():
            if name in _RESERVED or name in self.globals or callable(value):
                continue
            if external_context and name in external_context:
                continue
            context[name] = value
        for name in [n for n in context if n not in scope]:
            del context[name]  # `del x` in a script removes the variable
        return True

    def call_service(self, context, **kwargs):
        raise SandboxViolation("service tasks are not available to diagrams")


class SandboxScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine bound to the sandbox."""

    def __init__(self, functions: dict[str, Any] | None = None):
        super().__init__(environment=SandboxEnvironment(functions))

    def validate(self, expression):
        compile_expression(expression)
