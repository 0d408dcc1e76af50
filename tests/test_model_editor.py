"""The process owner's editor through the test client: who may use it, checking and deploying a
bundle (a diagram with its forms), the live form preview, import and export. Bad input gets a
clear JSON or HTML answer and changes nothing; never a 500."""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile

import pytest
from sqlalchemy import func, select

from tests.conftest import CSRF_RE, ROOT, Actor, add_user, open_task
from webapp.extensions import db
from webapp.models import AuditEvent, ModelVersion, ProcessInstance, ProcessModel
from webapp.services import process_models

BPMN = (ROOT / "workflows" / "admission.bpmn").read_text("utf-8")
FORM_PROPERTY = (
    '<spiffworkflow:property name="formJsonSchemaFilename" value="review.schema.json" />'
)
NOTICE_SCRIPT = 'notice_working_days = settings["notice_working_days"]'


def bundle(bpmn: str = BPMN, **changes) -> dict:
    forms = process_models.read_forms(ROOT / "forms" / "admission")
    forms.update(changes)
    return {"bpmn": bpmn, "forms": forms}


def token(actor) -> str:
    """The session's CSRF token, from a page with a form (the login page for visitors)."""
    page = "/board" if actor.username else "/login"
    return CSRF_RE.search(actor.get(page).get_data(as_text=True)).group(1)


def post_json(actor, url: str, payload, raw: bytes | None = None):
    """A fetch() from the editor page: JSON body, CSRF token in the X-CSRFToken header."""
    return actor.client.post(
        url,
        data=raw if raw is not None else json.dumps(payload),
        headers={"X-CSRFToken": token(actor), "Accept": "application/json"},
        content_type="application/json",
    )


def post_file(actor, url: str, content: bytes, filename: str, **fields):
    data = {"file": (io.BytesIO(content), filename), "csrf_token": token(actor), **fields}
    return actor.client.post(
        url, data=data, headers={"Accept": "application/json"}, content_type="multipart/form-data"
    )


def versions(app) -> list[int]:
    """Admission's version numbers (the other procedures of workflows/ have theirs)."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(ModelVersion.number)
                .join(ProcessModel, ProcessModel.id == ModelVersion.model_id)
                .where(ProcessModel.key == "admission")
                .order_by(ModelVersion.number)
            )
        )


def live_number(app) -> int:
    with app.app_context():
        model = db.session.scalars(
            select(ProcessModel).where(ProcessModel.key == "admission")
        ).one()
        return model.live_version.number


# --- who may use it --------------------------------------------------------------------------

PAGES = [
    "/models",
    "/models/admission/edit",
    "/models/admission/edit?version=1",
    "/models/admission/versions/1/export.bpmn",
    "/models/admission/versions/1/export.zip",
]
ENDPOINTS = [
    "/models/admission/validate",
    "/models/admission/deploy",
    "/models/form-preview",
]


@pytest.mark.parametrize("url", PAGES)
def test_pages_are_for_process_owners_only(app, actors, url):
    assert actors("owner").get(url).status_code == 200
    for username in ("applicant", "secretary", "council", "finance"):
        assert actors(username).get(url).status_code == 403, username
    anonymous = actors(None).get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_endpoints_are_for_process_owners_only(app, actors, url):
    payload = {**bundle(), "schema": {"type": "object"}}
    for username in ("applicant", "secretary", "council", "finance"):
        response = post_json(actors(username), url, payload)
        assert response.status_code == 403, username
        assert response.get_json()["error"]
    anonymous = post_json(actors(None), url, payload)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert versions(app) == [1]


@pytest.mark.parametrize("url", ["/models/admission/import", "/models/import"])
def test_imports_are_for_process_owners_only(app, actors, url):
    for username in ("applicant", "secretary"):
        assert post_file(actors(username), url, BPMN.encode(), "a.bpmn").status_code == 403
    anonymous = post_file(actors(None), url, BPMN.encode(), "a.bpmn")
    assert anonymous.status_code == 302


def test_a_post_without_the_csrf_token_is_refused_with_json(app, actors):
    response = actors("owner").client.post(
        "/models/admission/deploy", json=bundle(), headers={"Accept": "application/json"}
    )
    assert response.status_code == 400 and response.get_json()["error"]
    assert versions(app) == [1]


# --- the model list -----------------------------------------------------------------------------


def test_model_list_shows_versions_live_one_and_applications_per_stage(app, actors, submitted):
    actors("applicant").start_application()  # a second one, still in the application stage
    page = actors("owner").get("/models").get_data(as_text=True)
    assert 'data-model="admission"' in page
    row = page[page.index('<tr data-version="1">') :]
    row = row[: row.index("</tr>")]
    assert '<td class="running">2</td>' in row
    assert 'data-stage="review"' in row and 'data-stage="application"' in row
    assert "text-bg-success" in row  # the live badge
    assert "/models/admission/versions/1/export.bpmn" in row
    assert "/models/admission/edit?version=1" in row
    assert "/models/admission/migrate" in page
    assert 'id="import-form"' in page


def test_editor_page_carries_the_version_bundle_and_its_texts(app, actors):
    page = actors("owner").get("/models/admission/edit").get_data(as_text=True)
    start = page.index('id="editor-bundle">') + len('id="editor-bundle">')
    data = json.loads(page[start : page.index("</script>", start)])
    assert data["bpmn"] == BPMN and "fee_schedule.data.json" in data["forms"]
    assert "/vendor/bpmn-js/dist/bpmn-modeler.production.min.js" in page
    assert 'id="editor-text"' in page and 'data-csrf="' in page


@pytest.mark.parametrize("url", ["/models/admission/edit?version=9", "/models/nothing/edit"])
def test_editor_of_an_unknown_version_is_not_found(actors, url):
    response = actors("owner").get(url)
    assert response.status_code == 404 and "error-message" in response.get_data(as_text=True)


# --- validate -------------------------------------------------------------------------------------


def test_validate_accepts_the_loaded_model(actors):
    response = post_json(actors("owner"), "/models/admission/validate", bundle())
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "problems": []}


def test_validate_names_the_user_task_without_a_form(app, actors):
    broken = BPMN.replace(FORM_PROPERTY, "")
    response = post_json(actors("owner"), "/models/admission/validate", bundle(broken))
    body = response.get_json()
    assert response.status_code == 200 and body["ok"] is False
    [problem] = [p for p in body["problems"] if p["element_id"] == "preliminary_review"]
    assert problem["element_name"] == "初审" and problem["message"]
    assert versions(app) == [1]


def test_validate_names_a_form_that_is_not_json_schema(actors):
    payload = bundle(**{"review.schema.json": {"type": "object", "properties": 12}})
    body = post_json(actors("owner"), "/models/admission/validate", payload).get_json()
    assert not body["ok"]
    assert any(p["element_id"] == "preliminary_review" for p in body["problems"])


def test_validate_answers_a_file_that_is_not_xml_with_a_problem_not_a_crash(actors):
    body = post_json(
        actors("owner"), "/models/admission/validate", bundle("this is not xml <")
    ).get_json()
    assert body["ok"] is False and body["problems"] and body["problems"][0]["message"]


@pytest.mark.parametrize(
    ("payload", "raw"),
    [
        (None, b"{not json"),
        ([1, 2], None),
        ({"forms": {}}, None),
        ({"bpmn": "", "forms": {}}, None),
        ({"bpmn": BPMN, "forms": []}, None),
        ({"bpmn": BPMN, "forms": {"../../etc/passwd.json": {}}}, None),
        ({"bpmn": BPMN, "forms": {"review.schema.json": [1]}}, None),
        ({"bpmn": BPMN, "forms": {"notes.txt": {}}}, None),
    ],
)
def test_bad_bundles_get_a_clear_400(app, actors, payload, raw):
    for url in ("/models/admission/validate", "/models/admission/deploy"):
        response = post_json(actors("owner"), url, payload, raw)
        assert response.status_code == 400, (url, response.get_data(as_text=True)[:300])
        assert response.get_json()["error"]
    assert versions(app) == [1]


def test_a_bundle_over_the_size_limit_is_refused_with_413(app, actors):
    huge = bundle(**{"big.data.json": {"x": "y" * (3 * 1024 * 1024)}})
    response = post_json(actors("owner"), "/models/admission/deploy", huge)
    assert response.status_code == 413
    assert "2 MB" in response.get_json()["error"]
    assert versions(app) == [1]


# --- deploy ---------------------------------------------------------------------------------------


def test_deploy_makes_a_new_live_version_and_running_instances_keep_theirs(app, actors):
    applicant, owner = actors("applicant"), actors("owner")
    before = applicant.start_application()
    changed = BPMN.replace(NOTICE_SCRIPT, "notice_working_days = 7")
    response = post_json(
        owner,
        "/models/admission/deploy",
        {**bundle(changed), "live_version": 1, "comment": "公示期改为\n7 个工作日"},
    )
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["ok"] and body["version"] == 2 and body["created"]
    assert "2" in body["message"]
    assert live_number(app) == 2
    after = applicant.start_application()
    with app.app_context():
        old = db.session.get(ProcessInstance, before.instance_id).version.number
        new = db.session.get(ProcessInstance, after.instance_id).version
        assert (old, new.number) == (1, 2)
        assert "notice_working_days = 7" in new.bpmn
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "model_deployed")
        ).one()
        comment = "公示期改为 7 个工作日"  # the deploy's comment, one line, kept with it
        assert new.deploy_comment == comment
        assert event.data == {
            "model": "admission",
            "version": 2,
            "created": True,
            "comment": comment,
        }
    assert comment in owner.get("/models").get_data(as_text=True)


def test_deploying_unchanged_content_creates_no_version(app, actors):
    body = post_json(actors("owner"), "/models/admission/deploy", bundle()).get_json()
    assert body["ok"] and body["version"] == 1 and body["created"] is False
    assert versions(app) == [1]


def test_an_invalid_deploy_is_refused_with_the_problems_and_nothing_is_saved(app, actors):
    broken = BPMN.replace(FORM_PROPERTY, "")
    response = post_json(
        actors("owner"), "/models/admission/deploy", {**bundle(broken), "live_version": 1}
    )
    body = response.get_json()
    assert response.status_code == 422 and body["ok"] is False and body["error"]
    assert any(p["element_id"] == "preliminary_review" for p in body["problems"])
    assert versions(app) == [1] and live_number(app) == 1
    with app.app_context():
        assert not db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "model_deployed")
        )


def test_a_deploy_over_someone_elses_is_refused_naming_who_won(app, actors):
    add_user(app, "owner2", "吴管理员", "process_owner")
    first = bundle(BPMN.replace(NOTICE_SCRIPT, "notice_working_days = 6"))
    second = bundle(BPMN.replace(NOTICE_SCRIPT, "notice_working_days = 8"))
    assert post_json(actors("owner2"), "/models/admission/deploy", {**first, "live_version": 1})
    response = post_json(actors("owner"), "/models/admission/deploy", {**second, "live_version": 1})
    body = response.get_json()
    assert response.status_code == 409
    assert "吴管理员" in body["error"] and body["live_version"] == 2
    assert versions(app) == [1, 2]
    # The owner decides to replace it: deploying against version 2 goes through.
    again = post_json(actors("owner"), "/models/admission/deploy", {**second, "live_version": 2})
    assert again.status_code == 200 and again.get_json()["version"] == 3


def test_two_deploys_at_the_same_moment_give_one_version_and_one_conflict(app, actors):
    add_user(app, "owner2", "吴管理员", "process_owner")
    owners = [actors("owner"), Actor(app, "owner2")]
    bundles = [
        bundle(BPMN.replace(NOTICE_SCRIPT, f"notice_working_days = {days}")) for days in (6, 8)
    ]
    tokens = [token(owner) for owner in owners]
    barrier = threading.Barrier(2)
    responses = [None, None]

    def deploy(i):
        barrier.wait()
        responses[i] = owners[i].client.post(
            "/models/admission/deploy",
            json={**bundles[i], "live_version": 1},
            headers={"X-CSRFToken": tokens[i], "Accept": "application/json"},
        )

    threads = [threading.Thread(target=deploy, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in responses) == [200, 409]
    winner = next(i for i, r in enumerate(responses) if r.status_code == 200)
    loser = responses[1 - winner].get_json()
    assert ("周管理员", "吴管理员")[winner] in loser["error"] and loser["live_version"] == 2
    assert versions(app) == [1, 2]
    with app.app_context():
        deploys = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "model_deployed")
        ).all()
        assert len(deploys) == 1


def test_deploy_to_a_new_key_creates_the_model(app, actors):
    response = post_json(actors("owner"), "/models/admission_b/deploy", bundle())
    assert response.status_code == 200 and response.get_json()["version"] == 1
    with app.app_context():
        assert db.session.scalars(
            select(ProcessModel).where(ProcessModel.key == "admission_b")
        ).one()


def test_deploy_to_an_unusable_key_is_refused(app, actors):
    response = post_json(actors("owner"), "/models/Bad-Key!/deploy", bundle())
    assert response.status_code == 400 and response.get_json()["error"]


# --- form preview -----------------------------------------------------------------------------


def test_preview_renders_the_form_as_the_task_page_does(app, actors):
    forms = bundle()["forms"]
    schema, ui = forms["application.schema.json"], forms["application.uischema.json"]
    preview = post_json(actors("owner"), "/models/form-preview", {"schema": schema, "ui": ui})
    case = actors("applicant").start_application()
    task_page = actors("applicant").get(f"/tasks/{open_task(app, case.id).task_guid}")
    fields = re.compile(r'data-field="([^"]+)"')
    html = preview.get_json()["html"]
    assert preview.status_code == 200
    assert fields.findall(html) == fields.findall(task_page.get_data(as_text=True))
    schema["properties"]["name"]["title"] = "单位名称（新）"
    html = post_json(actors("owner"), "/models/form-preview", {"schema": schema, "ui": ui})
    assert "单位名称（新）" in html.get_json()["html"]


@pytest.mark.parametrize(
    "payload",
    [
        {"schema": "x"},
        {},
        {"schema": {"type": 12}},
        {"schema": {"type": "object"}, "ui": [1]},
        {"schema": {"type": "object", "properties": {"a": {"oneOf": [1, 2]}}}},
    ],
)
def test_preview_of_a_broken_form_says_why(actors, payload):
    response = post_json(actors("owner"), "/models/form-preview", payload)
    assert response.status_code == 422 and response.get_json()["error"]


# --- import and export ------------------------------------------------------------------------


def test_export_gives_the_version_as_a_bpmn_file(actors):
    response = actors("owner").get("/models/admission/versions/1/export.bpmn")
    assert response.status_code == 200
    assert 'filename="admission-v1.bpmn"' in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True) == BPMN


def test_export_zip_holds_the_diagram_and_every_form(actors):
    response = actors("owner").get("/models/admission/versions/1/export.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    names = set(archive.namelist())
    assert "workflows/admission.bpmn" in names
    assert "forms/admission/fee_schedule.data.json" in names
    assert (
        json.loads(archive.read("forms/admission/review.schema.json"))
        == (bundle()["forms"]["review.schema.json"])
    )


def test_export_of_an_unknown_version_is_not_found(actors):
    assert actors("owner").get("/models/admission/versions/7/export.bpmn").status_code == 404


def test_import_into_the_editor_returns_the_diagram_and_stores_nothing(app, actors):
    response = post_file(actors("owner"), "/models/admission/import", BPMN.encode(), "x.bpmn")
    assert response.status_code == 200 and response.get_json()["bpmn"] == BPMN
    assert versions(app) == [1]


@pytest.mark.parametrize(
    ("content", "filename", "status"),
    [
        (b"hello", "notes.txt", 400),
        (b"", "empty.bpmn", 400),
        (b"<definitions", "broken.bpmn", 400),
        (b"<html><body>hi</body></html>", "page.bpmn", 400),
        (b"\xff\xfe\x00<", "utf16.bpmn", 400),
        (b"<a/>" + b" " * (3 * 1024 * 1024), "huge.bpmn", 413),
    ],
)
def test_import_refuses_what_is_not_a_bpmn_file(app, actors, content, filename, status):
    response = post_file(actors("owner"), "/models/admission/import", content, filename)
    assert response.status_code == status
    assert response.get_json()["error"]
    assert versions(app) == [1]


def test_import_does_not_resolve_external_entities(actors):
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</definitions>'
    )
    response = post_file(actors("owner"), "/models/admission/import", evil, "evil.bpmn")
    assert "root:" not in response.get_data(as_text=True)


def test_import_from_the_list_opens_the_editor_on_an_existing_model(app, actors):
    response = post_file(
        actors("owner"), "/models/import", BPMN.encode(), "a.bpmn", target="admission"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="editor-notice"' in page
    assert 'data-key="admission"' in page and "review.schema.json" in page
    assert versions(app) == [1]


def test_import_from_the_list_as_a_new_model_derives_its_key(app, actors):
    other = BPMN.replace('id="admission"', 'id="Withdrawal-Process"').replace(
        'processRef="admission"', 'processRef="Withdrawal-Process"'
    )
    response = post_file(actors("owner"), "/models/import", other.encode(), "w.bpmn", target="")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-key="withdrawal_process"' in page
    with app.app_context():  # opened in the editor, not stored
        keys = set(db.session.scalars(select(ProcessModel.key)))
        assert "withdrawal_process" not in keys


@pytest.mark.parametrize(
    ("content", "filename", "target", "status"),
    [
        (b"hello", "notes.txt", "", 400),
        (b"<nope", "x.bpmn", "admission", 400),
        (BPMN.encode(), "x.bpmn", "no_such_model", 400),
    ],
)
def test_import_from_the_list_refuses_bad_files_on_the_list_page(
    app, actors, content, filename, target, status
):
    response = post_file(actors("owner"), "/models/import", content, filename, target=target)
    assert response.status_code == status
    assert 'id="import-error"' in response.get_data(as_text=True)
    assert versions(app) == [1]
