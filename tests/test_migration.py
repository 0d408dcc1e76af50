"""Migrating running applications to a newer version of the admission model: an instance whose
current step survives moves and finishes on the new version's path; one whose current step
vanishes is refused with the reason and left untouched; only process owners may do it; and an
instance another owner moved meanwhile is reported, not migrated twice."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import time_machine
from sqlalchemy import select

from tests.conftest import ROOT, add_user
from webapp.engine import ModelSource, WorkflowEngine
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Case,
    HumanTask,
    ModelVersion,
    ProcessInstance,
    User,
)
from webapp.services import process_models

ADMISSION_BPMN = (ROOT / "workflows" / "admission.bpmn").read_text("utf-8")


def deploy(app, bpmn: str) -> int:
    """Deploy a changed admission diagram (with the current forms) as the live version."""
    with app.app_context():
        forms = process_models.read_forms(app.config["FORMS_DIR"] / "admission")
        version, created = process_models.deploy("admission", bpmn, forms)
        db.session.commit()
        assert created
        return version.id


def with_longer_notice(bpmn: str) -> str:
    """v2: the public notice lasts 7 working days instead of 5 (a step ahead of the review)."""
    changed = bpmn.replace(
        'notice_working_days = settings["notice_working_days"]', "notice_working_days = 7"
    )
    assert changed != bpmn
    return changed


def without_preliminary_review(bpmn: str) -> str:
    """v2: no preliminary review at all; the merge leads straight to the review's gateway."""
    bpmn = re.sub(
        r'<bpmn:userTask id="preliminary_review".*?</bpmn:userTask>', "", bpmn, flags=re.S
    )
    bpmn = bpmn.replace("<bpmn:flowNodeRef>preliminary_review</bpmn:flowNodeRef>", "")
    bpmn = bpmn.replace(
        'sourceRef="merge_review" targetRef="preliminary_review"',
        'sourceRef="merge_review" targetRef="review_gateway"',
    )
    bpmn = re.sub(r'<bpmn:sequenceFlow id="f_reviewed".*?</bpmn:sequenceFlow>', "", bpmn)
    bpmn = bpmn.replace(
        "<bpmn:incoming>f_reviewed</bpmn:incoming>", "<bpmn:incoming>f_to_review</bpmn:incoming>"
    )
    bpmn = re.sub(r'<bpmndi:BPMNShape id="preliminary_review_di".*?</bpmndi:BPMNShape>', "", bpmn)
    return re.sub(r'<bpmndi:BPMNEdge id="f_reviewed_di".*?</bpmndi:BPMNEdge>', "", bpmn)


def with_renamed_vote(bpmn: str) -> str:
    """v2: the council's vote task has a new name (the votes under way keep their voters)."""
    return bpmn.replace('name="理事会表决"', 'name="理事会表决（修订）"')


def snapshot(app, app_id: int):
    """Everything a refused migration must leave as it was."""
    with app.app_context():
        instance = db.session.get(ProcessInstance, _instance_id(app_id))
        rows = db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)
        )
        return (
            instance.state,
            instance.version_id,
            instance.lock_version,
            [(r.task_guid, r.bpmn_id, r.title, r.state, r.due_at) for r in rows],
        )


def _instance_id(app_id: int) -> int:
    return db.session.get(Case, app_id).instance_id


def instance_of(app, app_id: int) -> ProcessInstance:
    with app.app_context():
        return db.session.get(ProcessInstance, _instance_id(app_id))


def version_number(app, version_id: int) -> int:
    with app.app_context():
        return db.session.get(ModelVersion, version_id).number


def migrate(owner, app, app_id: int, target_id: int, seen_version: int | None = None):
    instance = instance_of(app, app_id)
    seen = seen_version or instance.version_id
    return owner.post(
        "/models/admission/migrate",
        {"target": str(target_id), "instances": f"{instance.id}:{seen}"},
        token_page="/models/admission/migrate",
    )


def test_instance_migrates_when_its_step_survives_and_finishes_on_the_new_path(
    app, actors, procedure
):
    app_id = procedure.submit()  # at the preliminary review, on version 1
    v1 = instance_of(app, app_id).version_id
    v2 = deploy(app, with_longer_notice(ADMISSION_BPMN))
    owner = actors("owner")

    page = owner.get("/models/admission/migrate")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    instance_id = instance_of(app, app_id).id
    row = re.search(rf'<tr data-instance="{instance_id}" data-can-migrate="(\w+)"', html)
    assert row and row.group(1) == "yes"
    assert 'data-step="preliminary_review" data-verdict="kept"' in html
    assert 'data-element="open_notice"' in html  # the changed script is named in the diff

    before = procedure.task(app_id, "preliminary_review").task_guid
    response = migrate(owner, app, app_id, v2)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert 'data-outcome="migrated"' in response.get_data(as_text=True)

    instance = instance_of(app, app_id)
    assert instance.version_id == v2 and instance.status == "running"
    # The open review is the same task: its link, its draft and its inbox row stay valid.
    assert procedure.open_ids(app_id) == ["preliminary_review"]
    assert procedure.task(app_id, "preliminary_review").task_guid == before
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "instance_migrated")
        ).one()
        assert event.data["from_version"] == version_number(app, v1) == 1
        assert event.data["to_version"] == version_number(app, v2) == 2

    # On version 2's path: the notice now runs 7 working days (5 on version 1).
    procedure.review(app_id)
    closes = procedure.case(app_id).notice_closes_at
    assert closes.astimezone(procedure.now().tzinfo).date() == datetime(2026, 6, 10).date()
    procedure.close_notice(app_id)
    procedure.approve_by_council(app_id)
    procedure.declare_payment(app_id)
    procedure.confirm_payment(app_id)
    procedure.issue_certificate(app_id)
    finished = procedure.case(app_id)
    assert finished.status == "admitted" and finished.member_number
    assert instance_of(app, app_id).version_id == v2


def test_instance_whose_current_task_is_removed_is_refused_and_left_untouched(
    app, actors, procedure
):
    app_id = procedure.submit()
    v2 = deploy(app, without_preliminary_review(ADMISSION_BPMN))
    owner = actors("owner")
    html = owner.get("/models/admission/migrate").get_data(as_text=True)
    assert 'data-step="preliminary_review" data-verdict="removed"' in html
    assert "preliminary_review" in html and 'data-can-migrate="no"' in html

    before = snapshot(app, app_id)
    response = migrate(owner, app, app_id, v2)  # posted anyway, e.g. from a stale page
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-outcome="refused"' in text
    assert "preliminary_review" in text and "初审" in text  # the element's id and name
    assert snapshot(app, app_id) == before
    with app.app_context():
        assert not db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "instance_migrated")
        ).first()
    # It still runs on version 1 and the review can be done as before.
    procedure.review(app_id)
    assert procedure.case(app_id).notice_closes_at is not None


def test_votes_under_way_keep_their_voters_and_show_the_new_title(app, actors, procedure):
    app_id = procedure.submit()
    procedure.review(app_id)
    procedure.close_notice(app_id)
    procedure.vote(app_id, "council", "approve")
    v2 = deploy(app, with_renamed_vote(ADMISSION_BPMN))
    owner = actors("owner")
    response = migrate(owner, app, app_id, v2)
    assert 'data-outcome="migrated"' in response.get_data(as_text=True)
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(HumanTask).where(
                    HumanTask.instance_id == _instance_id(app_id), HumanTask.state == "ready"
                )
            )
        )
        assert len(rows) == 2 and all(r.assignee_id for r in rows)
        assert {r.title for r in rows} == {"理事会表决（修订）"}
    procedure.vote(app_id, "council2", "approve")
    procedure.vote(app_id, "council3", "abstain")
    assert procedure.open_ids(app_id) == ["declare_payment"]
    assert procedure.case(app_id).facts["vote_result"]["passed"]


def test_only_process_owners_reach_the_migration_pages(app, actors, procedure):
    app_id = procedure.submit()
    v2 = deploy(app, with_longer_notice(ADMISSION_BPMN))
    instance = instance_of(app, app_id)
    for username in ("secretary", "applicant", "council"):
        user = actors(username)
        assert user.get("/models/admission/migrate").status_code == 403
        response = user.post(
            "/models/admission/migrate",
            {"target": str(v2), "instances": f"{instance.id}:{instance.version_id}"},
        )
        assert response.status_code == 403
    assert actors(None).get("/models/admission/migrate").status_code in (302, 401)
    assert instance_of(app, app_id).version_id == instance.version_id


def test_instance_another_owner_migrated_meanwhile_is_reported_not_moved_again(
    app, actors, procedure
):
    add_user(app, "owner2", "第二位流程管理员", "process_owner")
    app_id = procedure.submit()
    v1 = instance_of(app, app_id).version_id
    v2 = deploy(app, with_longer_notice(ADMISSION_BPMN))
    first, second = actors("owner"), actors("owner2")
    second.get("/models/admission/migrate")  # owner2 sees the instance on version 1 …
    assert migrate(first, app, app_id, v2).status_code == 200  # … owner moves it first
    state = instance_of(app, app_id).state

    late = migrate(second, app, app_id, v2, seen_version=v1)
    text = late.get_data(as_text=True)
    assert late.status_code == 409
    assert 'data-outcome="conflict"' in text and "2" in text and "周管理员" in text
    assert instance_of(app, app_id).state == state
    with app.app_context():
        assert (
            len(
                db.session.scalars(
                    select(AuditEvent).where(AuditEvent.action == "instance_migrated")
                ).all()
            )
            == 1
        )


def test_bad_input_is_refused_without_changes(app, actors, procedure):
    app_id = procedure.submit()
    v2 = deploy(app, with_longer_notice(ADMISSION_BPMN))
    owner = actors("owner")
    before = snapshot(app, app_id)
    for value in ("abc", "1:x", "", "; drop"):
        response = owner.post(
            "/models/admission/migrate",
            {"target": str(v2), "instances": value},
            token_page="/models/admission/migrate",
        )
        assert response.status_code in (302, 400)
    assert owner.get("/models/nonexistent/migrate").status_code == 404
    assert owner.get(f"/models/admission/migrate?target={v2 + 99}").status_code == 404
    assert snapshot(app, app_id) == before


def test_votes_restored_by_another_engine_still_complete():
    """A vote under way reaches its end in a process that did not open it (another worker, a
    restart, or the new version an instance was migrated to): the engine wires the vote's
    instances to it whenever it restores an instance."""
    functions = {
        "working_days_later": lambda n, start=None: f"2030-01-{n:02d}T23:59:59+08:00",
        "working_days_before": lambda deadline, n: "2030-01-08T09:00:00+08:00",
        "role_members": lambda role: [11, 12, 13],
        "vote_outcome": lambda votes, *args, **kwargs: {"passed": False, "quorum_met": False},
    }
    src = ModelSource(key="restored-vote", bpmn=ADMISSION_BPMN.encode("utf-8"))
    first = WorkflowEngine(functions)
    # The model's settings (periods, voting rule) come with every start, as cases.start gives them.
    settings = json.loads(
        (Path(__file__).resolve().parent.parent / "forms/admission/settings.data.json").read_text()
    )
    result = first.start(src, {"applicant_id": 7, "settings": settings})
    result = first.complete(src, result.state, result.ready_tasks[0].id, {"member_type": "unit"})
    decision = {"review_decision": "pass"}
    result = first.complete(src, result.state, result.ready_tasks[0].id, decision, actor=5)
    with time_machine.travel(datetime(2030, 1, 6, tzinfo=UTC)):
        result = first.fire_timers(src, result.state)
    votes = [t.id for t in result.ready_tasks]
    assert len(votes) == 3
    result = first.complete(src, result.state, votes[0], {"vote": "approve"}, actor=11)

    second = WorkflowEngine(functions)  # a fresh process: its own parse of the same version
    for vote, voter in zip(votes[1:], (12, 13), strict=True):
        result = second.complete(src, result.state, vote, {"vote": "approve"}, actor=voter)
    assert result.finished and result.data["outcome_code"] == "no_quorum"


def test_two_owners_migrating_at_the_same_moment_give_one_migration_and_one_conflict(
    app, actors, procedure
):
    add_user(app, "owner2", "第二位流程管理员", "process_owner")
    app_id = procedure.submit()
    v1 = instance_of(app, app_id).version_id
    v2 = deploy(app, with_longer_notice(ADMISSION_BPMN))
    owners = [actors("owner"), actors("owner2")]
    tokens = [o.token("/models/admission/migrate") for o in owners]
    instance_id = instance_of(app, app_id).id
    barrier, responses = threading.Barrier(2), [None, None]

    def post(i):
        barrier.wait()
        responses[i] = owners[i].client.post(
            "/models/admission/migrate",
            data={"csrf_token": tokens[i], "target": str(v2), "instances": f"{instance_id}:{v1}"},
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in responses) == [200, 409]
    loser = next(r for r in responses if r.status_code == 409).get_data(as_text=True)
    assert 'data-outcome="conflict"' in loser
    with app.app_context():
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "instance_migrated")
        ).all()
        winner = db.session.get(User, event.actor_id).display_name
    assert winner in loser
    assert instance_of(app, app_id).version_id == v2
    assert procedure.open_ids(app_id) == ["preliminary_review"]
