"""The migration that lets the outbox keep messages unrendered: messages written before it keep
their text; going back deletes only those not rendered yet, which the older release could not
write."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from tests.conftest import ROOT, _config
from webapp import create_app
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import notify, users

BEFORE = "d2a7c4e9f1b3"
MIGRATIONS = str(ROOT / "migrations")
OLD_ROW = (
    "INSERT INTO outbox_message (recipient_id, to_address, locale, event, subject, body, "
    "created_at, next_attempt_at, attempts) VALUES (:r, '', 'en', 'task_waiting', :s, 'Old.\n', "
    "'2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)"
)


def test_written_messages_survive_both_ways_and_pending_ones_go_on_downgrade(
    database_url, tmp_path
):
    app = create_app({**_config(database_url), "UPLOAD_DIR": str(tmp_path)})
    with app.app_context():
        secretary = users.by_username("secretary")
        notify.notify("task_waiting", secretary, task_title="初审", path="/cases/7")
        [rendered] = notify.notify("task_waiting", secretary, task_title="复审", path="/cases/8")
        notify.rendered(rendered)
        db.session.commit()
        db.session.remove()

        downgrade(directory=MIGRATIONS, revision=BEFORE)
        subjects = db.session.scalars(text("SELECT subject FROM outbox_message")).all()
        assert subjects == [rendered.subject]  # the unrendered one is gone, the other kept
        db.session.execute(text(OLD_ROW), {"r": secretary.id, "s": "Before the change"})
        db.session.commit()
        db.session.remove()

        upgrade(directory=MIGRATIONS)
        old = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.subject == "Before the change")
        ).one()
        assert old.params is None and old.version_id is None and old.body == "Old.\n"
        listed = notify.messages_for(secretary.id)
        assert {m.subject for m in listed} == {"Before the change", rendered.subject}
        [again] = notify.notify("task_waiting", secretary, task_title="终审", path="/cases/9")
        db.session.commit()
        assert "终审" in notify.rendered(again).subject
        db.session.commit()
