"""`flask check` checks the register: a status its history does not explain, a certificate
revoked by nobody, a number carried by a case about another member, an active member without
exactly one valid certificate — each broken in the database and named by the check."""

from sqlalchemy import select, update

from tests.test_consistency_check import run_check
from tests.test_withdrawal import REQUEST, start_withdrawal
from webapp.extensions import db
from webapp.models import Case, Certificate, Member, utcnow


def member(app, number):
    with app.app_context():
        return db.session.scalars(select(Member).where(Member.member_number == number)).one()


def test_check_names_each_broken_rule_of_the_register(app, procedure):
    p = procedure
    left = p.admit("applicant")
    withdrawal = start_withdrawal(p)
    p.do("applicant", withdrawal, "submit_request", REQUEST)
    p.do("secretary", withdrawal, "confirm_by_secretariat", {"withdrawal_decision": "confirm"})
    changed, revoked = p.admit("applicant2"), p.admit("applicant2")
    code, output = run_check(app)
    assert code == 0, output  # admission and withdrawal leave a register that adds up

    left_m, changed_m, revoked_m = (member(app, n) for n in (left, changed, revoked))
    with app.app_context():
        # A status no case set.
        db.session.execute(
            update(Member).where(Member.id == changed_m.id).values(status="suspended")
        )
        # A certificate revoked behind the procedures' back.
        db.session.execute(
            update(Certificate)
            .where(Certificate.member_id == revoked_m.id)
            .values(revoked_at=utcnow())
        )
        certificate_id = db.session.scalar(
            select(Certificate.id).where(Certificate.member_id == revoked_m.id)
        )
        # A number given again, to a case about another member.
        db.session.execute(
            update(Case).where(Case.id == revoked_m.case_id).values(member_number=left)
        )
        instance_id = db.session.get(Case, revoked_m.case_id).instance_id
        changed_case = db.session.get(Case, changed_m.case_id)
        db.session.commit()

    code, output = run_check(app)
    assert code == 1
    on_changed = f"PROBLEM instance {changed_case.instance_id}, application {changed_case.id}:"
    assert (
        f"{on_changed} member {changed} is suspended, but case {changed_case.id} "
        "last set it to active" in output
    )
    on_revoked = f"PROBLEM instance {instance_id}, application {revoked_m.case_id}:"
    assert (
        f"{on_revoked} certificate {certificate_id} of member {revoked} is revoked, "
        "but no case or status change revoked it" in output
    )
    assert f"{on_revoked} active member {revoked} holds 0 valid certificates" in output
    assert (
        f"{on_revoked} member number {left} is reused: it belongs to member {left_m.id}, "
        f"but this case is about member {revoked_m.id}" in output
    )
    assert "4 problem(s)" in output, output
