"""JSON nested deeper than anything the app takes — 100,000 brackets, or a form schema 200
levels deep — is refused with 400 and a sentence, never a 500 from a RecursionError."""

from __future__ import annotations

import json

import pytest

from tests.conftest import open_task
from tests.test_api_tasks import _bearer
from tests.test_model_editor import post_json, versions

DEEP = 100_000


def _nested_schema(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize(
    "url", ["/models/admission/validate", "/models/admission/deploy", "/models/form-preview"]
)
@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_editor_refuses_json_nested_a_hundred_thousand_deep(app, actors, url, opening):
    closing = "]" if opening == "[" else "}"
    raw = (opening * DEEP + "1" + closing * DEEP).encode()
    response = post_json(actors("owner"), url, None, raw=raw)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.is_json and "64" in response.get_json()["error"]
    assert versions(app) == [1]


def test_form_preview_refuses_a_schema_nested_two_hundred_levels(app, actors):
    payload = {"schema": _nested_schema(200), "ui": {}}
    response = post_json(actors("owner"), "/models/form-preview", payload)
    assert response.status_code == 400 and response.is_json
    assert response.get_json()["error"]


def test_form_preview_still_shows_a_nested_form_of_ordinary_depth(app, actors):
    payload = {"schema": _nested_schema(3), "ui": {}}
    response = post_json(actors("owner"), "/models/form-preview", payload)
    assert response.status_code == 200 and "html" in response.get_json()


def test_the_api_refuses_deep_json_the_same_way(app, submitted):
    guid = open_task(app, submitted.id).task_guid
    deep_value = json.dumps({"data": {"review_notes": _nested_schema(80)}})
    for raw in ("[" * DEEP + "]" * DEEP, deep_value):
        response = app.test_client().post(
            f"/api/v1/tasks/{guid}/complete",
            data=raw,
            content_type="application/json",
            headers=_bearer(app, "secretary"),
        )
        assert response.status_code == 400 and response.get_json()["error"] == "bad_request"
