"""`flask check` passes on what the procedure leaves behind, and catches each kind of damage:
a lost audit row (and the hole it leaves in the hash chain), a broken state, a task list that
disagrees with the engine, a gap in the member numbers."""

import re

import pytest
from sqlalchemy import delete, select, update

from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Case,
    HumanTask,
    MemberNumberCounter,
    ProcessInstance,
)


def run_check(app):
    result = app.test_cli_runner().invoke(args=["check"])
    return result.exit_code, result.output


@pytest.fixture
def cases(app, procedure):
    """One application admitted, one in the council vote, one waiting for review."""
    admitted = procedure.submit()
    procedure.to_payment(admitted)
    procedure.declare_payment(admitted)
    procedure.confirm_payment(admitted)
    procedure.issue_certificate(admitted)
    voting = procedure.submit()
    procedure.review(voting)
    procedure.close_notice(voting)
    procedure.vote(voting, "council", "approve")
    waiting = procedure.submit()
    return {"admitted": admitted, "voting": voting, "waiting": waiting}


def instance_of(app, case_id):
    with app.app_context():
        return db.session.get(Case, case_id).instance_id


def test_check_passes_after_the_procedure(app, cases):
    code, output = run_check(app)
    assert code == 0, output
    assert "checked 3 instance(s) (2 running)" in output
    assert "1 member(s), " in output and "audit row(s): consistent" in output


def test_check_names_each_kind_of_damage(app, cases):
    admitted, voting, waiting = (
        instance_of(app, cases[name]) for name in ("admitted", "voting", "waiting")
    )
    with app.app_context():
        # A transition whose audit row is gone.
        lost_audit = db.session.scalars(
            select(AuditEvent.task_guid).where(
                AuditEvent.instance_id == voting, AuditEvent.action == "task_completed"
            )
        ).first()
        db.session.execute(delete(AuditEvent).where(AuditEvent.task_guid == lost_audit))
        # Task rows that disagree with the engine: one gone, one marked cancelled.
        ready = db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == voting, HumanTask.state == "ready")
        ).all()
        assert len(ready) == 2  # the two council members who have not voted yet
        lost_tasks = [ready[0].task_guid, ready[1].task_guid]
        db.session.delete(ready[0])
        ready[1].state = "cancelled"
        # A state torn in the middle.
        db.session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == waiting)
            .values(state='{"tasks": "torn by a crash')
        )
        # An application that disagrees with its instance.
        db.session.execute(
            update(Case).where(Case.id == cases["admitted"]).values(status="in_progress")
        )
        # A member number counted but never given.
        number = db.session.get(Case, cases["admitted"]).member_number
        db.session.execute(update(MemberNumberCounter).values(last=MemberNumberCounter.last + 1))
        db.session.commit()

    code, output = run_check(app)
    assert code == 1
    on_voting = f"PROBLEM instance {voting}, application {cases['voting']}:"
    assert (
        f"{on_voting} task {lost_audit} is completed but has no task_completed audit row" in output
    )
    for guid in lost_tasks:
        assert (
            f"{on_voting} the engine offers task {guid} (council_vote) "
            "but the task list does not show it" in output
        )
    assert f"PROBLEM instance {waiting}, application {cases['waiting']}: state does not " in (
        output
    )
    assert (
        f"PROBLEM instance {admitted}, application {cases['admitted']}: application is "
        "in_progress but its instance is finished" in output
    )
    gap = number[:-6] + "000002"
    assert f"PROBLEM database: member number {gap} was never issued (a gap)" in output
    # The lost audit row also leaves a hole in the audit hash chain.
    assert re.search(r"PROBLEM database: audit row seq \d+ was deleted", output)
    # Set back to in progress behind the steps' back, the case is one the funnel's running
    # counts do not hold.
    assert re.search(
        r"PROBLEM database: the funnel counts 0 cases in progress of procedure \d+ at stage "
        r"'certificate', case_file 1",
        output,
    )
    assert "8 problem(s)" in output


def test_check_names_instances_nothing_will_move_on(app, cases):
    """A stuck case passes every other check: finished with a step still ready, waiting on a
    timer the ticker cannot find, or running with nothing to wait for."""
    admitted, voting, waiting = (
        instance_of(app, cases[name]) for name in ("admitted", "voting", "waiting")
    )
    with app.app_context():
        # Finished, yet the review is still ready in the engine (its task row withdrawn).
        db.session.execute(
            update(ProcessInstance).where(ProcessInstance.id == waiting).values(status="finished")
        )
        db.session.execute(update(Case).where(Case.id == cases["waiting"]).values(status="closed"))
        db.session.execute(
            update(HumanTask)
            .where(HumanTask.instance_id == waiting, HumanTask.state == "ready")
            .values(state="cancelled")
        )
        # Running, and waiting on the vote's deadline, which the ticker cannot find.
        db.session.execute(
            update(ProcessInstance).where(ProcessInstance.id == voting).values(next_timer_at=None)
        )
        # Running (as is its application), though the engine has nothing left to do.
        db.session.execute(
            update(ProcessInstance).where(ProcessInstance.id == admitted).values(status="running")
        )
        db.session.execute(
            update(Case).where(Case.id == cases["admitted"]).values(status="in_progress")
        )
        db.session.commit()

    code, output = run_check(app)
    assert code == 1
    assert (
        f"PROBLEM instance {waiting}, application {cases['waiting']}: finished, yet the engine "
        "has ready step(s): preliminary_review" in output
    )
    assert (
        f"PROBLEM instance {voting}, application {cases['voting']}: waits on timer(s) "
        "vote_deadline, but its next_timer_at is empty, so the ticker will never fire them"
        in output
    )
    assert (
        f"PROBLEM instance {admitted}, application {cases['admitted']}: neither finished nor "
        "waiting on a person or a timer (the engine has nothing left to do)" in output
    )
    # The fourth: the withdrawn task row disagrees with the engine, as the first test shows;
    # the fifth and sixth: the two cases' statuses changed behind the funnel's running counts.
    assert output.count("PROBLEM database: the funnel counts") == 2, output
    assert "6 problem(s)" in output, output
