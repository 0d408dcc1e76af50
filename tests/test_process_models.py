"""Process models as versions: loading creates a version only when content changed, running
instances keep their version, a broken diagram is refused with element-level messages, and the
ticker fires due timers once."""

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine
from sqlalchemy import func, select

from tests.conftest import ROOT, fresh_application, open_task
from webapp.extensions import db
from webapp.models import AuditEvent, HumanTask, ModelVersion, ProcessInstance
from webapp.services import process_models, timers
from webapp.services.workflow import create_instance, engine, source_for


def _copy_models(tmp_path: Path) -> tuple[Path, Path]:
    workflows, forms = tmp_path / "workflows", tmp_path / "forms"
    shutil.copytree(ROOT / "workflows", workflows)
    shutil.copytree(ROOT / "forms", forms)
    return workflows, forms


def test_loading_unchanged_workflows_creates_no_new_version(app):
    with app.app_context():
        loaded = process_models.load_directory(
            app.config["WORKFLOWS_DIR"], app.config["FORMS_DIR"]
        )
        # Every procedure in workflows/ (admission and the later ones) is loaded once.
        assert "admission" in {key for key, _v, _c in loaded}
        assert all(version.number == 1 and not created for _k, version, created in loaded)


def test_changed_form_makes_a_new_version_and_running_instances_keep_theirs(app, actors, tmp_path):
    applicant = actors("applicant")
    old = applicant.start_application()
    workflows, forms = _copy_models(tmp_path)
    review = forms / "admission" / "review.schema.json"
    schema = json.loads(review.read_text("utf-8"))
    schema["title"] = "初审（新版）"
    review.write_text(json.dumps(schema, ensure_ascii=False), "utf-8")
    with app.app_context():
        loaded = process_models.load_directory(workflows, forms)
        [(_, version, created)] = [row for row in loaded if row[0] == "admission"]
        assert created and version.number == 2
    new = applicant.start_application()
    with app.app_context():
        old_version = db.session.get(ProcessInstance, old.instance_id).version.number
        new_version = db.session.get(ProcessInstance, new.instance_id).version.number
    assert (old_version, new_version) == (1, 2)
    applicant.complete(open_task(app, old.id).task_guid, fresh_application())
    applicant.complete(open_task(app, new.id).task_guid, fresh_application())
    secretary = actors("secretary")
    old_page = secretary.get(f"/tasks/{open_task(app, old.id).task_guid}").get_data(as_text=True)
    new_page = secretary.get(f"/tasks/{open_task(app, new.id).task_guid}").get_data(as_text=True)
    assert "初审（新版）" not in old_page and "初审（新版）" in new_page


def test_a_broken_diagram_is_refused_and_nothing_is_stored(app, tmp_path):
    workflows, forms = _copy_models(tmp_path)
    bpmn = workflows / "admission.bpmn"
    text = bpmn.read_text("utf-8")
    bpmn.write_text(
        text.replace('review_decision == "pass"', "__import__('os').system('true')").replace(
            'name="formJsonSchemaFilename" value="answer_objection.schema.json"',
            'name="formJsonSchemaFilename" value="missing.schema.json"',
        ),
        "utf-8",
    )
    runner = app.test_cli_runner()
    app.config["WORKFLOWS_DIR"], app.config["FORMS_DIR"] = workflows, forms
    result = runner.invoke(args=["load-workflows"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "review_gateway" in result.output or "flow_review_pass" in result.output
    with app.app_context():
        # Nothing stored: one version of each diagram, as set-up loaded them.
        assert db.session.scalar(select(func.count()).select_from(ModelVersion)) == len(
            list(workflows.glob("*.bpmn"))
        )
    bpmn.write_text(
        text.replace(
            'name="formJsonSchemaFilename" value="answer_objection.schema.json"',
            'name="formJsonSchemaFilename" value="missing.schema.json"',
        ),
        "utf-8",
    )
    result = runner.invoke(args=["load-workflows"])
    assert result.exit_code != 0 and "answer_objection" in result.output
    assert "missing.schema.json" in result.output


TIMER_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:collaboration id="c"><bpmn:participant id="pp" processRef="reminder"/></bpmn:collaboration>
  <bpmn:process id="reminder" name="Reminder" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="secretariat">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>wait</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>act</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait" name="Three days">
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression"
        >duration_days(3)</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="act"/>
    <bpmn:userTask id="act" name="Follow up">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="act.schema.json"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="act" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_ticker_fires_a_due_timer_once_and_only_when_due(app):
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    with app.app_context(), time_machine.travel(start, tick=False):
        version, _ = process_models.deploy(
            "reminder", TIMER_BPMN, {"act.schema.json": {"type": "object"}}
        )
        db.session.commit()
        instance, _ = create_instance(version, engine.start(source_for(version.id)))
        db.session.commit()
        instance_id = instance.id
        assert instance.next_timer_at == start + timedelta(days=3)
        assert timers.fire_due() == 0
    with app.app_context(), time_machine.travel(start + timedelta(days=3, minutes=1), tick=False):
        assert timers.fire_due() == 1
        assert timers.fire_due() == 0
        rows = db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id)
        ).all()
        assert [(r.bpmn_id, r.state) for r in rows] == [("act", "ready")]
        assert db.session.get(ProcessInstance, instance_id).next_timer_at is None
        fired = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.instance_id == instance_id, AuditEvent.action == "timer_fired")
        )
        assert fired == 1
