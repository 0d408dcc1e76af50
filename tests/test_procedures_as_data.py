"""A procedure that exists only as files — a diagram, its forms, model data and messages in
tests/fixtures — is deployed and walked end to end through the pages and the API, with a group
the administrator creates for it: no Python is written for it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.conftest import add_user
from tests.test_model_editor import post_json
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import api_tokens, notify, process_models, users

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KEY = "honorary_nomination"


def bundle() -> dict:
    forms = process_models.read_forms(FIXTURES / KEY)  # its messages/*.txt among them
    assert "messages/honorary_conferred.zh.txt" in forms
    return {"bpmn": (FIXTURES / f"{KEY}.bpmn").read_text("utf-8"), "forms": forms}


def messages(app, event: str) -> list[OutboxMessage]:
    with app.app_context():
        found = list(
            db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.event == event).order_by(OutboxMessage.id)
            )
        )
        notify.render_pending(found)
        db.session.commit()
        return found


def bearer(app, username: str) -> dict:
    with app.app_context():
        _token, plain = api_tokens.create(users.by_username(username), "test")
    return {"Authorization": f"Bearer {plain}"}


def test_a_procedure_made_of_files_runs_end_to_end_with_a_new_group(app, procedure):
    p = procedure
    owner, admin = p.actors("owner"), p.actors("admin")
    # Its lane is a group nobody has created yet: the deploy is refused, saying so.
    refused = post_json(owner, f"/models/{KEY}/deploy", bundle())
    assert refused.status_code == 422
    assert any("会长办公会" in problem["message"] for problem in refused.get_json()["problems"])
    # The administrator creates the group and seats a council member on it.
    created = admin.post(
        "/admin/groups",
        {"key": "presidents_office", "name_zh": "会长办公会", "name_en": "President's office"},
    )
    group_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert (
        admin.post(f"/admin/groups/{group_id}/members", {"username": "council2"}).status_code == 302
    )
    deployed = post_json(owner, f"/models/{KEY}/deploy", bundle())
    assert deployed.status_code == 200, deployed.get_json()
    number = p.admit()

    # The catalogue: the secretariat may start it, the applicant and the council may not.
    assert "名誉会员推荐" in p.actors("secretary").get("/start").get_data(as_text=True)
    assert "名誉会员推荐" not in p.actors("applicant").get("/start").get_data(as_text=True)
    assert p.actors("council").post(f"/start/{KEY}", {"member_number": number}).status_code == 403
    # An unknown member number is refused on the page, with nothing started.
    bad = p.actors("secretary").post(f"/start/{KEY}", {"member_number": "2026-U-999999"})
    assert bad.status_code == 400 and "没有此会员编号的有效会员" in bad.get_data(as_text=True)

    started = p.actors("secretary").post(f"/start/{KEY}", {"member_number": number})
    assert started.status_code == 302 and "/tasks/" in started.headers["Location"]
    nominate = started.headers["Location"].rsplit("/", 1)[1]
    page = p.actors("secretary").get(f"/tasks/{nominate}").get_data(as_text=True)
    assert "填写推荐理由" in page and 'data-stage="nomination"' in page and "推荐" in page
    done = p.actors("secretary").post(
        f"/tasks/{nominate}", {"merits": "多年来为本会标准制定工作作出突出贡献。"}
    )
    assert done.status_code == 302

    # The president's office decides through the API; the inbox of its member shows the task,
    # and its member got the model's own message for that task instead of the platform's.
    assert "会长办公会审议" in p.actors("council2").get("/inbox").get_data(as_text=True)
    with app.app_context():
        council2 = users.by_username("council2").id
    [asked] = messages(app, "nomination_to_decide")
    assert asked.recipient_id == council2 and "请审议名誉会员推荐" in asked.subject
    assert "“会长办公会审议”" in asked.body and "名誉会员推荐 · 示范行业协会秘书处" in asked.body
    assert "会长办公会审议" not in p.actors("council3").get("/inbox").get_data(as_text=True)
    client = app.test_client()
    listed = client.get("/api/v1/tasks", headers=bearer(app, "council2")).get_json()["items"]
    decide = next(t for t in listed if t["process"] == KEY)
    answer = client.post(
        f"/api/v1/tasks/{decide['id']}/complete",
        json={"data": {"decision": "confer"}},
        headers=bearer(app, "council2"),
    )
    assert answer.status_code == 200, answer.get_json()
    case_id = answer.get_json()["case"]["id"]
    with app.app_context():
        from webapp.models import Case

        case = db.session.get(Case, case_id)
        assert case.title == "名誉会员推荐" and case.outcome_code == "conferred"
        assert case.status == "conferred" and case.subject_member_id is not None
        assert case.applicant_id == users.by_username("applicant").id
    # The end event's message, written by the process owner, reached the member.
    [told] = messages(app, "honorary_conferred")
    assert told.recipient_id == case.applicant_id and told.subject.endswith("获授名誉会员")
    assert f"/cases/{case_id}" in told.body and "决定授予" in told.body
    # The member the case is about follows it among its own cases.
    assert "名誉会员推荐" in p.actors("applicant").get("/cases").get_data(as_text=True)


def test_the_api_lists_the_catalogue_and_starts_a_case_about_a_member(app, procedure):
    p = procedure
    p.actors("admin").post(
        "/admin/groups",
        {"key": "presidents_office", "name_zh": "会长办公会", "name_en": "President's office"},
    )
    assert post_json(p.actors("owner"), f"/models/{KEY}/deploy", bundle()).status_code == 200
    number = p.admit()
    client = app.test_client()
    secretary, applicant = bearer(app, "secretary"), bearer(app, "applicant")
    listed = client.get("/api/v1/catalogue", headers=secretary).get_json()["items"]
    assert {e["process"]: e["subject"] for e in listed} == {
        KEY: "member",
        "discipline": "member",
        "member_type_change": "member",  # the secretariat's on a member's behalf
    }
    # The member's own catalogue: applying, and what a member starts about itself.
    own = {
        e["process"]: e["subject"]
        for e in client.get("/api/v1/catalogue", headers=applicant).get_json()["items"]
    }
    assert "admission" in own and KEY not in own
    assert own["member_type_change"] == "starter"  # its own membership, no number to choose
    missing = client.post("/api/v1/cases", json={"process": KEY}, headers=secretary)
    assert missing.status_code == 400 and "member_number" in missing.get_json()["fields"]
    unknown = client.post("/api/v1/cases", json={"process": "no_such"}, headers=secretary)
    assert unknown.status_code == 404
    started = client.post(
        "/api/v1/cases", json={"process": KEY, "member_number": number}, headers=secretary
    )
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["title"] == "名誉会员推荐"
    # The member itself may not start a nomination about itself, nor anyone's.
    refused = client.post(
        "/api/v1/cases", json={"process": KEY, "member_number": number}, headers=applicant
    )
    assert refused.status_code == 403


def test_starting_a_case_about_ones_own_membership_is_refused_beside_the_number(app, procedure):
    p = procedure
    p.actors("admin").post("/admin/groups", {"key": "presidents_office", "name_zh": "会长办公会",
                                             "name_en": "President's office"})  # fmt: skip
    assert post_json(p.actors("owner"), f"/models/{KEY}/deploy", bundle()).status_code == 200
    add_user(app, "clerk", "郑干事", "applicant,secretariat")
    number = p.admit("clerk")
    refused = p.actors("clerk").post(f"/start/{KEY}", {"member_number": number})
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert "这是您本人的会员资格" in page and 'id="catalogue"' in page and number in page
