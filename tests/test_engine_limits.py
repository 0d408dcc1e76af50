"""A step that runs away (more automatic steps than allowed) is refused with the reason and
changes nothing: the task stays open, the instance and its audit trail as they were."""

from sqlalchemy import func, select

from tests.conftest import open_task, reload
from webapp.engine import EngineLimits
from webapp.extensions import db
from webapp.models import AuditEvent, ProcessInstance
from webapp.services import workflow


def test_a_step_over_the_limit_of_automatic_steps_is_refused_and_rolled_back(
    app, actors, submitted, monkeypatch
):
    task = open_task(app, submitted.id, "preliminary_review")
    with app.app_context():
        before = db.session.get(ProcessInstance, submitted.instance_id).state
        audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
    # Passing the review runs its gateway and opens the notice: two automatic steps.
    monkeypatch.setattr(workflow.engine, "limits", EngineLimits(max_steps=1))

    response = actors("secretary").complete(task.task_guid, {"review_decision": "pass"})

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "流程无法执行此步骤，未作任何更改" in page
    assert "连续执行了超过 1 个自动步骤而未等待任何人或定时器" in page
    assert open_task(app, submitted.id).task_guid == task.task_guid
    assert reload(app, submitted.id).status == "in_progress"
    with app.app_context():
        assert db.session.get(ProcessInstance, submitted.instance_id).state == before
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == audits
