"""Process models through the API: the process owner reads every model, its versions with their
instance counts, and one version's diagram and forms; nobody else does."""

from __future__ import annotations

import json

from tests.conftest import ROOT
from webapp.services import api_tokens, users


def _get(app, username: str | None, url: str):
    headers = {}
    if username is not None:
        with app.app_context():
            _token, plain = api_tokens.create(users.by_username(username), "tests")
        headers["Authorization"] = f"Bearer {plain}"
    return app.test_client().get(url, headers=headers)


def test_the_owner_sees_each_model_with_its_versions_and_instances(app, submitted):
    response = _get(app, "owner", "/api/v1/models")
    assert response.status_code == 200
    [admission] = [m for m in response.get_json()["items"] if m["key"] == "admission"]
    assert admission["live_version"] == 1
    [version] = admission["versions"]
    assert (version["number"], version["live"]) == (1, True)
    assert (version["running"], version["finished"]) == (1, 0)  # the submitted application
    assert _get(app, "owner", "/api/v1/models/admission").get_json() == admission


def test_a_version_gives_its_diagram_and_forms(app):
    response = _get(app, "owner", "/api/v1/models/admission/versions/1")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["number"], body["live"]) == (1, True)
    assert body["bpmn"] == (ROOT / "workflows" / "admission.bpmn").read_text("utf-8")
    on_disk = json.loads((ROOT / "forms" / "admission" / "review.schema.json").read_text("utf-8"))
    assert body["forms"]["review.schema.json"] == on_disk
    assert "fee_schedule.data.json" in body["forms"]


def test_unknown_models_and_versions_are_not_found(app):
    for url in (
        "/api/v1/models/nope",
        "/api/v1/models/Admission%00",
        "/api/v1/models/admission/versions/2",
        "/api/v1/models/admission/versions/0",
        "/api/v1/models/admission/versions/99999999999999999999",
        "/api/v1/models/nope/versions/1",
    ):
        response = _get(app, "owner", url)
        assert response.status_code == 404, url
        assert response.get_json()["error"] == "not_found"


def test_only_process_owners_read_models(app):
    for url in (
        "/api/v1/models",
        "/api/v1/models/admission",
        "/api/v1/models/admission/versions/1",
    ):
        for username in ("applicant", "secretary", "council", "finance"):
            response = _get(app, username, url)
            assert response.status_code == 403, (url, username)
            assert response.get_json()["error"] == "forbidden"
        anonymous = _get(app, None, url)
        assert anonymous.status_code == 401 and anonymous.get_json()["error"] == "unauthorized"
