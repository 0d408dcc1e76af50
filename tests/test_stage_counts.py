"""The funnel's running counts (cases in progress per procedure and stage) move with every step
in the step's own transaction, agree with a count of case_file at each point of a case's life
(on, rejected, admitted, withdrawn, deleted as an empty draft, reopened by an appeal), come
back from a recount, and the dashboard's funnel shows them."""

from sqlalchemy import delete, func, select

from tests.conftest import fresh_application
from tests.test_appeal import lodge
from tests.test_consistency_check import run_check
from tests.test_desk import _table
from webapp.extensions import db
from webapp.models import Case, StageCount
from webapp.services import stage_counts


def agree(app) -> dict:
    """The running counts, after checking them against case_file."""
    with app.app_context():
        kept, counted = stage_counts.kept(), stage_counts.counted()
        assert kept == counted
        return {stage: n for (_model, stage), n in kept.items()}


def test_counts_follow_each_step(app, procedure):
    p = procedure
    assert agree(app) == {}
    first = p.submit()
    second = p.submit("applicant2")
    assert agree(app) == {"review": 2}
    p.review(first)
    assert agree(app) == {"review": 1, "notice": 1}
    p.review(second, "reject", review_reasons="材料不全。")
    assert agree(app) == {"notice": 1}  # a case that ended leaves the funnel
    p.close_notice(first)
    p.approve_by_council(first)
    assert agree(app) == {"payment": 1}
    p.declare_payment(first)
    p.confirm_payment(first)
    p.issue_certificate(first)
    assert agree(app) == {}
    code, output = run_check(app)
    assert code == 0, output


def test_funnel_reads_the_counts(app, procedure):
    p = procedure
    for username in ("applicant", "applicant2"):
        p.submit(username)
    html = p.actors("secretary").get("/desk/dashboard").get_data(as_text=True)
    assert _table(html, "funnel") == [["初审", "2"]]


def test_recount_puts_back_what_bulk_writes_bypassed(app, procedure):
    p = procedure
    p.submit()
    p.review(p.submit("applicant2"))
    with app.app_context():
        expected = stage_counts.kept()
        db.session.execute(delete(StageCount))
        db.session.commit()
    code, output = run_check(app)
    assert code == 1 and "the funnel counts 0 cases in progress" in output
    with app.app_context():
        stage_counts.recount()
        db.session.commit()
        assert stage_counts.kept() == expected == stage_counts.counted()
        in_progress = db.session.scalar(
            select(func.count()).where(Case.status == "in_progress").select_from(Case)
        )
        assert sum(expected.values()) == in_progress == 2
    code, output = run_check(app)
    assert code == 0, output


def test_a_deleted_draft_and_a_withdrawn_case_leave_the_counts(app, procedure):
    p = procedure
    applicant = p.actors("applicant")
    empty = applicant.start_application()
    assert sum(agree(app).values()) == 1
    assert applicant.post(f"/cases/{empty.id}/delete", {}).status_code == 302
    assert agree(app) == {}
    case_id = p.submit()
    assert agree(app) == {"review": 1}
    withdrawn = applicant.post(f"/cases/{case_id}/withdraw", {"reason": "公司战略调整，暂不入会"})
    assert withdrawn.status_code == 302 and p.case(case_id).status != "in_progress"
    assert agree(app) == {}


def test_an_overturned_rejection_comes_back_into_the_funnel(app, procedure):
    p = procedure
    first = p.submit("applicant", fresh_application())
    p.review(first, "reject", review_reasons="材料不全。")
    assert agree(app) == {}
    appeal, _ = lodge(p, "applicant", first)
    p.do("supervisor", appeal, "decide_appeal", {
        "appeal_decision": "overturn", "appeal_decision_reasons": "补充材料证明符合入会条件。",
    })  # fmt: skip
    # The appeal itself has ended; the application it reopened waits for its payment.
    assert agree(app) == {"payment": 1}
