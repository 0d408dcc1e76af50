"""The dashboard's annual dues figure (members billed, paid, collection rate per year) on a
travelling clock, and who sees the dashboard: the groups flagged `sees_dashboard` only."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import Actor, add_user
from tests.test_annual_dues import OPENS, declaration, dues_cases, start_due
from tests.test_desk import _table
from tests.test_timer_starts import make_member
from webapp.extensions import db
from webapp.models import Group, Member, User


def test_dues_collection_rate_per_year(app, procedure):
    p = procedure
    add_user(app, "member3", "会员三", "applicant")
    for username in ("applicant", "applicant2", "member3"):
        make_member(app, username, "unit")
    secretary = p.actors("secretary")
    empty = secretary.get("/desk/dashboard").get_data(as_text=True)
    assert _table(empty, "dues_collection") == [["—"]]

    p.travel_to(OPENS + timedelta(minutes=1))
    assert start_due(app) == 3
    cases = dues_cases(app)
    # One member declares and finance confirms; the two others still owe.
    with app.app_context():
        by_user = {
            db.session.get(User, db.session.get(Member, member_id).user_id).username: case.id
            for member_id, case in cases.items()
        }
    p.do("applicant", by_user["applicant"], "declare_dues", declaration("5000"))
    p.do("finance", by_user["applicant"], "confirm_dues", {"payment_check": "received"})

    secretary = Actor(app, "secretary")  # signed in again: the year went by
    html = secretary.get("/desk/dashboard").get_data(as_text=True)
    assert _table(html, "dues_collection") == [["2027", "33.3", "3", "1"]]
    assert 'id="figure-dues-collection"' not in html and 'id="figure-dues_collection"' in html
    csv = secretary.get("/desk/dashboard/dues_collection.csv").get_data(as_text=True)
    assert "2027,33.3,3,1" in csv
    sheet = load_workbook(
        io.BytesIO(secretary.get("/desk/dashboard/dues_collection.xlsx").get_data())
    ).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("年份", "收缴率（%）", "应缴会员数", "已缴") and rows[1][1:] == (33.3, 3, 1)


def test_only_groups_flagged_see_the_dashboard(app, actors):
    with app.app_context():
        flags = dict(db.session.execute(select(Group.key, Group.sees_dashboard)).all())
    assert flags["secretariat"] and flags["council"]
    assert not flags["finance"] and not flags["supervisors"]
    # Finance works the desk but not the dashboard: no tab, 403 on the page and downloads.
    finance = actors("finance")
    cases = finance.get("/desk/cases")
    assert cases.status_code == 200
    assert 'id="tab-desk-dashboard"' not in cases.get_data(as_text=True)
    assert finance.get("/desk/dashboard").status_code == 403
    assert finance.get("/desk/dashboard/funnel.csv").status_code == 403
    council = actors("council")
    assert 'id="tab-desk-dashboard"' in council.get("/desk/cases").get_data(as_text=True)
    assert council.get("/desk/dashboard").status_code == 200
    assert actors("applicant").get("/desk/dashboard").status_code == 403

    # The administrator ticks the box on the group's page: finance sees it from then on.
    admin = actors("admin")
    with app.app_context():
        group_id = db.session.scalar(select(Group.id).where(Group.key == "finance"))
    page = admin.get(f"/admin/groups/{group_id}").get_data(as_text=True)
    assert 'id="f-sees-dashboard"' in page
    saved = admin.post(
        f"/admin/groups/{group_id}",
        {"name_zh": "财务", "name_en": "Finance", "active": "y", "sees_dashboard": "y"},
        token_page=f"/admin/groups/{group_id}",
    )
    assert saved.status_code == 302
    assert finance.get("/desk/dashboard").status_code == 200
    # And unticks it on the council's: the council loses it.
    with app.app_context():
        council_id = db.session.scalar(select(Group.id).where(Group.key == "council"))
    admin.post(
        f"/admin/groups/{council_id}",
        {"name_zh": "理事会", "name_en": "Council", "active": "y"},
        token_page=f"/admin/groups/{council_id}",
    )
    assert council.get("/desk/dashboard").status_code == 403
