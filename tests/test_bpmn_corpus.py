"""Every diagram of the shared corpus (real files from SpiffWorkflow's tests and the BPMN MIWG
test suite, exported by many modelers) is either accepted or refused with element-level
problems, never a crash; and the reasons are the right ones.

`python -m tests.test_bpmn_corpus` prints the table: file → accepted / rejected and why.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.needs import needs
from webapp.engine import InvalidDiagram, Problem
from webapp.engine.checks import NO_PROCESS
from webapp.engine.validation import CANNOT_CHECK
from webapp.services import process_models

# The corpus sits beside the checkout (../shared); a clone elsewhere (as CI makes) finds it through
# BPMN_CORPUS_DIR or the workplace's fixed location.
_CANDIDATES = [
    Path(p)
    for p in (
        os.environ.get("BPMN_CORPUS_DIR"),
        ROOT.parent / "shared" / "bpmn-corpus",
        "/work/shared/bpmn-corpus",
    )
    if p
]
CORPUS = next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0])
FILES = sorted(CORPUS.glob("*.bpmn")) if CORPUS.is_dir() else []
pytestmark = needs(
    bool(FILES), f"no BPMN corpus at {CORPUS} (../shared/bpmn-corpus or BPMN_CORPUS_DIR)"
)

# Problems that concern the whole file rather than one element.
FILE_LEVEL = (
    NO_PROCESS,
    "The file is not well-formed XML (line %(line)s): %(detail)s",
    "The file is not a BPMN 2.0 diagram: it has no bpmn:definitions element.",
    "The file does not follow the BPMN 2.0 schema at line %(line)s: %(detail)s",
    "The file has %(count)s more schema errors.",
    "The engine cannot read the diagram: %(detail)s",
)

# For files whose trouble is known: (element id, words its problem must contain).
EXPECTED = {
    "Reference__C.9.0": [
        ("ServiceTask_GetCreditScore", "external worker (calculateScore)"),
        ("BusinessRuleTask_CheckApplicationAutomatically", "DMN"),
        ("ExclusiveGateway_Risk", "FEEL"),
        ("Activity_ManualCheck", "not in this file"),
    ],
    "Reference__C.1.0": [
        ("archiveInvoice", "Service tasks"),
        ("invoice_approved", "JUEL"),
        ("StartEvent_1", "nothing in this process sends it"),
        ("approveInvoice", "lane Approver"),
    ],
    "Reference__B.2.0": [
        ("_b9385abf-d293-40b7-848b-8add4db48415", "Data stores"),
        ("_f27040d5-765c-493c-bbe7-9fb6ad04cbdc", "Link events"),
        ("_4e71bf73-1719-401e-a9a2-85dc89fc1150", "has no time"),
        ("_b9343536-6490-4559-8365-71d5c4cbb7cb", "loop condition"),
    ],
    "Reference__C.3.0": [
        ("Bpmn_BoundaryEvent_sS9gABqGEeWDuOtG0oS24A", '"PT2H"'),
        ("_cd6f230f-13c3-4027-aa3e-57de601a1ab2", "exactly one start event"),
    ],
    "Reference__C.6.0": [
        ("_6a5cdbbf-2618-496e-b728-955dc215ef9d", "Compensation"),
        ("_9cc2ac34-f12c-49e0-b37c-144e5a84fd92", "data association"),
    ],
    "Reference__C.7.0": [("_eae674ce-4d6e-48ac-819c-c79e0868e40d", "DMN")],
    "Reference__C.8.0": [("VacationRequestProcess", "not marked executable")],
    "Reference__A.2.0": [("WFP-6-", "not marked executable")],
    "C.4.0-export": [("DataStoreReference_1el2zpd", "Data stores")],
    "data__Approvals": [("Approvals.Parallel_SP_Done", "Manual tasks")],
    "data__collaboration": [
        ("ActivitySendLetter", "waits for it"),
        ("EventReceiveLetter", "sends it"),
    ],
    "data__event-gateway": [("message_1_event", "message_1")],
    "data__lanes": [("Activity_A1", "lane A")],
    "data__ParallelOrder": [("Activity_0x0i4s3", "without a type")],
    "data__correlation": [("initiator", "2 executable processes")],
    "spiff__data__spiff_properties": [("Activity_04b30i8", "my_json_jschema.json")],
}


def outcome(path: Path) -> list[Problem]:
    """The problems of one corpus file, validated without forms; [] when accepted."""
    try:
        process_models.check_model(path.read_text("utf-8"), {})
    except InvalidDiagram as refused:
        return refused.problems
    return []


@pytest.mark.parametrize("path", FILES, ids=[p.name.split("__", 1)[-1] for p in FILES])
def test_each_corpus_file_is_accepted_or_refused_with_element_level_reasons(app, path):
    with app.app_context():
        problems = outcome(path)
    for problem in problems:
        assert problem.message.strip()
        assert "Traceback" not in problem.message and 'File "' not in problem.message
        assert problem.template != CANNOT_CHECK, problem.message  # a bug of ours, not the file's
        assert problem.element_id or problem.template in FILE_LEVEL, problem.message
    for fragment, expected in EXPECTED.items():
        if fragment in path.name:
            for element_id, words in expected:
                messages = [p.message for p in problems if p.element_id == element_id]
                assert any(words in m for m in messages), (element_id, words, messages)


def test_the_summary_counts_every_file_once():
    table, reasons = summary()
    assert [name for name, _ in table] == [p.name.split("__", 1)[-1] for p in FILES]
    refused = [problems for _, problems in table if problems]
    assert sum(reasons.values()) >= len(refused)


def summary() -> tuple[list[tuple[str, list[Problem]]], Counter]:
    """Each file with its problems, and how many files each kind of problem refused."""
    table = [(path.name.split("__", 1)[-1], outcome(path)) for path in FILES]
    reasons = Counter(
        template for _, problems in table for template in {p.template for p in problems}
    )
    return table, reasons


def print_summary(table, reasons: Counter, out) -> None:
    refused = sum(1 for _, problems in table if problems)
    print(f"\n{len(table)} files: {len(table) - refused} accepted, {refused} rejected", file=out)
    for name, problems in table:
        kinds = Counter(p.template.split(":")[0].split(",")[0][:60] for p in problems)
        verdict = "rejected" if problems else "accepted"
        print(f"  {name}: {verdict} {dict(kinds) if problems else ''}", file=out)
    print("files refused for each reason:", file=out)
    for template, count in reasons.most_common():
        print(f"  {count:3d}  {template[:110]}", file=out)


if __name__ == "__main__":
    print_summary(*summary(), sys.stdout)
