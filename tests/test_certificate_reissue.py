"""补办 end to end through the pages: a member reports a lost certificate from 我的会籍, the
secretariat re-issues it under the same number (the old one revoked, /verify saying it was
replaced) or refuses with reasons; the member is told either way."""

from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Certificate, Member
from webapp.services import members

PHOTO = (b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "遗失声明.pdf")
KEY = "certificate_reissue"


def _certificates(app, number: str) -> list[Certificate]:
    with app.app_context():
        member = db.session.scalars(select(Member).where(Member.member_number == number)).one()
        return list(
            db.session.scalars(
                select(Certificate)
                .where(Certificate.member_id == member.id)
                .order_by(Certificate.id)
            )
        )


def _start(p) -> int:
    started = p.actors("applicant").post(f"/start/{KEY}", {}, token_page="/membership")
    assert started.status_code == 302 and "/tasks/" in started.headers["Location"]
    return p.case_by_task(started.headers["Location"].rsplit("/", 1)[1])


def test_lost_certificate_reissued_under_the_same_number(app, procedure):
    p = procedure
    number = p.admit()
    [old] = _certificates(app, number)
    applicant, secretary = p.actors("applicant"), p.actors("secretary")

    # 我的会籍 offers it; nobody else starts it about this membership.
    assert f'data-process="{KEY}"' in applicant.get("/membership").get_data(as_text=True)
    assert p.actors("applicant2").post(f"/start/{KEY}", {}).status_code == 403

    case_id = _start(p)
    bad = p.do("applicant", case_id, "report_loss", {"loss_kind": "x", "loss_reason": ""},
               expect=400)  # fmt: skip
    assert bad.get_data(as_text=True).count("is-invalid") >= 2
    report = {"loss_kind": "lost", "loss_reason": "搬迁时遗失，已登报声明", "loss_statement": PHOTO}
    p.do("applicant", case_id, "report_loss", report)
    assert p.messages("applicant", "reissue_requested")

    # The member never reviews its own request.
    review = p.task(case_id, "review_reissue")
    assert applicant.get(f"/tasks/{review.task_guid}").status_code in (403, 404)
    # The reviewer sees the member's report first, open above the decision.
    shown = secretary.get(f"/tasks/{review.task_guid}").get_data(as_text=True)
    assert 'data-task="report_loss"' in shown and "搬迁时遗失，已登报声明" in shown
    p.do("secretary", case_id, "review_reissue",
         {"reissue_decision": "reissue", "reissue_reasons": "情况属实，同意补发"})  # fmt: skip

    old_row, new_row = _certificates(app, number)
    assert old_row.id == old.id and old_row.revoked_at is not None
    assert new_row.case_id == case_id and new_row.revoked_at is None
    case = p.case(case_id)
    assert case.status == "reissued" and case.outcome_reason == "情况属实，同意补发"
    with app.app_context():
        assert members.certificate_of(case_id).verify_token == new_row.verify_token

    # /verify: the old code says it was replaced, the new one is valid under the same number.
    before = p.actors(None).get(f"/verify/{old.verify_token}").get_data(as_text=True)
    assert 'data-result="not-valid"' in before and 'id="verify-superseded"' in before
    after = p.actors(None).get(f"/verify/{new_row.verify_token}").get_data(as_text=True)
    assert 'data-result="valid"' in after and number in after

    told = p.messages("applicant", "certificate_reissued")
    assert told and f"/cases/{case_id}/certificate.pdf" in told[-1].body and number in told[-1].body
    for who in ("applicant", "secretary"):
        assert p.actors(who).get(f"/cases/{case_id}").status_code == 200
    assert secretary.get(f"/cases/{case_id}/certificate.pdf").status_code == 200


def test_refused_reissue_keeps_the_certificate_and_tells_why(app, procedure):
    p = procedure
    number = p.admit()
    case_id = _start(p)
    p.do("applicant", case_id, "report_loss", {"loss_kind": "damaged", "loss_reason": "水浸损毁"})
    # A refusal needs reasons: the decision alone is refused with the field's error.
    p.do("secretary", case_id, "review_reissue", {"reissue_decision": "refuse"}, expect=400)
    p.do("secretary", case_id, "review_reissue",
         {"reissue_decision": "refuse", "reissue_reasons": "请先交回损毁的原证书"})  # fmt: skip
    [only] = _certificates(app, number)
    assert only.revoked_at is None
    assert p.case(case_id).status == "refused"
    told = p.messages("applicant", "reissue_refused")
    assert told and "请先交回损毁的原证书" in told[-1].body
    page = p.actors(None).get(f"/verify/{only.verify_token}").get_data(as_text=True)
    assert 'data-result="valid"' in page
