"""The API's public answers: the applicants on notice (exactly those the board shows, with
nothing the board does not publish) and certificate verification, both without a login."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine

from tests import staged
from tests.conftest import VALID_APPLICATION, reload
from webapp.extensions import db
from webapp.models import Case
from webapp.services import members

NOTICE_FIELDS = {"case_id", "name", "member_type", "region", "industry", "notice_until"}
# What the applicant entered but the board never publishes.
PRIVATE = ("credit_code", "contact_person", "phone", "email", "address", "reasons")


def _on_notice_and_in_review(app) -> tuple[int, int]:
    with app.test_request_context():
        [on_notice] = staged.on_notice(1)
        [in_review] = staged.submitted(1)
    return on_notice, in_review


def test_notices_are_the_board_s_entries_and_nothing_more(app):
    on_notice, in_review = _on_notice_and_in_review(app)
    client = app.test_client()
    response = client.get("/api/v1/notices")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [item["case_id"] for item in items] == [on_notice]
    [item] = items
    assert set(item) == NOTICE_FIELDS
    assert (item["name"], item["member_type"]) == (VALID_APPLICATION["name"], "unit")
    closes = reload(app, on_notice).notice_closes_at
    assert datetime.fromisoformat(item["notice_until"]) == closes
    text = response.get_data(as_text=True)
    for field in PRIVATE:
        assert str(VALID_APPLICATION[field]) not in text, field
    board = client.get("/board").get_data(as_text=True)
    on_board = {int(i) for i in re.findall(r'href="/board/(\d+)/objection"', board)}
    assert on_board == {item["case_id"] for item in items}


def test_a_closed_notice_is_no_longer_listed(app):
    on_notice, _in_review = _on_notice_and_in_review(app)
    closes = reload(app, on_notice).notice_closes_at
    with time_machine.travel(closes + timedelta(minutes=1), tick=False):
        assert app.test_client().get("/api/v1/notices").get_json() == {"items": []}


def _admit(app, name: str = "北京示例科技有限公司") -> str:
    with app.test_request_context():
        [case_id] = staged.submitted(1)
        case = db.session.get(Case, case_id)
        certificate = members.admit(case, datetime(2026, 3, 4, 17, 30, tzinfo=UTC))
        db.session.commit()
        return certificate.verify_token


def test_a_certificate_is_verified_without_login(app):
    token = _admit(app)
    response = app.test_client().get(f"/api/v1/certificates/{token}")
    assert response.status_code == 200
    assert response.get_json() == {
        "valid": True,
        "number": "2026-U-000001",
        "member_name": VALID_APPLICATION["name"],
        "member_type": "unit",
        "issued_at": "2026-03-04T17:30:00+00:00",
        "revoked_at": None,
    }
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_revoked_certificate_is_not_valid(app):
    token = _admit(app)
    with app.app_context():
        certificate = members.find_by_token(token)
        members.revoke(certificate, datetime(2026, 5, 1, tzinfo=UTC))
        db.session.commit()
    body = app.test_client().get(f"/api/v1/certificates/{token}").get_json()
    assert body["valid"] is False and body["revoked_at"] == "2026-05-01T00:00:00+00:00"


def test_codes_that_are_not_a_certificate_s_are_not_found(app):
    _admit(app)
    client = app.test_client()
    for code in ("unknown", "x" * 41, "a%00b", "%C3%A9", "..%2F..", "a b"):
        response = client.get(f"/api/v1/certificates/{code}")
        assert response.status_code == 404, code
        assert response.get_json()["error"] == "not_found"
