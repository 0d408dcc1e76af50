"""Which diagram code runs in the serving process (plain) and which goes to a helper: plain code
is bounded by the data it reads, whatever the task data holds."""

from __future__ import annotations

import pytest

from webapp.engine.sandbox import SandboxEnvironment
from webapp.engine.sandbox_limits import SandboxViolation
from webapp.engine.sandbox_plain import is_plain

FUNCTIONS = frozenset({"working_days_later"})


@pytest.mark.parametrize(
    "source",
    [
        'fees.get(member["member_type"], default)',
        'fees.get("unit")',
        'fee = fees.get(kind, fees["default"])["amount"]',
        'working_days_later(calendar.get("days", 10))',
    ],
)
def test_a_key_looked_up_with_get_is_plain(source):
    mode = "exec" if "=" in source.replace("==", "") else "eval"
    assert is_plain(source, mode, FUNCTIONS)


@pytest.mark.parametrize(
    "source",
    [
        "fees.keys()",
        "fees.get",
        "fees.get(*keys)",
        "fees.get(a, b, c)",
        "fees.get(key=1)",
        "fees.items()",
        "text.format(x)",
        "fees.get(a).update(b)",
    ],
)
def test_other_methods_are_not_plain(source):
    assert not is_plain(source, "eval", FUNCTIONS)


def test_a_plain_get_runs_under_the_sandboxs_guards():
    sandbox = SandboxEnvironment({})
    data = {"fees": {"unit": 1000}, "kind": "individual"}
    assert sandbox.evaluate("fees.get(kind, 500)", data) == 500
    assert sandbox.evaluate('fees.get("unit")', data) == 1000
    with pytest.raises((SandboxViolation, AttributeError)):
        sandbox.evaluate("kind.get(1)", data)  # a text has no get: an error, as in a helper
