"""What a request may make the app read: hostile numbers of fields are refused before they are
looked at and answered in a few hundred bytes, and no body is read past its route's limit
however it is sent — with Content-Length, or chunked through a real gunicorn without one."""

from __future__ import annotations

import http.client
import io
import json
import time

import pytest

from tests.conftest import open_task
from tests.servers import Client, Server
from tests.test_api_tasks import _bearer
from tests.test_model_editor import bundle, post_json, versions

MANY = 2_000_000


def _unknown_keys(count: int) -> bytes:
    """`{"data": {"x0000000": 1, …}}`: a task's data with `count` fields no form has."""
    keys = b",".join(b'"x%07d":1' % i for i in range(count))
    return b'{"data":{' + keys + b"}}"


def _complete_api(app, guid: str, body: bytes):
    return app.test_client().post(
        f"/api/v1/tasks/{guid}/complete",
        data=body,
        content_type="application/json",
        headers=_bearer(app, "secretary"),
    )


def test_two_million_unknown_keys_are_refused_at_once_in_a_few_bytes(app, actors, submitted):
    guid = open_task(app, submitted.id).task_guid
    body = _unknown_keys(MANY)
    assert len(body) > 25_000_000
    started = time.perf_counter()
    response = _complete_api(app, guid, body)
    elapsed = time.perf_counter() - started
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"
    assert len(response.data) < 1000 and elapsed < 3, (len(response.data), elapsed)
    assert open_task(app, submitted.id).task_guid == guid  # nothing moved


def test_unknown_fields_are_named_a_few_and_counted(app, submitted):
    guid = open_task(app, submitted.id).task_guid
    # Within the body limit but more keys than any form has: refused without a look at them.
    many = _complete_api(app, guid, _unknown_keys(40_000))
    assert many.status_code == 400 and len(many.data) < 2000, len(many.data)
    fields = many.get_json()["fields"]
    assert set(fields) == {"x0000000", "x0000001", "x0000002", "x0000003", "x0000004", ""}
    assert "40000" in fields[""][0]
    # A few: each one named.
    payload = {"data": {"review_decision": "pass", "a": 1, "b" * 500: 2}}
    few = _complete_api(app, guid, json.dumps(payload).encode())
    fields = few.get_json()["fields"]
    assert few.status_code == 400 and set(fields) == {"a", "b" * 59 + "…"}


def test_a_page_form_with_thousands_of_fields_is_refused(app, actors, submitted):
    guid = open_task(app, submitted.id).task_guid
    secretary = actors("secretary")
    token = secretary.token()
    pairs = "&".join(f"x{i}=" for i in range(5000))
    urlencoded = secretary.client.post(
        f"/tasks/{guid}",
        data=f"csrf_token={token}&review_decision=pass&{pairs}",
        content_type="application/x-www-form-urlencoded",
    )
    assert urlencoded.status_code == 413
    parts = {f"x{i}": "" for i in range(500)}
    multipart = secretary.client.post(
        f"/tasks/{guid}",
        data={"csrf_token": token, "review_decision": "pass", "f": (io.BytesIO(b"x"), "f.pdf"),
              **parts},
    )  # fmt: skip
    assert multipart.status_code == 413
    assert open_task(app, submitted.id).task_guid == guid


def test_a_body_past_the_limit_of_its_route_is_refused(app, actors):
    owner = actors("owner")
    big = owner.post("/settings/tokens", {"name": "x" * (2 * 1024 * 1024)})
    assert big.status_code == 413
    huge = bundle(**{"big.data.json": {"x": "y" * (3 * 1024 * 1024)}})
    assert post_json(owner, "/models/admission/deploy", huge).status_code == 413
    assert versions(app) == [1]


@pytest.fixture
def server(app, database_url, tmp_path):
    with Server(database_url, tmp_path, workers=1, threads=2) as running:
        yield running


def _chunked(server: Server, path: str, cookie: str, csrf: str, body: bytes, kind: str):
    """POST `body` chunked (no Content-Length); the answer's status, or None if the server
    closed the connection before the client had sent everything."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.putrequest("POST", path)
    for name, value in (
        ("Transfer-Encoding", "chunked"), ("Content-Type", kind), ("Cookie", cookie),
        ("X-CSRFToken", csrf), ("Accept", "application/json"),
    ):  # fmt: skip
        connection.putheader(name, value)
    connection.endheaders()
    try:
        for start in range(0, len(body), 256 * 1024):
            piece = body[start : start + 256 * 1024]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.send(b"0\r\n\r\n")
    except OSError:
        pass  # refused mid-way: the answer may still be there to read
    try:
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def test_a_chunked_body_past_the_limit_is_not_stored(app, server):
    client = Client(server.url).login("owner")
    cookie = _cookie(client)
    huge = json.dumps(bundle(**{"big.data.json": {"x": "y" * (20 * 1024 * 1024)}})).encode()
    status = _chunked(
        server, "/models/admission/deploy", cookie, client.csrf, huge, "application/json"
    )
    assert status in (413, None), status
    assert versions(app) == [1]
    # The same route still takes a small bundle sent chunked: the limit is on size alone.
    small = json.dumps({**bundle(), "live_version": 1}).encode()
    status = _chunked(
        server, "/models/admission/validate", cookie, client.csrf, small, "application/json"
    )
    assert status == 200
    # And a plain form route reads no more than MAX_REQUEST_BYTES, chunked or not.
    form = b"name=" + b"x" * (5 * 1024 * 1024)
    status = _chunked(
        server, "/settings/tokens", cookie, client.csrf, form, "application/x-www-form-urlencoded"
    )
    assert status in (413, None), status


def _cookie(client: Client) -> str:
    for handler in client.opener.handlers:
        jar = getattr(handler, "cookiejar", None)
        if jar is not None:
            return "; ".join(f"{c.name}={c.value}" for c in jar)
    raise AssertionError("no cookie jar")
