"""The workflow a step leaves behind is kept for the instance's next step in the same worker:
taken only for exactly the state stored, equal to that state restored afresh, and never the
wrong one when another worker moved the instance or a step was rolled back."""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine
from sqlalchemy import func, select

from tests import test_annual_dues, test_discipline, test_journey, test_procedure_branches
from tests.procedure import SHANGHAI, Procedure, procedure  # noqa: F401 (fixture)
from tests.servers import Client, Server, completed
from webapp.engine.restored import RestoredWorkflows
from webapp.extensions import db
from webapp.models import AuditEvent, HumanTask, ProcessInstance
from webapp.services import consistency, notice
from webapp.services.workflow import engine, source_for


@pytest.fixture
def checked(monkeypatch):
    """The app's engine comparing every kept workflow a step takes with its state restored
    afresh (an AssertionError on any difference), on an empty cache of its own."""
    monkeypatch.setattr(engine, "restored", RestoredWorkflows(256))
    monkeypatch.setattr(engine, "check_restored", True)
    monkeypatch.setattr(engine, "restored_hits", 0)
    monkeypatch.setattr(engine, "restored_ahead_hits", 0)
    return engine


def test_admission_end_to_end_takes_kept_workflows_equal_to_restored_ones(
    app,
    procedure,  # noqa: F811
    checked,
):
    test_journey.test_application_travels_every_stage_to_a_member_certificate(app, procedure)
    assert checked.restored_hits >= 8


def test_objection_answered_then_council_vote_with_kept_workflows(procedure, checked):  # noqa: F811
    test_procedure_branches.test_objection_dismissed_goes_to_the_council_with_the_answer_kept(
        procedure
    )
    assert checked.restored_hits >= 3


def test_payment_sent_back_with_kept_workflows(procedure, checked):  # noqa: F811
    test_procedure_branches.test_payment_sent_back_then_declared_again(procedure)
    assert checked.restored_hits >= 8


def test_a_year_of_dues_with_kept_workflows(app, procedure, checked):  # noqa: F811
    test_annual_dues.test_a_year_of_dues_paid_returned_reminded_and_suspended(app, procedure)
    assert checked.restored_hits >= 3


def test_an_expulsion_with_kept_workflows(app, procedure, checked):  # noqa: F811
    test_discipline.test_without_an_answer_in_time_an_expulsion_passes_with_two_thirds(
        app, procedure
    )
    assert checked.restored_hits >= 3


def test_two_workers_alternating_on_one_instance_never_take_a_stale_workflow(
    procedure,  # noqa: F811
    checked,
    monkeypatch,
):
    """Each worker has its own cache; here they take turns on one application, so each finds
    in its cache the state it left two steps ago, which is no longer the stored one."""
    p = procedure
    workers = {"A": RestoredWorkflows(256), "B": RestoredWorkflows(256)}
    taken = []

    def on(name):
        monkeypatch.setattr(engine, "restored", workers[name])
        return name

    def step(name, action, *args):
        on(name)
        before = engine.restored_hits
        action(*args)
        taken.append((name, engine.restored_hits - before))

    on("A")
    app_id = p.submit()  # A starts the case and completes the application: its second step hits
    step("B", p.review, app_id)
    step("A", p.file_objection, app_id, "该企业存在拖欠员工工资的情况。")
    step("B", p.close_notice, app_id)
    step(
        "A",
        p.do,
        "secretary",
        app_id,
        "answer_objection",
        {"objection_decision": "dismissed", "objection_reply": "异议不成立。"},
    )
    for worker, member in zip("BAB", ("council", "council2", "council3"), strict=True):
        step(worker, p.vote, app_id, member, "approve")
    step("A", p.declare_payment, app_id)
    step("B", p.confirm_payment, app_id)
    step("A", p.issue_certificate, app_id)
    # Every worker's entry was two steps old when it came back to the instance: nothing taken.
    assert taken and all(hits == 0 for _name, hits in taken), taken
    case = p.case(app_id)
    assert case.status == "admitted" and case.member_number

    # The same worker twice in a row does take what it kept.
    on("A")
    other = p.submit()
    before = engine.restored_hits
    p.review(other)
    assert engine.restored_hits == before + 1


def test_a_step_rolled_back_after_the_engine_leaves_nothing_that_is_taken(
    app,
    procedure,  # noqa: F811
    checked,
    monkeypatch,
):
    p = procedure
    app_id = p.submit()
    review = p.task(app_id, "preliminary_review")

    def fails(*_args, **_kwargs):
        raise RuntimeError("the database went away after the engine's step")

    with monkeypatch.context() as patch:
        patch.setattr(notice, "record_answer", fails)
        p.do("secretary", app_id, "preliminary_review", {"review_decision": "pass"}, expect=500)
    # The failed step took the submitted state's workflow out and kept the state it never
    # stored: the retry, on the stored state, finds neither and restores it.
    assert len(checked.restored) == 1
    before = checked.restored_hits
    p.review(app_id)
    assert checked.restored_hits == before
    assert p.case(app_id).stage == "notice"
    with app.app_context():
        assert db.session.get(HumanTask, review.id).state == "completed"
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.task_guid == review.task_guid)
            )
            == 1
        )
    # And the instance's next step takes what the successful review kept.
    p.file_objection(app_id, "该企业存在拖欠员工工资的情况。")
    assert checked.restored_hits == before + 1


def test_two_gunicorn_workers_alternating_on_one_instance(app, actors, database_url, tmp_path):
    """Two servers of one worker each on one database, each checking every workflow it takes
    against its state restored (a difference would answer 500): the secretary's review on one,
    then objections filed on either in turn, and two in a row on the same one at the end."""
    with time_machine.travel(datetime.now(SHANGHAI), tick=False) as traveller:
        p = Procedure(app, actors, traveller)
        app_id = p.submit()
        review = p.task(app_id, "preliminary_review").task_guid
        servers = []
        for name in "AB":
            (tmp_path / name).mkdir()
            servers.append(Server(database_url, tmp_path / name, workers=1, threads=1))
            servers[-1].env.update(ENGINE_RESTORED="256", ENGINE_RESTORED_CHECK="1")
        with servers[0], servers[1]:
            a, b = (server.url for server in servers)
            secretary = Client(a).login("secretary")
            assert completed(*secretary.post(f"/tasks/{review}", {"review_decision": "pass"}))
            reasons = []
            for i, url in enumerate((b, a, b, a, a)):
                page = f"/board/{app_id}/objection"
                public = Client(url)
                public.token(page)
                reasons.append(f"第{i + 1}条异议：该企业存在拖欠员工工资的情况。")
                status, text = public.post(page, {"reason": reasons[-1], "contact": ""})
                assert status == 302, (i, url, text[:500], servers[0].tail(), servers[1].tail())
    with app.app_context():
        instance = db.session.get(ProcessInstance, p.case(app_id).instance_id)
        objections = engine.merge_data(source_for(instance.version_id), instance.state, {})
        assert [o["reason"] for o in objections.data["objections"]] == reasons
        report = consistency.check()
    assert report.ok, [str(problem) for problem in report.problems]
    assert p.case(app_id).stage == "notice"


def test_a_completion_and_a_timer_take_the_state_restored_before_the_lock(
    procedure,  # noqa: F811
    monkeypatch,
):
    """On SQLite, whose one write lock every transition waits for, a person's completion and
    the ticker's step parse the stored state before they take it, and the step takes that
    workflow (compared here with the state restored afresh). PostgreSQL's row locks make
    nobody else wait: there the step restores under its lock, as before."""
    monkeypatch.setattr(engine, "restored", RestoredWorkflows(0))  # no workflow kept: default
    monkeypatch.setattr(engine, "check_restored", True)
    p = procedure
    with p.app.app_context():
        ahead = 1 if db.engine.dialect.name == "sqlite" else 0
    app_id = p.submit()
    before = engine.restored_ahead_hits
    p.review(app_id)
    assert engine.restored_ahead_hits == before + ahead
    before = engine.restored_ahead_hits
    p.close_notice(app_id)
    assert engine.restored_ahead_hits == before + ahead
    assert p.case(app_id).stage == "approval"  # the council votes
