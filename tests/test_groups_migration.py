"""The schema migration that made committees into groups keeps everyone where they were: a
database of the previous schema, upgraded, has the same people in the same committees."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.conftest import ROOT, _config
from webapp import create_app
from webapp.extensions import db
from webapp.services import groups, users

BEFORE = "9c883df62bd0"
MIGRATIONS = str(ROOT / "migrations")
PEOPLE = {
    "sec": "secretariat",
    "both": "council,finance",
    "owner": "process_owner",
    "mixed": "applicant,secretariat",
    "plain": "applicant",
}


def test_committee_roles_become_memberships_and_come_back_on_downgrade(database_url, tmp_path):
    app = create_app({**_config(database_url), "UPLOAD_DIR": str(tmp_path)})
    with app.app_context():
        downgrade(directory=MIGRATIONS, revision=BEFORE)
        for name, roles in PEOPLE.items():
            db.session.execute(
                text(
                    "INSERT INTO user_account (username, display_name, email, password_hash, "
                    "roles, active, created_at) VALUES (:u, :u, '', 'x', :r, :a, :now)"
                ),
                {"u": f"m_{name}", "r": roles, "a": True, "now": "2026-01-01 00:00:00"},
            )
        db.session.commit()
        upgrade(directory=MIGRATIONS)
    with app.test_request_context():
        ids = {name: users.by_username(f"m_{name}").id for name in PEOPLE}
        assert ids["sec"] in groups.members("secretariat")
        assert ids["mixed"] in groups.members("秘书处")
        assert ids["both"] in groups.members("council") and ids["both"] in groups.members("财务")
        assert users.by_username("m_mixed").roles == "applicant"
        assert users.by_username("m_both").roles == ""
        assert users.by_username("m_owner").role_set == {"process_owner"}
        assert users.by_username("m_plain").role_set == {"applicant"}
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision=BEFORE)
        rows = dict(
            db.session.execute(
                text("SELECT username, roles FROM user_account WHERE username LIKE :p ESCAPE '!'"),
                {"p": "m!_%"},
            ).all()
        )
        assert {k: set(v.split(",")) for k, v in rows.items()} == {
            f"m_{k}": set(v.split(",")) for k, v in PEOPLE.items()
        }
        db.session.remove()
        db.engine.dispose()
