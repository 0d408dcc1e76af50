"""Which diagram code is plain enough to evaluate in the serving process, without a helper.

A helper process exists because a process owner's code could hold a core or fill memory in one
C call the step counter never sees. Plain code is code whose work is bounded by the size of the
task data it reads times a small constant, so it may run here; it still runs as every diagram
code does (`SandboxEnvironment`: RestrictedPython's compiled code, the run's guarded getattr,
getitem, iteration and operators, its step and time budget). What plain code may say, and why
each part stays bounded (n: the size of the data read, written out):

- Statements: assignments to names, expression statements (a call of a diagram function) and
  `if`/`else`. There are no loops, so each statement runs at most once.
- Reads: names, constants, items (`d[k]`, `d.get(k[, default])`: one hash lookup), `not`,
  `and`/`or`, `x if c else y`; lists, tuples and dicts written out in the code.
- What the code builds never holds what an earlier statement built: a list, tuple or dict
  written out, and each operand of `+` and `-`, may not read a name assigned before. Otherwise
  sizes double per statement: `a = a + a` k times is 2**k items (the guarded `+` would stop it
  at MAX_LENGTH, k statements later still k times that), and `x1 = [x0, y0]`, `y1 = [y0, x0]`
  k times is a value of 2**k items written out in 2k small lists, which `x40 == y40` or a hash
  of tuples so built walks in C for hours (plain before this rule). So every value plain code
  builds is made of task data (each value at most MAX_LENGTH written out, `not_data`),
  constants and diagram functions' answers, and comparing or hashing it costs O(n).
- Comparisons (`==`, `<`, `in`, ...): each costs at most the size of its operands, O(n).
- `+` and `-`, whose result is at most the size of their operands. No `*`, `**`, `<<` or `%`:
  they multiply sizes by a number.
- Built-ins that loop in C over their argument: `sorted`, `set`, `any`, `all`, `sum` (the
  guarded one: numbers only), `min`, `max`, each O(n log n) of data; `len` is O(1). Without
  keywords (`key=` would call a function per item) and never given a function as a value. No
  `range`, `str`, `int`, `map` or methods that build values: they grow with a number, not data.
- Comprehensions and generator expressions with one `for` over an iterable evaluated once (a
  diagram function's answer, such as `role_members(group)`, is fetched once there). Per
  item they may only read and compare: no calls but `len` and `.get`, no operators, no lists
  written out, no comprehension inside (nested loops multiply sizes), no name assigned before.
  Their items are counted against the run's steps by the guarded iteration.
- Diagram functions: the application's own; a helper asks this process to run them anyway.
  They take and answer plain data, built anew.

Operators, comparisons, comprehensions, looping built-ins and lookups by a computed key (a
hash of the key: O(1) for text and numbers, O(n) for a tuple) count as costly; plain code has at
most MAX_COSTLY of them and assigns at most MAX_NAMES names (each name it leaves is measured
against the limits of task data, `not_data`, even when it is another name for the same data), so
its work is O((MAX_COSTLY + MAX_NAMES) * n log n) whatever its length.

One cost depends on the data, not the code: a comprehension that reads task data other than its
item for each item (`[m for m in members if m not in reviewers]`) does that read's work per
item. `plain_reads` names that data; `fits` lets the evaluation stay here only when it weighs at
most PER_ITEM_WEIGHT, which keeps each item's work constant. Everything else goes to a helper.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from typing import Any

from webapp.engine.sandbox import compile_expression, compile_script
from webapp.engine.sandbox_limits import SandboxViolation
from webapp.engine.sandbox_size import weight

MAX_COSTLY = 24  # operators, comparisons, comprehensions, looping built-ins, computed lookups
MAX_NAMES = 32  # names plain code assigns
PER_ITEM_WEIGHT = 64  # task data a comprehension reads besides its item, written out

# Built-ins whose loop over their argument, in C, is O(n log n) of it at most.
_LOOPING = frozenset({"sorted", "set", "any", "all", "sum", "min", "max"})
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_READS = (ast.BoolOp, ast.UnaryOp, ast.IfExp)
_UNARY = (ast.Not, ast.USub)


class _NotPlain(Exception):
    pass


@lru_cache(maxsize=4096)
def plain_reads(source: str, mode: str, functions: frozenset[str]) -> frozenset[str] | None:
    """None when the code (mode "eval" or "exec") must go to a helper; else the names of task
    data its comprehensions read for each item, for `fits` to weigh. `functions`: the names of
    the application's diagram functions."""
    try:
        (compile_expression if mode == "eval" else compile_script)(source)
        tree = ast.parse(source, mode=mode)
        checker = _Checker(tree, functions)
        if isinstance(tree, ast.Expression):
            checker.expr(tree.body)
        else:
            checker.statements(tree.body)
    except (_NotPlain, SandboxViolation, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return frozenset(checker.per_item)


def is_plain(source: str, mode: str, functions: frozenset[str]) -> bool:
    """Whether the code may run here, for task data that `fits`."""
    return plain_reads(source, mode, functions) is not None


def fits(names: frozenset[str], context: dict, external_context: dict | None = None) -> bool:
    """Whether the data a comprehension reads for each item is small enough to read per item."""
    total = 0
    for name in names:
        scope = external_context if external_context and name in external_context else context
        value: Any = scope.get(name)
        if isinstance(value, str | list | tuple | dict | set | frozenset):
            if len(value) > PER_ITEM_WEIGHT:  # not walked: its size alone says no
                return False
        total += weight(value, PER_ITEM_WEIGHT)
        if total > PER_ITEM_WEIGHT:
            return False
    return True


class _Checker:
    """Walks the code once, in the order it runs, refusing (with _NotPlain) what is not plain."""

    def __init__(self, tree: ast.AST, functions: frozenset[str]):
        # A name the code binds anywhere (a comprehension's item too) is not the function or
        # built-in it shadows.
        bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and _stores(n)}
        self.functions = functions - bound
        self.looping = _LOOPING - bound
        self.callables = self.functions | self.looping | ({"len"} - bound)
        self.assigned: set[str] = set()  # by the statements before the one being checked
        self.per_item: set[str] = set()
        self.costly = 0

    def cost(self, amount: int = 1) -> None:
        self.costly += amount
        if self.costly > MAX_COSTLY:
            raise _NotPlain

    def lookup(self, key: ast.AST) -> None:
        if not isinstance(key, ast.Constant):
            self.cost()

    def statements(self, body: list[ast.stmt]) -> None:
        for statement in body:
            if isinstance(statement, ast.Assign):
                if not all(isinstance(t, ast.Name) for t in statement.targets):
                    raise _NotPlain
                self.expr(statement.value)
                self.assigned.update(t.id for t in statement.targets)  # type: ignore[attr-defined]
                if len(self.assigned) > MAX_NAMES:
                    raise _NotPlain
            elif isinstance(statement, ast.Expr):
                self.expr(statement.value)
            elif isinstance(statement, ast.If):
                self.expr(statement.test)
                self.statements(statement.body)
                self.statements(statement.orelse)
            else:
                raise _NotPlain

    def expr(self, node: ast.AST, item: frozenset[str] | None = None) -> None:
        """Check an expression; `item`: the comprehension's own names when it runs per item."""
        if isinstance(node, ast.Constant):
            return
        if isinstance(node, ast.Name):
            self.name(node, item)
        elif isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Slice):  # a slice copies
                raise _NotPlain
            self.lookup(node.slice)
            self.expr(node.value, item)
            self.expr(node.slice, item)
        elif isinstance(node, ast.Compare):
            self.cost(len(node.ops))
            for part in (node.left, *node.comparators):
                self.expr(part, item)
        elif isinstance(node, _READS):
            if isinstance(node, ast.UnaryOp) and not isinstance(node.op, _UNARY):
                raise _NotPlain
            for part in ast.iter_child_nodes(node):
                if isinstance(part, ast.expr):
                    self.expr(part, item)
        elif isinstance(node, ast.List | ast.Tuple | ast.Dict):
            if item is not None or any(k is None for k in getattr(node, "keys", ())):
                raise _NotPlain  # per item, or `{**d}`
            self.fresh(node)  # `x = [a, b]`, `b = [x, x]`, k times: 2**k written out
            for part in ast.iter_child_nodes(node):
                if isinstance(part, ast.expr_context):
                    continue
                self.expr(part)
        elif isinstance(node, ast.BinOp):
            self.operator(node, item)
        elif isinstance(node, ast.Call):
            self.call(node, item)
        elif isinstance(node, _COMPREHENSIONS):
            self.comprehension(node, item)
        else:
            raise _NotPlain

    def name(self, node: ast.Name, item: frozenset[str] | None) -> None:
        if node.id in self.callables:
            raise _NotPlain  # a function as a value: `sorted(l, key=f)`, `any(map(f, l))`
        if item is not None and node.id not in item:
            if node.id in self.assigned:
                raise _NotPlain  # read per item, it must be data `fits` can weigh first
            self.per_item.add(node.id)

    def operator(self, node: ast.BinOp, item: frozenset[str] | None) -> None:
        if item is not None or not isinstance(node.op, ast.Add | ast.Sub):
            raise _NotPlain
        self.cost()
        for operand in (node.left, node.right):
            self.fresh(operand)  # `a = a + a`, k times, is 2**k items
            self.expr(operand)

    def fresh(self, node: ast.AST) -> None:
        """Refuse a value built from one the code built before: its size could double with each
        statement."""
        if any(isinstance(n, ast.Name) and n.id in self.assigned for n in ast.walk(node)):
            raise _NotPlain

    def call(self, node: ast.Call, item: frozenset[str] | None) -> None:
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise _NotPlain
        func = node.func
        if _is_lookup(node):
            self.expr(func.value, item)  # type: ignore[attr-defined]
            self.lookup(node.args[0])
        elif not isinstance(func, ast.Name) or func.id not in self.callables:
            raise _NotPlain
        elif func.id == "len":
            if len(node.args) != 1 or node.keywords:
                raise _NotPlain
        elif item is not None:
            raise _NotPlain  # a diagram function or a loop in C for each item
        elif func.id in self.looping:
            if node.keywords:
                raise _NotPlain
            self.cost()
        elif any(k.arg is None for k in node.keywords):  # f(**kwargs)
            raise _NotPlain
        for argument in (*node.args, *(k.value for k in node.keywords)):
            self.expr(argument, item)

    def comprehension(self, node: ast.AST, item: frozenset[str] | None) -> None:
        generators = node.generators  # type: ignore[attr-defined]
        if item is not None or len(generators) != 1:
            raise _NotPlain
        (generator,) = generators
        if generator.is_async or not isinstance(generator.target, ast.Name):
            raise _NotPlain
        if any(isinstance(n, _COMPREHENSIONS) for n in ast.walk(generator.iter)):
            raise _NotPlain  # nested, even where it runs once: simpler to see bounded
        self.cost()
        self.expr(generator.iter)
        own = frozenset({generator.target.id})
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]  # type: ignore[attr-defined]
        for part in (*parts, *generator.ifs):
            self.expr(part, own)


def _is_lookup(node: ast.Call) -> bool:
    # `d.get(key)` or `d.get(key, default)`: one hash lookup, as `d[key]` is (a model's tables
    # of fees by member type are read this way); the sandbox's attribute guard still applies.
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "get"
        and 1 <= len(node.args) <= 2
        and not node.keywords
    )


def _stores(node: ast.Name) -> bool:
    return not isinstance(node.ctx, ast.Load)
