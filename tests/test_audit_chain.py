"""The audit trail is hash-chained: each row's hash covers the previous row's, the chain head
names the last row, and `flask check` names any row edited, deleted or slipped in afterwards."""

import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, insert, select, text, update

from tests.conftest import ROOT
from webapp import create_app
from webapp.extensions import db
from webapp.models import AuditChainHead, AuditEvent
from webapp.services import audit, audit_integrity


def run_check(app):
    result = app.test_cli_runner().invoke(args=["check"])
    return result.exit_code, result.output


def rows(app):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()


@pytest.fixture
def trail(app, procedure):
    """A few applications' worth of audit rows."""
    case = procedure.submit()
    procedure.review(case)
    procedure.submit()
    return rows(app)


def test_every_row_links_to_the_one_before(app, trail):
    assert len(trail) >= 5
    assert [row.seq for row in trail] == list(range(1, len(trail) + 1))
    assert trail[0].prev_hash == "0" * 64
    for before, after in zip(trail, trail[1:], strict=False):
        assert after.prev_hash == before.hash
        assert after.hash == after.digest(after.seq, before.hash)
    with app.app_context():
        head = db.session.get(AuditChainHead, 1)
        assert (head.seq, head.hash) == (trail[-1].seq, trail[-1].hash)
    code, output = run_check(app)
    assert code == 0, output
    assert f"{len(trail)} audit row(s): consistent" in output
    assert f"audit chain head: {trail[-1].hash}" in output


@pytest.mark.parametrize(
    "column, value",
    [
        ("data", {"review_decision": "pass", "forged": True}),
        ("actor_id", None),
        ("action", "task_cancelled"),
        ("task_guid", "00000000-0000-0000-0000-000000000000"),
    ],
)
def test_an_edited_row_is_named(app, trail, column, value):
    # A row a person wrote, so that each edit changes something (set-up rows have no actor).
    victim = [row for row in trail if row.actor_id is not None][1]
    with app.app_context():
        db.session.execute(
            update(AuditEvent).where(AuditEvent.id == victim.id).values({column: value})
        )
        db.session.commit()
    code, output = run_check(app)
    assert code == 1
    assert f"PROBLEM database: audit row seq {victim.seq} (id {victim.id}, " in output
    assert "was changed after it was written" in output


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(app, trail):
    victim = trail[2]
    with app.app_context():
        row = db.session.get(AuditEvent, victim.id)
        row.data = {"forged": True}
        db.session.flush()
        row.hash = row.digest(row.seq, row.prev_hash)
        db.session.commit()
    code, output = run_check(app)
    assert code == 1
    assert f"audit row seq {victim.seq + 1} (id {trail[3].id}) does not link" in output


def test_deleted_rows_are_named_in_the_middle_and_at_the_end(app, trail):
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == trail[1].id))
        db.session.execute(
            delete(AuditEvent).where(AuditEvent.id.in_([trail[-1].id, trail[-2].id]))
        )
        db.session.commit()
    code, output = run_check(app)
    assert code == 1
    assert f"audit row seq {trail[1].seq} was deleted" in output
    assert f"audit rows seq {trail[-2].seq}…{trail[-1].seq} were deleted" in output


def test_a_row_slipped_in_around_the_chain_is_named(app, trail):
    with app.app_context():
        db.session.execute(
            insert(AuditEvent).values(action="task_completed", at=trail[0].at, data={})
        )
        db.session.commit()
    code, output = run_check(app)
    assert code == 1
    assert "1 audit row(s) are not on the hash chain" in output


def test_a_rolled_back_transaction_leaves_no_link(app, trail):
    with app.app_context():
        audit.record("login_failed", data={"username": "x"})
        db.session.flush()
        db.session.rollback()
        audit.record("login_failed", data={"username": "y"})
        db.session.commit()
    after = rows(app)
    assert len(after) == len(trail) + 1
    assert after[-1].prev_hash == trail[-1].hash
    with app.app_context():
        assert audit_integrity.verify().problems == []


def test_rows_of_savepoints_are_chained_at_the_commit_and_a_rolled_back_one_leaves_none(app, trail):
    # A yearly start: one savepoint per case, rows recorded inside and between them.
    with app.app_context():
        audit.record("login_failed", data={"username": "before"})
        with db.session.begin_nested():
            audit.record("login_failed", data={"username": "kept"})
        assert db.session.scalar(select(AuditChainHead.seq)) == trail[-1].seq  # not yet
        try:
            with db.session.begin_nested():
                audit.record("login_failed", data={"username": "lost"})
                db.session.flush()
                raise RuntimeError
        except RuntimeError:
            pass
        audit.record("login_failed", data={"username": "after"})
        db.session.commit()
    after = rows(app)
    assert [r.data["username"] for r in after[len(trail) :]] == ["before", "kept", "after"]
    assert after[len(trail)].prev_hash == trail[-1].hash
    with app.app_context():
        assert audit_integrity.verify().problems == []


def test_a_savepoint_released_inside_one_rolled_back_leaves_no_row(app, trail):
    with app.app_context():
        try:
            with db.session.begin_nested():
                audit.record("login_failed", data={"username": "outer"})
                with db.session.begin_nested():
                    audit.record("login_failed", data={"username": "inner"})
                raise RuntimeError
        except RuntimeError:
            pass
        audit.record("login_failed", data={"username": "kept"})
        db.session.commit()
    after = rows(app)
    assert [r.data["username"] for r in after[len(trail) :]] == ["kept"]


def test_rows_of_a_session_closed_without_commit_are_not_written_by_its_next_commit(app, trail):
    with app.app_context():
        audit.record("login_failed", data={"username": "closed"})
        db.session.close()
        audit.record("login_failed", data={"username": "committed"})
        db.session.commit()
    after = rows(app)
    assert [r.data["username"] for r in after[len(trail) :]] == ["committed"]
    with app.app_context():
        assert audit_integrity.verify().problems == []


def test_concurrent_writers_never_fork_the_chain(app):
    """Eight writers at once, each committing audit rows: one chain, no place taken twice."""
    errors = []

    def writer(n):
        try:
            with app.app_context():
                for i in range(5):
                    audit.record("login_failed", data={"writer": n, "i": i})
                    audit.record("login_failed", data={"writer": n, "i": i, "second": True})
                    db.session.commit()
        except Exception as err:  # reported below: a thread's exception is otherwise lost
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        chain = audit_integrity.verify()
        assert chain.problems == []
        assert chain.rows == chain.head_seq >= 80
        # A transaction's two rows are neighbours on the chain.
        written = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login_failed").order_by(AuditEvent.seq)
        ).all()
        for first, second in zip(written[::2], written[1::2], strict=True):
            assert second.seq == first.seq + 1 and second.data.get("second")


def test_the_migration_chains_the_rows_written_before_it(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.db'}",
        }
    )
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="af63313005f6")
        for n in range(3):
            db.session.execute(
                text(
                    "INSERT INTO audit_event (action, at, data) VALUES ('login_failed', :at, :data)"
                ),
                {"at": f"2026-01-0{n + 1} 08:00:00.000001", "data": f'{{"n": {n}}}'},
            )
        db.session.commit()
        upgrade(directory=str(ROOT / "migrations"))
        chain = audit_integrity.verify()
        assert (chain.rows, chain.head_seq, chain.problems) == (3, 3, [])
        audit.record("login_failed", data={"after": True})
        db.session.commit()
        assert audit_integrity.verify().problems == []
        assert audit_integrity.verify().rows == 4
        db.engine.dispose()

