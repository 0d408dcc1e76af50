"""The OpenAPI document is valid, describes exactly the API's routes, and the live API keeps
to it: schemathesis sends generated requests (valid and invalid ones) to every operation of a
real gunicorn, as an applicant, the secretariat, a process owner and an anonymous caller, and
every answer must be documented, conform to its schema and never be a server error."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import hypothesis
import pytest
import requests
import schemathesis
import time_machine
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup
from sqlalchemy import select

from tests import staged
from tests.servers import Server
from tests.staged import open_tasks
from webapp.api import spec
from webapp.extensions import db
from webapp.models import Case, Certificate, HumanTask
from webapp.services import api_tokens, cases, users

METHODS = {"get", "put", "post", "delete", "patch"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
]
# Per operation and caller: 16 operations x 4 callers x 50 is about half a minute per database.
EXAMPLES = 50
CALLERS = ("applicant", "secretary", "owner", None)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: <int(min=1):id> becomes {id}."""
    return re.sub(r"<(?:[^<>]*:)?(\w+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi():
    document = spec.document()
    validate(document)
    schemathesis.openapi.from_dict(document).validate()
    assert document["openapi"].startswith("3.1")


def test_every_api_route_is_documented_and_nothing_else(app):
    routes = {
        (method.lower(), openapi_path(rule.rule))
        for rule in app.url_map.iter_rules()
        # The addresses cases had at first only redirect to their /cases equivalents.
        if rule.rule.startswith("/api/") and rule.endpoint != "old_api_case_path"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (method, path)
        for path, item in spec.document()["paths"].items()
        for method in item
        if method in METHODS
    }
    assert sorted(routes - documented) == [], "routes missing from webapp/api/openapi.json"
    assert sorted(documented - routes) == [], "documented operations without a route"


def test_every_refusal_is_the_error_schema_and_every_guarded_operation_says_401():
    document = spec.document()
    shared = document["components"]["responses"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for status, answer in operation["responses"].items():
                if status.startswith("4") or status.startswith("5"):
                    name = answer["$ref"].rsplit("/", 1)[-1]
                    schema = shared[name]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method)
            guarded = operation["security"] != []
            assert guarded == ("401" in operation["responses"]), (path, method)


def test_the_document_is_served_to_anyone(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == spec.document()


# --- the live API against its description ---------------------------------------------------


def _world(app) -> dict:
    """Applications at several stages, a certificate, and a token per caller; returns the real
    path parameters the generated requests are pointed at besides random ones."""
    shanghai = ZoneInfo("Asia/Shanghai")
    # The admitted one is made in the past, so that the notice below (made now, on the server's
    # real clock) is still running while the requests are sent.
    with time_machine.travel(datetime.now(shanghai) - timedelta(days=60), tick=False) as clock:
        with app.test_request_context():
            [admitted] = staged.awaiting_certificate(1, clock)
            staged.complete(
                "secretary", admitted, "issue_certificate", {"certificate_confirmed": "on"}
            )
    with app.test_request_context():
        [on_notice] = staged.on_notice(1)
        [in_review] = staged.submitted(1)
        draft = cases.start(users.by_username("applicant")).id
        tokens = {
            name: api_tokens.create(users.by_username(name), "schemathesis")[1]
            for name in CALLERS
            if name is not None
        }
        done = db.session.scalars(select(HumanTask).where(HumanTask.state == "completed")).first()
        certificate = db.session.scalars(select(Certificate)).one()
        world = {
            "case_id": [draft, in_review, on_notice, admitted],
            "task_guid": [
                open_tasks(draft)[0].task_guid,
                open_tasks(in_review)[0].task_guid,
                done.task_guid,
            ],
            "token": [certificate.verify_token],
            "key": ["admission"],
            "number": [1],
            "tokens": tokens,
            "draft": draft,
        }
        assert db.session.get(Case, on_notice).notice_closes_at is not None
    return world


def _strategy(operation, world: dict):
    """Random requests, valid and invalid, and valid ones aimed at the objects of the world."""
    # An operation with nothing to make invalid (no parameters, no body) draws no negative
    # case: one_of then takes the other strategies.
    parts = [
        operation.as_strategy(),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    names = [p.name for p in operation.path_parameters]
    if names:
        for values in _combinations(names, world):
            parts.append(operation.as_strategy(path_parameters=values))
    if operation.path.endswith("/documents"):
        parts.append(
            operation.as_strategy(
                path_parameters={"case_id": world["draft"]},
                body={"field": "business_licence", "file": PDF},
                media_type="multipart/form-data",
            )
        )
    return st.one_of(parts)


def _combinations(names: list[str], world: dict) -> list[dict]:
    combos = [{}]
    for name in names:
        combos = [{**c, name: value} for c in combos for value in world[name]]
    return combos


@pytest.fixture
def server(app, database_url, tmp_path):
    world = _world(app)
    with app.app_context():
        db.engine.dispose()  # the server's workers open their own connections
    with Server(database_url, tmp_path, workers=2, threads=2) as running:
        running.world = world
        yield running


class Fuzz:
    """Requests sent, answers seen, and failures grouped by operation, caller and kind (with
    the first example of each), so that one report shows everything that is wrong."""

    def __init__(self, base_url: str, world: dict):
        self.base_url, self.world = base_url, world
        self.session = requests.Session()
        self.examples: Counter = Counter()
        self.statuses: Counter = Counter()
        self.failures: dict[tuple, list] = {}

    def operation(self, operation, caller: str | None) -> None:
        """Up to EXAMPLES generated requests to one operation as one caller."""
        token = self.world["tokens"].get(caller)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        label = f"{operation.label} as {caller or 'anonymous'}"

        @hypothesis.settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_strategy(operation, self.world))
        def run(case):
            response = case.call(base_url=self.base_url, session=self.session, headers=headers)
            self.examples[label] += 1
            self.statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:  # collected: the run goes on to find the others
                for failure in group.exceptions:
                    key = (label, response.status_code, failure.title)
                    example = f"{case.as_curl_command(headers=headers)}\n{failure}"
                    self.failures.setdefault(key, [0, example])[0] += 1

        run()

    def report(self) -> str:
        return "\n\n".join(
            f"{label} -> {status}: {title} ({count}x)\n{example}"
            for (label, status, title), (count, example) in sorted(self.failures.items())
        )


def test_the_live_api_keeps_to_its_description(server, capsys):
    schema = schemathesis.openapi.from_dict(spec.document())
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzz = Fuzz(server.url, server.world)
    started = time.monotonic()
    for caller in CALLERS:
        for operation in operations:
            fuzz.operation(operation, caller)
    with capsys.disabled():  # the counts belong in CI's log
        print(
            f"\nschemathesis: {len(operations)} operations x {len(CALLERS)} callers, "
            f"{sum(fuzz.examples.values())} requests in {time.monotonic() - started:.0f} s; "
            f"answers by status {dict(sorted(fuzz.statuses.items()))}"
        )
    assert not fuzz.failures, fuzz.report()
    # The world was reached, not only refused: each kind of answer came back.
    assert {200, 201, 400, 401, 403, 404, 409} <= set(fuzz.statuses)
