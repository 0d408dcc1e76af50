"""The secretariat reads every recorded action of an application and exports it as CSV; nobody
else can."""

import csv
import io

from webapp.extensions import db
from webapp.models import User


def test_secretariat_sees_and_exports_the_audit_trail(procedure):
    p = procedure
    app_id = p.submit()
    p.review(app_id)
    assert p.file_objection(app_id, "对该单位的经营资质存在疑问。").status_code == 302
    p.close_notice(app_id)

    page = p.actors("secretary").get(f"/cases/{app_id}/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for action in ("case_started", "task_completed", "objection_filed", "timer_fired"):
        assert f'data-action="{action}"' in text
    assert "王秘书" in text  # who did it, by name

    export = p.actors("secretary").get(f"/cases/{app_id}/audit.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert "attachment" in export.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["at", "action", "actor", "task", "data"]
    actions = [row[1] for row in rows[1:]]
    assert actions[0] == "case_started" and "objection_filed" in actions
    assert any("preliminary_review" in row[4] for row in rows[1:])


def test_audit_trail_is_for_the_secretariat_only(procedure):
    p = procedure
    app_id = p.submit()
    assert p.actors("council").get(f"/cases/{app_id}/audit").status_code == 403
    assert p.actors("applicant").get(f"/cases/{app_id}/audit.csv").status_code == 403
    assert p.actors("applicant2").get(f"/cases/{app_id}/audit").status_code == 404
    anonymous = p.actors(None).get(f"/cases/{app_id}/audit")
    assert anonymous.status_code == 302


def test_a_name_that_is_a_formula_is_exported_as_text(app, procedure):
    """A registered name like "=HYPERLINK(…)" must not run when the CSV opens in a spreadsheet."""
    p = procedure
    app_id = p.submit()
    with app.app_context():
        secretary = db.session.scalars(db.select(User).filter_by(username="secretary")).one()
        secretary.display_name = '=HYPERLINK("http://evil.example","x")'
        db.session.commit()
    p.review(app_id)
    export = p.actors("secretary").get(f"/cases/{app_id}/audit.csv")
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    actors = {row[2] for row in rows[1:] if row[2]}
    assert '\'=HYPERLINK("http://evil.example","x")' in actors
    assert not any(name.startswith(("=", "+", "-", "@")) for name in actors)
