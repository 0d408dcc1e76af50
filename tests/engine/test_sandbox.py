"""The sandbox lets the rules a process owner writes run, and the engine uses it at both doors:
a diagram with an escape is refused when it is loaded, and what only a run can see stops the step
without changing the instance."""

from __future__ import annotations

import datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import pytest
from lxml import etree

from tests.engine import bpmn_samples as samples
from tests.engine.test_sandbox_escapes import ESCAPES
from webapp.engine import EngineError, InvalidDiagram, ModelSource, WorkflowEngine
from webapp.engine import sandbox as sandbox_module
from webapp.engine.sandbox import (
    SandboxEnvironment,
    SandboxViolation,
    compile_expression,
    compile_script,
)

ADMISSION = Path(__file__).resolve().parents[2] / "workflows" / "admission.bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
# Where a diagram keeps Python, and whether it is an expression or a script.
EXPRESSION_PATHS = [
    ("//bpmn:conditionExpression/text()", "eval"),
    ("//bpmn:timeDate/text() | //bpmn:timeDuration/text() | //bpmn:timeCycle/text()", "eval"),
    ("//bpmn:loopCardinality/text() | //bpmn:completionCondition/text()", "eval"),
    ("//spiffworkflow:property[@name='dueDate']/@value", "eval"),
    ("//bpmn:script/text()", "exec"),
    ("//spiffworkflow:preScript/text() | //spiffworkflow:postScript/text()", "exec"),
]


def _admission_sources() -> list[tuple[str, str]]:
    tree = etree.parse(str(ADMISSION))
    return [
        (str(source), mode)
        for path, mode in EXPRESSION_PATHS
        for source in tree.xpath(path, namespaces=NS)
    ]


def test_every_expression_and_script_of_the_admission_diagram_compiles():
    sources = _admission_sources()
    assert len(sources) >= 25  # conditions, timers, due dates, scripts, pre- and post-scripts
    for source, mode in sources:
        (compile_expression if mode == "eval" else compile_script)(source)


RULES = [
    ("len(objections) > 0", {"objections": [{"id": 1}]}, True),
    ("any([a['decision'] == 'upheld' for a in answers])", {"answers": [{"decision": "x"}]}, False),
    ("vote_result['passed']", {"vote_result": {"passed": True}}, True),
    (
        "'; '.join([a['answer'] for a in answers])",
        {"answers": [{"answer": "a"}, {"answer": "b"}]},
        "a; b",
    ),
    ("'n=%d' % total", {"total": 6}, "n=6"),
    ("f'{fee:.2f} 元, {name!r:>8}'", {"fee": 500, "name": "甲"}, "500.00 元,      '甲'"),
    ("date.fromisoformat(d) + timedelta(days=3)", {"d": "2026-03-02"}, datetime.date(2026, 3, 5)),
    ("date(2026, 3, 2).strftime('%Y年%m月%d日')", {}, "2026年03月02日"),
    (
        "max(scores, key=lambda s: s['n'])['who']",
        {"scores": [{"n": 1, "who": "a"}, {"n": 3, "who": "b"}]},
        "b",
    ),
    ("isinstance(x, str) and isinstance(1, (str, int)) and str(12) == '12'", {"x": "a"}, True),
    (
        "sorted(set(reviewers + [completed_by]))",
        {"reviewers": [3, 1], "completed_by": 2},
        [1, 2, 3],
    ),
    ("{k: v * 2 for k, v in d.items()}", {"d": {"a": 1}}, {"a": 2}),
    (
        "(2 ** 10, 'ab' * 3, divmod(7, 2), round(2.567, 2), sum([1, 2.5]))",
        {},
        (1024, "ababab", (3, 1), 2.57, 3.5),
    ),
    ("'a-b'.replace('-', '+').ljust(5, '.') + 'x'.zfill(3)", {}, "a+b..00x"),
    ("duration_days(5)", {}, "P5D"),
    (
        "len('a' * 1_000_000) + (2 ** 9_000).bit_length() + len('%1000d' % 1)",
        {},
        1_000_000 + 9_001 + 1_000,
    ),
]


@pytest.mark.parametrize(("expression", "data", "expected"), RULES)
def test_rules_a_process_owner_writes_still_run(expression, data, expected):
    assert SandboxEnvironment().evaluate(expression, dict(data)) == expected


def test_scripts_keep_their_variables_and_may_loop():
    data = {"reviewers": [3], "completed_by": 1, "old": 1}
    script = (
        "reviewers = sorted(set(reviewers + [completed_by]))\n"
        "total = 0\n"
        "for i, r in enumerate(reviewers):\n"
        "    total += i * r\n"
        "n = 0\n"
        "while n < 10:\n"
        "    n += 1\n"
        "parts = []\n"
        "parts.extend(['a', 'b'])\n"
        "label = f'{total}/{n}: ' + '-'.join(parts)\n"
        "first, second = reviewers\n"
        "del old"
    )
    SandboxEnvironment().execute(script, data)
    assert data == {
        "reviewers": [1, 3],
        "completed_by": 1,
        "total": 3,
        "n": 10,
        "parts": ["a", "b"],
        "label": "3/10: a-b",
        "first": 1,
        "second": 3,
        "i": 1,  # loop variables stay, as in Python
        "r": 3,
    }


def test_each_evaluation_has_its_own_step_budget():
    env = SandboxEnvironment()
    for _ in range(60):  # 60 × 2,000 steps: more than one budget if they were shared
        assert env.evaluate("len([x for x in range(40) for y in range(50)])", {}) == 2_000


def test_a_script_cannot_leave_what_the_stored_state_cannot_hold():
    data = {"kept": 1}
    with pytest.raises(SandboxViolation, match="'d' holds a date"):
        SandboxEnvironment().execute("kept = 2\nd = date(2026, 1, 1)", data)
    assert data == {"kept": 1}


@pytest.mark.parametrize(
    "script",
    [
        "given.append(date(2026, 1, 1))",
        "given[0] = date(2026, 1, 1)",
        "record['when'] = date(2026, 1, 1)",
        "record.update({'when': date(2026, 1, 1)})",
        "record.setdefault('when', date(2026, 1, 1))",
        "add = given.append\nadd(date(2026, 1, 1))",
        "given.insert(0, {1})",
        "inner = record['inner']\ninner['x'] = {1}",
        "for r in [record]:\n    r['inner'] = date(2026, 1, 1)",
    ],
)
def test_a_value_changed_in_place_is_checked_like_one_bound_anew(script):
    # Task data a script was given is walked again only if the script may have changed a value
    # in place: every way it can is noticed.
    data = {"given": [1], "record": {"inner": {}}}
    with pytest.raises(SandboxViolation, match="holds a"):
        SandboxEnvironment().execute(script, data)


def test_values_a_script_leaves_as_given_are_not_walked_again(monkeypatch):
    walked = []
    real = sandbox_module.not_data

    def counted(value, depth=0):
        walked.append(value)
        return real(value, depth)

    monkeypatch.setattr(sandbox_module, "not_data", counted)
    data = {"big": {"rows": list(range(1000))}, "n": 1}
    SandboxEnvironment().execute("n = n + 1\nlabel = str(len(big['rows']))", data)
    assert walked == [2, "1000"]  # only what it bound anew
    assert data == {"big": {"rows": list(range(1000))}, "n": 2, "label": "1000"}


# --- Through the engine's public API ---------------------------------------------------------


def _source(bpmn: bytes) -> ModelSource:
    return ModelSource(key=str(hash(bpmn)), bpmn=bpmn)


@pytest.fixture
def engine():
    return WorkflowEngine()


@pytest.mark.parametrize("escape", [e for e in ESCAPES if e.refused], ids=lambda e: e.name)
def test_a_script_task_that_escapes_is_refused_when_the_diagram_is_loaded(engine, escape):
    bpmn = samples.script_between_tasks(xml_escape(escape.source))
    with pytest.raises(InvalidDiagram) as caught:
        engine.describe(_source(bpmn))
    [problem] = caught.value.problems
    assert problem.element_id == "run" and problem.element_name == "Compute"
    assert escape.refused in problem.message


@pytest.mark.parametrize(
    ("bpmn", "element_id", "says"),
    [
        (samples.gateway(xml_escape("().__class__.__bases__")), "gw", "'.__bases__'"),
        (samples.gateway("__import__('os').system('true')"), "gw", "'__import__'"),
        (samples.timer_then_task(xml_escape('"P" + str(10**10**10) + "D"')), "wait", "too large"),
        (samples.timer_then_task("open('/etc/passwd').read()"), "wait", "'open'"),
    ],
    ids=["condition-dunder", "condition-import", "timer-bomb", "timer-open"],
)
def test_conditions_and_timers_that_escape_are_refused_when_loaded(engine, bpmn, element_id, says):
    with pytest.raises(InvalidDiagram) as caught:
        engine.describe(_source(bpmn))
    assert [(p.element_id, says in p.message) for p in caught.value.problems] == [
        (element_id, True)
    ]


@pytest.mark.parametrize(
    ("script", "bad", "says"),
    [
        ("x = 'a' * n", {"n": 10**10}, "longer than 1,000,000"),
        ("x = 0\nwhile x < n:\n    x += 1", {"n": 10**9}, "more than 100,000 steps"),
        ("d = date(2026, 1, 1) if n > 5 else n", {"n": 9}, "'d' holds a date"),
    ],
    ids=["bomb", "endless-loop", "not-data"],
)
def test_what_only_the_run_sees_stops_the_step_and_changes_nothing(engine, script, bad, says):
    src = _source(samples.script_between_tasks(xml_escape(script)))
    started = engine.start(src)
    first = started.ready_tasks[0].id
    with pytest.raises(EngineError) as caught:
        engine.complete(src, started.state, first, bad)
    assert says in str(caught.value)
    # The stored state is untouched: the same task completes once the data is harmless.
    after = engine.complete(src, started.state, first, {"n": 3})
    assert [t.info.spec_id for t in after.ready_tasks] == ["second"]
