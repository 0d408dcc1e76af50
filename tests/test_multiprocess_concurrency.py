"""Eight client processes against a real gunicorn (4 workers × 2 threads) on the test database:
the same task completed at once gives one transition and seven 409s; council members voting at
the same moment are all counted; member numbers issued at once stay unique and gapless."""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine
from sqlalchemy import func, select

from tests import staged
from tests.conftest import add_user
from tests.procedure import SHANGHAI, Procedure
from tests.servers import Server, completed, run_synchronized
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Case,
    HumanTask,
    Member,
    MemberNumberCounter,
    ProcessInstance,
    User,
)
from webapp.services import consistency

PROCESSES = 8


@pytest.fixture
def procedure(app, actors):
    """The procedure from today on: the server runs on the real clock, and a deadline set in
    the past would fire as soon as the engine next looks at the instance."""
    with time_machine.travel(datetime.now(SHANGHAI), tick=False) as traveller:
        yield Procedure(app, actors, traveller)


@pytest.fixture
def server(app, database_url, tmp_path):
    with Server(database_url, tmp_path) as running:
        yield running


def add_people(app, prefix: str, display: str, role: str, count: int, first: int = 2):
    """Extra accounts so that eight processes are eight different people."""
    names = [f"{prefix}{i}" for i in range(first, first + count)]
    for name in names:
        add_user(app, name, f"{display}{name}", role)
    return names


def audit_count(app, action: str, **where) -> int:
    with app.app_context():
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        for column, value in where.items():
            query = query.where(getattr(AuditEvent, column) == value)
        return db.session.scalar(query)


def assert_consistent(app) -> None:
    with app.app_context():
        report = consistency.check()
    assert report.ok, [str(p) for p in report.problems]


def test_eight_processes_completing_one_task_make_one_transition(app, procedure, server):
    secretaries = ["secretary", *add_people(app, "secretary", "秘书", "secretariat", 7)]
    cases = [procedure.submit() for _ in range(3)]
    guids = [procedure.task(a, "preliminary_review").task_guid for a in cases]
    decisions = [
        {"review_decision": "pass"} if i % 2 else {"review_decision": "reject",
                                                   "review_reasons": f"并发测试 {i}"}
        for i in range(PROCESSES)
    ]  # fmt: skip
    plans = [
        (user, [(f"/tasks/{guid}", decisions[i]) for guid in guids])
        for i, user in enumerate(secretaries)
    ]
    outcomes = run_synchronized(server.url, plans)

    for step, (guid, app_id) in enumerate(zip(guids, cases, strict=True)):
        statuses = [outcome[step][0] for outcome in outcomes]
        assert sorted(statuses) == [302] + [409] * (PROCESSES - 1), statuses
        winner = statuses.index(302)
        assert completed(*outcomes[winner][step])
        with app.app_context():
            task = db.session.scalars(select(HumanTask).where(HumanTask.task_guid == guid)).one()
            assert task.state == "completed"
            assert task.completed_by.username == secretaries[winner]
            assert task.submitted_data["review_decision"] == decisions[winner]["review_decision"]
            for i, outcome in enumerate(outcomes):
                if i != winner:  # each loser is told who was first
                    assert task.completed_by.display_name in outcome[step][1]
            instance = db.session.get(ProcessInstance, procedure.case(app_id).instance_id)
            passed = decisions[winner]["review_decision"] == "pass"
            assert instance.status == ("running" if passed else "finished")
            assert (instance.next_timer_at is not None) == passed
        assert audit_count(app, "task_completed", task_guid=guid) == 1
    assert_consistent(app)


def test_council_votes_cast_at_the_same_moment_are_all_counted(app, procedure, server):
    # The voters are fixed when the vote opens: the extra members join before that.
    council = [
        "council",
        "council2",
        "council3",
        *add_people(app, "council", "理事", "council", 5, 4),
    ]
    with app.test_request_context():
        cases = staged.in_vote(3, procedure.traveller)
    ballots = [{"vote": "approve"}] * 5 + [
        {"vote": "reject", "vote_comment": "材料不足"},
        {"vote": "reject", "vote_comment": "另议"},
        {"vote": "abstain"},
    ]
    plans = []
    for member, vote in zip(council, ballots, strict=True):
        steps = [
            (f"/tasks/{procedure.task(a, 'council_vote', member).task_guid}", vote) for a in cases
        ]
        plans.append((member, steps))
    outcomes = run_synchronized(server.url, plans)

    assert all(completed(*answer) for outcome in outcomes for answer in outcome), [
        [(status, page[:80]) for status, page in outcome] for outcome in outcomes
    ]
    for app_id in cases:
        case = procedure.case(app_id)
        # On failure, say where the application stands and what every client was told.
        assert "vote_result" in case.facts, (
            case.stage,
            case.status,
            procedure.open_ids(app_id),
            [[(status, page[-600:]) for status, page in outcome] for outcome in outcomes],
        )
        tally = case.facts["vote_result"]
        assert (tally["approve"], tally["reject"], tally["abstain"]) == (5, 2, 1)
        assert (tally["voted"], tally["eligible"], tally["passed"]) == (8, 8, True)
        assert case.stage == "payment"
        with app.app_context():
            votes = db.session.scalars(
                select(HumanTask).where(
                    HumanTask.instance_id == case.instance_id,
                    HumanTask.bpmn_id == "council_vote",
                )
            ).all()
            assert sorted(v.state for v in votes) == ["completed"] * PROCESSES
            voters = {v.completed_by.username for v in votes}
            assert voters == set(council)
            for vote in votes:
                assert audit_count(app, "task_completed", task_guid=vote.task_guid) == 1
    assert_consistent(app)


def test_member_numbers_issued_at_once_are_unique_and_gapless(app, procedure, server):
    secretaries = ["secretary", *add_people(app, "secretary", "秘书", "secretariat", 7)]
    per_process = 2
    count = PROCESSES * per_process
    with app.test_request_context():
        cases = staged.awaiting_certificate(count, procedure.traveller)
    guids = [procedure.task(a, "issue_certificate").task_guid for a in cases]
    plans = [
        (user, [(f"/tasks/{g}", {"certificate_confirmed": "on"}) for g in guids[i::PROCESSES]])
        for i, user in enumerate(secretaries)
    ]
    outcomes = run_synchronized(server.url, plans)

    assert all(completed(*answer) for outcome in outcomes for answer in outcome), outcomes
    with app.app_context():
        numbers = db.session.scalars(select(Case.member_number).where(Case.id.in_(cases))).all()
        assert None not in numbers and len(set(numbers)) == count
        series = {n.rsplit("-", 1)[0] for n in numbers}
        assert len(series) == 1, series  # one year, one member type
        assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, count + 1))
        assert db.session.get(MemberNumberCounter, series.pop()).last == count
        assert db.session.scalar(select(func.count()).select_from(Member)) == count
        issuers = db.session.scalars(
            select(User.username)
            .join(AuditEvent, AuditEvent.actor_id == User.id)
            .where(AuditEvent.action == "certificate_issued")
        ).all()
        assert len(issuers) == count and set(issuers) == set(secretaries)
    assert_consistent(app)
