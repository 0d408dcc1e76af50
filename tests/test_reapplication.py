"""Re-application control: one credit code (or ID number) is one applicant. A second
application under a code in progress or of a current member is refused at submission, saying
why, with nothing changed; a former member's code may apply again, its history shown to the
reviewer, and re-admitted it keeps its number for life."""

from __future__ import annotations

import io
import threading

from sqlalchemy import select

from tests.conftest import fresh_application, fresh_credit_code, open_task
from tests.test_withdrawal import REQUEST, start_withdrawal
from webapp.extensions import db
from webapp.models import Case, Member


def refused_submission(p, username: str, data: dict) -> tuple[int, str]:
    """Start an application and submit it, expecting the refusal; its id and the page."""
    case = p.actors(username).start_application()
    response = p.do(username, case.id, "submit_application", data, expect=400)
    return case.id, response.get_data(as_text=True)


def test_one_credit_code_is_not_admitted_twice_from_two_accounts(app, procedure):
    """The probe that had 91110000600037341L admitted 12 times from two accounts, now refused."""
    p = procedure
    code = "91110000600037341L"
    first = p.submit("applicant", fresh_application(credit_code=code))
    # The same code from another account while the first is in progress.
    second, page = refused_submission(p, "applicant2", fresh_application(credit_code=code))
    assert (
        'data-field="credit_code"' in page
        and "已有使用 91110000600037341L 的入会申请正在办理" in page
    )
    # Nothing changed: the second stays at its form, claiming no identity.
    assert p.open_ids(second) == ["submit_application"]
    assert p.case(second).identity_code is None and p.case(second).status == "in_progress"
    # The same account trying again is refused alike.
    _again, page = refused_submission(p, "applicant", fresh_application(credit_code=code))
    assert "正在办理" in page

    p.to_payment(first)
    p.declare_payment(first)
    p.confirm_payment(first)
    p.issue_certificate(first)
    number = p.case(first).member_number
    for username in ("applicant", "applicant2"):
        _case, page = refused_submission(p, username, fresh_application(credit_code=code))
        assert f"91110000600037341L 已是本会现有会员（{number}）" in page
    # The refused form is fixed with the account's own code and goes through.
    p.do("applicant2", second, "submit_application", fresh_application())
    assert p.open_ids(second) == ["preliminary_review"]
    with app.app_context():
        assert db.session.scalars(select(Member)).all().__len__() == 1


def test_a_former_member_applies_again_with_its_history_shown_and_keeps_its_number(app, procedure):
    p = procedure
    code = fresh_credit_code()
    first = p.submit("applicant", fresh_application(credit_code=code))
    p.to_payment(first)
    p.declare_payment(first)
    p.confirm_payment(first)
    p.issue_certificate(first)
    number = p.case(first).member_number
    withdrawal = start_withdrawal(p)
    p.do("applicant", withdrawal, "submit_request", REQUEST)
    p.do("secretary", withdrawal, "confirm_by_secretariat", {"withdrawal_decision": "confirm"})

    again = p.submit("applicant", fresh_application(credit_code=code))
    review = p.task(again, "preliminary_review")
    page = p.actors("secretary").get(f"/tasks/{review.task_guid}").get_data(as_text=True)
    assert f'data-identity="{code}"' in page
    assert f'data-member="{number}" data-status="withdrawn"' in page
    # The applicant does not see the reviewer's panel on its own pages.
    assert 'id="identity-history"' not in p.actors("applicant").get(f"/cases/{again}").get_data(
        as_text=True
    )
    p.to_payment(again)
    p.declare_payment(again)
    p.confirm_payment(again)
    p.issue_certificate(again)
    assert p.case(again).member_number == number  # 终身一号
    with app.app_context():
        member = db.session.scalars(select(Member).where(Member.member_number == number)).one()
        assert member.status == "active"
        assert db.session.scalar(select(Case.identity_code).where(Case.id == again)) == code


def test_a_submission_check_is_checked_when_the_diagram_is_validated(app):
    from webapp.services import process_models

    good = 'name="submissionCheck" value="identity_may_apply(credit_code, id_number)"'
    with app.test_request_context():
        live = process_models.live_version("admission")
        forms = dict(live.forms)
        assert good in live.bpmn and process_models.validate(live.bpmn, forms) == []
        for bad in ("no_such_check(credit_code)", 'identity_may_apply(credit_code + "x")'):
            bpmn = live.bpmn.replace(good, f"name=\"submissionCheck\" value='{bad}'")
            texts = [process_models.problem_text(p) for p in process_models.validate(bpmn, forms)]
            assert any("submissionCheck" in t for t in texts), (bad, texts)


def test_two_accounts_submitting_one_code_at_the_same_moment_get_one_application(app, actors):
    people = [actors("applicant"), actors("applicant2")]
    code = fresh_credit_code()
    guids = []
    for person in people:
        case = person.start_application()
        guids.append(open_task(app, case.id).task_guid)
    tokens = [p.token() for p in people]
    barrier = threading.Barrier(2)
    statuses = [None, None]

    def submit(i):
        form = fresh_application(credit_code=code)
        data = {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in form.items()}
        barrier.wait()
        response = people[i].client.post(
            f"/tasks/{guids[i]}", data={**data, "csrf_token": tokens[i]}
        )
        statuses[i] = response.status_code

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [302, 400]
    with app.app_context():
        claimed = db.session.scalars(select(Case).where(Case.identity_code == code)).all()
        assert len(claimed) == 1
