"""Groups are data: an administrator creates a group and puts people in it for a term, and a
lane of that group's key or name reaches them — in the inbox, in `role_members`, at validation."""

from __future__ import annotations

import re
from datetime import date, timedelta

import time_machine
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEvent, Group, User
from webapp.services import groups, process_models, users


def _created(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_administrator_creates_a_group_and_fills_it_for_a_term(app, actors):
    admin = actors("admin")
    group_id = _created(
        admin.post(
            "/admin/groups",
            data={
                "key": "presidents_office",
                "name_zh": "会长办公会",
                "name_en": "President's office",
            },
        )
    )
    page = admin.get(f"/admin/groups/{group_id}")
    assert page.status_code == 200 and "会长办公会" in page.get_data(as_text=True)
    today = date.today()
    response = admin.post(
        f"/admin/groups/{group_id}/members",
        data={
            "username": "council2",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=5 * 365)).isoformat(),
        },
    )
    assert response.status_code == 302
    assert (
        admin.post(
            f"/admin/groups/{group_id}/members",
            data={"username": "owner", "starts_on": (today + timedelta(days=30)).isoformat()},
        ).status_code
        == 302
    )
    with app.app_context():
        council2, owner = users.by_username("council2"), users.by_username("owner")
        # By key and by either name; the owner's term has not begun.
        assert groups.members("presidents_office") == [council2.id]
        assert groups.members("会长办公会") == [council2.id]
        assert groups.members("President's office") == [council2.id]
        assert "presidents_office" in council2.role_set and council2.is_committee
        assert not owner.is_committee
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("group_%"))
        ).all()
        assert actions.count("group_created") == 5  # the four of workflows/groups.json too
        assert actions.count("group_member_added") >= 2
    with time_machine.travel(today + timedelta(days=31), tick=False), app.app_context():
        assert groups.members("会长办公会") == [council2.id, owner.id]
    with time_machine.travel(today + timedelta(days=5 * 365 + 2), tick=False), app.app_context():
        assert groups.members("会长办公会") == [owner.id]  # the council member's term ended


def test_a_bad_group_gets_every_error_at_once_and_nothing_is_created(app, actors):
    response = actors("admin").post(
        "/admin/groups", data={"key": "Bad Key", "name_zh": "理事会", "name_en": ""}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert page.count("invalid-feedback") == 3
    with app.app_context():
        assert len(db.session.scalars(select(Group)).all()) == 4


def test_ending_a_membership_takes_the_person_out_from_today(app, actors):
    admin = actors("admin")
    with app.app_context():
        council = groups.by_key("council")
        group_id = council.id
        membership = next(
            m for m in users.by_username("council3").memberships if m.group_id == group_id
        )
        membership_id = membership.id
    response = admin.post(f"/admin/groups/{group_id}/members/{membership_id}/end", {})
    assert response.status_code == 302
    with app.app_context():
        assert users.by_username("council3").id not in groups.members("council")
        assert "council" not in users.by_username("council3").role_set
    assert actors("council3").get("/inbox").status_code == 403


def test_only_the_administrator_manages_people(app, actors):
    for role in ("secretary", "council", "owner", "applicant"):
        assert actors(role).get("/admin/groups").status_code == 403, role
        assert actors(role).get("/admin/accounts").status_code == 403, role
        assert (
            actors(role)
            .post("/admin/groups", data={"key": "x_y", "name_zh": "甲", "name_en": "X"})
            .status_code
            == 403
        )


def test_a_deactivated_account_cannot_log_in_and_a_reset_password_works(app, actors):
    admin = actors("admin")
    with app.app_context():
        finance_id = users.by_username("finance").id
        admin_id = users.by_username("admin").id
    assert actors("finance").get("/inbox").status_code == 200
    assert (
        admin.post(f"/admin/accounts/{finance_id}/active", data={"active": "0"}).status_code == 302
    )
    assert actors("finance").get("/inbox").status_code in (302, 401)  # its login ended
    own = admin.post(f"/admin/accounts/{admin_id}/active", data={"active": "0"})
    assert own.status_code == 302
    assert "不能停用自己的账号" in admin.get("/admin/accounts").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, admin_id).active  # nobody locks themselves out
    admin.post(f"/admin/accounts/{finance_id}/password", {})
    page = admin.get("/admin/accounts").get_data(as_text=True)
    new_password = re.search(r"finance 的新密码：(\S+) ——", page).group(1)
    with app.app_context():
        assert users.authenticate("finance", "demo1234") is None
        db.session.get(User, finance_id).active = True
        db.session.commit()
        assert users.authenticate("finance", new_password).id == finance_id


def test_a_lane_of_a_new_group_validates_only_once_the_group_exists(app, actors):
    with app.test_request_context():
        bpmn = process_models.live_version("admission").bpmn.replace(
            'name="finance"', 'name="常务理事会"'
        )
        forms = dict(process_models.live_version("admission").forms)
        problems = process_models.validate(bpmn, forms)
        assert any("常务理事会" in process_models.problem_text(p) for p in problems)
        assert any("secretariat" in process_models.problem_text(p) for p in problems)
    assert (
        actors("admin")
        .post(
            "/admin/groups",
            data={
                "key": "standing_council",
                "name_zh": "常务理事会",
                "name_en": "Standing council",
            },
        )
        .status_code
        == 302
    )
    with app.app_context():
        assert process_models.validate(bpmn, forms) == []


def test_who_keeps_the_register_is_a_flag_of_the_group_the_administrator_sets(app, actors):
    """The register's pages and the audit trails are for the groups that keep the register
    (the secretariat from workflows/groups.json), not for a name in the code."""
    council, admin = actors("council"), actors("admin")
    assert council.get("/members").status_code == 403
    with app.app_context():
        group = db.session.scalars(select(Group).where(Group.key == "council")).one()
        group_id, names = group.id, {"name_zh": group.name_zh, "name_en": group.name_en}
    assert "f-keeps-register" in admin.get(f"/admin/groups/{group_id}").get_data(as_text=True)
    saved = admin.post(
        f"/admin/groups/{group_id}", data={**names, "active": "on", "keeps_register": "on"}
    )
    assert saved.status_code == 302
    assert council.get("/members").status_code == 200
    assert actors("secretary").get("/members").status_code == 200
    admin.post(f"/admin/groups/{group_id}", data={**names, "active": "on"})
    assert council.get("/members").status_code == 403
    with app.app_context():
        changes = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "group_changed")
        ).all()
        assert [e.data["keeps_register"] for e in changes] == [True, False]
