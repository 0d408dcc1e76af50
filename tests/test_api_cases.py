"""Applications through the JSON API: an applicant starts one, uploads its documents and submits
its form without a browser; it sees only its own; the committee sees any, as on the pages; a
refused upload says why and keeps nothing."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from tests.conftest import VALID_APPLICATION, open_task, reload
from webapp.extensions import db
from webapp.models import Case, Document
from webapp.services import api_tokens, cases, users

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
FORM = {k: v for k, v in VALID_APPLICATION.items() if not isinstance(v, tuple)}
# The JSON API takes typed values: the form's ticked boxes are booleans.
TYPED_FORM = {**FORM, "accept_charter": True, "accept_integrity_pact": True}


class Api:
    """One user's API client: a personal token in the Authorization header."""

    def __init__(self, app, username: str | None):
        self.client = app.test_client()
        self.headers = {}
        if username is not None:
            with app.app_context():
                _token, plain = api_tokens.create(users.by_username(username), "tests")
            self.headers["Authorization"] = f"Bearer {plain}"

    def get(self, url: str):
        return self.client.get(url, headers=self.headers)

    def post(self, url: str, **kwargs):
        return self.client.post(url, headers=self.headers, **kwargs)

    def upload(self, case_id: int, field: str, content: bytes, name: str = "scan.pdf"):
        return self.post(
            f"/api/v1/cases/{case_id}/documents",
            data={"field": field, "file": (io.BytesIO(content), name)},
            content_type="multipart/form-data",
        )


def _documents(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Document))


def _cases(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Case))


def test_an_applicant_starts_uploads_and_submits_through_the_api(app):
    api = Api(app, "applicant")
    started = api.post("/api/v1/cases")
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    assert started.headers["Location"].endswith(f"/api/v1/cases/{body['id']}")
    assert (body["status"], body["stage"]) == ("in_progress", "application")
    [form_task] = body["open_tasks"]
    assert form_task["stage"] == "application" and form_task["state"] == "ready"
    assert form_task["case"]["id"] == body["id"]

    tokens = {}
    for field in ("application_form_scan", "business_licence"):
        uploaded = api.upload(body["id"], field, PDF, f"{field}.pdf")
        assert uploaded.status_code == 201, uploaded.get_json()
        document = uploaded.get_json()
        assert document["content_type"] == "application/pdf"
        assert (document["name"], document["size"]) == (f"{field}.pdf", len(PDF))
        tokens[field] = document["token"]

    done = api.post(
        f"/api/v1/tasks/{form_task['id']}/complete", json={"data": {**TYPED_FORM, **tokens}}
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["case"]["stage"] == "review"

    detail = api.get(f"/api/v1/cases/{body['id']}").get_json()
    assert detail["name"] == FORM["name"] and detail["open_tasks"] == []
    assert detail["data"]["business_licence"] == tokens["business_licence"]
    assert [(e["stage"], e["state"]) for e in detail["timeline"]] == [
        ("application", "completed"),
        ("review", "ready"),
    ]
    listed = api.get("/api/v1/cases").get_json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert (listed["page"], listed["has_next"]) == (1, False)


def test_only_applicant_accounts_start_applications(app):
    before = _cases(app)
    refused = Api(app, "secretary").post("/api/v1/cases")
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    anonymous = Api(app, None).post("/api/v1/cases")
    assert anonymous.status_code == 401 and anonymous.get_json()["error"] == "unauthorized"
    assert _cases(app) == before


def test_another_applicant_does_not_find_it_and_the_committee_sees_it(app, submitted):
    url = f"/api/v1/cases/{submitted.id}"
    hidden = Api(app, "applicant2").get(url)
    assert hidden.status_code == 404 and hidden.get_json()["error"] == "not_found"
    assert submitted.name not in hidden.get_data(as_text=True)
    assert Api(app, "applicant2").get("/api/v1/cases").get_json()["items"] == []

    seen = Api(app, "secretary").get(url)
    assert seen.status_code == 200
    # The applicant's own open tasks are the applicant's business, not the committee's.
    assert seen.get_json()["open_tasks"] == []
    assert seen.get_json()["data"]["credit_code"] == FORM["credit_code"]
    assert Api(app, None).get(url).status_code == 401


def test_the_list_goes_a_page_at_a_time_and_refuses_a_page_that_cannot_be(app):
    with app.app_context():
        owner = users.by_username("applicant")
        ids = [cases.start(owner).id for _ in range(cases.PAGE_SIZE + 1)]
    api = Api(app, "applicant")
    first = api.get("/api/v1/cases").get_json()
    second = api.get("/api/v1/cases?page=2").get_json()
    assert (len(first["items"]), first["has_next"]) == (cases.PAGE_SIZE, True)
    assert (len(second["items"]), second["has_next"]) == (1, False)
    listed = [item["id"] for item in first["items"] + second["items"]]
    assert sorted(listed) == sorted(ids) and listed[0] == max(ids)  # newest first
    for page in ("0", "-1", "abc", "1.5", "99999999999999999999", "١"):
        refused = api.get(f"/api/v1/cases?page={page}")
        assert refused.status_code == 400, page
        assert (
            refused.get_json()["error"] == "invalid_data" and "page" in refused.get_json()["fields"]
        )


def test_ids_that_cannot_exist_are_not_found(app):
    api = Api(app, "applicant")
    for url in (
        "/api/v1/cases/0",
        "/api/v1/cases/99999999999999999999",
        "/api/v1/cases/2147483647",
        "/api/v1/cases/x",
    ):
        response = api.get(url)
        assert response.status_code == 404 and response.get_json()["error"] == "not_found", url


def test_a_refused_file_says_why_and_nothing_is_kept(app):
    api = Api(app, "applicant")
    case_id = api.post("/api/v1/cases").get_json()["id"]
    before = _documents(app)

    html = api.upload(case_id, "business_licence", b"<html><script>x</script>", "a.pdf")
    assert html.status_code == 400
    assert html.get_json()["error"] == "invalid_data" and "file" in html.get_json()["fields"]

    unknown = api.upload(case_id, "payment_receipt", PDF)
    assert unknown.status_code == 400 and list(unknown.get_json()["fields"]) == ["field"]

    missing = api.post(
        f"/api/v1/cases/{case_id}/documents",
        data={"field": "business_licence"},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 400 and list(missing.get_json()["fields"]) == ["file"]

    as_json = api.post(f"/api/v1/cases/{case_id}/documents", json={"field": "cv", "file": "x"})
    assert as_json.status_code == 415 and as_json.get_json()["error"] == "unsupported_media_type"

    app.config["MAX_DOCUMENT_BYTES"] = 1024
    large = api.upload(case_id, "business_licence", PDF[:-6] + b" " * 2048 + b"%%EOF\n")
    assert large.status_code == 413
    assert large.get_json()["error"] == "too_large" and "file" in large.get_json()["fields"]
    assert _documents(app) == before


def test_only_the_applicant_uploads_and_only_to_a_form_waiting_on_it(app, submitted, actors):
    url_id = submitted.id
    applicant = Api(app, "applicant")
    # In review, nothing waits on the applicant: no field takes a file.
    early = applicant.upload(url_id, "additional_document", PDF)
    assert early.status_code == 400 and list(early.get_json()["fields"]) == ["field"]
    review = open_task(app, submitted.id).task_guid
    actors("secretary").complete(
        review, {"review_decision": "more_material", "review_request": "请补充营业执照副本。"}
    )
    assert open_task(app, submitted.id).bpmn_id == "provide_material"

    assert Api(app, "applicant2").upload(url_id, "additional_document", PDF).status_code == 404
    committee = Api(app, "secretary").upload(url_id, "additional_document", PDF)
    assert committee.status_code == 403 and committee.get_json()["error"] == "forbidden"
    assert Api(app, None).upload(url_id, "additional_document", PDF).status_code == 401
    assert _documents(app) == 2  # the two of the submitted form
    assert applicant.upload(url_id, "additional_document", PDF).status_code == 201
    assert _documents(app) == 3


def test_a_document_of_another_application_is_refused_in_a_submission(app):
    api = Api(app, "applicant")
    first = api.post("/api/v1/cases").get_json()
    second = api.post("/api/v1/cases").get_json()
    foreign = api.upload(first["id"], "application_form_scan", PDF).get_json()["token"]
    own = api.upload(second["id"], "business_licence", PDF).get_json()["token"]
    data = {**TYPED_FORM, "application_form_scan": foreign, "business_licence": own}
    refused = api.post(
        f"/api/v1/tasks/{second['open_tasks'][0]['id']}/complete", json={"data": data}
    )
    assert refused.status_code == 400
    assert "application_form_scan" in refused.get_json()["fields"]
    assert reload(app, second["id"]).stage == "application"
