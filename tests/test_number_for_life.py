"""终身一号 (004: 一员一案，终身一号制): a member who leaves and is admitted again keeps its number,
whichever account applies under its identity — also when two re-admissions of the same former
member reach the register at the same moment (threads here; two PostgreSQL connections when
TEST_DATABASE_URL is set)."""

import threading

from sqlalchemy import select, update

from tests.conftest import Actor, add_user, fresh_application, fresh_credit_code
from tests.test_consistency_check import run_check
from tests.test_withdrawal import REQUEST, start_withdrawal
from webapp.extensions import db
from webapp.models import Case, Certificate, Member


def admitted(p, username, code) -> int:
    case_id = p.submit(username, fresh_application(credit_code=code))
    p.to_payment(case_id)
    p.declare_payment(case_id, username)
    p.confirm_payment(case_id)
    return case_id


def withdraw(p, username) -> None:
    case_id = start_withdrawal(p, username)
    p.do(username, case_id, "submit_request", REQUEST)
    p.do("secretary", case_id, "confirm_by_secretariat", {"withdrawal_decision": "confirm"})


def register_of(app, code):
    with app.app_context():
        members = db.session.scalars(
            select(Member).where(
                Member.id.in_(select(Case.subject_member_id).where(Case.identity_code == code))
            )
        ).all()
        valid = db.session.scalars(
            select(Certificate).where(
                Certificate.member_id.in_([m.id for m in members]),
                Certificate.revoked_at.is_(None),
            )
        ).all()
        return [(m.member_number, m.status) for m in members], len(valid)


def test_the_number_stays_across_withdrawal_and_readmission_from_any_account(app, procedure):
    p = procedure
    code = fresh_credit_code()
    first = admitted(p, "applicant", code)
    p.issue_certificate(first)
    number = p.case(first).member_number
    withdraw(p, "applicant")
    # Admitted again under the same credit code, from another account: the same entry.
    again = admitted(p, "applicant2", code)
    p.issue_certificate(again)
    assert p.case(again).member_number == number
    assert register_of(app, code) == ([(number, "active")], 1)
    withdraw(p, "applicant2")
    assert register_of(app, code) == ([(number, "withdrawn")], 0)
    third = admitted(p, "applicant", code)
    p.issue_certificate(third)
    assert p.case(third).member_number == number
    assert register_of(app, code) == ([(number, "active")], 1)
    code_, output = run_check(app)
    assert code_ == 0, output


def test_two_readmissions_of_one_former_member_racing_keep_its_one_number(app, procedure):
    p = procedure
    add_user(app, "secretary2", "陈秘书（秘书处）", "secretariat")
    code = fresh_credit_code()
    first = admitted(p, "applicant", code)
    p.issue_certificate(first)
    number = p.case(first).member_number
    withdraw(p, "applicant")
    # Two re-admissions in flight at once, as if both had passed the submission check before it
    # serialized them: the second was submitted under another code and then claims this one.
    one = admitted(p, "applicant", code)
    two = admitted(p, "applicant2", fresh_credit_code())
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == two).values(identity_code=code))
        db.session.commit()
    people = [p.actors("secretary"), Actor(app, "secretary2")]
    guids = [p.task(case_id, "issue_certificate").task_guid for case_id in (one, two)]
    tokens = [person.token() for person in people]
    barrier = threading.Barrier(2)
    codes = [None, None]

    def issue(i):
        barrier.wait()
        codes[i] = (
            people[i]
            .client.post(
                f"/tasks/{guids[i]}",
                data={"csrf_token": tokens[i], "certificate_confirmed": "on"},
            )
            .status_code
        )

    threads = [threading.Thread(target=issue, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [302, 302]
    # One entry under the one number, one valid certificate: the later issuance's.
    assert register_of(app, code) == ([(number, "active")], 1)
    assert p.case(one).member_number == p.case(two).member_number == number
    with app.app_context():
        assert db.session.scalar(select(Member.id).where(Member.member_number != number)) is None
    code_, output = run_check(app)
    assert code_ == 0, output
