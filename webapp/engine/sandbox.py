"""The restricted script environment every diagram expression and script runs in.

A process owner's diagram must never run arbitrary Python, so conditions, timer expressions and
script tasks are checked twice. When a diagram is loaded, `compile_expression`/`compile_script`
refuse what no rule needs (`sandbox_policy`: imports, dunders, frames, `open`/`eval`/`exec`,
defining functions or classes, catching errors, huge constants) with a short message; then
RestrictedPython compiles the rest so that attribute access, iteration, loops and the operators
that build large values call the guards of each run (`sandbox_run`, `sandbox_limits`). The
default SpiffWorkflow environment (plain eval/exec) is never used.
"""

from __future__ import annotations

import ast
import datetime as _dt
from functools import lru_cache
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)
from RestrictedPython.Limits import limited_range
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from webapp.engine.sandbox_limits import MAX_SECONDS, Integer, SandboxViolation, Text
from webapp.engine.sandbox_policy import FORBIDDEN_NAMES, DiagramPolicy, check_source
from webapp.engine.sandbox_run import Run, checked_write, not_data, shorten

__all__ = [
    "BASE_FUNCTIONS",
    "FORBIDDEN_NAMES",
    "DiagramPolicy",
    "SandboxEnvironment",
    "SandboxScriptEngine",
    "SandboxViolation",
    "compile_expression",
    "compile_script",
]

MAX_SOURCE = 20_000  # characters of one expression or script


def _iso_duration_days(days: int) -> str:
    """An ISO 8601 duration of whole days, for timer expressions."""
    return f"P{int(days)}D"


# What a diagram may call besides the plain builtins below; the application adds its own
# (working days, people, vote counting) through `functions`.
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

# No exception classes (nothing to raise or catch), no introspection, no I/O. `str` is the
# guarded Text; pow, sum, repr and round are replaced by each run's guarded versions.
_BUILTINS: dict[str, Any] = {
    **BASE_FUNCTIONS,
    **{f.__name__: f for f in (bool, chr, divmod, filter, float, frozenset, isinstance)},
    **{f.__name__: f for f in (list, map, ord, reversed, tuple)},
    "range": limited_range,
    "str": Text,
    "int": Integer,
}
BUILTINS = _BUILTINS  # what validation may assume every expression can call


@lru_cache(maxsize=4096)
def compile_expression(source: str):
    """Compile a condition or timer expression; raises SandboxViolation with the reason."""
    return _compile(source, "eval")


@lru_cache(maxsize=1024)
def compile_script(source: str):
    """Compile a script task's body; raises SandboxViolation with the reason."""
    return _compile(source, "exec")


def _compile(source: str, mode: str):
    if not isinstance(source, str):
        raise SandboxViolation("the expression must be text")
    if len(source) > MAX_SOURCE:
        raise SandboxViolation(f"longer than {MAX_SOURCE:,} characters")
    try:
        tree = ast.parse(source, mode=mode)
        check_source(tree)
        compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
        result = compiler(tree, filename="<diagram>", policy=DiagramPolicy)
    except SyntaxError as err:
        where = f" on line {err.lineno}" if err.lineno else ""
        raise SandboxViolation(f"syntax error{where}: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise SandboxViolation("nested too deeply") from None
    except ValueError as err:  # e.g. a NUL character in the source
        raise SandboxViolation(f"not valid: {err}") from None
    if result.errors:
        raise SandboxViolation(str(result.errors[0]))
    return result.code


# C code (datetime's today() and strftime()) imports `time` through the running code's builtins,
# always with an empty *list* as fromlist; an `import` statement passes None or a tuple.
_C_IMPORTS = frozenset({"time", "_strptime"})


def _c_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
    if name not in _C_IMPORTS or level or not isinstance(fromlist, list) or fromlist:
        raise SandboxViolation("imports are not allowed")
    return __import__(name, globals, locals, fromlist, level)


def _apply(function, *args, **kwargs):
    # RestrictedPython routes calls with *args/**kwargs through `_apply_`.
    return function(*args, **kwargs)


_NOTHING = object()

# A condition may be a set or a date comparison's operand; anything kept must be data.
_RESULT_EXTRAS = (set, frozenset, _dt.date, _dt.time)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates compiled diagram code with the guards and only the allowed functions."""

    def __init__(self, functions: dict[str, Any] | None = None, seconds: float = MAX_SECONDS):
        self.functions = dict(functions or {})
        self.seconds = seconds
        self.builtins = {**_BUILTINS, **self.functions, "__import__": _c_import}
        super().__init__(
            {
                "__name__": "diagram",
                "_getitem_": default_guarded_getitem,
                "_write_": checked_write,
                "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
                "_unpack_sequence_": guarded_unpack_sequence,
                "_apply_": _apply,
            }
        )

    def evaluate(self, expression, context, external_context=None):
        return self.evaluate_compiled(compile_expression(expression), context, external_context)

    def execute(self, script, context, external_context=None):
        return self.execute_compiled(compile_script(script), context, external_context)

    def evaluate_compiled(self, code, context: dict, external_context: dict | None = None):
        """The value of code from compile_expression, computed under a fresh run's guards."""
        run = Run(self.seconds)
        value = self._run(run, eval, code, self._scope(run, context, external_context))
        if not isinstance(value, _RESULT_EXTRAS) and (why := not_data(value)):
            raise SandboxViolation(f"the expression gives {why}, not a value")
        return value

    def execute_compiled(self, code, context: dict, external_context: dict | None = None):
        """Run code from compile_script; the task data changes only if it all went well."""
        run = Run(self.seconds)
        scope = self._scope(run, context, external_context)
        self._run(run, exec, code, scope)
        kept = {}
        for name, value in scope.items():
            if name.startswith("_") or name in self.globals or callable(value):
                continue
            if external_context and name in external_context:
                continue
            if not run.changed_in_place and context.get(name, _NOTHING) is value:
                # As it was given, and the code changed nothing in place: walking it again
                # (the whole task data, at every script) would find what it found before.
                kept[name] = value
                continue
            if why := not_data(value):
                raise SandboxViolation(f"'{name}' holds {why}, which task data cannot keep")
            kept[name] = value
        for name in [n for n in context if n not in scope]:
            del context[name]  # `del x` in a script removes the variable
        context.update(kept)
        return True

    def call_service(self, context, **kwargs):
        raise SandboxViolation("service tasks are not available to diagrams")

    def _scope(self, run: Run, context: dict, external_context: dict | None) -> dict:
        # The guards come last: task data named like one of them cannot replace it.
        scope = dict(context)
        scope.update(external_context or {})
        scope.update(self.globals)
        scope.update(run.guards(self.builtins))
        return scope

    @staticmethod
    def _run(run: Run, runner, code, scope: dict):
        try:
            result = runner(code, scope)
        except SandboxViolation:
            raise
        except Exception as err:
            if run.violation is not None:
                raise run.violation from None
            shorten(err)
            raise
        if run.violation is not None:
            raise run.violation
        return result


class SandboxScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine bound to the sandbox."""

    def __init__(
        self,
        functions: dict[str, Any] | None = None,
        environment: SandboxEnvironment | None = None,
    ):
        super().__init__(environment=environment or SandboxEnvironment(functions))

    def validate(self, expression):
        compile_expression(expression)
