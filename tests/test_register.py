"""The register as the secretariat keeps it: details copied at admission, history of every
status and detail change, search, filters, keyset paging, exports that are audited and show
exactly what the filter shows, ID numbers masked for anyone who does not keep the register."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import select

from tests.register_population import populate
from webapp.extensions import db
from webapp.models import AuditEvent, Case, Member, MemberDetailChange, MemberStatusChange
from webapp.services import case_step, member_changes, register


def _member(app, number: str) -> Member:
    with app.app_context():
        return db.session.scalars(select(Member).where(Member.member_number == number)).one()


def test_admission_copies_the_details_and_starts_the_status_history(app, procedure):
    number = procedure.admit()
    member = _member(app, number)
    with app.app_context():
        submitted = db.session.get(Case, member.case_id).data["credit_code"]  # a fresh one
    assert (member.credit_code, member.phone) == (submitted, "010-12345678")
    assert member.contact_person == "张三" and member.address == "北京市东城区示例路1号"
    with app.app_context():
        history = db.session.scalars(
            select(MemberStatusChange).where(MemberStatusChange.member_id == member.id)
        ).all()
        assert [(h.from_status, h.to_status, h.case_id) for h in history] == [
            (None, "active", member.case_id)
        ]
    page = procedure.actors("secretary").get(f"/members/{member.id}").get_data(as_text=True)
    assert submitted in page and 'data-to="active"' in page
    assert f"/cases/{member.case_id}" in page

    # The member's own page: status, certificate (download, verify), its case.
    own = procedure.actors("applicant").get("/membership").get_data(as_text=True)
    assert 'id="nav-membership"' in own and number in own
    assert 'data-status="active"' in own and "/verify/" in own
    assert f"/cases/{member.case_id}/certificate.pdf" in own
    # An account without a membership has no link to it, and the page says so.
    other = procedure.actors("applicant2").get("/membership").get_data(as_text=True)
    assert 'id="nav-membership"' not in other and "您在会员名册中没有会籍" in other


def test_status_and_detail_changes_write_history_with_case_and_actor(app, procedure):
    number = procedure.admit()
    member = _member(app, number)
    with app.app_context():
        case = db.session.get(Case, member.case_id)
        secretary = db.session.scalars(
            select(db.text("id FROM user_account WHERE username='secretary'"))
        ).one()
        case_step.begin(case.instance_id, secretary)
        assert register.set_member_status("suspended", "未按期缴纳会费") == "active"
        changed = member_changes.change_member_details(
            {"address": "上海市浦东新区示例路2号", "phone": "010-12345678"}, "搬迁"
        )
        assert changed == {
            "address": {"old": "北京市东城区示例路1号", "new": "上海市浦东新区示例路2号"}
        }
        try:
            member_changes.change_member_details(
                {"phone": "x", "email": "nope", "credit_code": "1", "name": ""}, ""
            )
        except ValueError as err:  # every bad field at once
            for field in ("phone", "email", "credit_code", "name"):
                assert field in str(err)
        else:
            raise AssertionError("bad changes were accepted")
        db.session.commit()
        statuses = db.session.scalars(
            select(MemberStatusChange)
            .where(MemberStatusChange.member_id == member.id)
            .order_by(MemberStatusChange.id)
        ).all()
        assert [(s.from_status, s.to_status, s.reason, s.actor_id) for s in statuses][-1] == (
            "active",
            "suspended",
            "未按期缴纳会费",
            secretary,
        )
        details = db.session.scalars(
            select(MemberDetailChange).where(MemberDetailChange.member_id == member.id)
        ).all()
        assert [(d.field, d.new_value, d.reason, d.case_id) for d in details] == [
            ("address", "上海市浦东新区示例路2号", "搬迁", case.id)
        ]
    page = procedure.actors("secretary").get(f"/members/{member.id}").get_data(as_text=True)
    assert 'data-field="address"' in page and "搬迁" in page and 'data-to="suspended"' in page


def test_search_filters_and_keyset_paging(app, actors):
    with app.app_context():
        populate(130)
        ids = {m.member_number: m for m in db.session.scalars(select(Member))}
    secretary = actors("secretary")

    def rows(url):
        body = secretary.get(url).get_data(as_text=True)
        return body, body.count('class="register-row"')

    body, count = rows("/members")
    assert count == 50 and 'id="page-next"' in body
    # Keyset paging: three pages, no member twice, none left out.
    seen, url = [], "/members"
    while url:
        body = secretary.get(url).get_data(as_text=True)
        seen += [line for line in body.split('data-member="')[1:]]
        marker = body.find('id="page-next" href="')
        url = (
            body[marker + 21 : body.find('"', marker + 21)].replace("&amp;", "&")
            if marker > 0
            else None
        )
    assert len(seen) == 130 and len({s.split('"')[0] for s in seen}) == 130

    assert rows("/members?q=2026-P-0000042")[1] == 1  # member number
    assert rows("/members?q=910000000000000041")[1] == 1  # credit code
    assert rows("/members?q=11010100000000045X")[1] == 1  # ID number
    body, count = rows("/members?q=示例个人000003")
    assert count == 1 and "示例个人000003" in body  # part of a name
    assert rows("/members?status=expelled")[1] == 13
    assert rows("/members?status=expelled&region=北京市")[1] == len(
        [m for m in ids.values() if m.status == "expelled" and m.region == "北京市"]
    )
    assert rows("/members?member_type=individual&industry=it")[1] == len(
        [m for m in ids.values() if m.member_type == "individual" and m.industry == "it"]
    )
    assert rows("/members?q=nobody-like-this")[1] == 0
    # Nonsense filters are ignored or match nothing, never a 500.
    assert secretary.get("/members?status=nonsense&before=abc&q=" + "x" * 500).status_code == 200
    assert secretary.get("/members?before=-3").status_code == 404


def test_exports_are_what_the_filter_shows_and_are_audited(app, actors):
    with app.app_context():
        populate(60)
        expected = {
            m.member_number
            for m in db.session.scalars(
                select(Member).where(Member.status == "active", Member.region == "上海市")
            )
        }
    secretary = actors("secretary")
    response = secretary.get("/members/export.csv?status=active&region=上海市")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0][0] == "会员编号" and {r[0] for r in table[1:]} == expected
    assert "11010100000000003X" in response.get_data(as_text=True) or all(
        r[7] == "" or r[7].endswith("X") for r in table[1:]
    )

    response = secretary.get("/members/export.xlsx?status=active&region=上海市")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert {r[0] for r in values[1:]} == expected and len(values) == len(expected) + 1

    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "register_exported")
        ).all()
        assert [(e.data["format"], e.data["rows"], e.data["filter"]) for e in events] == [
            ("csv", len(expected), {"status": "active", "region": "上海市"}),
            ("xlsx", len(expected), {"status": "active", "region": "上海市"}),
        ]


def test_only_register_keepers_see_the_register_and_id_numbers_are_masked(app, actors):
    with app.app_context():
        populate(3)
        individual = db.session.scalars(
            select(Member).where(Member.member_type == "individual")
        ).first()
        member_id, id_number = individual.id, individual.id_number
    for who in ("applicant", "council", "finance", "owner", "admin"):
        for url in (
            "/members",
            f"/members/{member_id}",
            "/members/export.csv",
            "/members/export.xlsx",
        ):
            assert actors(who).get(url).status_code == 403, (who, url)
    assert actors(None).get("/members/export.csv").status_code == 302
    assert actors("secretary").get("/members/999999").status_code == 404
    page = actors("secretary").get(f"/members/{member_id}").get_data(as_text=True)
    assert id_number in page
    with app.app_context():
        from webapp.services.member_register import mask_id_number

        assert mask_id_number("110101199003071234") == "1101**********1234"
    # The member itself sees its own ID number masked on its page (the account of the
    # populated members is the first one, the administrator's or the applicant's).
    with app.app_context():
        owner_id = individual.user_id
        username = db.session.scalar(
            select(db.text(f"username FROM user_account WHERE id={owner_id}"))
        )
    own = actors(username).get("/membership").get_data(as_text=True)
    assert id_number not in own and "1101**********" in own
    # No export was made by those refused.
    with app.app_context():
        assert not db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "register_exported")
        ).all()
