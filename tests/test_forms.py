"""Invalid form data is refused field by field, shown again with the user's values, and
changes nothing: no state, no projection, no audit."""

from sqlalchemy import func, select

from tests.conftest import VALID_APPLICATION, open_task
from webapp import formschema
from webapp.extensions import db
from webapp.models import AuditEvent, ProcessInstance


def _snapshot(app, instance_id):
    with app.app_context():
        instance = db.session.get(ProcessInstance, instance_id)
        audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
        return instance.state, instance.lock_version, audits


def test_invalid_application_is_refused_and_nothing_changes(app, actors):
    applicant = actors("applicant")
    case = applicant.start_application()
    task = open_task(app, case.id)
    before = _snapshot(app, case.instance_id)
    bad = {**VALID_APPLICATION, "credit_code": "91110000600037341X", "email": "not-an-email"}
    del bad["accept_charter"]
    response = applicant.complete(task.task_guid, bad)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "统一社会信用代码" in page and "不是有效的统一社会信用代码" in page
    assert 'value="not-an-email"' in page  # the user's values come back
    assert "北京示例科技有限公司" in page
    assert _snapshot(app, case.instance_id) == before
    assert open_task(app, case.id).task_guid == task.task_guid


def test_individual_member_must_give_a_valid_id_number(app, actors):
    applicant = actors("applicant")
    case = applicant.start_application()
    guid = open_task(app, case.id).task_guid
    person = {
        k: v for k, v in VALID_APPLICATION.items() if k not in ("credit_code", "business_licence")
    }
    person.update(member_type="individual", name="张三")
    person.update(
        id_document=(b"%PDF-1.4\n%%EOF\n", "身份证.pdf"), cv=(b"%PDF-1.4\n%%EOF\n", "简历.pdf")
    )
    response = applicant.complete(guid, person)
    assert response.status_code == 400
    assert 'data-field="id_number"' in response.get_data(as_text=True)
    response = applicant.complete(guid, {**person, "id_number": "110101199003070012"})
    assert response.status_code == 400  # wrong check digit
    response = applicant.complete(guid, {**person, "id_number": "110101199003070011"})
    assert response.status_code == 302


def test_rejecting_without_reasons_is_refused(app, actors, submitted):
    secretary = actors("secretary")
    guid = open_task(app, submitted.id).task_guid
    before = _snapshot(app, submitted.instance_id)
    response = secretary.complete(guid, {"review_decision": "reject"})
    assert response.status_code == 400
    assert _snapshot(app, submitted.instance_id) == before


def test_unknown_fields_and_wrong_types_are_refused(app, actors, submitted):
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"amount": {"type": "number", "exclusiveMinimum": 0}},
    }
    assert formschema.validate(schema, {"amount": 5}) == {}
    with app.test_request_context():
        data = formschema.read_submission(schema, {"amount": "abc"})
        assert "amount" in formschema.validate(schema, data)
        assert "amount" in formschema.validate(schema, {"amount": -1})
        assert "" in formschema.validate(schema, {"amount": 1, "sneaky": True})


def test_form_labels_follow_the_language(app):
    with app.app_context():
        from webapp.services.process_models import live_version

        forms = live_version("admission").forms
    schema, ui = forms["review.schema.json"], forms["review.uischema.json"]
    chinese = formschema.build_form(schema, ui, "zh_CN")
    english = formschema.build_form(schema, ui, "en")
    assert chinese.fields[0].label != english.fields[0].label
    assert [v for v, _ in english.fields[0].options] == ["pass", "more_material", "reject"]
