"""The register's dues: the filter "dues state" on /members (and in its exports), and the
dues of every year on a member's page and on 我的会籍."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, insert, select

from tests.register_population import AT, populate
from webapp.extensions import db
from webapp.models import AuditEvent, Case, DuesEntry, Member, ProcessInstance, User

# member index → {year: state}; members 7 to 9 have no dues at all.
DUES = {
    0: {2026: "paid", 2027: "paid"},  # paid the latest year, owes nothing
    1: {2026: "paid", 2027: "open"},  # owes the latest year
    2: {2026: "unpaid", 2027: "paid"},  # paid the latest year, still owes an old one
    3: {2027: "declared"},  # owing: declared, not yet confirmed
    4: {2027: "returned"},  # owing: declaration returned
    5: {2026: "waived", 2027: "unpaid"},  # unpaid after the period
    6: {2026: "paid"},  # paid an earlier year only; no entry for the latest
}
EXPECTED = {
    "owing": {1, 2, 3, 4, 5},
    "unpaid": {2, 5},
    "paid": {0, 2},
}


@pytest.fixture
def register(app):
    """Ten members, seven of them with dues entries as DUES says; member index → number."""
    with app.app_context():
        populate(10)
        members = list(db.session.scalars(select(Member).order_by(Member.id)))
        _add_dues(members, DUES)
        return {i: m.member_number for i, m in enumerate(members)}


def _add_dues(members: list[Member], dues: dict[int, dict[int, str]]) -> None:
    version_id = db.session.scalar(select(ProcessInstance.version_id).limit(1))
    user_id = db.session.scalar(select(func.min(User.id)))
    next_instance = db.session.scalar(select(func.max(ProcessInstance.id))) + 1
    next_case = db.session.scalar(select(func.max(Case.id))) + 1
    for index, years in dues.items():
        for year, state in years.items():
            # Each dues entry has its own case (the dues case the page links to).
            db.session.execute(
                insert(ProcessInstance),
                [{"id": next_instance, "version_id": version_id, "state": "{}",
                  "lock_version": 1, "status": "running", "created_at": AT,
                  "updated_at": AT}],
            )  # fmt: skip
            db.session.execute(
                insert(Case.__table__),
                [{"id": next_case, "instance_id": next_instance, "applicant_id": user_id,
                  "title": f"{year}年度会费", "name": members[index].name, "data": {},
                  "facts": {}, "stage": "", "status": "open", "subject_member_id":
                  members[index].id, "created_at": AT, "updated_at": AT}],
            )  # fmt: skip
            db.session.add(
                DuesEntry(
                    member_id=members[index].id,
                    case_id=next_case,
                    year=year,
                    amount_due=Decimal("1000.00") + year - 2026,
                    due_at=datetime(year, 3, 31, 9, 0, tzinfo=UTC),
                    state=state,
                )
            )
            next_instance += 1
            next_case += 1
    db.session.commit()
    _fix_sequences()


def _fix_sequences() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        for table in ("process_instance", "case_file"):
            db.session.execute(
                db.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        db.session.commit()


def _shown(client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    return {
        line.split("</td>")[0].split(">")[-1]
        for line in body.split('class="register-row"')[1:]
    }


@pytest.mark.parametrize("value", sorted(EXPECTED))
def test_the_dues_filter_shows_exactly_its_members_and_exports_them(
    app, actors, register, value
):
    secretary = actors("secretary")
    expected = {register[i] for i in EXPECTED[value]}
    assert _shown(secretary, f"/members?dues={value}") == expected
    # Combined with another filter: both apply.
    active = {register[i] for i in EXPECTED[value] if i % 10 < 7}  # populate's statuses
    assert _shown(secretary, f"/members?dues={value}&status=active") == active

    page = secretary.get(f"/members?dues={value}").get_data(as_text=True)
    assert f'<option value="{value}" selected>' in page
    assert f"/members/export.csv?dues={value}" in page
    assert f"/members/export.xlsx?dues={value}" in page

    response = secretary.get(f"/members/export.csv?dues={value}")
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert {r[0] for r in table[1:]} == expected and len(table) == len(expected) + 1
    response = secretary.get(f"/members/export.xlsx?dues={value}")
    rows = list(load_workbook(io.BytesIO(response.data), read_only=True).active.iter_rows(
        values_only=True
    ))
    assert {r[0] for r in rows[1:]} == expected and len(rows) == len(expected) + 1
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "register_exported")
        ).all()
        assert [(e.data["filter"], e.data["rows"]) for e in events] == [
            ({"dues": value}, len(expected))
        ] * 2


def test_paging_keeps_the_dues_filter_and_no_year_means_nobody_paid(app, actors):
    with app.app_context():
        populate(61)
        members = list(db.session.scalars(select(Member).order_by(Member.id)))
    secretary = actors("secretary")
    # No dues year opened at all: nobody has paid, and nobody owes.
    assert _shown(secretary, "/members?dues=paid") == set()
    assert _shown(secretary, "/members?dues=owing") == set()
    with app.app_context():
        _add_dues(members, {i: {2027: "open"} for i in range(60)})
    body = secretary.get("/members?dues=owing").get_data(as_text=True)
    assert body.count('class="register-row"') == 50
    marker = body.index('id="page-next" href="') + 21
    url = body[marker : body.index('"', marker)].replace("&amp;", "&")
    assert "dues=owing" in url
    rest = _shown(secretary, url)
    assert len(rest) == 10 and members[60].member_number not in rest


@pytest.mark.parametrize("value", ["nonsense", "x" * 500, "%27%3B--", "OWING"])
def test_an_unknown_dues_value_is_ignored(actors, register, value):
    secretary = actors("secretary")
    assert len(_shown(secretary, f"/members?dues={value}")) == 10
    response = secretary.get(f"/members/export.csv?dues={value}")
    assert response.status_code == 200
    assert len(response.get_data(as_text=True).strip().splitlines()) == 11


def test_a_members_page_and_my_membership_list_the_dues_newest_year_first(
    app, actors, register
):
    secretary = actors("secretary")
    with app.app_context():
        member = db.session.scalars(
            select(Member).where(Member.member_number == register[1])
        ).one()
        entries = {
            e.year: e
            for e in db.session.scalars(select(DuesEntry).where(DuesEntry.member_id == member.id))
        }
        applicant_id = db.session.scalars(
            select(User.id).where(User.username == "applicant")
        ).one()
        member.user_id = applicant_id
        member_id = member.id
        db.session.commit()

    for body in (
        secretary.get(f"/members/{member_id}").get_data(as_text=True),
        actors("applicant").get("/membership").get_data(as_text=True),
    ):
        assert body.index('data-year="2027"') < body.index('data-year="2026"')
        assert 'data-year="2027" data-state="open"' in body
        assert 'data-year="2026" data-state="paid"' in body
        assert ">未缴<" in body and ">已缴<" in body and "年度会费" in body
        assert "1,001.00 CNY" in body and "1,000.00 CNY" in body
        assert "2027-03-31" in body and "2026-03-31" in body
        for entry in entries.values():
            assert f"/cases/{entry.case_id}" in body
        assert "<caption" in body and '>2027</a></th>' in body

    # English labels, once the language is switched.
    english = secretary
    english.get("/lang/en")
    text = english.get(f"/members/{member_id}").get_data(as_text=True)
    assert "Annual dues" in text and "Not paid" in text and ">Paid<" in text
    english.get("/lang/zh_CN")

    # A member without dues is told so.
    with app.app_context():
        none_id = db.session.scalars(
            select(Member.id).where(Member.member_number == register[8])
        ).one()
    assert "尚无会费通知" in secretary.get(f"/members/{none_id}").get_data(as_text=True)
