"""The diagram of an application's progress, as the page's viewer fetches it: element states after
each step, the applicant's copy stripped of the committee's working, who may fetch it at all,
and the applicant's timeline told in stages."""

from __future__ import annotations

from lxml import etree

from tests.conftest import ROOT

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DRAWN = (ROOT / "workflows" / "admission.bpmn").read_text("utf-8")
# What the committee's working looks like in the drawn diagram: none of it may reach the applicant.
PRIVATE = (
    "vote_quorum",  # a script's variable
    "working_days_later",  # a script's call
    'review_decision == "pass"',  # a condition
    "理事会表决",  # the council vote's name
    "初审结论",  # a gateway's name
    "council_vote",  # an element id of another lane
    "review.schema.json",  # a form file
    "spiffworkflow",  # extension properties
    "记录未获批准",  # a script task's name
)


def diagram(actor, app_id: int):
    response = actor.get(f"/cases/{app_id}/diagram")
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "private, no-store"
    return response.get_json()


def names(xml: str) -> dict[str, str]:
    """Element id → name, of every element of the diagram that has a name."""
    root = etree.fromstring(xml.encode("utf-8"))
    return {e.get("id"): e.get("name") for e in root.iter() if e.get("name") is not None}


def current_names(data) -> set[str]:
    drawn = names(data["xml"])
    return {drawn.get(i, i) for i, s in data["states"].items() if s == "current"}


def test_states_after_submission_and_review(app, actors, procedure):
    app_id = procedure.submit()
    committee = diagram(actors("secretary"), app_id)
    assert committee["sanitized"] is False
    assert committee["states"]["submit_application"] == "completed"
    assert committee["states"]["preliminary_review"] == "current"
    assert "open_notice" not in committee["states"]  # not reached: no mark

    procedure.review(app_id)
    states = diagram(actors("council"), app_id)["states"]
    assert states["preliminary_review"] == "completed"
    assert states["open_notice"] == "completed"
    assert states["notice_period"] == "current"  # a waiting timer is where it stands
    # Branches not taken are not "cancelled": the engine never reached them.
    assert "record_review_rejection" not in states and "provide_material" not in states


def test_vote_interrupted_by_its_deadline_is_marked_cancelled(app, actors, procedure):
    app_id = procedure.submit()
    procedure.review(app_id)
    procedure.close_notice(app_id)
    procedure.vote(app_id, "council", "approve")
    assert diagram(actors("secretary"), app_id)["states"]["council_vote"] == "current"
    procedure.after(procedure.case(app_id).facts["vote_closes_at"])

    states = diagram(actors("secretary"), app_id)["states"]
    assert states["council_vote"] == "cancelled"
    assert states["vote_deadline"] == "completed"
    assert states["count_votes"] == "completed"
    applicant_view = diagram(actors("applicant"), app_id)
    assert "cancelled" in applicant_view["states"].values()


def test_applicant_sees_the_other_lanes_by_stage_only(app, actors, procedure):
    app_id = procedure.submit()
    committee = diagram(actors("secretary"), app_id)
    for text in PRIVATE:
        assert text in committee["xml"], text

    mine = diagram(actors("applicant"), app_id)
    assert mine["sanitized"] is True
    for text in PRIVATE:
        assert text not in mine["xml"], text
    root = etree.fromstring(mine["xml"].encode("utf-8"))
    assert not list(root.iter(f"{BPMN}script")) and not list(root.iter(f"{BPMN}extensionElements"))
    assert not list(root.iter(f"{BPMN}conditionExpression"))
    drawn = names(mine["xml"])
    # The applicant's own steps keep their names and ids …
    assert drawn["submit_application"] == "填写入会申请"
    assert mine["states"]["submit_application"] == "completed"
    # … the secretariat's review is there, at its place, under its stage's name only.
    assert current_names(mine) == {"初审"}
    assert "preliminary_review" not in mine["states"]
    # Every drawn shape is still drawn (nothing is hidden, only anonymised).
    shapes = "{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape"
    assert len(list(root.iter(shapes))) == len(
        list(etree.fromstring(committee["xml"].encode("utf-8")).iter(shapes))
    )


def test_diagram_is_served_to_its_applicant_the_committee_and_the_owner_only(
    app, actors, procedure
):
    app_id = procedure.submit()
    # The process owner follows progress on the diagrams it owns (no data is in the diagram).
    for username in ("applicant", "secretary", "council", "finance", "owner"):
        assert actors(username).get(f"/cases/{app_id}/diagram").status_code == 200
    for username in ("applicant2",):
        assert actors(username).get(f"/cases/{app_id}/diagram").status_code == 404
    assert actors(None).get(f"/cases/{app_id}/diagram").status_code == 302
    assert actors("secretary").get("/cases/9999/diagram").status_code == 404


def test_applicant_timeline_names_stages_not_the_committees_tasks(app, actors, procedure):
    app_id = procedure.submit()
    procedure.review(app_id)
    procedure.close_notice(app_id)
    procedure.approve_by_council(app_id)
    page = actors("applicant").get(f"/cases/{app_id}").get_data(as_text=True)
    timeline = page[page.index('id="stage-timeline"') :]
    timeline = timeline[: timeline.index("</ol>")]
    assert "填写入会申请" in timeline  # its own step by name
    assert (
        'data-timeline-stage="review"' in timeline and 'data-timeline-stage="approval"' in timeline
    )
    # The notice has no task without objections; its period is on the line all the same.
    assert timeline.index('data-timeline-stage="review"') < timeline.index(
        'data-timeline-stage="notice"'
    )
    assert timeline.index('data-timeline-stage="notice"') < timeline.index(
        'data-timeline-stage="approval"'
    )
    assert "理事会表决" not in timeline
    assert timeline.count('data-timeline-stage="approval"') == 1  # three votes, one line
    assert 'id="progress-diagram"' in page and 'id="diagram-legend"' in page
    committee = actors("secretary").get(f"/cases/{app_id}").get_data(as_text=True)
    assert 'data-task="council_vote"' in committee and 'id="stage-timeline"' not in committee
