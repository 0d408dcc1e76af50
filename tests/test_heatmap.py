"""The heatmap of a deployed version: per element the cases there now and the median time
spent there, from the projection (human tasks, timer waits) on a travelling clock."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests import staged
from webapp.extensions import db
from webapp.models import Case, HumanTask, TimerWait
from webapp.services import heat_counts


def _rows(html: str) -> dict[str, tuple[int, str]]:
    """Element id → (cases now, median hours as the table gives them)."""
    body = html.split('id="heatmap-table"', 1)[1].split("</table>", 1)[0]
    out = {}
    for element, now, hours in re.findall(
        r'data-element="([^"]+)".*?data-value="(\d+)".*?data-hours="([^"]*)"', body, re.S
    ):
        out[element] = (int(now), hours)
    return out


def test_counts_and_medians_follow_the_clock(app, procedure):
    p = procedure
    owner = p.actors("owner")
    start = p.now()
    with app.test_request_context():
        ids = staged.submitted(3)
    p.travel_to(start + timedelta(hours=2))
    with app.test_request_context():
        staged.complete("secretary", ids[0], "preliminary_review", {"review_decision": "pass"})
    p.travel_to(start + timedelta(hours=5))
    with app.test_request_context():
        staged.complete("secretary", ids[1], "preliminary_review", {"review_decision": "pass"})

    page = owner.get("/models/admission/heatmap")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = _rows(html)
    # One still in review; reviews took 2 h and 5 h: the median is 3.5 h.
    assert rows["preliminary_review"] == (1, "3.5")
    assert rows["notice_period"] == (2, "")
    assert "3.5 小时" in html and "初审" in html
    assert "bpmn-navigated-viewer" in html and "js/heatmap.js" in html

    # The notice periods end: the waits are timed from the review to the ticker's firing.
    with app.app_context():
        closes = {i: db.session.get(Case, i).notice_closes_at for i in ids[:2]}
        began = dict(
            db.session.execute(
                select(Case.id, TimerWait.started_at)
                .join(TimerWait, TimerWait.instance_id == Case.instance_id)
                .where(Case.id.in_(ids[:2]), TimerWait.bpmn_id == "notice_period")
            ).all()
        )
    fired_at = max(closes.values()) + timedelta(minutes=1)
    p.after(max(closes.values()))
    waits = sorted((fired_at - began[i]).total_seconds() / 3600 for i in ids[:2])
    rows = _rows(owner.get("/models/admission/heatmap?version=1").get_data(as_text=True))
    assert rows["notice_period"] == (0, f"{round(sum(waits) / 2, 1)}")
    # Both now wait on the council: one case each, whatever the number of ballots.
    with app.app_context():
        ballots = db.session.scalar(
            select(HumanTask.id)
            .where(HumanTask.bpmn_id == "council_vote", HumanTask.state == "ready")
            .limit(1)
        )
    assert ballots is not None
    assert rows["council_vote"][0] == 2
    assert rows["preliminary_review"] == (1, "3.5")

    # The running counts the steps kept are what counting the projection again gives.
    with app.app_context():
        version_id = db.session.scalar(select(HumanTask.version_id).limit(1))
        kept = heat_counts.now(version_id)
        heat_counts.recount()
        assert heat_counts.now(version_id) == kept
        db.session.rollback()
    assert kept["council_vote"] == 2 and kept["preliminary_review"] == 1

    # In English the steps show their English names.
    with owner.client.session_transaction() as session:
        session["lang"] = "en"
    english = owner.get("/models/admission/heatmap").get_data(as_text=True)
    assert "Preliminary review" in english and "Public notice period ends" in english
    assert "3.5 h" in english


def test_heatmap_is_linked_guarded_and_refuses_bad_versions(app, actors):
    owner = actors("owner")
    models = owner.get("/models").get_data(as_text=True)
    assert "/models/admission/heatmap?version=1" in models
    assert owner.get("/models/admission/heatmap?version=99").status_code == 404
    assert owner.get("/models/admission/heatmap?version=abc").status_code == 404
    assert owner.get("/models/nothing/heatmap").status_code == 404
    assert actors("secretary").get("/models/admission/heatmap").status_code == 403
    assert actors("applicant").get("/models/admission/heatmap").status_code == 403
