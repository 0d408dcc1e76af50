"""A step writes its instance row and ends its task rows through prebuilt statements, not the
unit of work: the version column still refuses a stale write and nothing of it is kept, the
session's objects stand as the database has them (a later write of the same row in the
transaction passes the version check), and completed and withdrawn tasks are written as
before."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from tests import staged
from webapp.extensions import db
from webapp.models import Case, HumanTask, ProcessInstance, utcnow
from webapp.services import users, workflow
from webapp.services.workflow import engine, save_result, source_for

REVIEW = {"review_decision": "pass"}


def _review_step(instance: ProcessInstance, task: HumanTask, actor_id: int):
    return engine.complete(
        source_for(instance.version_id), instance.state, task.task_guid, REVIEW, actor=actor_id
    )


def _stored(instance_id: int) -> tuple[int, str]:
    row = (
        db.session.connection()
        .execute(
            select(ProcessInstance.lock_version, ProcessInstance.status).where(
                ProcessInstance.id == instance_id
            )
        )
        .one()
    )
    return row.lock_version, row.status


def test_the_step_leaves_the_instance_object_as_the_database_has_it(app):
    with app.test_request_context():
        [case_id] = staged.submitted(1)
        instance_id = db.session.get(Case, case_id).instance_id
        secretary = users.by_username("secretary")
        locked = workflow.lock_case(instance_id)
        instance = locked.instance
        version = instance.lock_version
        [task] = locked.ready.values()
        save_result(
            instance, _review_step(instance, task, secretary.id), secretary.id, REVIEW,
            ready=locked.ready,
        )  # fmt: skip
        # Written already, and nothing left for the unit of work to write again.
        assert _stored(instance_id) == (version + 1, "running")
        assert instance.lock_version == version + 1
        assert not db.session.is_modified(instance) and not db.session.is_modified(task)
        assert task.state == "completed" and task.completed_by_id == secretary.id
        # A later write of the row in the same transaction passes the version check.
        instance.updated_at = utcnow()
        db.session.flush()
        assert instance.lock_version == version + 2 == _stored(instance_id)[0]
        db.session.commit()
        done = db.session.scalars(
            select(HumanTask).where(HumanTask.task_guid == task.task_guid)
        ).one()
        assert (done.state, done.completed_by_id, done.submitted_data) == (
            "completed", secretary.id, REVIEW,
        )  # fmt: skip
        assert done.completed_at is not None


def test_a_stale_step_write_is_refused_and_leaves_nothing(app):
    with app.test_request_context():
        [case_id] = staged.submitted(1)
        instance_id = db.session.get(Case, case_id).instance_id
        secretary = users.by_username("secretary")
        stale = db.session.get(ProcessInstance, instance_id)
        [task] = staged.open_tasks(case_id)
        result = _review_step(stale, task, secretary.id)
        state_before = stale.state
        with app.app_context():  # another writer, past the lock, moves the instance first
            other = db.session.get(ProcessInstance, instance_id)
            other.updated_at = utcnow()
            db.session.commit()
        with pytest.raises(StaleDataError):
            save_result(stale, result, secretary.id, REVIEW, ready={task.task_guid: task})
        db.session.rollback()
        assert db.session.get(ProcessInstance, instance_id).state == state_before
        assert [t.task_guid for t in staged.open_tasks(case_id)] == [task.task_guid]


def test_votes_a_deadline_withdraws_are_written_cancelled(app, procedure):
    case_id = procedure.submit()
    procedure.review(case_id)
    procedure.close_notice(case_id)
    procedure.vote(case_id, "council", "approve")
    procedure.after(procedure.case(case_id).facts["vote_closes_at"])
    with app.app_context():
        instance_id = db.session.get(Case, case_id).instance_id
        votes = db.session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == instance_id, HumanTask.bpmn_id == "council_vote"
            )
        ).all()
        council = users.by_username("council")
    by_state = {}
    for vote in votes:
        by_state.setdefault(vote.state, []).append(vote)
    assert len(by_state["completed"]) == 1 and len(by_state["cancelled"]) == 2, by_state
    [cast] = by_state["completed"]
    assert cast.completed_by_id == council.id and cast.submitted_data
    for withdrawn in by_state["cancelled"]:
        assert withdrawn.completed_at is not None
        assert withdrawn.completed_by_id is None and withdrawn.submitted_data is None
