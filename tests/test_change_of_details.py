"""信息变更 end to end through the pages: a member starts a change of its own details from 我的会籍,
the secretariat returns it with reasons, the member revises, the secretariat approves; the
register is updated with its history and a change of name re-issues the certificate under the
same number, the old one shown on /verify as superseded."""

from __future__ import annotations

from sqlalchemy import select

from tests.register_population import populate
from webapp.extensions import db
from webapp.models import Case, Certificate, Member, MemberDetailChange, User
from webapp.services import members

PDF = (b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "变更通知书.pdf")
KEY = "change_of_details"


def _member(app, number: str) -> Member:
    with app.app_context():
        return db.session.scalars(select(Member).where(Member.member_number == number)).one()


def test_change_returned_revised_approved_updates_register_and_reissues(app, procedure):
    p = procedure
    number = p.admit()
    member = _member(app, number)
    with app.app_context():
        old_token = members.certificate_of(member.case_id).verify_token
    applicant, secretary = p.actors("applicant"), p.actors("secretary")

    # 我的会籍 offers the procedure; others cannot start it about someone else's membership.
    own = applicant.get("/membership").get_data(as_text=True)
    assert f'data-process="{KEY}"' in own
    assert p.actors("council").post(f"/start/{KEY}", {}).status_code == 403
    assert p.actors("applicant2").post(f"/start/{KEY}", {}).status_code == 403  # not a member

    started = applicant.post(f"/start/{KEY}", {}, token_page="/membership")
    assert started.status_code == 302 and "/tasks/" in started.headers["Location"]
    case_id = p.case_by_task(started.headers["Location"].rsplit("/", 1)[1])
    # Bad input: every field's error at once, nothing moves.
    bad = p.do(
        "applicant", case_id, "submit_changes",
        {"new_phone": "x", "new_email": "not-mail", "change_reason": ""}, expect=400,
    )  # fmt: skip
    body = bad.get_data(as_text=True)
    assert body.count("is-invalid") >= 3
    p.do(
        "applicant", case_id, "submit_changes",
        {"new_address": "上海市浦东新区示例路2号", "change_reason": "办公地址搬迁",
         "supporting_document": PDF},
    )  # fmt: skip
    assert p.messages("applicant", "changes_received")

    # The secretariat returns it with reasons; the member is told and revises.
    p.do("secretary", case_id, "review_changes",
         {"review_decision": "return", "review_reasons": "请补充更名的工商变更证明"})  # fmt: skip
    returned = p.messages("applicant", "changes_returned")
    assert returned and "请补充更名的工商变更证明" in returned[-1].body
    p.do(
        "applicant", case_id, "submit_changes",
        {"new_name": "华夏示例科技集团有限公司", "new_address": "上海市浦东新区示例路2号",
         "change_reason": "经市场监督管理部门核准更名并搬迁", "supporting_document": PDF},
    )  # fmt: skip
    # Nobody decides about their own membership: the member cannot open the review.
    review = p.task(case_id, "review_changes")
    assert applicant.get(f"/tasks/{review.task_guid}").status_code in (403, 404)
    p.do("secretary", case_id, "review_changes",
         {"review_decision": "approve", "review_reasons": "材料齐全，同意变更"})  # fmt: skip

    # The register: new details, a history row per field with reason, case and actor.
    member = _member(app, number)
    assert member.name == "华夏示例科技集团有限公司"
    assert member.address == "上海市浦东新区示例路2号" and member.member_number == number
    with app.app_context():
        rows = db.session.scalars(
            select(MemberDetailChange)
            .where(MemberDetailChange.member_id == member.id)
            .order_by(MemberDetailChange.field)
        ).all()
        assert [(r.field, r.new_value, r.case_id) for r in rows] == [
            ("address", "上海市浦东新区示例路2号", case_id),
            ("name", "华夏示例科技集团有限公司", case_id),
        ]
        assert all(r.reason == "经市场监督管理部门核准更名并搬迁" and r.actor_id for r in rows)
        certificates = db.session.scalars(
            select(Certificate).where(Certificate.member_id == member.id).order_by(Certificate.id)
        ).all()
        assert [c.case_id for c in certificates] == [member.case_id, case_id]
        assert certificates[0].revoked_at is not None and certificates[1].revoked_at is None
        new_token = certificates[1].verify_token
    assert p.case(case_id).status == "changed"
    for who in ("applicant", "secretary"):  # the case's page, for the member and the secretariat
        assert p.actors(who).get(f"/cases/{case_id}").status_code == 200

    # Verification: the old certificate is superseded and says since when; the new one is valid.
    old = p.actors(None).get(f"/verify/{old_token}").get_data(as_text=True)
    assert 'data-result="not-valid"' in old and 'id="verify-superseded"' in old
    assert 'id="verify-ceased"' in old and new_token not in old
    assert "北京示例科技有限公司" in old  # the old certificate bears the name it was issued under
    new = p.actors(None).get(f"/verify/{new_token}").get_data(as_text=True)
    assert 'data-result="valid"' in new and "华夏示例科技集团有限公司" in new and number in new

    # The member is told, with the new certificate's link; the pages show the history.
    told = p.messages("applicant", "details_changed")
    assert told and f"/cases/{case_id}/certificate.pdf" in told[-1].body
    assert number in told[-1].body
    page = secretary.get(f"/members/{member.id}").get_data(as_text=True)
    assert 'data-field="name"' in page and "经市场监督管理部门核准更名并搬迁" in page
    assert f'data-case="{case_id}"' in page
    own = applicant.get("/membership").get_data(as_text=True)
    assert own.count('class="certificate"') == 2 and f"/cases/{case_id}/certificate.pdf" in own


def test_a_change_without_a_new_name_keeps_the_certificate(app, procedure):
    p = procedure
    number = p.admit()
    member = _member(app, number)
    started = p.actors("applicant").post(f"/start/{KEY}", {}, token_page="/membership")
    case_id = p.case_by_task(started.headers["Location"].rsplit("/", 1)[1])
    changes = {"new_contact_person": "李四", "new_phone": "021-87654321", "change_reason": "调整"}
    p.do("applicant", case_id, "submit_changes", changes)
    p.do("secretary", case_id, "review_changes",
         {"review_decision": "approve", "review_reasons": "同意"})  # fmt: skip
    member = _member(app, number)
    assert (member.contact_person, member.phone) == ("李四", "021-87654321")
    with app.app_context():
        valid = db.session.scalars(
            select(Certificate).where(
                Certificate.member_id == member.id, Certificate.revoked_at.is_(None)
            )
        ).all()
        assert [c.case_id for c in valid] == [member.case_id]
    told = p.messages("applicant", "details_changed")
    assert told and "certificate.pdf" not in told[-1].body


def test_an_account_with_two_memberships_changes_the_one_it_chose(app, procedure):
    with app.app_context():
        populate(2)
        applicant = db.session.scalars(select(User).where(User.username == "applicant")).one()
        chosen = None
        for member in db.session.scalars(select(Member)):
            member.user_id, member.status = applicant.id, "active"
            chosen = member.member_number
        db.session.commit()
    page = procedure.actors("applicant").get("/membership").get_data(as_text=True)
    assert page.count(f'data-process="{KEY}"') == 2
    started = procedure.actors("applicant").post(
        f"/start/{KEY}", {"member_number": chosen}, token_page="/membership"
    )
    assert started.status_code == 302, started.get_data(as_text=True)[-3000:]
    case_id = procedure.case_by_task(started.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert db.session.get(Member, case.subject_member_id).member_number == chosen
