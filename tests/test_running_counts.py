"""Running counts are written when the transaction commits: a batch of cases writes one row per
count it changes, a savepoint that rolls back takes its moves with it, a transaction that rolls
back writes nothing, and a transaction reads its own moves."""

from sqlalchemy import event, func, select

from tests.test_annual_dues import OPENS, make_member
from tests.test_stage_counts import agree
from webapp.extensions import db
from webapp.models import Case, ElementCount, StageCount
from webapp.services import heat_counts, scheduled_starts, stage_counts
from webapp.services.cases import open_case


def _members(app, n: int) -> list[int]:
    from tests.conftest import add_user

    ids = []
    for i in range(n):
        add_user(app, f"member{i}", f"会员{i}", "applicant")
        ids.append(make_member(app, f"member{i}", "unit"))
    return ids


def _count_writes(app):
    writes = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT INTO") and (
            "element_count" in statement or "case_stage_count" in statement
        ):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    return writes, lambda: event.remove(db.engine, "before_cursor_execute", seen)


def test_a_batch_of_cases_writes_each_count_once_at_commit(app, procedure):
    _members(app, 6)
    before = agree(app)
    procedure.travel_to(OPENS)
    with app.app_context():
        writes, stop = _count_writes(app)
        try:
            assert scheduled_starts.start_due() == 6
        finally:
            stop()
        # Six cases at one stage and at the same three timers: one statement per table of
        # counts (a case's stage moved from "" to payment within the batch nets out), not an
        # upsert per case and count.
        assert len(writes) == 2, writes
    assert agree(app) == {**before, "payment": 6}


def test_a_savepoint_rolled_back_takes_its_moves_with_it(app, procedure):
    [member_id] = _members(app, 1)
    with app.app_context():
        from webapp.models import Member, ProcessModel, ScheduledStart

        member = db.session.get(Member, member_id)
        start = db.session.scalars(
            select(ScheduledStart).join(ProcessModel).where(ProcessModel.key == "annual_dues")
        ).one()
        before = stage_counts.now()
        savepoint = db.session.begin_nested()
        open_case(
            start.version_id,
            "年度会费",
            member.user_id,
            member,
            None,
            extra={"occurrence": start.next_at.isoformat()},
            timer_start=start.element_id,
            occurrence=start.next_at,
        )
        # Read inside the transaction: its own moves count.
        assert stage_counts.now() == {**before, "payment": 1}
        assert heat_counts.now(start.version_id)
        savepoint.rollback()
        kept = stage_counts.now()
        db.session.commit()
        assert kept == before
        dues_cases = (
            select(func.count())
            .select_from(Case)
            .where(Case.subject_member_id == member_id, Case.model_id == start.model_id)
        )
        assert db.session.scalar(dues_cases) == 0
        assert stage_counts.now() == before
        assert heat_counts.now(start.version_id) == {}


def test_a_transaction_rolled_back_writes_no_count(app, procedure):
    procedure.submit()
    with app.app_context():
        before = (
            db.session.scalar(select(func.sum(StageCount.cases))),
            db.session.scalar(select(func.sum(ElementCount.cases))),
        )
        case = db.session.scalars(select(Case)).one()
        case.status = "withdrawn"
        db.session.flush()  # the funnel's hook has moved the count, in this transaction only
        db.session.rollback()
        after = (
            db.session.scalar(select(func.sum(StageCount.cases))),
            db.session.scalar(select(func.sum(ElementCount.cases))),
        )
        assert after == before
    assert agree(app) == {"review": 1}
